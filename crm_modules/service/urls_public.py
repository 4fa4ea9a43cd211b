"""Service's URLs on the public host: the inbound-email webhook of each workspace."""

from django.urls import path

from crm_modules.service import views_inbound

urlpatterns = [
    path("inbound/email/<slug:slug>/", views_inbound.inbound_email, name="inbound_email"),
]
