"""What keeps bots and floods out of a public form: a signed token the page or snippet
received, a honeypot field people never see, and rate limits per visitor address and per form
in Redis. Cache keys go through the tenant-aware key function, so they carry the workspace's
schema (D6); addresses are kept only as digests."""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import connection

from crm_modules.marketing.models_capture import Form
from crm_platform.ratelimits import counters_allowed

TOKEN_SALT = "marketing.form"  # noqa: S105  (a namespace, not a secret)
# A page left open over a weekend still submits.
TOKEN_MAX_AGE = 3 * 24 * 3600
# The field people never see or fill; bots fill every field they find.
HONEYPOT = "website_url"
DEFAULT_LIMITS = {"ip": (10, 600), "form": (500, 600)}


def _schema() -> str:
    return str(connection.schema_name)  # type: ignore[attr-defined]


def token_mint(form: Form) -> str:
    return signing.dumps({"f": str(form.public_id), "w": _schema()}, salt=TOKEN_SALT, compress=True)


def token_valid(form: Form, token: str) -> bool:
    try:
        data: Any = signing.loads(token, salt=TOKEN_SALT, max_age=TOKEN_MAX_AGE)
    except signing.BadSignature:
        return False
    return (
        isinstance(data, dict)
        and data.get("f") == str(form.public_id)
        and data.get("w") == _schema()
    )


def limits() -> dict[str, tuple[int, int]]:
    configured = getattr(settings, "MARKETING_FORM_LIMITS", None) or {}
    return {**DEFAULT_LIMITS, **configured}


def rate_key(scope: str, value: str) -> str:
    digest = hashlib.sha256(value.encode()).hexdigest()[:32]
    return f"mkt:form:{scope}:{digest}"


def rate_allowed(form: Form, ip: str) -> bool:
    """Count one submission from ``ip`` to ``form`` if neither is over its limit; False (and
    nothing counted) if one is."""
    buckets = {
        "ip": rate_key("ip", ip or "unknown"),
        "form": rate_key("form", str(form.public_id)),
    }
    configured = limits()
    return counters_allowed([(key, *configured[scope]) for scope, key in buckets.items()])
