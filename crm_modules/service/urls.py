from django.urls import path

from crm_modules.service import views, views_channels, views_macros, views_routing, views_webform

app_name = "service"
urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("new/", views.ticket_new, name="ticket_new"),
    path("bulk/", views.tickets_bulk, name="tickets_bulk"),
    path("sla/", views.sla_settings, name="sla"),
    path("channels/", views_channels.channels, name="channels"),
    path("channels/failed/", views_channels.inbound_failed, name="inbound_failed"),
    path(
        "channels/failed/<int:inbound_id>/retry/",
        views_channels.inbound_retry,
        name="inbound_retry",
    ),
    path("form/", views_webform.ticket_form, name="ticket_form"),
    path("satisfaction/", views.csat_results, name="csat"),
    path("articles/", views.articles, name="articles"),
    path("articles/new/", views.article_new, name="article_new"),
    path("articles/categories/", views.article_category_new, name="article_category_new"),
    path("articles/suggest/", views.article_suggest, name="article_suggest"),
    path("articles/<int:article_id>/", views.article, name="article"),
    path("articles/<int:article_id>/edit/", views.article_edit, name="article_edit"),
    path("sla/escalations/", views.sla_escalation_add, name="sla_escalation_add"),
    path(
        "sla/escalations/<int:escalation_id>/delete/",
        views.sla_escalation_delete,
        name="sla_escalation_delete",
    ),
    path("availability/", views_routing.availability, name="availability"),
    path("routing/", views_routing.routing_settings, name="routing"),
    path("routing/rules/", views_routing.routing_rule_create, name="routing_rule_create"),
    path(
        "routing/rules/<int:routing_rule_id>/",
        views_routing.routing_rule_update,
        name="routing_rule_update",
    ),
    path(
        "routing/rules/<int:routing_rule_id>/delete/",
        views_routing.routing_rule_delete,
        name="routing_rule_delete",
    ),
    path("routing/teams/", views_routing.routing_team, name="routing_team"),
    path("routing/agents/", views_routing.routing_agent, name="routing_agent"),
    path("macros/", views_macros.macro_list, name="macros"),
    path("macros/new/", views_macros.macro_new, name="macro_new"),
    path("macros/<int:macro_id>/", views_macros.macro_edit, name="macro_edit"),
    path("macros/<int:macro_id>/delete/", views_macros.macro_delete, name="macro_delete"),
    path("<int:ticket_id>/", views.ticket_detail, name="ticket_detail"),
    path("<int:ticket_id>/reply/", views.ticket_reply, name="ticket_reply"),
    path("<int:ticket_id>/fields/", views.ticket_fields, name="ticket_fields"),
    path("<int:ticket_id>/assign/", views.ticket_assign, name="ticket_assign"),
    path("<int:ticket_id>/macro/", views_macros.macro_apply, name="macro_apply"),
    path("<int:ticket_id>/macro/preview/", views_macros.macro_preview, name="macro_preview"),
    path("<int:ticket_id>/merge/", views_macros.ticket_merge, name="ticket_merge"),
    path("<int:ticket_id>/split/", views_macros.ticket_split, name="ticket_split"),
]
