from django.urls import path

from crm_modules.scoring import views

app_name = "scoring"
urlpatterns = [
    path("", views.rules, name="rules"),
    path("rules/new/", views.rule_new, name="rule_new"),
    path("rules/<int:rule_id>/delete/", views.rule_delete, name="rule_delete"),
    path("thresholds/new/", views.threshold_new, name="threshold_new"),
    path("thresholds/<int:threshold_id>/delete/", views.threshold_delete, name="threshold_delete"),
    path("recompute/", views.recompute, name="recompute"),
]
