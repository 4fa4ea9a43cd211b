"""Double opt-in from forms (ADR 0043): a ticked consent sends a confirmation mail (a
transactional message through the contact-pressure rule, at most three a day per address
however often the form is sent, even while bulk sending is paused); confirming by POST records
the consent with its proof (when, from where, which form); a scanner's GET, a tampered, expired
or foreign link confirm nothing."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from django.core import mail, signing
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.utils import timezone

from crm_modules.marketing.capture import guard, optin, services
from crm_modules.marketing.deliverability import pause
from crm_modules.marketing.models import ContactTouch, OptInRequest, Suppression
from crm_modules.marketing.models_capture import ConsentRequest, Form
from crm_modules.marketing.models_deliverability import ConsentMail
from crm_modules.marketing.recipients import OPT_IN_LIMIT
from crm_modules.sales.api import Consent
from tenants.roles import Role
from tests.conftest import Workspace
from tests.marketing.conftest import fresh
from tests.sales.factories import ContactFactory

pytestmark = pytest.mark.usefixtures("in_alpha")

FIELDS = [
    {"target": "first_name", "label": "First name", "required": True},
    {"target": "email", "label": "Email", "required": True},
]
LINK = re.compile(r"https?://alpha\.localhost(/marketing/r/consent/[^/\s]+/)")


@pytest.fixture(autouse=True)
def _clean_limits() -> None:
    cache.clear()


def _form(alpha: Workspace) -> Form:
    return services.form_create(
        actor=fresh(alpha.members[Role.MARKETER]),
        values={
            "name": "Newsletter",
            "topic": "news",
            "fields": FIELDS,
            "consent_channels": ["email"],
            "lead_owner": alpha.members[Role.SALES_REP].user_id,
        },
    )


def _sign_up(alpha: Workspace, form: Form, email: str, ip: str = "203.0.113.7") -> Any:
    client = Client(HTTP_HOST=alpha.host, REMOTE_ADDR=ip)
    body = {"token": guard.token_mint(form), "first_name": "Lucía", "email": email}
    return client.post(f"/marketing/f/{form.public_id}/submit/", {**body, "consent_email": "1"})


def _link(message: Any) -> str:
    found = LINK.search(str(message.body))
    assert found is not None, message.body
    return found.group(1)


def test_a_sign_up_of_a_contact_sends_one_confirmation_counted_by_the_rule(
    alpha: Workspace,
) -> None:
    contact = ContactFactory.create(
        primary_email="lucia@example.com", owner=alpha.members[Role.SALES_REP].user
    )
    contact.emails.create(email="lucia@example.com", is_primary=True)
    form = _form(alpha)
    assert _sign_up(alpha, form, "lucia@example.com").status_code == 200

    assert [m.to for m in mail.outbox] == [["lucia@example.com"]]
    sent = ConsentMail.objects.get()
    assert (sent.email, str(sent.signup_ip), sent.request.status) == (
        "lucia@example.com",
        "203.0.113.7",
        "pending",
    )
    assert ContactTouch.objects.filter(
        contact_id=contact.pk, purpose="transactional", source=f"consent-mail:{sent.pk}"
    ).exists()
    assert not Consent.objects.filter(contact=contact).exists()

    anonymous = Client(HTTP_HOST=alpha.host, REMOTE_ADDR="198.51.100.9", HTTP_USER_AGENT="Mail/1")
    # A link scanner's GET shows the button and confirms nothing.
    page = anonymous.get(_link(mail.outbox[0]))
    assert page.status_code == 200
    assert b'data-testid="opt-in-confirm"' in page.content
    assert not Consent.objects.filter(contact=contact).exists()

    assert anonymous.post(_link(mail.outbox[0])).status_code == 200
    consent = Consent.objects.get(contact=contact, channel="email")
    assert consent.status == "given"
    assert (str(consent.ip_address), consent.user_agent) == ("198.51.100.9", "Mail/1")
    assert f"form {form.pk} (Newsletter)" in consent.method
    assert "from 203.0.113.7" in consent.method
    sent.refresh_from_db()
    assert sent.confirmed_at is not None
    assert str(sent.confirmed_ip) == "198.51.100.9"
    assert ConsentRequest.objects.get().status == "confirmed"
    # A second confirmation records nothing new.
    recorded = consent.recorded_at
    anonymous.post(_link(mail.outbox[0]))
    consent.refresh_from_db()
    assert consent.recorded_at == recorded


def test_repeated_sign_ups_of_one_address_send_at_most_three_mails_a_day(
    alpha: Workspace,
) -> None:
    form = _form(alpha)
    for n in range(OPT_IN_LIMIT + 2):
        assert (
            _sign_up(alpha, form, "Flood@Example.com", ip=f"203.0.113.{n + 1}").status_code == 200
        )
    assert len(mail.outbox) == OPT_IN_LIMIT
    assert ConsentRequest.objects.count() == 1  # one pending request, however often
    assert ConsentMail.objects.count() == OPT_IN_LIMIT
    # The limit counts the other double opt-in mails of the address too.
    mail.outbox.clear()
    ConsentMail.objects.all().delete()
    contact = ContactFactory.create(primary_email="other@example.com")
    for _n in range(OPT_IN_LIMIT):
        OptInRequest.objects.create(contact=contact, email="other@example.com")
    _sign_up(alpha, form, "other@example.com")
    assert mail.outbox == []


def test_a_lead_confirms_and_the_request_keeps_the_proof(alpha: Workspace) -> None:
    form = _form(alpha)
    _sign_up(alpha, form, "new@example.com")
    [message] = mail.outbox
    assert (
        Client(HTTP_HOST=alpha.host, REMOTE_ADDR="198.51.100.3").post(_link(message)).status_code
        == 200
    )
    request = ConsentRequest.objects.get()
    assert (request.status, request.lead is not None) == ("confirmed", True)
    sent = ConsentMail.objects.get()
    assert (str(sent.signup_ip), str(sent.confirmed_ip)) == ("203.0.113.7", "198.51.100.3")


def test_a_hard_bounced_address_gets_no_confirmation(alpha: Workspace) -> None:
    Suppression.objects.create(channel="email", address="gone@example.com", reason="hard_bounce")
    _sign_up(alpha, _form(alpha), "gone@example.com")
    assert mail.outbox == []
    assert not ConsentMail.objects.exists()


def test_confirmations_go_out_while_bulk_sending_is_paused(alpha: Workspace) -> None:
    pause.state()
    from crm_modules.marketing.models_deliverability import DeliverabilityState

    DeliverabilityState.objects.filter(pk=1).update(
        paused_at=timezone.now(), pause_reason="complaint_rate"
    )
    assert pause.bulk_paused()
    _sign_up(alpha, _form(alpha), "paused@example.com")
    assert [m.to for m in mail.outbox] == [["paused@example.com"]]


class _Past(signing.TimestampSigner):
    def timestamp(self) -> str:
        return signing.b62_encode(int(time.time()) - 8 * 24 * 3600)


def test_tampered_expired_or_foreign_links_are_not_found_and_confirm_nothing(
    alpha: Workspace, bravo: Workspace
) -> None:
    _sign_up(alpha, _form(alpha), "lucia@example.com")
    link = _link(mail.outbox[0])
    token = link.rstrip("/").rsplit("/", 1)[1]
    sent = ConsentMail.objects.get()
    expired = _Past(salt=f"rapport.marketing.consent.{alpha.tenant.schema_name}").sign_object(
        sent.pk
    )
    assert optin.consent_mail_from_token(token).pk == sent.pk
    anonymous = Client(HTTP_HOST=alpha.host)
    for bad in (token[:-2] + "xx", expired, "1"):
        assert anonymous.post(f"/marketing/r/consent/{bad}/").status_code == 404
    # Signed for alpha's schema: on bravo's host it names nothing.
    assert Client(HTTP_HOST=f"{bravo.tenant.slug}.localhost").post(link).status_code == 404
    connection.set_tenant(alpha.tenant)  # type: ignore[attr-defined]
    assert ConsentRequest.objects.get().status == "pending"
    assert ConsentMail.objects.get().confirmed_at is None
