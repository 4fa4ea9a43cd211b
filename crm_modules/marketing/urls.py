from django.urls import path

from crm_modules.marketing import views

app_name = "marketing"
urlpatterns = [
    path("segments/", views.segments, name="segments"),
    path("segments/new/", views.segment_new, name="segment_new"),
    path("segments/<int:segment_id>/", views.segment_detail, name="segment_detail"),
]
