"""WebSocket routes of a workspace host: the core's, then each module's ``routing.py``
(``websocket_urlpatterns``), found through the module registry (D16)."""

from importlib import import_module
from importlib.util import find_spec

from django.urls import URLPattern, path

from tenants.consumers import NotificationsConsumer
from tenants.modules import module_configs


def _module_routes() -> list[URLPattern]:
    routes: list[URLPattern] = []
    for config in module_configs():
        if find_spec(f"{config.name}.routing") is not None:
            routes.extend(import_module(f"{config.name}.routing").websocket_urlpatterns)
    return routes


websocket_urlpatterns = [
    path("ws/notifications/", NotificationsConsumer.as_asgi()),
    *_module_routes(),
]
