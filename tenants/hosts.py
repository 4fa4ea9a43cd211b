"""Absolute URLs for the public host and for workspace hosts (D5)."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings


def _port_suffix() -> str:
    return f":{settings.SITE_PORT}" if settings.SITE_PORT else ""


def workspace_hostname(slug: str) -> str:
    return f"{slug}.{settings.BASE_DOMAIN}"


def workspace_origin(hostname: str) -> str:
    """The origin (scheme://host[:port]) a browser reports for our pages on hostname."""
    return f"{settings.SITE_SCHEME}://{hostname}{_port_suffix()}"


def public_url(path: str = "/") -> str:
    return f"{settings.SITE_SCHEME}://{settings.BASE_DOMAIN}{_port_suffix()}{path}"


def workspace_url(slug: str, path: str = "/") -> str:
    return f"{settings.SITE_SCHEME}://{workspace_hostname(slug)}{_port_suffix()}{path}"


def safe_local_path(candidate: str | None, default: str = "/") -> str:
    """Accept only a path on the current host: no scheme, no host, no protocol-relative URL."""
    if not candidate:
        return default
    parts = urlsplit(candidate)
    if parts.scheme or parts.netloc or not candidate.startswith("/") or candidate.startswith("//"):
        return default
    if "\\" in candidate or any(ord(ch) < 32 for ch in candidate):
        return default
    return candidate
