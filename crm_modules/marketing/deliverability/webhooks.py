"""Reading the providers' bounce and complaint notifications (ADR 0043).

Generic JSON: the body is signed with the workspace's webhook secret,
``X-Rapport-Signature: sha256=<hex HMAC-SHA256 of the raw body>``; it carries ``id``,
``type`` ("bounce" or "complaint"), ``bounce_type`` ("hard" or "soft"), ``email`` and
``message_id`` (the Message-ID header of the message concerned).

Amazon SES through SNS: the subscription URL carries the workspace's secret (``?key=…``) and
every SNS message its own signature, checked against the certificate at ``SigningCertURL``,
fetched only from a URL that ``MARKETING_SNS_CERT_URL_PATTERN`` allows (Amazon's SNS hosts).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import urllib.request
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.conf import settings
from django.core.cache import cache

from crm_modules.marketing.deliverability.events import Report
from crm_modules.marketing.models_deliverability import MailEvent

MAX_BODY = 256 * 1024
Kind = MailEvent.Kind


class Rejected(Exception):
    """A notification that is not authentic or not readable; ``field`` names the problem."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def signature_valid(secret: str, body: bytes, header: str) -> bool:
    if not secret or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode("ascii"), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.removeprefix("sha256=").strip().lower())


def _json(body: bytes) -> dict[str, Any]:
    if len(body) > MAX_BODY:
        raise Rejected("body", "The body is too large.")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise Rejected("body", "The body is not JSON.") from error
    if not isinstance(data, dict):
        raise Rejected("body", "The body must be a JSON object.")
    return data


def _text(data: dict[str, Any], key: str, max_length: int = 300) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise Rejected(key, f"{key} is required.")
    if len(value) > max_length:
        raise Rejected(key, f"{key} is too long.")
    return value.strip()


def generic_reports(body: bytes) -> list[Report]:
    data = _json(body)
    event_id = _text(data, "id", 200)
    kind_name = _text(data, "type", 20).lower()
    if kind_name == "complaint":
        kind = Kind.COMPLAINT
    elif kind_name == "bounce":
        bounce = str(data.get("bounce_type", "")).lower()
        if bounce not in ("hard", "soft"):
            raise Rejected("bounce_type", "bounce_type must be hard or soft.")
        kind = Kind.HARD_BOUNCE if bounce == "hard" else Kind.SOFT_BOUNCE
    else:
        raise Rejected("type", "type must be bounce or complaint.")
    return [
        Report(
            event_id=f"generic:{event_id}",
            source="generic",
            kind=kind,
            email=_text(data, "email", 254),
            message_id=_text(data, "message_id", 300),
            detail=str(data.get("detail", ""))[:300],
        )
    ]


# --- SNS ----------------------------------------------------------------------------------------

_SIGNED_KEYS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
}


def _cert_url_allowed(url: str) -> bool:
    return bool(re.match(settings.MARKETING_SNS_CERT_URL_PATTERN, url)) and ".." not in url


def _certificate(url: str) -> x509.Certificate:
    key = f"marketing:sns-cert:{hashlib.sha256(url.encode()).hexdigest()}"
    pem = cache.get(key)
    if pem is None:
        # Only a URL the pattern allows (Amazon's SNS hosts in production) is fetched.
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310
            pem = response.read(64 * 1024)
        cache.set(key, pem, 3600)
    return x509.load_pem_x509_certificate(pem)


def sns_verify(message: dict[str, Any]) -> None:
    kind = message.get("Type")
    if kind not in _SIGNED_KEYS:
        raise Rejected("Type", "Unknown SNS message type.")
    url = message.get("SigningCertURL")
    if not isinstance(url, str) or not _cert_url_allowed(url):
        raise Rejected("SigningCertURL", "The certificate URL is not an SNS host.")
    version = str(message.get("SignatureVersion", ""))
    if version not in ("1", "2"):
        raise Rejected("SignatureVersion", "Unknown signature version.")
    lines = []
    for name in _SIGNED_KEYS[kind]:
        if name in message and message[name] is not None:
            lines += [name, str(message[name])]
    signed = ("\n".join(lines) + "\n").encode("utf-8")
    try:
        signature = base64.b64decode(str(message.get("Signature", "")), validate=True)
        public_key = _certificate(url).public_key()
    except (ValueError, OSError) as error:
        raise Rejected("Signature", "The signature could not be checked.") from error
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise Rejected("Signature", "The certificate holds no RSA key.")
    digest = hashes.SHA1() if version == "1" else hashes.SHA256()  # noqa: S303 (SNS v1)
    try:
        public_key.verify(signature, signed, padding.PKCS1v15(), digest)
    except InvalidSignature as error:
        raise Rejected("Signature", "The signature does not match.") from error


def sns_confirm_subscription(message: dict[str, Any]) -> None:
    """Visit SubscribeURL (on an SNS host only) so SNS starts delivering."""
    url = str(message.get("SubscribeURL", ""))
    if not _cert_url_allowed(url):
        raise Rejected("SubscribeURL", "The subscription URL is not an SNS host.")
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310
        response.read(64 * 1024)


def _object(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def ses_reports(envelope: dict[str, Any]) -> list[Report]:
    """The reports in an SES notification (one per recipient address)."""
    try:
        payload = json.loads(str(envelope.get("Message", "")))
    except ValueError as error:
        raise Rejected("Message", "The SES notification is not JSON.") from error
    if not isinstance(payload, dict):
        raise Rejected("Message", "The SES notification must be an object.")
    kind_name = payload.get("notificationType") or payload.get("eventType")
    mail = _object(payload, "mail")
    headers = _object(mail, "commonHeaders")
    message_id = str(headers.get("messageId", ""))[:300]
    base = str(envelope.get("MessageId", ""))[:150]
    reports: list[Report] = []
    if kind_name == "Bounce":
        bounce = _object(payload, "bounce")
        kind = Kind.HARD_BOUNCE if bounce.get("bounceType") == "Permanent" else Kind.SOFT_BOUNCE
        people = bounce.get("bouncedRecipients") or []
        detail = str(bounce.get("bounceSubType", ""))
    elif kind_name == "Complaint":
        complaint = _object(payload, "complaint")
        kind = Kind.COMPLAINT
        people = complaint.get("complainedRecipients") or []
        detail = str(complaint.get("complaintFeedbackType", ""))
    else:
        return []
    for n, person in enumerate(people[:50] if isinstance(people, list) else []):
        address = person.get("emailAddress") if isinstance(person, dict) else None
        if isinstance(address, str) and address:
            reports.append(
                Report(
                    event_id=f"sns:{base}:{n}",
                    source="ses",
                    kind=kind,
                    email=address[:254],
                    message_id=message_id,
                    detail=detail[:300],
                )
            )
    return reports
