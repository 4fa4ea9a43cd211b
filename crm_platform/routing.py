"""WebSocket routes of a workspace host: the core's, then each module's ``routing.py``
(``websocket_urlpatterns``), found through the module registry (D16), then a catch-all that
closes any other path cleanly."""

from importlib import import_module
from importlib.util import find_spec

from django.urls import URLPattern, path, re_path

from tenants.consumers import NotificationsConsumer, UnknownRouteConsumer
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
    # Last: any other path closes cleanly (4404) instead of failing the router with a 500.
    re_path(r"", UnknownRouteConsumer.as_asgi()),
]
