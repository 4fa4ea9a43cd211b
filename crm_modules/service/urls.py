from django.urls import path

from crm_modules.service import views, views_channels, views_webform

app_name = "service"
urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("new/", views.ticket_new, name="ticket_new"),
    path("bulk/", views.tickets_bulk, name="tickets_bulk"),
    path("sla/", views.sla_settings, name="sla"),
    path("channels/", views_channels.channels, name="channels"),
    path("form/", views_webform.ticket_form, name="ticket_form"),
    path("satisfaction/", views.csat_results, name="csat"),
    path("articles/", views.articles, name="articles"),
    path("articles/new/", views.article_new, name="article_new"),
    path("articles/categories/", views.article_category_new, name="article_category_new"),
    path("articles/suggest/", views.article_suggest, name="article_suggest"),
    path("articles/<int:article_id>/", views.article, name="article"),
    path("articles/<int:article_id>/edit/", views.article_edit, name="article_edit"),
    path("<int:ticket_id>/", views.ticket_detail, name="ticket_detail"),
    path("<int:ticket_id>/reply/", views.ticket_reply, name="ticket_reply"),
    path("<int:ticket_id>/fields/", views.ticket_fields, name="ticket_fields"),
    path("<int:ticket_id>/assign/", views.ticket_assign, name="ticket_assign"),
]
