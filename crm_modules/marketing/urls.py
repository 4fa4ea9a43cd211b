from django.urls import path

from crm_modules.marketing import views, views_campaigns

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
]
