"""What a recipient does from a message without an account: RFC 8058 one-click unsubscribe
(POST only, immediate, no cookie or session, a GET only shows a page), the preference centre
by topic from the same link, double opt-in with proof and its abuse limit; tampered, foreign
and expired links are refused clearly."""

from __future__ import annotations

import re
import time

import pytest
from django.core import mail, signing
from django.test import Client

from crm_modules.marketing import recipients
from crm_modules.marketing.api import list_unsubscribe_headers, may_contact, opt_in_request
from crm_modules.marketing.models import ContactTouch, OptInRequest, Topic, TopicOptOut
from crm_modules.sales.api import Consent, Contact
from crm_platform.errors import ServiceError
from tenants.audit.models import AuditEvent
from tests.conftest import Workspace
from tests.sales.factories import ContactFactory

pytestmark = pytest.mark.usefixtures("in_alpha")

AGENT = "Mozilla/5.0 (Mail client)"


def _contact() -> Contact:
    return ContactFactory.create(primary_email="lucia@example.com")


def _anonymous(workspace: Workspace) -> Client:
    return Client(
        HTTP_HOST=f"{workspace.tenant.slug}.localhost",
        HTTP_USER_AGENT=AGENT,
        REMOTE_ADDR="203.0.113.9",
    )


def _path(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


def _consent(contact: Contact) -> Consent | None:
    return Consent.objects.filter(contact=contact, channel="email").first()


def test_the_headers_name_a_one_click_https_post_target_on_the_workspace_host(
    alpha: Workspace,
) -> None:
    contact = _contact()
    headers = list_unsubscribe_headers(contact)
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    match = re.fullmatch(
        r"<(https?://alpha\.localhost(:\d+)?/marketing/r/unsubscribe/[^/]+/)>",
        headers["List-Unsubscribe"],
    )
    assert match is not None


def test_a_get_from_a_link_scanner_unsubscribes_nobody(alpha: Workspace) -> None:
    contact = _contact()
    path = _path(recipients.unsubscribe_url(contact))
    response = _anonymous(alpha).get(path)
    assert response.status_code == 200
    assert b'data-testid="unsubscribe-confirm"' in response.content
    assert _consent(contact) is None
    assert response.cookies == {}


def test_one_click_post_unsubscribes_at_once_without_cookies(alpha: Workspace) -> None:
    contact = _contact()
    path = _path(list_unsubscribe_headers(contact)["List-Unsubscribe"].strip("<>"))
    response = _anonymous(alpha).post(
        path, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    assert b'data-testid="unsubscribed"' in response.content
    assert response.cookies == {}
    consent = _consent(contact)
    assert consent is not None
    assert (consent.status, consent.method) == ("withdrawn", "one-click unsubscribe")
    assert (consent.ip_address, consent.user_agent) == ("203.0.113.9", AGENT)
    assert consent.recorded_by is None
    decision = may_contact(contact, channel="email", purpose="marketing")
    assert decision.reason == "no_consent"
    # A second click changes nothing.
    _anonymous(alpha).post(path)
    events = AuditEvent.objects.filter(action="consent.recorded", target_id=str(contact.pk))
    assert events.count() == 1


@pytest.mark.parametrize("mangle", ["tamper", "truncate", "other_contact_id"])
def test_a_tampered_link_is_refused_and_changes_nothing(alpha: Workspace, mangle: str) -> None:
    contact = _contact()
    token = recipients.recipient_token(contact)
    if mangle == "tamper":
        token = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    elif mangle == "truncate":
        token = token[: len(token) // 2]
    else:
        _value, signature = token.rsplit(":", 1)
        forged = signing.dumps([contact.pk + 1, "email"], salt="wrong", compress=True)
        token = forged.rsplit(":", 1)[0] + ":" + signature
    for url in (f"/marketing/r/unsubscribe/{token}/", f"/marketing/r/preferences/{token}/"):
        response = _anonymous(alpha).post(url)
        assert response.status_code == 404
        assert b'data-testid="recipient-invalid"' in response.content
    assert _consent(contact) is None


def test_the_preference_centre_keeps_topics_and_the_overall_choice(alpha: Workspace) -> None:
    contact = _contact()
    news = Topic.objects.create(key="news", name="News")
    events = Topic.objects.create(key="events", name="Events", description="Invitations")
    path = _path(recipients.preferences_url(contact))
    page = _anonymous(alpha).get(path)
    assert page.status_code == 200
    assert b"Invitations" in page.content
    response = _anonymous(alpha).post(path, {"subscribed": "1", "topics": [str(events.pk)]})
    assert response.status_code == 200
    assert b'data-testid="preferences-saved"' in response.content
    assert list(TopicOptOut.objects.filter(contact=contact).values_list("topic_id", flat=True)) == [
        news.pk
    ]
    assert may_contact(contact, channel="email", purpose="marketing", topic="news").allowed is False
    assert _consent(contact) is None
    # Unticking everything withdraws consent; ticking again gives it back.
    _anonymous(alpha).post(path, {"topics": []})
    consent = _consent(contact)
    assert consent is not None
    assert (consent.status, consent.method) == ("withdrawn", "preference centre")
    _anonymous(alpha).post(path, {"subscribed": "1", "topics": [str(news.pk), str(events.pk)]})
    consent = _consent(contact)
    assert consent is not None
    assert consent.status == "given"
    assert not TopicOptOut.objects.filter(contact=contact).exists()


def test_the_preference_centre_refuses_unknown_topics(alpha: Workspace) -> None:
    contact = _contact()
    Topic.objects.create(key="news", name="News")
    path = _path(recipients.preferences_url(contact))
    for bad in (["999999"], ["abc"]):
        response = _anonymous(alpha).post(path, {"subscribed": "1", "topics": bad})
        assert response.status_code == 400
        assert b"Choose topics from the list." in response.content
    assert not TopicOptOut.objects.filter(contact=contact).exists()


def test_double_opt_in_records_proof_and_a_scanner_confirms_nothing(alpha: Workspace) -> None:
    contact = _contact()
    request = opt_in_request(contact=contact, ip_address="198.51.100.7", user_agent="Form/1")
    assert [m.to for m in mail.outbox] == [["lucia@example.com"]]
    link = re.search(r"https?://\S+/marketing/r/confirm/\S+/", str(mail.outbox[0].body))
    assert link is not None
    assert ContactTouch.objects.filter(
        contact_id=contact.pk, purpose="transactional", source=f"opt-in:{request.pk}"
    ).exists()
    path = _path(link.group(0))
    scanned = _anonymous(alpha).get(path)
    assert scanned.status_code == 200
    assert b'data-testid="opt-in-confirm"' in scanned.content
    assert _consent(contact) is None
    confirmed = _anonymous(alpha).post(path)
    assert b'data-testid="opt-in-confirmed"' in confirmed.content
    consent = _consent(contact)
    assert consent is not None
    assert consent.status == "given"
    assert consent.method.startswith("double opt-in: asked ")
    assert "from 198.51.100.7" in consent.method
    assert (consent.ip_address, consent.user_agent) == ("203.0.113.9", AGENT)
    request.refresh_from_db()
    assert request.confirmed_at is not None
    # Confirming twice records nothing more.
    _anonymous(alpha).post(path)
    assert AuditEvent.objects.filter(action="consent.recorded").count() == 1


def test_repeated_sign_ups_for_one_address_are_limited(alpha: Workspace) -> None:
    contact = _contact()
    for _attempt in range(recipients.OPT_IN_LIMIT):
        opt_in_request(contact=contact, ip_address="198.51.100.7", user_agent="bot")
    with pytest.raises(ServiceError) as error:
        opt_in_request(contact=contact, ip_address="198.51.100.7", user_agent="bot")
    assert (error.value.field, error.value.code) == ("email", "rate_limited")
    assert len(mail.outbox) == recipients.OPT_IN_LIMIT
    assert OptInRequest.objects.count() == recipients.OPT_IN_LIMIT


def test_an_expired_confirmation_link_is_refused(
    alpha: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    contact = _contact()
    request = OptInRequest.objects.create(contact=contact, email="lucia@example.com")
    eight_days_ago = time.time() - 8 * 24 * 3600
    monkeypatch.setattr(time, "time", lambda: eight_days_ago)
    token = recipients.opt_in_token(request)
    monkeypatch.undo()
    response = _anonymous(alpha).post(f"/marketing/r/confirm/{token}/")
    assert response.status_code == 404
    assert _consent(contact) is None


def test_a_hard_bounced_address_gets_no_confirmation(alpha: Workspace) -> None:
    from crm_modules.marketing.api import address_suppress

    contact = _contact()
    address_suppress(channel="email", address="lucia@example.com", reason="hard_bounce")
    with pytest.raises(ServiceError) as error:
        opt_in_request(contact=contact, ip_address=None, user_agent="")
    assert error.value.code == "suppressed"
    assert mail.outbox == []
    assert not OptInRequest.objects.exists()
