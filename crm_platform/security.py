"""Security headers on every response (D8: every asset is ours, no inline scripts).

This middleware sits before host resolution, so the 404 for an unknown host carries the same
headers as any page. Pages for a signed-in person carry personal data (members, audit log,
exports, account pages): the browser and any proxy are told never to store them.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers

from crm_platform import s3

# Powerful browser features the product never uses; no page, nor anything it frames, gets them.
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"


def _upload_origins() -> list[str]:
    """Where browsers upload documents to and load previews from: the origin of the URLs the
    S3 module presigns, and DOCUMENTS_UPLOAD_ORIGIN when one more is configured."""
    origins = [origin for origin in (s3.presigned_origin(),) if origin]
    if settings.DOCUMENTS_UPLOAD_ORIGIN and settings.DOCUMENTS_UPLOAD_ORIGIN not in origins:
        origins.append(settings.DOCUMENTS_UPLOAD_ORIGIN)
    return origins


def _checkout_origins() -> list[str]:
    """Subscribing ends in a redirect to Stripe Checkout (or the local stand-in's page)."""
    if settings.STRIPE_API_BASE:
        parts = urlsplit(settings.STRIPE_API_BASE)
        return [f"{parts.scheme}://{parts.netloc}"]
    return ["https://checkout.stripe.com"]


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
        # The TOTP QR code is an inline SVG data URI; Plotly draws a chart to PNG through a
        # blob: image of its SVG; document previews and PDF thumbnails load from presigned URLs
        # of the documents bucket.
        " ".join(["img-src", "'self'", "data:", "blob:", *_upload_origins()]),
        " ".join(["connect-src", "'self'", *_upload_origins()]),
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "frame-ancestors 'none'",
        " ".join(["form-action", "'self'", our_hosts, *_checkout_origins()]),
    ]
    return "; ".join(directives)


def _signed_in(request: HttpRequest) -> bool:
    # No user on the request: it was answered before sessions (unknown host, static file).
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated)


class ContentSecurityPolicyMiddleware:
    """CSP, Permissions-Policy, and ``Cache-Control: no-store`` for signed-in pages."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # Built per response (a few string joins) so that it follows the settings in force.
        response.headers.setdefault("Content-Security-Policy", content_security_policy())
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        if _signed_in(request):
            add_never_cache_headers(response)
        return response
