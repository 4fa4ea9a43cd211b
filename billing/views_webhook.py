"""Stripe's webhook endpoint on the public host."""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from billing.stripe_api import InvalidWebhook, webhook_event
from billing.webhooks import stripe_event_record

logger = logging.getLogger("rapport.billing")


@csrf_exempt  # Stripe signs the body instead
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    try:
        event = webhook_event(
            payload=request.body, signature=request.headers.get("Stripe-Signature", "")
        )
    except InvalidWebhook as error:
        logger.warning("refused a stripe webhook: %s", error)
        return HttpResponseBadRequest("invalid webhook")
    stripe_event_record(event=event)
    # Unknown types and repeated events are answered 200 too: Stripe stops retrying.
    return HttpResponse("ok")
