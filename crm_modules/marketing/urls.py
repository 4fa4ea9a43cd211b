from django.urls import path

from crm_modules.marketing import views, views_recipient, views_rules

app_name = "marketing"
urlpatterns = [
    path("segments/", views.segments, name="segments"),
    path("segments/new/", views.segment_new, name="segment_new"),
    path("segments/<int:segment_id>/", views.segment_detail, name="segment_detail"),
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
