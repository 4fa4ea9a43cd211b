from django.urls import path

from crm_modules.marketing import views, views_campaigns, views_recipient, views_rules

app_name = "marketing"
urlpatterns = [
    path("segments/", views.segments, name="segments"),
    path("segments/new/", views.segment_new, name="segment_new"),
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
    path("contact-rules/", views_rules.rules_save, name="contact_rules"),
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
]
