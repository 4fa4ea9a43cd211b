"""The contact-pressure rule: the ledger every module writes, the rolling cap across modules
(transactional and one-to-one counted, never blocked; marketing refused until the window
frees a slot), quiet hours in the contact's time zone, holds from service, consent, the
preferred channel, topics and the suppression list; the contact rules' services and panels."""

from __future__ import annotations

import datetime
import re

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from crm_modules.marketing import contact_rules
from crm_modules.marketing.api import Purpose, may_contact, may_contact_many, record_contact
from crm_modules.marketing.models import (
    ContactTouch,
    PressureSettings,
    Suppression,
    Topic,
    TopicOptOut,
)
from crm_modules.sales.api import Consent, Contact
from crm_modules.service.models import Ticket
from crm_platform.errors import PermissionDenied, ServiceError
from tenants.audit.models import AuditEvent
from tenants.roles import Role
from tests.conftest import Workspace, record_page, workspace_client
from tests.marketing.conftest import fresh
from tests.sales.factories import ContactFactory

pytestmark = pytest.mark.usefixtures("in_alpha")

UTC = datetime.UTC
# Noon in Rome: outside the default quiet hours (21:00 to 08:00).
NOON = datetime.datetime(2026, 6, 10, 10, 0, tzinfo=UTC)


def _contact(**fields: object) -> Contact:
    fields.setdefault("primary_email", "anna@example.com")
    fields.setdefault("time_zone", "Europe/Rome")
    return ContactFactory.create(**fields)


def _rules(**values: object) -> PressureSettings:
    rules, _created = PressureSettings.objects.get_or_create(pk=1)
    for name, value in values.items():
        setattr(rules, name, value)
    rules.save()
    return rules


def _touch(contact: Contact, at: datetime.datetime, purpose: str, channel: str = "email") -> None:
    record_contact(contact, channel=channel, purpose=purpose, source="test:1", at=at)


def test_record_contact_writes_one_ledger_row_per_message() -> None:
    contact = _contact()
    record_contact(
        contact, channel="email", purpose=Purpose.ONE_TO_ONE, source="service.reply:7", at=NOON
    )
    rows = list(ContactTouch.objects.filter(contact_id=contact.pk).values())
    assert [(r["channel"], r["purpose"], r["source"], r["at"]) for r in rows] == [
        ("email", "one_to_one", "service.reply:7", NOON)
    ]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"channel": "fax"}, "channel"),
        ({"purpose": "spam"}, "purpose"),
        ({"source": ""}, "source"),
        ({"source": "x" * 101}, "source"),
    ],
)
def test_record_contact_refuses_bad_input_and_writes_nothing(
    change: dict[str, str], field: str
) -> None:
    contact = _contact()
    arguments = {"channel": "email", "purpose": "marketing", "source": "campaign:1"} | change
    with pytest.raises(ServiceError) as error:
        record_contact(contact, at=NOON, **arguments)
    assert error.value.field == field
    assert not ContactTouch.objects.filter(contact_id=contact.pk).exists()


def test_the_ledger_has_a_brin_index_on_time_and_a_contact_time_index() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'marketing_contacttouch'"
            " AND schemaname = current_schema() ORDER BY indexname"
        )
        indexes = dict(cursor.fetchall())
    assert "USING brin (at)" in indexes["touch_at_brin"]
    assert "USING btree (contact_id, at DESC)" in indexes["touch_contact_at"]


def test_transactional_and_one_to_one_count_toward_the_cap_and_are_never_blocked() -> None:
    _rules(cap_messages=4, cap_days=7)
    contact = _contact()
    days = [NOON - datetime.timedelta(days=d) for d in (6, 5, 3, 1)]
    _touch(contact, days[0], Purpose.TRANSACTIONAL)
    _touch(contact, days[1], Purpose.ONE_TO_ONE)
    _touch(contact, days[2], Purpose.MARKETING)
    _touch(contact, days[3], Purpose.TRANSACTIONAL)

    refused = may_contact(contact, channel="email", purpose=Purpose.MARKETING, at=NOON)
    assert refused.allowed is False
    assert refused.reason == "cap_reached"
    # The oldest of the four leaves the 7-day window first.
    assert refused.not_before == days[0] + datetime.timedelta(days=7)
    for purpose in (Purpose.TRANSACTIONAL, Purpose.ONE_TO_ONE):
        assert may_contact(contact, channel="email", purpose=purpose, at=NOON).allowed is True
    later = refused.not_before
    assert later is not None
    assert may_contact(contact, channel="email", purpose=Purpose.MARKETING, at=later).allowed


def test_beyond_the_cap_the_window_frees_when_enough_messages_left_it() -> None:
    _rules(cap_messages=2, cap_days=7)
    contact = _contact()
    times = [NOON - datetime.timedelta(days=d) for d in (5, 4, 2, 1)]
    for at in times:
        _touch(contact, at, Purpose.TRANSACTIONAL)
    decision = may_contact(contact, channel="email", purpose=Purpose.MARKETING, at=NOON)
    # Four in the window, two allowed: three must leave, the third oldest last.
    assert decision.not_before == times[2] + datetime.timedelta(days=7)


def test_a_cap_per_channel_counts_only_that_channel() -> None:
    _rules(cap_messages=1, cap_days=7, cap_scope=PressureSettings.Scope.CHANNEL)
    contact = _contact(primary_phone="+393331234567")
    _touch(contact, NOON - datetime.timedelta(days=1), Purpose.MARKETING, channel="sms")
    assert may_contact(contact, channel="email", purpose=Purpose.MARKETING, at=NOON).allowed
    sms = may_contact(contact, channel="sms", purpose=Purpose.MARKETING, at=NOON)
    assert (sms.allowed, sms.reason) == (False, "cap_reached")
    _rules(cap_scope=PressureSettings.Scope.OVERALL)
    overall = may_contact(contact, channel="email", purpose=Purpose.MARKETING, at=NOON)
    assert (overall.allowed, overall.reason) == (False, "cap_reached")


def test_quiet_hours_follow_the_contacts_time_zone_then_the_workspaces() -> None:
    _rules(quiet_start=datetime.time(21), quiet_end=datetime.time(8))
    at = datetime.datetime(2026, 6, 10, 20, 30, tzinfo=UTC)  # 22:30 Rome, 03:30 Bangkok
    rome = _contact(time_zone="Europe/Rome")
    decision = may_contact(rome, channel="email", purpose=Purpose.MARKETING, at=at)
    assert (decision.allowed, decision.reason) == (False, "quiet_hours")
    assert decision.not_before == datetime.datetime(2026, 6, 11, 6, 0, tzinfo=UTC)
    # Transactional mail is not held for the night.
    assert may_contact(rome, channel="email", purpose=Purpose.TRANSACTIONAL, at=at).allowed
    # No zone of its own: the workspace's (UTC for alpha) — 20:30 is before 21:00.
    plain = _contact(time_zone="")
    assert connection.tenant.time_zone == "UTC"  # type: ignore[attr-defined]
    assert may_contact(plain, channel="email", purpose=Purpose.MARKETING, at=at).allowed


def test_withdrawn_consent_refuses_marketing_only() -> None:
    contact = _contact()
    Consent.objects.create(
        contact=contact, channel="email", status="withdrawn", recorded_at=NOON, method="form"
    )
    decision = may_contact(contact, channel="email", purpose=Purpose.MARKETING, at=NOON)
    assert (decision.allowed, decision.reason) == (False, "no_consent")
    assert may_contact(contact, channel="email", purpose=Purpose.ONE_TO_ONE, at=NOON).allowed


def test_marketing_goes_only_on_the_preferred_channel() -> None:
    contact = _contact(preferred_channel="sms", primary_phone="+393331234567")
    decision = may_contact(contact, channel="email", purpose=Purpose.MARKETING, at=NOON)
    assert (decision.allowed, decision.reason) == (False, "not_preferred_channel")
    assert "SMS" in decision.message
    assert may_contact(contact, channel="sms", purpose=Purpose.MARKETING, at=NOON).allowed
    assert may_contact(contact, channel="email", purpose=Purpose.TRANSACTIONAL, at=NOON).allowed


def test_suppressed_addresses_get_no_marketing_and_hard_bounces_nothing() -> None:
    contact = _contact(primary_email="Bounce@Example.com")
    Suppression.objects.create(channel="email", address="bounce@example.com", reason="complaint")
    decision = may_contact(contact, channel="email", purpose=Purpose.MARKETING, at=NOON)
    assert (decision.allowed, decision.reason) == (False, "suppressed")
    assert may_contact(contact, channel="email", purpose=Purpose.TRANSACTIONAL, at=NOON).allowed
    Suppression.objects.filter(address="bounce@example.com").update(reason="hard_bounce")
    hard = may_contact(contact, channel="email", purpose=Purpose.TRANSACTIONAL, at=NOON)
    assert (hard.allowed, hard.reason) == (False, "suppressed")


def test_a_topic_the_contact_left_is_refused_and_an_unknown_topic_is_an_error() -> None:
    contact = _contact()
    news = Topic.objects.create(key="news", name="News")
    Topic.objects.create(key="events", name="Events")
    TopicOptOut.objects.create(contact=contact, topic=news)
    refused = may_contact(contact, channel="email", purpose="marketing", at=NOON, topic="news")
    assert (refused.allowed, refused.reason) == (False, "topic_opt_out")
    assert may_contact(contact, channel="email", purpose="marketing", at=NOON, topic="events")
    with pytest.raises(ServiceError) as error:
        may_contact(contact, channel="email", purpose="marketing", at=NOON, topic="nope")
    assert error.value.field == "topic"


def test_an_open_ticket_holds_marketing_and_a_breached_one_is_named() -> None:
    contact = _contact()
    other = _contact()
    ticket = Ticket.objects.create(subject="Broken", contact=contact, status="open")
    Ticket.objects.create(subject="Done", contact=other, status="solved")
    held = may_contact(contact, channel="email", purpose=Purpose.MARKETING, at=NOON)
    assert (held.allowed, held.reason) == (False, "held")
    assert held.message == f"Ticket #{ticket.pk} is open: marketing waits."
    assert may_contact(contact, channel="email", purpose=Purpose.ONE_TO_ONE, at=NOON).allowed
    assert may_contact(other, channel="email", purpose=Purpose.MARKETING, at=NOON).allowed
    Ticket.objects.filter(pk=ticket.pk).update(resolution_breached=True)
    breached = may_contact(contact, channel="email", purpose=Purpose.MARKETING, at=NOON)
    assert breached.message == f"Ticket #{ticket.pk} is past its SLA: marketing waits."
    Ticket.objects.filter(pk=ticket.pk).update(status="solved")
    assert may_contact(contact, channel="email", purpose=Purpose.MARKETING, at=NOON).allowed


def _every_kind_of_contact() -> list[Contact]:
    """One contact in each state the rule tells apart, plus plain ones."""
    _rules(cap_messages=2, cap_days=7, quiet_start=datetime.time(21), quiet_end=datetime.time(8))
    news = Topic.objects.create(key="news", name="News")
    hard = _contact(primary_email="hard@example.com")
    Suppression.objects.create(channel="email", address="hard@example.com", reason="hard_bounce")
    soft = _contact(primary_email="Soft@Example.com")
    Suppression.objects.create(channel="email", address="soft@example.com", reason="complaint")
    withdrawn = _contact(primary_email="w@example.com")
    Consent.objects.create(
        contact=withdrawn, channel="email", status="withdrawn", recorded_at=NOON, method="form"
    )
    given = _contact(primary_email="g@example.com")
    Consent.objects.create(
        contact=given, channel="email", status="given", recorded_at=NOON, method="form"
    )
    sms = _contact(primary_email="s@example.com", preferred_channel="sms")
    opted = _contact(primary_email="o@example.com")
    TopicOptOut.objects.create(contact=opted, topic=news)
    held = _contact(primary_email="h@example.com")
    Ticket.objects.create(subject="Open", contact=held, status="open")
    breached = _contact(primary_email="b@example.com")
    Ticket.objects.create(subject="Late", contact=breached, status="open")
    Ticket.objects.create(
        subject="Later", contact=breached, status="pending", resolution_breached=True
    )
    capped = _contact(primary_email="c@example.com")
    for days in (3, 2, 1):
        _touch(capped, NOON - datetime.timedelta(days=days), Purpose.TRANSACTIONAL)
    one_touch = _contact(primary_email="t@example.com")
    _touch(one_touch, NOON - datetime.timedelta(days=1), Purpose.MARKETING)
    night = _contact(primary_email="n@example.com", time_zone="Asia/Bangkok")
    no_address = _contact(primary_email="")
    plain = [_contact(primary_email=f"p{n}@example.com", time_zone="") for n in range(3)]
    return [
        hard, soft, withdrawn, given, sms, opted, held, breached, capped, one_touch, night,
        no_address, *plain,
    ]  # fmt: skip


@pytest.mark.parametrize("purpose", Purpose.values)
@pytest.mark.parametrize("topic", [None, "news"])
def test_the_batch_answers_exactly_as_one_contact_at_a_time(
    purpose: str, topic: str | None
) -> None:
    contacts = _every_kind_of_contact()
    at = datetime.datetime(2026, 6, 10, 16, 0, tzinfo=UTC)  # 23:00 in Bangkok, 18:00 in Rome
    batch = may_contact_many(contacts, channel="email", purpose=purpose, at=at, topic=topic)
    one_by_one = {
        c.pk: may_contact(c, channel="email", purpose=purpose, at=at, topic=topic) for c in contacts
    }
    assert batch == one_by_one
    reasons = {d.reason for d in batch.values()}
    if purpose == Purpose.MARKETING:
        expected = {"suppressed", "no_consent", "not_preferred_channel", "held", "cap_reached"}
        expected |= {"quiet_hours", "ok"} | ({"topic_opt_out"} if topic else set())
        assert reasons == expected
    else:
        assert reasons == {"suppressed", "ok"}


def test_the_batch_reads_the_same_number_of_queries_for_3_or_30_contacts() -> None:
    from django.db import connection as db
    from django.test.utils import CaptureQueriesContext

    _rules(cap_messages=5, cap_days=7)
    few = [_contact(primary_email=f"f{n}@example.com") for n in range(3)]
    many = [_contact(primary_email=f"m{n}@example.com") for n in range(30)]
    for contact in [*few, *many]:
        _touch(contact, NOON - datetime.timedelta(days=1), Purpose.MARKETING)
    counted = []
    for contacts in (few, many):
        with CaptureQueriesContext(db) as queries:
            decisions = may_contact_many(
                contacts, channel="email", purpose=Purpose.MARKETING, at=NOON
            )
        assert all(d.allowed for d in decisions.values())
        counted.append(len(queries))
    assert counted[0] == counted[1]
    assert may_contact_many([], channel="email", purpose=Purpose.MARKETING) == {}


def test_may_contact_refuses_an_unknown_channel() -> None:
    with pytest.raises(ServiceError) as error:
        may_contact(_contact(), channel="pigeon", purpose="marketing", at=NOON)
    assert error.value.field == "channel"


# The rules' services


def test_a_marketer_sets_the_rules_and_it_is_audited(alpha: Workspace) -> None:
    rules = contact_rules.pressure_settings_update(
        actor=fresh(alpha.members[Role.MARKETER]),
        cap_messages=3,
        cap_days=5,
        cap_scope="channel",
        quiet_start=datetime.time(22, 15),
        quiet_end=datetime.time(7, 0),
    )
    stored = PressureSettings.objects.get(pk=1)
    assert (stored.cap_messages, stored.cap_days, stored.cap_scope) == (3, 5, "channel")
    assert (stored.quiet_start, stored.quiet_end) == (datetime.time(22, 15), datetime.time(7))
    event = AuditEvent.objects.get(action="marketing.contact_rules_changed")
    assert event.data["before"]["cap_messages"] == 4
    assert rules.pk == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"cap_messages": 101}, "cap_messages"),
        ({"cap_days": 0}, "cap_days"),
        ({"cap_scope": "galaxy"}, "cap_scope"),
    ],
)
def test_bad_rules_are_refused_naming_the_field(
    alpha: Workspace, change: dict[str, object], field: str
) -> None:
    values: dict[str, object] = {
        "cap_messages": 4,
        "cap_days": 7,
        "cap_scope": "overall",
        "quiet_start": datetime.time(21),
        "quiet_end": datetime.time(8),
    } | change
    with pytest.raises(ServiceError) as error:
        contact_rules.pressure_settings_update(actor=fresh(alpha.owner), **values)  # type: ignore[arg-type]
    assert error.value.field == field
    assert not AuditEvent.objects.filter(action="marketing.contact_rules_changed").exists()


def test_a_sales_rep_may_not_change_the_rules(alpha: Workspace) -> None:
    with pytest.raises(PermissionDenied):
        contact_rules.topic_create(actor=fresh(alpha.members[Role.SALES_REP]), name="News")
    assert not Topic.objects.exists()


def test_topics_and_suppressions_by_hand(alpha: Workspace) -> None:
    marketer = fresh(alpha.members[Role.MARKETER])
    topic = contact_rules.topic_create(actor=marketer, name="Новости", description="Weekly")
    assert (topic.name, topic.description) == ("Новости", "Weekly")
    assert topic.key.startswith("topic-")
    with pytest.raises(ServiceError) as error:
        contact_rules.topic_create(actor=marketer, name="   ")
    assert error.value.field == "name"
    row = contact_rules.suppression_add(
        actor=marketer, channel="email", address="X@Example.COM", reason="manual"
    )
    again = contact_rules.suppression_add(
        actor=marketer, channel="email", address="x@example.com", reason="manual"
    )
    assert (row.pk, row.address) == (again.pk, "x@example.com")
    assert AuditEvent.objects.filter(action="marketing.suppression_added").count() == 1
    with pytest.raises(ServiceError) as bad:
        contact_rules.suppression_add(
            actor=marketer, channel="email", address="not an email", reason="manual"
        )
    assert bad.value.field == "address"
    assert contact_rules.address_suppress(
        channel="email", address="Bounced@example.com", reason="hard_bounce"
    )
    assert not contact_rules.address_suppress(
        channel="email", address="bounced@example.com", reason="hard_bounce"
    )


# Pages


def _page(alpha: Workspace, role: str, path: str) -> str:
    client: Client = workspace_client(alpha.members[role].user, alpha.tenant)
    response = client.get(path)
    assert response.status_code == 200
    return response.content.decode()


def test_the_contact_page_shows_the_pressure_state(alpha: Workspace) -> None:
    contact = _contact(owner=alpha.owner.user)
    _rules(cap_messages=1, cap_days=7, quiet_start=datetime.time(0), quiet_end=datetime.time(0))
    record_contact(contact, channel="email", purpose="transactional", source="receipt:9")
    client = workspace_client(alpha.members[Role.READ_ONLY].user, alpha.tenant)
    html = record_page(client, f"/sales/contacts/{contact.pk}/")
    assert 'data-testid="contact-pressure"' in html
    assert "1 of 1 messages in the last 7 days." in html
    assert 'data-reason="cap_reached"' in html
    assert "receipt:9" in html
    decision = re.search(r'data-testid="contact-pressure-decision"[^>]*>(.*?)</p>', html, re.S)
    assert decision is not None
    # The date format may end in "a.m."; the sentence adds no second full stop after it.
    assert "Next possible: " in decision.group(1)
    assert not decision.group(1).endswith("..")


def test_the_settings_page_shows_the_rules(alpha: Workspace) -> None:
    Topic.objects.create(key="events", name="Events")
    html = _page(alpha, Role.ADMIN, "/settings/")
    assert 'data-testid="contact-rules"' in html
    assert "Events" in html


@pytest.mark.parametrize("role", [Role.MANAGER, Role.MARKETER])
def test_the_roles_that_set_the_rules_have_a_page_for_them(alpha: Workspace, role: str) -> None:
    # The settings page is the Owner's and Admins'; a Manager or a Marketer sets the contact
    # rules on marketing's own page, listed in their navigation.
    Topic.objects.create(key="events", name="Events")
    html = _page(alpha, role, "/marketing/contact-rules/")
    assert 'data-testid="contact-rules-form"' in html
    assert "Events" in html
    assert 'href="/marketing/contact-rules/"' in _page(alpha, role, "/")
    sales_rep = workspace_client(alpha.members[Role.SALES_REP].user, alpha.tenant)
    assert sales_rep.get("/marketing/contact-rules/").status_code == 403


def test_the_rules_form_saves_and_names_a_bad_field(alpha: Workspace) -> None:
    client = workspace_client(alpha.members[Role.MARKETER].user, alpha.tenant)
    good = {
        "cap_messages": "2",
        "cap_days": "3",
        "cap_scope": "overall",
        "quiet_start": "20:00",
        "quiet_end": "09:30",
    }
    response = client.post("/marketing/contact-rules/", good)
    assert (response.status_code, response["Location"]) == (302, "/marketing/contact-rules/")
    stored = PressureSettings.objects.get(pk=1)
    assert (stored.cap_messages, stored.quiet_end) == (2, datetime.time(9, 30))
    response = client.post("/marketing/contact-rules/", good | {"cap_days": "500"}, follow=True)
    assert "Days: Give a window of 1 to 90 days." in response.content.decode()
    assert PressureSettings.objects.get(pk=1).cap_days == 3
    response = client.post("/marketing/contact-rules/topics/", {"name": "Events"})
    assert response.status_code == 302
    topic = Topic.objects.get()
    response = client.post(f"/marketing/contact-rules/topics/{topic.pk}/delete/")
    assert response.status_code == 302
    assert not Topic.objects.exists()
    response = client.post(
        "/marketing/contact-rules/suppressions/", {"channel": "email", "address": "a@b.co"}
    )
    assert list(Suppression.objects.values_list("address", "reason")) == [("a@b.co", "manual")]


def test_now_is_the_default_time() -> None:
    contact = _contact()
    before = timezone.now()
    record_contact(contact, channel="sms", purpose="marketing", source="campaign:2")
    stored = ContactTouch.objects.get(contact_id=contact.pk)
    assert before <= stored.at <= timezone.now()


def test_a_contacts_time_zone_is_set_through_the_sales_service(alpha: Workspace) -> None:
    from crm_modules.sales.api import contact_update

    contact = _contact(time_zone="", owner=alpha.owner.user)
    owner = fresh(alpha.owner)
    updated = contact_update(actor=owner, contact=contact, changes={"time_zone": "Asia/Bangkok"})
    assert updated.time_zone == "Asia/Bangkok"
    with pytest.raises(ServiceError) as error:
        contact_update(actor=owner, contact=updated, changes={"time_zone": "Mars/Olympus"})
    assert error.value.field == "time_zone"
    assert Contact.objects.get(pk=contact.pk).time_zone == "Asia/Bangkok"
