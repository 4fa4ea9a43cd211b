"""The inbound-email webhook's SNS shape (ADR 0045): messages signed by SNS (SignatureVersion
1 and 2) with the certificate at SigningCertURL, here a certificate made for the test and
served by a local HTTP server that the setting allows in place of ``sns.<region>.amazonaws.com``.
Forged, stale and wrong-host messages are answered 400 and nothing is stored; the certificate
is fetched once; a SubscriptionConfirmation is confirmed by visiting its SubscribeURL."""

from __future__ import annotations

import base64
import datetime
import json
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from crm_modules.service.mail.sns import sns_token
from crm_modules.service.models import InboundMessage, Ticket
from tests.conftest import Workspace

MESSAGE = (
    b"From: Somchai <somchai@example.co.th>\r\nTo: support@alpha.in.localhost\r\n"
    b"Subject: =?TIS-620?B?u9Gty9I=?=\r\nMessage-ID: <sns-1@example.co.th>\r\n\r\nhello\r\n"
)
TOPIC = "arn:aws:sns:eu-west-1:123456789012:inbound-mail"


def _key_and_cert() -> tuple[rsa.RSAPrivateKey, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.eu-west-1.amazonaws.com")])
    now = datetime.datetime.now(tz=datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return key, cert.public_bytes(serialization.Encoding.PEM)


@dataclass
class SnsHost:
    """A stand-in for sns.<region>.amazonaws.com: serves the certificate at any ``*.pem``
    path and records every request (certificate fetches and subscription confirmations)."""

    base: str
    key: rsa.RSAPrivateKey
    requests: list[str] = field(default_factory=list)

    def cert_url(self) -> str:
        # A path of its own per test: the certificate cache is shared by the test run.
        return f"{self.base}SimpleNotificationService-{secrets.token_hex(6)}.pem"


@pytest.fixture(scope="module")
def sns_server() -> Iterator[tuple[str, rsa.RSAPrivateKey, bytes, list[str]]]:
    key, pem = _key_and_cert()
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            body = pem if self.path.endswith(".pem") else b"<ConfirmSubscriptionResponse/>"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", key, pem, seen
    server.shutdown()
    server.server_close()


@pytest.fixture
def sns(sns_server: Any, settings: Any) -> SnsHost:
    base, key, _pem, seen = sns_server
    seen.clear()
    settings.INBOUND_SNS_CERT_URL_PREFIX = base
    host = SnsHost(base=base, key=key)
    host.requests = seen
    return host


def signed(document: dict[str, str], key: rsa.RSAPrivateKey, version: str = "1") -> dict[str, str]:
    """``document`` signed as SNS signs it (the fields of its type, in order)."""
    if document["Type"] == "Notification":
        fields = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
    else:
        fields = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
    text = "".join(f"{name}\n{document[name]}\n" for name in fields if name in document)
    algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()  # noqa: S303 (SNS v1)
    signature = key.sign(text.encode(), padding.PKCS1v15(), algorithm)
    return {
        **document,
        "SignatureVersion": version,
        "Signature": base64.b64encode(signature).decode(),
    }


def notification(
    sns: SnsHost, *, raw: bytes = MESSAGE, age: datetime.timedelta | None = None
) -> dict[str, str]:
    stamp = timezone.now() - (age or datetime.timedelta(seconds=5))
    return {
        "Type": "Notification",
        "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
        "TopicArn": TOPIC,
        "Subject": "Amazon SES Email Receipt Notification",
        "Message": json.dumps(
            {"notificationType": "Received", "content": base64.b64encode(raw).decode()}
        ),
        "Timestamp": stamp.isoformat().replace("+00:00", "Z"),
        "SigningCertURL": sns.cert_url(),
        "UnsubscribeURL": f"{sns.base}?Action=Unsubscribe",
    }


def post(workspace: Workspace, document: dict[str, str], *, token: str | None = None) -> Any:
    token = sns_token(workspace.tenant.schema_name) if token is None else token
    return Client(HTTP_HOST="localhost").post(
        f"/service/inbound/email/{workspace.tenant.slug}/?token={token}",
        json.dumps(document),
        content_type="application/json",
        # What SNS sends besides the body; no HMAC headers.
        HTTP_X_AMZ_SNS_MESSAGE_TYPE=document["Type"],
    )


def received(workspace: Workspace, capture: Any, document: dict[str, str]) -> Any:
    with capture() as callbacks:
        response = post(workspace, document)
    with schema_context(workspace.tenant.schema_name), capture(execute=True):
        for callback in callbacks:
            callback()
    return response


def stored(workspace: Workspace) -> list[str]:
    with schema_context(workspace.tenant.schema_name):
        return list(InboundMessage.objects.values_list("message_id", flat=True))


@pytest.mark.parametrize("version", ["1", "2"])
def test_a_notification_signed_by_sns_is_stored_and_ticketed(
    alpha: Workspace,
    bravo: Workspace,
    sns: SnsHost,
    version: str,
    django_capture_on_commit_callbacks: Any,
) -> None:
    document = signed(notification(sns), sns.key, version)

    response = received(alpha, django_capture_on_commit_callbacks, document)

    assert response.status_code == 202, response.content
    assert response.json()["message_id"] == "<sns-1@example.co.th>"
    with schema_context(alpha.tenant.schema_name):
        ticket = Ticket.objects.get()
        assert (ticket.subject, ticket.channel) == ("ปัญหา", "email")
    assert stored(bravo) == []
    assert sns.requests == [document["SigningCertURL"].removeprefix(sns.base[:-1])]


def test_the_certificate_is_fetched_once(alpha: Workspace, sns: SnsHost) -> None:
    first = signed(notification(sns), sns.key)
    raw = MESSAGE.replace(b"<sns-1@", b"<sns-2@")
    again = {**notification(sns, raw=raw), "SigningCertURL": first["SigningCertURL"]}
    second = signed(again, sns.key)

    assert post(alpha, first).status_code == 202
    assert post(alpha, second).status_code == 202

    assert len(sns.requests) == 1
    assert sorted(stored(alpha)) == ["<sns-1@example.co.th>", "<sns-2@example.co.th>"]


def _forged_by_another_key(sns: SnsHost) -> dict[str, str]:
    other, _pem = _key_and_cert()
    return signed(notification(sns), other)


def _message_changed_after_signing(sns: SnsHost) -> dict[str, str]:
    document = signed(notification(sns), sns.key, "2")
    evil = MESSAGE.replace(b"hello", b"send the invoice to attacker@example.com")
    inner = {"notificationType": "Received", "content": base64.b64encode(evil).decode()}
    return {**document, "Message": json.dumps(inner)}


def _stale(sns: SnsHost) -> dict[str, str]:
    return signed(notification(sns, age=datetime.timedelta(hours=2)), sns.key)


def _certificate_on_another_host(sns: SnsHost) -> dict[str, str]:
    document = notification(sns)
    document["SigningCertURL"] = document["SigningCertURL"].replace("127.0.0.1", "localhost")
    return signed(document, sns.key)


def _topic_that_is_not_an_arn(sns: SnsHost) -> dict[str, str]:
    return signed({**notification(sns), "TopicArn": "not-an-arn"}, sns.key)


def _unknown_signature_version(sns: SnsHost) -> dict[str, str]:
    return signed(notification(sns), sns.key, "3")


def _signature_not_base64(sns: SnsHost) -> dict[str, str]:
    return {**signed(notification(sns), sns.key), "Signature": "%%% not base64 %%%"}


@pytest.mark.parametrize(
    ("make", "reason", "fetches"),
    [
        (_forged_by_another_key, "does not match", 1),
        (_message_changed_after_signing, "does not match", 1),
        (_stale, "too old", 0),
        (_certificate_on_another_host, "not on an SNS host", 0),
        (_topic_that_is_not_an_arn, "not on an SNS host", 0),
        (_unknown_signature_version, "SignatureVersion", 0),
        (_signature_not_base64, "not base64", 0),
    ],
    ids=lambda value: getattr(value, "__name__", str(value)),
)
def test_a_forged_stale_or_wrong_host_message_is_400_and_nothing_is_stored(
    alpha: Workspace,
    sns: SnsHost,
    make: Any,
    reason: str,
    fetches: int,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        response = post(alpha, make(sns))

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "sns_signature"
    assert reason in response.json()["error"]["message"]
    assert callbacks == []
    assert stored(alpha) == []
    assert len(sns.requests) == fetches


def test_a_genuine_message_with_another_workspaces_token_is_refused(
    alpha: Workspace, bravo: Workspace, sns: SnsHost
) -> None:
    document = signed(notification(sns), sns.key)

    wrong = post(bravo, document, token=sns_token(alpha.tenant.schema_name))
    missing = post(bravo, document, token="")

    assert (wrong.status_code, missing.status_code) == (403, 403)
    assert stored(bravo) == []
    assert stored(alpha) == []
    assert sns.requests == []  # refused before any certificate is fetched


def test_a_subscription_confirmation_is_verified_and_confirmed(
    alpha: Workspace, sns: SnsHost
) -> None:
    confirm = f"{sns.base}?Action=ConfirmSubscription&TopicArn={TOPIC}&Token=abc123"
    document = signed(
        {
            "Type": "SubscriptionConfirmation",
            "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
            "Token": "abc123",
            "TopicArn": TOPIC,
            "Message": f"You have chosen to subscribe to the topic {TOPIC}.",
            "SubscribeURL": confirm,
            "Timestamp": timezone.now().isoformat().replace("+00:00", "Z"),
            "SigningCertURL": sns.cert_url(),
        },
        sns.key,
        "2",
    )

    response = post(alpha, document)

    assert response.status_code == 200
    assert response.json() == {"confirmed": True}
    assert sns.requests[-1] == confirm.removeprefix(sns.base[:-1])
    assert stored(alpha) == []


def test_a_forged_subscription_confirmation_visits_nothing(alpha: Workspace, sns: SnsHost) -> None:
    other, _pem = _key_and_cert()
    document = signed(
        {
            "Type": "SubscriptionConfirmation",
            "MessageId": "m",
            "Token": "t",
            "TopicArn": TOPIC,
            "Message": "subscribe",
            "SubscribeURL": f"{sns.base}?Action=ConfirmSubscription&Token=t",
            "Timestamp": timezone.now().isoformat().replace("+00:00", "Z"),
            "SigningCertURL": sns.cert_url(),
        },
        other,
    )

    response = post(alpha, document)

    assert response.status_code == 400
    assert [path for path in sns.requests if "ConfirmSubscription" in path] == []
