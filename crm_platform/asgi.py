"""One ASGI application serves HTTP and WebSocket (D11)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_platform.settings.dev")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from crm_platform import access_log  # noqa: E402
from crm_platform.observability import WebSocketMetricsMiddleware  # noqa: E402
from crm_platform.routing import websocket_urlpatterns  # noqa: E402
from tenants.ws import WorkspaceSocketMiddleware  # noqa: E402

access_log.install()

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": WebSocketMetricsMiddleware(
            WorkspaceSocketMiddleware(URLRouter(websocket_urlpatterns))
        ),
    }
)
