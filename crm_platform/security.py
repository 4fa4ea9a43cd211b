"""Content-Security-Policy for every response (D8: every asset is ours, no inline scripts)."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse


def content_security_policy() -> str:
    port = f":{settings.SITE_PORT}" if settings.SITE_PORT else ""
    scheme = settings.SITE_SCHEME
    # Forms may end in a redirect to a workspace host (signup, entering a workspace), and
    # browsers check form-action along the redirect chain.
    our_hosts = f"{scheme}://{settings.BASE_DOMAIN}{port} {scheme}://*.{settings.BASE_DOMAIN}{port}"
    directives = [
        "default-src 'self'",
        "script-src 'self'",
        # Inline style attributes remain in the Django admin and allauth's templates.
        "style-src 'self' 'unsafe-inline'",
        # The TOTP QR code is an inline SVG data URI.
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "frame-ancestors 'none'",
        f"form-action 'self' {our_hosts}",
    ]
    return "; ".join(directives)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # Built per response (a few string joins) so that it follows the settings in force.
        response.headers.setdefault("Content-Security-Policy", content_security_policy())
        return response
