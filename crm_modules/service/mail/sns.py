"""Amazon SNS message signatures for the inbound-email webhook (ADR 0045).

SNS cannot add our HMAC headers, so a message in the SNS shape is trusted on two counts: its
own signature (SignatureVersion 1: RSA PKCS#1 v1.5 over SHA-1, 2: over SHA-256) made with the
certificate at ``SigningCertURL``, and the workspace's SNS token in the subscribed URL's query
(``?token=…``), so a topic in someone else's AWS account cannot post into a workspace.

The certificate URL must start with ``INBOUND_SNS_CERT_URL_PREFIX`` formatted with the region
of the message's topic (``https://sns.<region>.amazonaws.com/`` in production): a message
naming a certificate anywhere else is refused before anything is fetched. A certificate is
fetched once and cached. A message older than ``INBOUND_SNS_MAX_AGE_SECONDS`` is refused (a
replay). A ``SubscriptionConfirmation`` is confirmed by fetching its ``SubscribeURL``, which
must live under the same prefix.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import hmac
import re
import urllib.request
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from django.utils.dateparse import parse_datetime

NOTIFICATION = "Notification"
SUBSCRIPTION_CONFIRMATION = "SubscriptionConfirmation"
UNSUBSCRIBE_CONFIRMATION = "UnsubscribeConfirmation"
TYPES = {NOTIFICATION, SUBSCRIPTION_CONFIRMATION, UNSUBSCRIBE_CONFIRMATION}
# The fields each type signs, in the order SNS signs them.
NOTIFICATION_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
CONFIRMATION_FIELDS = (
    "Message",
    "MessageId",
    "SubscribeURL",
    "Timestamp",
    "Token",
    "TopicArn",
    "Type",
)
HASHES: dict[str, type[hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}
REGION = re.compile(r"^arn:aws[a-z-]*:sns:([a-z0-9-]{1,40}):")
CERT_CACHE_SECONDS = 24 * 60 * 60
FETCH_TIMEOUT_SECONDS = 10
MAX_CERT_BYTES = 64 * 1024


class SnsRejected(Exception):
    """The message is not a genuine, fresh SNS message; the reason says why."""


def is_sns(document: Any) -> bool:
    return (
        isinstance(document, dict)
        and document.get("Type") in TYPES
        and "SignatureVersion" in document
    )


def sns_token(schema_name: str) -> str:
    """The workspace's token in its SNS subscription URL (not its HMAC signing key: a URL
    ends up in logs)."""
    return hmac.new(
        str(settings.INBOUND_EMAIL_SECRET).encode(),
        f"inbound-sns:{schema_name}".encode(),
        hashlib.sha256,
    ).hexdigest()[:40]


def string_to_sign(document: dict[str, Any]) -> bytes:
    fields = NOTIFICATION_FIELDS if document["Type"] == NOTIFICATION else CONFIRMATION_FIELDS
    lines: list[str] = []
    for field in fields:
        if field == "Subject" and field not in document:
            continue
        value = document.get(field)
        if not isinstance(value, str):
            raise SnsRejected(f"{field} is missing.")
        lines.append(f"{field}\n{value}\n")
    return "".join(lines).encode()


def _allowed_url(url: Any, topic_arn: Any) -> bool:
    match = REGION.match(topic_arn) if isinstance(topic_arn, str) else None
    if match is None or not isinstance(url, str):
        return False
    prefix = str(settings.INBOUND_SNS_CERT_URL_PREFIX).format(region=match.group(1))
    return url.startswith(prefix) and ".." not in url and "@" not in url


def _fetch(url: str) -> bytes:
    # The URL has been checked against the configured prefix (https to AWS in production).
    with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT_SECONDS) as response:  # noqa: S310
        return bytes(response.read(MAX_CERT_BYTES + 1))


def _certificate(url: str) -> x509.Certificate:
    key = "service:sns-cert:" + hashlib.sha256(url.encode()).hexdigest()
    pem = cache.get(key)
    if not isinstance(pem, bytes):
        try:
            pem = _fetch(url)
        except OSError as exc:
            raise SnsRejected(f"The signing certificate could not be fetched: {exc}") from exc
        if len(pem) > MAX_CERT_BYTES:
            raise SnsRejected("The signing certificate is too large.")
        cache.set(key, pem, CERT_CACHE_SECONDS)
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise SnsRejected("The signing certificate is not a PEM certificate.") from exc


def verify(document: dict[str, Any], *, now: datetime.datetime | None = None) -> None:
    """Raise SnsRejected unless the message is signed by SNS and fresh."""
    algorithm = HASHES.get(str(document.get("SignatureVersion")))
    if algorithm is None:
        raise SnsRejected("Unknown SignatureVersion.")
    if not _allowed_url(document.get("SigningCertURL"), document.get("TopicArn")):
        raise SnsRejected("The signing certificate is not on an SNS host of the topic's region.")
    stamp = parse_datetime(str(document.get("Timestamp") or ""))
    if stamp is None or stamp.tzinfo is None:
        raise SnsRejected("Timestamp is missing or not an ISO 8601 time with a zone.")
    age = ((now or timezone.now()) - stamp).total_seconds()
    if abs(age) > int(settings.INBOUND_SNS_MAX_AGE_SECONDS):
        raise SnsRejected("The message is too old (a replay).")
    try:
        signature = base64.b64decode(str(document.get("Signature") or ""), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SnsRejected("Signature is not base64.") from exc
    message = string_to_sign(document)
    public_key = _certificate(str(document["SigningCertURL"])).public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise SnsRejected("The signing certificate does not hold an RSA key.")
    try:
        public_key.verify(signature, message, padding.PKCS1v15(), algorithm())
    except InvalidSignature as exc:
        raise SnsRejected("The signature does not match the message.") from exc


def confirm_subscription(document: dict[str, Any]) -> None:
    """Confirm a verified SubscriptionConfirmation by visiting its SubscribeURL."""
    url = document.get("SubscribeURL")
    if not _allowed_url(url, document.get("TopicArn")):
        raise SnsRejected("SubscribeURL is not on an SNS host of the topic's region.")
    try:
        _fetch(str(url))
    except OSError as exc:
        raise SnsRejected(f"The subscription could not be confirmed: {exc}") from exc
