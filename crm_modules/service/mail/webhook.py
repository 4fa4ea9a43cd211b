"""The inbound-email webhook's signature (ADR 0036).

Each workspace has its own signing key, derived from ``INBOUND_EMAIL_SECRET`` and the
workspace's schema, so a key given to one workspace's mail provider signs nothing for another.
A request signs ``<timestamp>.<body>`` with HMAC-SHA256 and sends
``X-Rapport-Timestamp: <unix seconds>`` and ``X-Rapport-Signature: sha256=<hex>``; a
timestamp more than five minutes away is refused (a replayed request), although a replay
could only deliver a message already received.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from django.conf import settings

TOLERANCE_SECONDS = 300
SIGNATURE_HEADER = "X-Rapport-Signature"
TIMESTAMP_HEADER = "X-Rapport-Timestamp"


def signing_key(schema_name: str) -> str:
    return hmac.new(
        str(settings.INBOUND_EMAIL_SECRET).encode(),
        f"inbound-email:{schema_name}".encode(),
        hashlib.sha256,
    ).hexdigest()


def sign(*, key: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(key.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


def verify(
    *, key: str, timestamp: str, signature: str, body: bytes, now: float | None = None
) -> bool:
    try:
        stamp = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((now if now is not None else time.time()) - stamp) > TOLERANCE_SECONDS:
        return False
    return hmac.compare_digest(sign(key=key, timestamp=stamp, body=body), signature or "")
