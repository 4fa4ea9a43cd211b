"""Deliverability (ADR 0043): List-Unsubscribe on every campaign message (captured from a real
SMTP server and used); sender domains with their DKIM key, the DNS check against a local DNS
server, campaign mail DKIM-signed once verified; bounce and complaint webhooks (generic JSON
signed per workspace, SES through SNS with the message signature checked) applied once each,
unknown messages ignored; soft bounces suppress from the second, hard bounces and complaints
at once; the bulk-sending pause with its banner and resume; roles."""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import http.server
import json
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any

import dkim
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from crm_modules.activities.api import timeline
from crm_modules.marketing.campaigns import sending, services
from crm_modules.marketing.campaigns.services import CampaignDraft, VariantDraft
from crm_modules.marketing.deliverability import domains, pause
from crm_modules.marketing.models import (
    Campaign,
    CampaignRecipient,
    Segment,
    SegmentMember,
    Suppression,
)
from crm_modules.marketing.models_deliverability import DeliverabilityState, MailEvent, SenderDomain
from crm_modules.marketing.pressure import may_contact
from crm_modules.sales.api import Consent, Contact
from crm_platform.errors import PermissionDenied, ServiceError
from tenants.audit.models import AuditEvent
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.marketing.conftest import Sink, fresh, open_contact_rules
from tests.marketing.dns_stub import DnsStub, dns_stub
from tests.sales.factories import ContactFactory

pytestmark = pytest.mark.usefixtures("in_alpha", "open_rules")


@pytest.fixture
def open_rules(in_alpha: Workspace) -> None:
    open_contact_rules()


BLOCKS = [{"type": "button", "text": "See the offer", "href": "https://example.com/offer"}]


def _contact(email: str, first: str = "Ann") -> Contact:
    return ContactFactory.create(first_name=first, primary_email=email)


def _segment(*contacts: Contact) -> Segment:
    segment = Segment.objects.create(name="List", kind="static")
    SegmentMember.objects.bulk_create(SegmentMember(segment=segment, contact=c) for c in contacts)
    return segment


def _send(alpha: Workspace, capture: Callable[..., Any], *contacts: Contact) -> Campaign:
    draft = CampaignDraft(
        name="Spring",
        segment_id=_segment(*contacts).pk,
        variants=[VariantDraft(subject="Hi", blocks=BLOCKS)],
    )
    marketer = fresh(alpha.members[Role.MARKETER])
    campaign = services.campaign_create(actor=marketer, draft=draft)
    with capture(execute=True):
        services.campaign_send(actor=marketer, campaign=campaign)
    campaign.refresh_from_db()
    return campaign


def _unsubscribe_url(message: Any) -> str:
    match = re.fullmatch(r"<(https?://[^>]+)>", str(message["List-Unsubscribe"]).strip())
    assert match is not None, message["List-Unsubscribe"]
    return match.group(1)


# --- List-Unsubscribe ---------------------------------------------------------------------------


def test_campaign_mail_carries_one_click_unsubscribe_that_works_and_the_next_campaign_skips(
    alpha: Workspace, smtp_sink: Sink, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    ann = _contact("ann@example.com")
    bob = _contact("bob@example.com", "Bob")
    _send(alpha, django_capture_on_commit_callbacks, ann, bob)
    assert len(smtp_sink.messages) == 2
    for message in smtp_sink.messages:
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    by_to = {str(m["To"]): m for m in smtp_sink.messages}
    url = _unsubscribe_url(by_to["ann@example.com"])
    assert url.startswith("http://alpha.localhost/marketing/r/unsubscribe/")

    # What a mail client does for RFC 8058: a POST with the one-click body, no cookies.
    client = Client(HTTP_HOST=alpha.host)
    response = client.post(
        url.removeprefix("http://alpha.localhost"),
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert response.cookies == {}
    consent = Consent.objects.get(contact=ann, channel="email")
    assert (consent.status, consent.method) == ("withdrawn", "one-click unsubscribe")
    assert not Consent.objects.filter(contact=bob).exists()

    smtp_sink.messages.clear()
    second = _send(alpha, django_capture_on_commit_callbacks, ann, bob)
    assert smtp_sink.to() == ["bob@example.com"]
    skipped = CampaignRecipient.objects.get(campaign=second, contact=ann)
    assert (skipped.status, skipped.reason) == ("skipped", "no_consent")


# --- sender domains, DNS check and DKIM ---------------------------------------------------------


@pytest.fixture
def dns(settings: Any) -> Iterator[DnsStub]:
    with dns_stub() as stub:
        settings.MARKETING_DNS_NAMESERVERS = ["127.0.0.1"]
        settings.MARKETING_DNS_PORT = stub.port
        settings.MARKETING_DNS_TIMEOUT = 2
        settings.MARKETING_SPF_INCLUDE = "spf.rapport.test"
        yield stub


def _publish(stub: DnsStub, domain: SenderDomain, *, dmarc: bool = True) -> None:
    for record in domains.dns_records(domain):
        if record.name.startswith("_dmarc.") and not dmarc:
            continue
        stub.txt[record.name] = [record.value]


def _admin(alpha: Workspace) -> Any:
    return fresh(alpha.members[Role.ADMIN])


def test_a_domain_gets_its_own_dkim_key_and_the_records_to_publish(alpha: Workspace) -> None:
    domain = domains.sender_domain_add(
        actor=_admin(alpha), domain=" News.Example.COM. ", local_part="Hello"
    )
    other = domains.sender_domain_add(actor=_admin(alpha), domain="example.org", local_part="news")
    assert (domain.domain, domain.local_part) == ("news.example.com", "hello")
    assert domain.dkim_public_key != other.dkim_public_key
    key = serialization.load_pem_private_key(domain.dkim_private_key.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    assert key.key_size == 2048
    public = base64.b64encode(
        key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    ).decode()
    assert public == domain.dkim_public_key
    records = {r.name: r.value for r in domains.dns_records(domain)}
    assert records[f"{domain.dkim_selector}._domainkey.news.example.com"] == (
        f"v=DKIM1; k=rsa; p={public}"
    )
    assert records["_dmarc.news.example.com"].startswith("v=DMARC1; p=none")
    assert AuditEvent.objects.filter(action="marketing.sender_domain_added").count() == 2
    # Internationalised names are stored in their IDNA form.
    idn = domains.sender_domain_add(actor=_admin(alpha), domain="почта.рф", local_part="news")
    assert idn.domain == "xn--80a1acny.xn--p1ai"


BAD_DOMAIN = "The domain is not a valid host name, e.g. mail.example.com."
BAD_LOCAL = "Use letters, digits, dots, hyphens or underscores before the @, e.g. news."


@pytest.mark.parametrize(
    ("domain", "local_part", "field", "message"),
    [
        ("", "news", "domain", "Enter the domain you send from."),
        ("localhost", "news", "domain", BAD_DOMAIN),
        ("<script>.com", "news", "domain", BAD_DOMAIN),
        ("a.com'; DROP TABLE x;--", "news", "domain", BAD_DOMAIN),
        ("x" * 300 + ".com", "news", "domain", BAD_DOMAIN),
        ("example.com", "no body", "local_part", BAD_LOCAL),
        ("example.com", "ข่าว", "local_part", BAD_LOCAL),
    ],
)
def test_bad_domains_are_refused_naming_the_field(
    alpha: Workspace, domain: str, local_part: str, field: str, message: str
) -> None:
    with pytest.raises(ServiceError) as error:
        domains.sender_domain_add(actor=_admin(alpha), domain=domain, local_part=local_part)
    assert (error.value.field, error.value.message) == (field, message)
    assert not SenderDomain.objects.exists()


def test_the_check_reads_the_records_back_and_names_what_is_missing(
    alpha: Workspace, dns: DnsStub
) -> None:
    domain = domains.sender_domain_add(actor=_admin(alpha), domain="example.com", local_part="news")
    marketer = fresh(alpha.members[Role.MARKETER])

    checked = domains.sender_domain_check(actor=marketer, domain=domain)
    assert (checked.spf_ok, checked.dkim_ok, checked.dmarc_ok, checked.verified) == (
        False,
        False,
        False,
        False,
    )
    assert checked.check_report["spf"]["problem"] == "missing"

    _publish(dns, domain, dmarc=False)
    dns.txt["example.com"] = ["v=spf1 include:other.test ~all", "google-site-verification=x"]
    checked = domains.sender_domain_check(actor=marketer, domain=domain)
    assert (checked.spf_ok, checked.dkim_ok, checked.dmarc_ok) == (False, True, False)
    assert checked.check_report["spf"]["problem"] == "not_included"
    assert checked.check_report["dmarc"]["problem"] == "missing"
    assert not checked.verified

    _publish(dns, domain)
    checked = domains.sender_domain_check(actor=marketer, domain=domain)
    assert checked.verified
    assert f"{domain.dkim_selector}._domainkey.example.com" in dns.questions
    assert AuditEvent.objects.filter(action="marketing.sender_domain_verified").count() == 1

    # Another key at the selector (a stale record) un-verifies the domain.
    dns.txt[f"{domain.dkim_selector}._domainkey.example.com"] = ["v=DKIM1; k=rsa; p=AAAA"]
    checked = domains.sender_domain_check(actor=marketer, domain=domain)
    assert (checked.dkim_ok, checked.check_report["dkim"]["problem"], checked.verified) == (
        False,
        "other_key",
        False,
    )


def test_an_unreachable_dns_server_is_reported_not_taken_as_missing(
    alpha: Workspace, settings: Any
) -> None:
    settings.MARKETING_DNS_NAMESERVERS = ["127.0.0.1"]
    settings.MARKETING_DNS_PORT = 9  # discard: nothing answers
    settings.MARKETING_DNS_TIMEOUT = 0.5
    domain = domains.sender_domain_add(actor=_admin(alpha), domain="example.com", local_part="news")
    checked = domains.sender_domain_check(actor=_admin(alpha), domain=domain)
    assert checked.check_report["spf"]["problem"] == "unreachable"
    assert not checked.verified


def test_campaign_mail_from_a_verified_domain_is_dkim_signed(
    alpha: Workspace,
    dns: DnsStub,
    smtp_sink: Sink,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    domain = domains.sender_domain_add(actor=_admin(alpha), domain="example.com", local_part="news")
    _publish(dns, domain)
    domains.sender_domain_check(actor=_admin(alpha), domain=domain)
    _send(alpha, django_capture_on_commit_callbacks, _contact("ann@example.com"))

    [message] = smtp_sink.messages
    assert message["From"] == "news@example.com"
    assert "d=example.com" in str(message["DKIM-Signature"])
    [raw] = smtp_sink.raw
    record = f"v=DKIM1; k=rsa; p={domain.dkim_public_key}".encode()

    def lookup(name: bytes, timeout: int = 5) -> bytes:
        wanted = f"{domain.dkim_selector}._domainkey.example.com"
        return record if name.decode().rstrip(".") == wanted else b""

    assert dkim.verify(raw, dnsfunc=lookup)
    # A changed body no longer verifies: the signature covers it.
    assert not dkim.verify(raw + b"Added on the way.\r\n", dnsfunc=lookup)


def test_an_unverified_domain_is_not_used_and_mail_is_not_signed(
    alpha: Workspace, smtp_sink: Sink, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    domains.sender_domain_add(actor=_admin(alpha), domain="example.com", local_part="news")
    _send(alpha, django_capture_on_commit_callbacks, _contact("ann@example.com"))
    [message] = smtp_sink.messages
    assert message["DKIM-Signature"] is None
    assert "example.com" not in str(message["From"])


# --- webhooks -----------------------------------------------------------------------------------


def _secret() -> str:
    return pause.state().webhook_secret


def _hook(host: str, secret: str, payload: dict[str, Any] | bytes) -> Any:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return Client(HTTP_HOST=host).post(
        "/marketing/hooks/bounces/",
        body,
        content_type="application/json",
        HTTP_X_RAPPORT_SIGNATURE=signature,
    )


def _message_id(alpha: Workspace, row: CampaignRecipient) -> str:
    return sending.message_id(alpha.tenant.schema_name, row.pk)


@pytest.fixture
def sent(
    alpha: Workspace, smtp_sink: Sink, django_capture_on_commit_callbacks: Callable[..., Any]
) -> list[CampaignRecipient]:
    contacts = [_contact(f"r{n}@example.com", f"R{n}") for n in range(3)]
    campaign = _send(alpha, django_capture_on_commit_callbacks, *contacts)
    return list(CampaignRecipient.objects.filter(campaign=campaign).order_by("contact_id"))


def test_a_hard_bounce_suppresses_once_tracks_and_goes_on_the_timeline(
    alpha: Workspace, sent: list[CampaignRecipient]
) -> None:
    row = sent[0]
    event = {
        "id": "evt-1",
        "type": "bounce",
        "bounce_type": "hard",
        "email": "R0@Example.com",
        "message_id": _message_id(alpha, row),
    }
    first = _hook(alpha.host, _secret(), event)
    again = _hook(alpha.host, _secret(), event)

    assert (first.status_code, first.json()) == (200, {"outcomes": ["applied"]})
    assert (again.status_code, again.json()) == (200, {"outcomes": ["duplicate"]})
    assert MailEvent.objects.count() == 1
    suppression = Suppression.objects.get()
    assert (suppression.address, suppression.reason) == ("r0@example.com", "hard_bounce")
    row.refresh_from_db()
    assert row.bounced_at is not None
    contact = Contact.objects.get(pk=row.contact_id)
    assert [a.outcome for a in timeline(contact)].count("bounced") == 1
    # Nothing reaches a hard-bounced address, not even a receipt.
    assert may_contact(contact, channel="email", purpose="transactional").reason == "suppressed"


def test_soft_bounces_act_from_the_second_and_leave_transactional_mail_alone(
    alpha: Workspace,
    sent: list[CampaignRecipient],
    smtp_sink: Sink,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    contact = Contact.objects.get(pk=sent[1].contact_id)
    soft = {"type": "bounce", "bounce_type": "soft", "email": "r1@example.com"}
    assert _hook(
        alpha.host, _secret(), {**soft, "id": "s1", "message_id": _message_id(alpha, sent[1])}
    ).json() == {"outcomes": ["applied"]}
    assert not Suppression.objects.exists()
    assert may_contact(contact, channel="email", purpose="marketing").allowed

    # A second message to the same address bounces softly too.
    campaign = _send(alpha, django_capture_on_commit_callbacks, contact)
    second = CampaignRecipient.objects.get(campaign=campaign)
    _hook(alpha.host, _secret(), {**soft, "id": "s2", "message_id": _message_id(alpha, second)})

    suppression = Suppression.objects.get()
    assert (suppression.address, suppression.reason) == ("r1@example.com", "soft_bounce")
    assert may_contact(contact, channel="email", purpose="marketing").reason == "suppressed"
    assert may_contact(contact, channel="email", purpose="transactional").allowed


def test_a_complaint_suppresses_at_once_and_is_tracked(
    alpha: Workspace, sent: list[CampaignRecipient]
) -> None:
    row = sent[2]
    response = _hook(
        alpha.host,
        _secret(),
        {
            "id": "c1",
            "type": "complaint",
            "email": row.email,
            "message_id": _message_id(alpha, row),
        },
    )
    assert response.json() == {"outcomes": ["applied"]}
    row.refresh_from_db()
    assert row.complained_at is not None
    assert Suppression.objects.get().reason == "complaint"
    contact = Contact.objects.get(pk=row.contact_id)
    assert "complained" in [a.outcome for a in timeline(contact)]


@pytest.mark.parametrize(
    "message_id",
    [
        "<not-ours@mail.example.net>",
        "<campaign.bravo.1@localhost>",  # another workspace's message
        "<campaign.{schema}.999999999@localhost>",  # no such recipient
        "<campaign.{schema}.{row}@localhost>",  # ours, but sent to another address
    ],
)
def test_a_bounce_for_an_unknown_message_is_answered_and_recorded_as_ignored(
    alpha: Workspace, sent: list[CampaignRecipient], message_id: str
) -> None:
    value = message_id.format(schema=alpha.tenant.schema_name, row=sent[0].pk)
    response = _hook(
        alpha.host,
        _secret(),
        {
            "id": "u1",
            "type": "bounce",
            "bounce_type": "hard",
            "email": "stranger@example.com",
            "message_id": value,
        },
    )
    assert (response.status_code, response.json()) == (200, {"outcomes": ["ignored"]})
    event = MailEvent.objects.get()
    assert (event.outcome, event.recipient_id) == ("ignored", None)
    assert not Suppression.objects.exists()
    assert not CampaignRecipient.objects.filter(bounced_at__isnull=False).exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (b"not json", "body"),
        (b"[1, 2]", "body"),
        ({"type": "bounce", "bounce_type": "hard", "email": "a@b.c", "message_id": "<x>"}, "id"),
        ({"id": "1", "type": "delivery", "email": "a@b.c", "message_id": "<x>"}, "type"),
        ({"id": "1", "type": "bounce", "email": "a@b.c", "message_id": "<x>"}, "bounce_type"),
        ({"id": "1", "type": "complaint", "email": "", "message_id": "<x>"}, "email"),
        ({"id": "1" * 201, "type": "complaint", "email": "a@b.c", "message_id": "<x>"}, "id"),
    ],
)
def test_malformed_notifications_are_refused_naming_the_field(
    alpha: Workspace, payload: Any, field: str
) -> None:
    response = _hook(alpha.host, _secret(), payload)
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == [field]
    assert not MailEvent.objects.exists()


def test_a_wrong_or_foreign_secret_is_refused_and_changes_nothing(
    alpha: Workspace, bravo: Workspace, sent: list[CampaignRecipient]
) -> None:
    event = {
        "id": "x1",
        "type": "complaint",
        "email": sent[0].email,
        "message_id": _message_id(alpha, sent[0]),
    }
    with schema_context(bravo.tenant.schema_name):
        bravo_secret = pause.state().webhook_secret
    assert bravo_secret != _secret()
    for secret in (bravo_secret, "", "guess"):
        assert _hook(alpha.host, secret, event).status_code == 401
    unsigned = Client(HTTP_HOST=alpha.host).post(
        "/marketing/hooks/bounces/", json.dumps(event), content_type="application/json"
    )
    assert unsigned.status_code == 401
    assert Client(HTTP_HOST=alpha.host).get("/marketing/hooks/bounces/").status_code == 405
    assert not MailEvent.objects.exists()
    assert not Suppression.objects.exists()


def test_a_rotated_secret_replaces_the_old_one(alpha: Workspace) -> None:
    old = _secret()
    pause.webhook_secret_rotate(actor=_admin(alpha))
    event = {"id": "r1", "type": "complaint", "email": "a@example.com", "message_id": "<x@y>"}
    assert _hook(alpha.host, old, event).status_code == 401
    assert _hook(alpha.host, _secret(), event).status_code == 200
    with pytest.raises(PermissionDenied):
        pause.webhook_secret_rotate(actor=fresh(alpha.members[Role.MARKETER]))


# --- SES through SNS ----------------------------------------------------------------------------


class _CertHandler(http.server.BaseHTTPRequestHandler):
    pem: bytes = b""
    subscribed: list[str] = []

    def do_GET(self) -> None:
        if self.path.startswith("/confirm"):
            self.subscribed.append(self.path)
            body = b"<ConfirmSubscriptionResponse/>"
        else:
            body = self.pem
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def sns(settings: Any) -> Iterator[tuple[str, rsa.RSAPrivateKey]]:
    """A local stand-in for the host SNS serves its signing certificate from."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    handler = type(
        "Handler",
        (_CertHandler,),
        {"pem": cert.public_bytes(serialization.Encoding.PEM), "subscribed": []},
    )
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    settings.MARKETING_SNS_CERT_URL_PATTERN = rf"^http://127\.0\.0\.1:{server.server_port}/"
    cache.clear()
    try:
        yield base, key
    finally:
        server.shutdown()
        server.server_close()


def _sns_sign(message: dict[str, Any], key: rsa.RSAPrivateKey) -> dict[str, Any]:
    keys = [
        "Message",
        "MessageId",
        "Subject",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ]
    if message["Type"] == "Notification":
        keys = [k for k in keys if k not in ("SubscribeURL", "Token")]
    text = "".join(f"{k}\n{message[k]}\n" for k in keys if k in message)
    signature = key.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())
    return {**message, "SignatureVersion": "2", "Signature": base64.b64encode(signature).decode()}


def _ses_bounce(alpha: Workspace, row: CampaignRecipient, base: str, sns_id: str) -> dict[str, Any]:
    payload = {
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": "Permanent",
            "bounceSubType": "General",
            "bouncedRecipients": [{"emailAddress": row.email}],
        },
        "mail": {"commonHeaders": {"messageId": _message_id(alpha, row)}},
    }
    return {
        "Type": "Notification",
        "MessageId": sns_id,
        "TopicArn": "arn:aws:sns:eu-west-1:123456789012:bounces",
        "Message": json.dumps(payload),
        "Timestamp": "2026-12-02T10:00:00.000Z",
        "SigningCertURL": f"{base}/SimpleNotificationService-1.pem",
    }


def _post_sns(host: str, key: str, envelope: dict[str, Any]) -> Any:
    return Client(HTTP_HOST=host).post(
        f"/marketing/hooks/sns/?key={key}",
        json.dumps(envelope),
        content_type="text/plain; charset=UTF-8",
    )


def test_an_ses_bounce_through_sns_is_checked_and_applied_once(
    alpha: Workspace, sent: list[CampaignRecipient], sns: tuple[str, rsa.RSAPrivateKey]
) -> None:
    base, key = sns
    envelope = _sns_sign(_ses_bounce(alpha, sent[0], base, "sns-1"), key)
    first = _post_sns(alpha.host, _secret(), envelope)
    again = _post_sns(alpha.host, _secret(), envelope)
    assert (first.status_code, first.json()) == (200, {"outcomes": ["applied"]})
    assert again.json() == {"outcomes": ["duplicate"]}
    assert Suppression.objects.get().address == sent[0].email


def test_sns_messages_with_a_bad_signature_or_foreign_cert_host_are_refused(
    alpha: Workspace,
    bravo: Workspace,
    sent: list[CampaignRecipient],
    sns: tuple[str, rsa.RSAPrivateKey],
) -> None:
    base, key = sns
    good = _sns_sign(_ses_bounce(alpha, sent[0], base, "sns-2"), key)
    tampered = {**good, "Message": good["Message"].replace("Permanent", "Transient")}
    elsewhere = _sns_sign(
        {**_ses_bounce(alpha, sent[0], base, "sns-3"), "SigningCertURL": "http://evil.test/c.pem"},
        key,
    )
    assert _post_sns(alpha.host, _secret(), tampered).status_code == 403
    response = _post_sns(alpha.host, _secret(), elsewhere)
    assert (response.status_code, list(response.json()["error"]["fields"])) == (
        403,
        ["SigningCertURL"],
    )
    with schema_context(bravo.tenant.schema_name):
        bravo_secret = pause.state().webhook_secret
    assert _post_sns(alpha.host, bravo_secret, good).status_code == 401
    assert not MailEvent.objects.exists()


def test_an_sns_subscription_is_confirmed_on_the_sns_host_only(
    alpha: Workspace, sns: tuple[str, rsa.RSAPrivateKey]
) -> None:
    base, key = sns
    confirmation = {
        "Type": "SubscriptionConfirmation",
        "MessageId": "sub-1",
        "Token": "tok",
        "TopicArn": "arn:aws:sns:eu-west-1:123456789012:bounces",
        "Message": "You have chosen to subscribe.",
        "SubscribeURL": f"{base}/confirm?Token=tok",
        "Timestamp": "2026-12-02T10:00:00.000Z",
        "SigningCertURL": f"{base}/cert.pem",
    }
    response = _post_sns(alpha.host, _secret(), _sns_sign(confirmation, key))
    assert (response.status_code, response.json()) == (200, {"outcomes": ["subscribed"]})
    foreign = {**confirmation, "SubscribeURL": "http://evil.test/confirm"}
    assert _post_sns(alpha.host, _secret(), _sns_sign(foreign, key)).status_code == 403


# --- the pause ----------------------------------------------------------------------------------


def test_a_complaint_rate_over_the_limit_pauses_bulk_sending_until_an_admin_resumes(
    alpha: Workspace,
    settings: Any,
    smtp_sink: Sink,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    settings.MARKETING_PAUSE_MIN_SENT = 5
    contacts = [_contact(f"p{n}@example.com", f"P{n}") for n in range(5)]
    campaign = _send(alpha, django_capture_on_commit_callbacks, *contacts)
    row = CampaignRecipient.objects.filter(campaign=campaign).order_by("id").first()
    assert row is not None
    _hook(
        alpha.host,
        _secret(),
        {
            "id": "p1",
            "type": "complaint",
            "email": row.email,
            "message_id": _message_id(alpha, row),
        },
    )
    state = DeliverabilityState.objects.get(pk=1)
    assert state.paused_at is not None
    assert (state.pause_reason, state.pause_figures["sent"], state.pause_figures["complaints"]) == (
        "complaint_rate",
        5,
        1,
    )
    assert AuditEvent.objects.filter(action="marketing.bulk_sending_paused").count() == 1

    # Bulk mail waits: a new campaign stays queued and nothing goes out.
    smtp_sink.messages.clear()
    later = _send(alpha, django_capture_on_commit_callbacks, _contact("later@example.com", "L"))
    assert later.status == "sending"
    assert smtp_sink.messages == []
    assert sending.send_batch(later.pk, limit=10) == 0

    # The banner: on every page for those who may resume, with the explanation.
    admin = workspace_client(alpha.members[Role.ADMIN].user, alpha.tenant)
    page = admin.get("/marketing/campaigns/").content.decode()
    assert 'data-testid="pause-banner"' in page
    assert "1 of 5 campaign messages were reported as spam (20.00 %)" in page
    marketer = workspace_client(alpha.members[Role.MARKETER].user, alpha.tenant)
    assert (
        'data-testid="pause-banner"' not in marketer.get("/marketing/campaigns/").content.decode()
    )

    # Only an admin resumes, and only after ticking that they read why.
    assert (
        marketer.post("/marketing/deliverability/resume/", {"understood": "1"}).status_code == 403
    )
    admin.post("/marketing/deliverability/resume/", {})
    assert pause.bulk_paused()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post("/marketing/deliverability/resume/", {"understood": "1"})
    assert response.status_code == 302
    assert not pause.bulk_paused()
    assert smtp_sink.to() == ["later@example.com"]
    assert AuditEvent.objects.filter(action="marketing.bulk_sending_resumed").count() == 1
    # The rates count afresh from the resume: the old complaint does not pause again.
    assert not pause.pause_if_needed()


def test_a_bounce_rate_over_five_percent_pauses_but_not_below_the_minimum_volume(
    alpha: Workspace, settings: Any, sent: list[CampaignRecipient]
) -> None:
    settings.MARKETING_PAUSE_MIN_SENT = 4  # three were sent: too few to judge
    hard = {"type": "bounce", "bounce_type": "hard"}
    _hook(
        alpha.host,
        _secret(),
        {**hard, "id": "b1", "email": sent[0].email, "message_id": _message_id(alpha, sent[0])},
    )
    assert not pause.bulk_paused()
    settings.MARKETING_PAUSE_MIN_SENT = 3
    _hook(
        alpha.host,
        _secret(),
        {**hard, "id": "b2", "email": sent[1].email, "message_id": _message_id(alpha, sent[1])},
    )
    state = DeliverabilityState.objects.get(pk=1)
    assert (state.paused_at is not None, state.pause_reason) == (True, "bounce_rate")
    # Old events fall out of the window.
    MailEvent.objects.update(received_at=timezone.now() - datetime.timedelta(days=8))
    assert pause.rates().bounces == 0


# --- pages and roles ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "list_status", "add_status"),
    [
        (Role.OWNER, 200, 302),
        (Role.ADMIN, 200, 302),
        (Role.MANAGER, 200, 403),
        (Role.MARKETER, 200, 403),
        (Role.SALES_REP, 403, 403),
        (Role.SUPPORT_AGENT, 403, 403),
        (Role.READ_ONLY, 403, 403),
    ],
)
def test_the_pages_follow_the_role_matrix(
    alpha: Workspace, role: str, list_status: int, add_status: int
) -> None:
    client = workspace_client(alpha.members[role].user, alpha.tenant)
    assert client.get("/marketing/deliverability/").status_code == list_status
    response = client.post(
        "/marketing/deliverability/domains/new/",
        {"domain": f"{role}.example.com", "local_part": "news"},
    )
    assert response.status_code == add_status
    assert SenderDomain.objects.filter(domain=f"{role}.example.com").exists() == (add_status == 302)


def test_the_list_shows_the_secret_to_admins_only_and_a_bad_domain_by_its_field(
    alpha: Workspace,
) -> None:
    admin = workspace_client(alpha.members[Role.ADMIN].user, alpha.tenant)
    page = admin.get("/marketing/deliverability/").content.decode()
    assert _secret() in page
    assert "/marketing/hooks/sns/?key=" in page
    marketer = workspace_client(alpha.members[Role.MARKETER].user, alpha.tenant)
    assert _secret() not in marketer.get("/marketing/deliverability/").content.decode()

    response = admin.post(
        "/marketing/deliverability/domains/new/", {"domain": "<b>x</b>", "local_part": "news"}
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "The domain is not a valid host name, e.g. mail.example.com." in body
    assert "<b>x</b>" not in body
    assert not SenderDomain.objects.exists()


def test_the_check_page_answers_htmx_with_the_checks_fragment(
    alpha: Workspace, dns: DnsStub
) -> None:
    domain = domains.sender_domain_add(actor=_admin(alpha), domain="example.com", local_part="news")
    _publish(dns, domain)
    marketer = workspace_client(alpha.members[Role.MARKETER].user, alpha.tenant)
    page = marketer.get(f"/marketing/deliverability/domains/{domain.pk}/").content.decode()
    assert domain.dkim_public_key in page
    response = marketer.post(
        f"/marketing/deliverability/domains/{domain.pk}/check/", HTTP_HX_REQUEST="true"
    )
    fragment = response.content.decode()
    assert response.status_code == 200
    assert fragment.startswith('<section class="card" id="domain-checks"')
    assert fragment.count("badge-success") == 3
    sales = workspace_client(alpha.members[Role.SALES_REP].user, alpha.tenant)
    assert sales.post(f"/marketing/deliverability/domains/{domain.pk}/check/").status_code == 403
    assert (
        marketer.post(f"/marketing/deliverability/domains/{domain.pk}/delete/").status_code == 403
    )
    assert SenderDomain.objects.filter(pk=domain.pk).exists()


@pytest.mark.parametrize(
    ("role", "list_status", "add_status"),
    [
        (Role.OWNER, 200, 201),
        (Role.ADMIN, 200, 201),
        (Role.MANAGER, 200, 403),
        (Role.MARKETER, 200, 403),
        (Role.SALES_REP, 403, 403),
        (Role.READ_ONLY, 403, 403),
    ],
)
def test_the_api_follows_the_role_matrix(
    alpha: Workspace, role: str, list_status: int, add_status: int
) -> None:
    client = workspace_client(alpha.members[role].user, alpha.tenant)
    assert client.get("/api/v1/marketing/sender-domains/").status_code == list_status
    response = client.post(
        "/api/v1/marketing/sender-domains/",
        {"domain": "posta.example.it", "local_part": "news"},
        content_type="application/json",
    )
    assert response.status_code == add_status
    if add_status == 201:
        body = response.json()
        assert (body["domain"], body["verified"]) == ("posta.example.it", False)
        assert [r["name"] for r in body["records"]][1].endswith("._domainkey.posta.example.it")
    assert SenderDomain.objects.exists() == (add_status == 201)


def test_the_api_checks_a_domain_and_names_a_bad_field(alpha: Workspace, dns: DnsStub) -> None:
    admin = workspace_client(alpha.members[Role.ADMIN].user, alpha.tenant)
    bad = admin.post(
        "/api/v1/marketing/sender-domains/",
        {"domain": "SELECT * FROM x", "local_part": "news"},
        content_type="application/json",
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["fields"] == {"domain": [BAD_DOMAIN]}
    domain = domains.sender_domain_add(actor=_admin(alpha), domain="example.com", local_part="news")
    _publish(dns, domain)
    marketer = workspace_client(alpha.members[Role.MARKETER].user, alpha.tenant)
    response = marketer.post(f"/api/v1/marketing/sender-domains/{domain.pk}/check/")
    assert (response.status_code, response.json()["verified"]) == (200, True)
    assert marketer.post("/api/v1/marketing/sender-domains/999999/check/").status_code == 404
