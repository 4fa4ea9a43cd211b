"""Who is calling the API.

Browsers: the workspace session (with CSRF on writes), already checked by the membership
middleware. Integrations: ``Authorization: Bearer <key>``, a per-workspace API key stored
hashed (D9). Keys are resolved through ``API_KEY_RESOLVER`` (a dotted path to a function
``(request, raw_key) -> Membership | None``) so the module that owns keys plugs in without an
edit here; while none is configured every key is refused.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request


class WorkspaceSessionAuthentication(SessionAuthentication):
    def authenticate_header(self, request: Request) -> str:
        # A 401 (not 403) for a caller with no credentials, as the OpenAPI schema documents.
        return 'Session realm="workspace"'


class ApiKeyAuthentication(BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header.startswith(f"{self.keyword} "):
            return None
        raw_key = header[len(self.keyword) + 1 :].strip()
        resolver_path = getattr(settings, "API_KEY_RESOLVER", "")
        membership = import_string(resolver_path)(request, raw_key) if resolver_path else None
        if membership is None:
            raise AuthenticationFailed(_("This API key is not valid."))
        request._request.membership = membership  # type: ignore[attr-defined]
        return membership.user, raw_key

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="api"'
