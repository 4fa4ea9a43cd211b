"""WebSocket routes of service (found by crm_platform.routing through the module registry)."""

from django.urls import path

from crm_modules.service.consumers import TicketPresenceConsumer

websocket_urlpatterns = [
    path("ws/service/presence/", TicketPresenceConsumer.as_asgi()),
]
