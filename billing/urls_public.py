from django.urls import path

from billing import views_webhook

urlpatterns = [
    path("", views_webhook.stripe_webhook, name="stripe_webhook"),
]
