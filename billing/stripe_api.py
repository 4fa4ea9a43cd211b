"""The one module that imports the Stripe SDK (D12)."""

from __future__ import annotations

import json
from typing import Any

import stripe
from django.conf import settings

# Stripe's own default: a signature older than this is refused as a replay.
SIGNATURE_TOLERANCE_SECONDS = 300


class InvalidWebhook(Exception):
    """Forged, stale or malformed: answered 400 and nothing changes."""


def webhook_event(*, payload: bytes, signature: str) -> dict[str, Any]:
    """The event, once its signature over the raw body is verified with the endpoint secret."""
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        raise InvalidWebhook("No webhook secret is configured")
    try:
        stripe.WebhookSignature.verify_header(
            payload.decode("utf-8"), signature, secret, tolerance=SIGNATURE_TOLERANCE_SECONDS
        )
        event = json.loads(payload)
    except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError) as error:
        raise InvalidWebhook(str(error)) from error
    if not isinstance(event, dict) or not all(
        isinstance(event.get(key), str) for key in ("id", "type")
    ):
        raise InvalidWebhook("Not an event")
    data = event.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise InvalidWebhook("An event without an object")
    if not isinstance(event.get("created"), int):
        raise InvalidWebhook("An event without a creation time")
    return event
