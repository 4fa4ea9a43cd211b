"""The production receiving path (ADR 0036): ``POST /inbound/email/<slug>/`` on the public
host, one URL and one signing key per workspace.

The body is the raw message (``Content-Type: message/rfc822``) or an Amazon SES "Received"
notification carrying it (``application/json``: ``{"notificationType": "Received",
"content": "<base64 MIME>", ...}``, bare or wrapped in an SNS ``Notification``). Answers:
202 stored (or already received: ``"duplicate": true``), 400 unreadable body, 403 bad or
missing signature, 404 no such workspace, 405 not a POST, 406 the workspace's plan does not
include service (ADR 0078: nothing stored; a permanent refusal the relay bounces to the sender,
as it does a 413), 413 too large — never a silent drop.

A message in the SNS shape (ADR 0045) carries no HMAC: it is verified by its SNS signature
(400 when forged, stale or signed by a certificate off the SNS hosts) and the workspace's SNS
token in the query; a ``SubscriptionConfirmation`` is confirmed and answered 200.

An SES notification's SPF, DKIM and DMARC verdicts are kept with the message: a sender that
fails them gets a ticket of its own, marked unverified (ADR 0068).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from django_tenants.utils import schema_context

from crm_modules.service.mail import sns, webhook
from crm_modules.service.models import InboundMessage
from crm_modules.service.plan import service_in_plan
from crm_modules.service.services.inbound import MessageTooLarge, inbound_receive
from tenants.models import Tenant


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


def _too_large() -> JsonResponse:
    return _error(
        413,
        "too_large",
        f"The message is larger than {settings.INBOUND_EMAIL_MAX_BYTES} bytes; "
        "bounce it to its sender.",
    )


def _not_in_plan() -> JsonResponse:
    return _error(
        406,
        "not_in_plan",
        "This workspace does not take email for its service desk now; bounce it to its sender.",
    )


def _notification(document: Any) -> dict[str, Any]:
    """The SES notification (bare or inside an SNS envelope)."""
    if document is None:
        raise ValueError("not JSON")
    if isinstance(document, dict) and document.get("Type") == "Notification":
        document = json.loads(document.get("Message") or "{}")
    if not isinstance(document, dict) or not isinstance(document.get("content"), str):
        raise ValueError("no content")
    return document


def _ses_verdicts(notification: dict[str, Any]) -> dict[str, Any] | None:
    """What SES checked of the sender (ADR 0068): its SPF, DKIM and DMARC verdicts, trusted
    as the request carrying them is (signed by SNS or by the workspace's key)."""
    receipt = notification.get("receipt")
    if not isinstance(receipt, dict):
        return None
    kept = {
        name: receipt[name]
        for name in ("spfVerdict", "dkimVerdict", "dmarcVerdict", "dmarcPolicy")
        if name in receipt
    }
    return {"source": "ses", "receipt": kept} if kept else None


@csrf_exempt
@require_POST
def inbound_email(request: HttpRequest, slug: str) -> JsonResponse:
    limit = int(settings.INBOUND_EMAIL_MAX_BYTES)
    is_json = request.content_type == "application/json"
    # Base64 in JSON is a third larger than the message it carries.
    body_limit = limit * 4 // 3 + 65536 if is_json else limit
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > body_limit:
        return _too_large()
    tenant = Tenant.objects.filter(
        slug=slug, state__in=[Tenant.State.ACTIVE, Tenant.State.SUSPENDED]
    ).first()
    if tenant is None:
        return _error(404, "not_found", "No such workspace.")
    body = request.read(body_limit + 1)
    if len(body) > body_limit:
        return _too_large()
    document: Any = None
    if is_json:
        try:
            document = json.loads(body)
        except ValueError:
            document = None  # answered once the HMAC is checked
    if sns.is_sns(document):
        token = request.GET.get("token", "")
        if not hmac.compare_digest(sns.sns_token(tenant.schema_name), token):
            return _error(403, "bad_signature", "The SNS token in the URL is missing or wrong.")
        try:
            sns.verify(document)
            if document["Type"] == sns.SUBSCRIPTION_CONFIRMATION:
                sns.confirm_subscription(document)
        except sns.SnsRejected as exc:
            return _error(400, "sns_signature", str(exc))
        if document["Type"] != sns.NOTIFICATION:
            return JsonResponse({"confirmed": document["Type"] == sns.SUBSCRIPTION_CONFIRMATION})
    elif not webhook.verify(
        key=webhook.signing_key(tenant.schema_name),
        timestamp=request.headers.get(webhook.TIMESTAMP_HEADER, ""),
        signature=request.headers.get(webhook.SIGNATURE_HEADER, ""),
        body=body,
    ):
        return _error(403, "bad_signature", "The signature is missing, wrong or too old.")
    raw = body
    verdicts = None
    if is_json:
        try:
            notification = _notification(document)
            raw = base64.b64decode(notification["content"], validate=True)
        except (ValueError, binascii.Error):
            return _error(400, "content", "The notification carries no base64 message content.")
        verdicts = _ses_verdicts(notification)
    if not raw.strip():
        return _error(400, "content", "The message is empty.")
    if not service_in_plan(tenant):
        return _not_in_plan()
    try:
        with schema_context(tenant.schema_name):
            inbound, created = inbound_receive(
                raw=raw,
                source=InboundMessage.Source.WEBHOOK,
                recipient=request.headers.get("X-Rapport-Recipient", ""),
                authentication=verdicts,
            )
    except MessageTooLarge:
        return _too_large()
    return JsonResponse(
        {"id": inbound.pk, "message_id": inbound.message_id, "duplicate": not created},
        status=202,
    )
