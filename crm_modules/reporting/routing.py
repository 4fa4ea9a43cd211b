from django.urls import path

from crm_modules.reporting.consumers import DashboardConsumer

websocket_urlpatterns = [
    path("ws/reporting/dashboard/", DashboardConsumer.as_asgi()),
]
