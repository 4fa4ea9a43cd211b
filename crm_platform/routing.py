from django.urls import path, re_path

from tenants.consumers import NotificationsConsumer, UnknownRouteConsumer

websocket_urlpatterns = [
    path("ws/notifications/", NotificationsConsumer.as_asgi()),
    # Last: any other path closes cleanly (4404) instead of failing the router with a 500.
    re_path(r"", UnknownRouteConsumer.as_asgi()),
]
