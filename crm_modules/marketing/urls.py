from django.urls import path

from crm_modules.marketing import (
    views,
    views_attribution,
    views_campaigns,
    views_deliverability,
    views_recipient,
    views_rules,
    views_sequences,
    views_triggers,
)
from crm_modules.marketing.capture import public
from crm_modules.marketing.capture import views as form_views
from crm_modules.marketing.plan import customer_facing

app_name = "marketing"
urlpatterns = [
    path("segments/", views.segments, name="segments"),
    path("segments/new/", views.segment_new, name="segment_new"),
    path("segments/products/", views.segment_products, name="segment_products"),
    path("segments/<int:segment_id>/", views.segment_detail, name="segment_detail"),
    path("campaigns/", views_campaigns.campaigns, name="campaigns"),
    path("campaigns/new/", views_campaigns.campaign_new, name="campaign_new"),
    path("campaigns/<int:campaign_id>/", views_campaigns.campaign_detail, name="campaign_detail"),
    path("campaigns/<int:campaign_id>/edit/", views_campaigns.campaign_edit, name="campaign_edit"),
    path(
        "campaigns/<int:campaign_id>/preview/",
        views_campaigns.campaign_preview,
        name="campaign_preview",
    ),
    path(
        "campaigns/<int:campaign_id>/test/",
        views_campaigns.campaign_test_send,
        name="campaign_test_send",
    ),
    path("campaigns/<int:campaign_id>/send/", views_campaigns.campaign_send, name="campaign_send"),
    path(
        "campaigns/<int:campaign_id>/cancel/",
        views_campaigns.campaign_cancel,
        name="campaign_cancel",
    ),
    # Recipients' mail clients, not members: the signed token is the only key (ADR 0034).
    path("t/o/<str:token>/", views_campaigns.track_open, name="track_open"),
    path("t/c/<str:token>/", views_campaigns.track_click, name="track_click"),
    path("sequences/", views_sequences.sequences, name="sequences"),
    path("sequences/new/", views_sequences.sequence_new, name="sequence_new"),
    path("sequences/enrol/", views_sequences.contact_enrol, name="contact_enrol"),
    path("sequences/<int:sequence_id>/", views_sequences.sequence_detail, name="sequence_detail"),
    path("sequences/<int:sequence_id>/edit/", views_sequences.sequence_edit, name="sequence_edit"),
    path(
        "sequences/<int:sequence_id>/activate/",
        views_sequences.sequence_activate,
        name="sequence_activate",
    ),
    path(
        "sequences/<int:sequence_id>/enrol/", views_sequences.sequence_enrol, name="sequence_enrol"
    ),
    path(
        "sequences/<int:sequence_id>/enrolments/<int:enrolment_id>/<slug:action>/",
        views_sequences.enrolment_action,
        name="enrolment_action",
    ),
    # Opened from sequence emails by recipients' mail clients (module.py: /marketing/t/).
    path("t/so/<str:token>/", views_sequences.sequence_open, name="sequence_open"),
    path("t/sc/<str:token>/", views_sequences.sequence_click, name="sequence_click"),
    path("contact-rules/", views_rules.rules, name="contact_rules"),
    path("contact-rules/topics/", views_rules.topic_new, name="topic_new"),
    path(
        "contact-rules/topics/<int:topic_id>/delete/",
        views_rules.topic_delete,
        name="topic_delete",
    ),
    path("contact-rules/suppressions/", views_rules.suppression_new, name="suppression_new"),
    # Opened by recipients from a message, without an account (module.RECIPIENT_PATH).
    path("r/unsubscribe/<str:token>/", views_recipient.unsubscribe, name="unsubscribe"),
    path("r/preferences/<str:token>/", views_recipient.preferences, name="preferences"),
    path("r/confirm/<str:token>/", views_recipient.opt_in_confirm, name="opt_in_confirm"),
    path("r/consent/<str:token>/", views_recipient.consent_confirm, name="consent_confirm"),
    # Deliverability (ADR 0043).
    path("deliverability/", views_deliverability.sender_domains, name="sender_domains"),
    path(
        "deliverability/domains/new/",
        views_deliverability.sender_domain_new,
        name="sender_domain_new",
    ),
    path(
        "deliverability/domains/<int:domain_id>/",
        views_deliverability.sender_domain_detail,
        name="sender_domain_detail",
    ),
    path(
        "deliverability/domains/<int:domain_id>/check/",
        views_deliverability.sender_domain_check,
        name="sender_domain_check",
    ),
    path(
        "deliverability/domains/<int:domain_id>/delete/",
        views_deliverability.sender_domain_delete,
        name="sender_domain_delete",
    ),
    path("deliverability/resume/", views_deliverability.resume, name="bulk_sending_resume"),
    path(
        "deliverability/secret/",
        views_deliverability.secret_rotate,
        name="webhook_secret_rotate",
    ),
    # Mail providers, not members: the workspace's secret is the key (module.WEBHOOK_PATH).
    path("hooks/bounces/", views_deliverability.webhook_generic, name="webhook_bounces"),
    path("hooks/sns/", views_deliverability.webhook_sns, name="webhook_sns"),
    path("forms/", form_views.form_list, name="forms"),
    path("forms/new/", form_views.form_new, name="form_new"),
    path("forms/<int:form_id>/", form_views.form_detail, name="form_detail"),
    path("forms/<int:form_id>/edit/", form_views.form_edit, name="form_edit"),
    path("triggers/", views_triggers.triggers, name="triggers"),
    path("triggers/new/", views_triggers.trigger_new, name="trigger_new"),
    path("triggers/<int:trigger_id>/", views_triggers.trigger_detail, name="trigger_detail"),
    path("triggers/<int:trigger_id>/edit/", views_triggers.trigger_edit, name="trigger_edit"),
    path("attribution/", views_attribution.attribution, name="attribution"),
    path("attribution/costs/", views_attribution.cost_set, name="campaign_cost_set"),
    path("attribution/rebuild/", views_attribution.rebuild, name="attribution_rebuild"),
    # Open to visitors (tenants.modules.register_open_path in module.py).
    path("f/<uuid:public_id>/", customer_facing(public.form_page), name="form_page"),
    path("f/<uuid:public_id>/embed.json", customer_facing(public.form_embed), name="form_embed"),
    path(
        "f/<uuid:public_id>/submit/",
        customer_facing(public.form_submit_view),
        name="form_submit",
    ),
]
