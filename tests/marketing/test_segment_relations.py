"""Segment conditions on other modules' records: activities (by type, when, how many), tickets
(open, opened lately), satisfaction ratings (the last one, a bad one), purchases (won deals:
when, how many, lifetime value) and the RFM segment. Each selects exactly the contacts it says,
"none" includes the contacts with nothing at all, a contact appears once however many rows
match, and bad values are refused naming the condition and the problem."""

from __future__ import annotations

import datetime
import json
import re
from decimal import Decimal
from html import unescape
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone

from crm_modules.activities.api import activity_log
from crm_modules.marketing import selectors, services
from crm_modules.marketing.models import Segment
from crm_modules.reporting.models import CustomerValue
from crm_modules.reporting.services.customer_values import customer_values_recompute
from crm_modules.sales.api import Contact, Stage, deal_move_stage
from crm_modules.service.models import CsatSurvey, Ticket
from crm_modules.service.services import ticket_change_status, ticket_create
from crm_platform.errors import ServiceError
from tenants.models import Tenant
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.marketing.conftest import fresh
from tests.sales.factories import ContactFactory, DealFactory, PipelineFactory

pytestmark = pytest.mark.usefixtures("in_alpha")

C0 = "definition.conditions[0]"


def _members(alpha: Workspace, *conditions: dict[str, Any], match: str = "all") -> set[int]:
    marketer = fresh(alpha.members[Role.MARKETER])
    segment = services.segment_create(
        actor=marketer,
        name="S",
        kind="dynamic",
        definition={"match": match, "conditions": list(conditions)},
    )
    rows = selectors.segment_contacts(actor=fresh(alpha.members[Role.OWNER]), segment=segment)
    pks = list(rows.values_list("pk", flat=True))
    assert len(pks) == len(set(pks)), "a contact appears twice"
    return set(pks)


def _ago(days: float) -> datetime.datetime:
    return timezone.now() - datetime.timedelta(days=days)


def _log(contact: Contact, kind: str, days_ago: float) -> None:
    activity_log(kind=kind, author=None, concerns=[contact], occurred_at=_ago(days_ago))


def _won(contact: Contact, amount: str, days_ago: float) -> None:
    deal = DealFactory.create(status="won", amount=Decimal(amount), closed_at=_ago(days_ago))
    deal.contacts.add(contact)


def _c(field: str, op: str, value: Any = None) -> dict[str, Any]:
    return {"field": field, "op": op, "value": value}


def test_customers_in_milan_with_lifetime_value_over_5000_and_no_order_in_90_days(
    alpha: Workspace,
) -> None:
    """The issue's example, end to end: city, lifetime value (reporting's customer values) and
    the last purchase."""
    dormant = ContactFactory.create(city="Milano")  # 6,000 four months ago: in
    recent = ContactFactory.create(city="Milano")  # 6,000, the last 10 days ago: out
    small = ContactFactory.create(city="Milano")  # 1,500 four months ago: out
    roman = ContactFactory.create(city="Roma")  # 9,000 four months ago, elsewhere: out
    never = ContactFactory.create(city="Milano")  # never bought: out (no lifetime value)
    _won(dormant, "4000", 200)
    _won(dormant, "2000", 120)
    _won(recent, "5500", 200)
    _won(recent, "500", 10)
    _won(small, "1500", 120)
    _won(roman, "9000", 120)
    DealFactory.create(status="lost", amount=Decimal("9000"), closed_at=_ago(5)).contacts.add(
        dormant
    )
    customer_values_recompute()
    values = dict(
        CustomerValue.objects.filter(kind="contact").values_list("record_id", "lifetime_value")
    )
    assert values[dormant.pk] > 5000
    assert values[recent.pk] > 5000
    assert values[small.pk] < 5000

    members = _members(
        alpha,
        _c("city", "eq", "milano"),
        _c("lifetime_value", "gt", 5000),
        _c("purchase.last", "not_within_days", 90),
    )

    assert members == {dormant.pk}
    assert never.pk not in _members(alpha, _c("lifetime_value", "gt", 5000))


def test_purchase_recency_and_none_ever(alpha: Workspace) -> None:
    fresh_buyer = ContactFactory.create()
    old_buyer = ContactFactory.create()
    never = ContactFactory.create()
    _won(fresh_buyer, "100", 3)
    _won(fresh_buyer, "100", 200)
    _won(old_buyer, "100", 200)
    open_deal = DealFactory.create(status="open")
    open_deal.contacts.add(never)

    assert _members(alpha, _c("purchase.last", "within_days", 30)) == {fresh_buyer.pk}
    assert _members(alpha, _c("purchase.last", "older_than_days", 30)) == {old_buyer.pk}
    assert _members(alpha, _c("purchase.last", "not_within_days", 30)) == {old_buyer.pk, never.pk}
    assert _members(alpha, _c("purchase.last", "ever")) == {fresh_buyer.pk, old_buyer.pk}
    assert _members(alpha, _c("purchase.last", "never")) == {never.pk}


def test_number_of_purchases_counts_zero_for_those_who_never_bought(alpha: Workspace) -> None:
    twice = ContactFactory.create()
    once = ContactFactory.create()
    never = ContactFactory.create()
    _won(twice, "10", 1)
    _won(twice, "10", 400)
    _won(once, "10", 1)
    DealFactory.create(status="lost").contacts.add(never)

    assert _members(alpha, _c("purchase.count", "gte", 2)) == {twice.pk}
    assert _members(alpha, _c("purchase.count", "eq", 1)) == {once.pk}
    assert _members(alpha, _c("purchase.count", "lt", 2)) == {once.pk, never.pk}
    assert _members(alpha, _c("purchase.count", "eq", 0)) == {never.pk}


def test_lifetime_value_below_a_figure_includes_contacts_without_purchases(
    alpha: Workspace,
) -> None:
    big = ContactFactory.create()
    modest = ContactFactory.create()
    none = ContactFactory.create()
    _won(big, "9000", 30)
    _won(modest, "100", 30)
    customer_values_recompute()

    assert _members(alpha, _c("lifetime_value", "lt", 1000)) == {modest.pk, none.pk}
    assert _members(alpha, _c("lifetime_value", "gte", 1000)) == {big.pk}


def test_a_won_deal_updates_lifetime_value_and_rfm_membership_soon(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    """Reporting recomputes customer values after a deal is won (in tests the task runs at once),
    so the segment that reads them follows."""
    cache.delete("reporting.customer_values.pending")
    contact = ContactFactory.create()
    pipeline = PipelineFactory.create()
    won = pipeline.stages.get(kind=Stage.Kind.WON)
    deal = DealFactory.create(pipeline=pipeline, amount=Decimal("7000"))
    deal.contacts.add(contact)
    condition = _c("lifetime_value", "gt", 5000)
    assert _members(alpha, condition) == set()

    with django_capture_on_commit_callbacks(execute=True):
        deal_move_stage(actor=fresh(alpha.members[Role.OWNER]), deal=deal, stage=won)

    assert _members(alpha, condition) == {contact.pk}
    segment = CustomerValue.objects.get(kind="contact", record_id=contact.pk).segment
    assert _members(alpha, _c("rfm_segment", "in", [segment])) == {contact.pk}


def test_rfm_segment_is_or_is_not_one_of(alpha: Workspace) -> None:
    champion = ContactFactory.create()
    lost = ContactFactory.create()
    never = ContactFactory.create()
    for contact, segment in ((champion, "champions"), (lost, "lost")):
        CustomerValue.objects.create(
            kind="contact",
            record_id=contact.pk,
            first_won_at=_ago(10),
            last_won_at=_ago(10),
            won_deals=1,
            revenue=Decimal(1),
            predicted_value=Decimal(0),
            lifetime_value=Decimal(1),
            recency_score=1,
            frequency_score=1,
            monetary_score=1,
            segment=segment,
            computed_at=timezone.now(),
        )
    CustomerValue.objects.create(
        kind="company",
        record_id=never.pk,  # a company with the same id is not the contact
        first_won_at=_ago(10),
        last_won_at=_ago(10),
        won_deals=1,
        revenue=Decimal(1),
        predicted_value=Decimal(0),
        lifetime_value=Decimal(1),
        recency_score=5,
        frequency_score=5,
        monetary_score=5,
        segment="champions",
        computed_at=timezone.now(),
    )

    assert _members(alpha, _c("rfm_segment", "in", ["champions"])) == {champion.pk}
    assert _members(alpha, _c("rfm_segment", "in", ["champions", "lost"])) == {
        champion.pk,
        lost.pk,
    }
    assert _members(alpha, _c("rfm_segment", "not_in", ["champions"])) == {lost.pk, never.pk}


def test_last_activity_of_any_type_or_of_one_type(alpha: Workspace) -> None:
    called = ContactFactory.create()  # a call 5 days ago, a note 100 days ago
    met = ContactFactory.create()  # a meeting 100 days ago
    silent = ContactFactory.create()  # nothing ever
    _log(called, "call", 5)
    _log(called, "note", 100)
    _log(called, "call", 6)
    _log(met, "meeting", 100)

    assert _members(alpha, _c("activity.any", "within_days", 30)) == {called.pk}
    assert _members(alpha, _c("activity.call", "within_days", 30)) == {called.pk}
    assert _members(alpha, _c("activity.meeting", "within_days", 30)) == set()
    assert _members(alpha, _c("activity.any", "older_than_days", 30)) == {met.pk}
    assert _members(alpha, _c("activity.note", "older_than_days", 30)) == {called.pk}
    assert _members(alpha, _c("activity.any", "not_within_days", 30)) == {met.pk, silent.pk}
    assert _members(alpha, _c("activity.any", "never")) == {silent.pk}
    assert _members(alpha, _c("activity.meeting", "never")) == {called.pk, silent.pk}
    assert _members(alpha, _c("activity.meeting", "ever")) == {met.pk}


def test_count_of_activities_in_the_last_days(alpha: Workspace) -> None:
    busy = ContactFactory.create()
    quiet = ContactFactory.create()
    silent = ContactFactory.create()
    for days in (1, 2, 3):
        _log(busy, "call", days)
    _log(busy, "email", 4)
    _log(quiet, "call", 2)
    _log(quiet, "call", 60)

    def count(field: str, op: str, n: int, days: int = 30) -> set[int]:
        return _members(alpha, _c(field, op, {"count": n, "days": days}))

    assert count("activity_count.any", "gte", 4) == {busy.pk}
    assert count("activity_count.call", "eq", 3) == {busy.pk}
    assert count("activity_count.call", "eq", 1) == {quiet.pk}
    assert count("activity_count.call", "eq", 2, days=90) == {quiet.pk}
    assert count("activity_count.any", "lt", 2) == {quiet.pk, silent.pk}
    assert count("activity_count.email", "eq", 0) == {quiet.pk, silent.pk}


def test_tickets_open_and_opened_lately(alpha: Workspace) -> None:
    agent = fresh(alpha.members[Role.SUPPORT_AGENT])
    waiting = ContactFactory.create()
    helped = ContactFactory.create()
    never = ContactFactory.create()
    ticket_create(actor=agent, subject="Broken", contact_id=waiting.pk)
    ticket_create(actor=agent, subject="Still broken", contact_id=waiting.pk)
    old = ticket_create(actor=agent, subject="Old", contact_id=helped.pk)
    ticket_change_status(actor=agent, ticket=old, status="solved")
    Ticket.objects.filter(pk=old.pk).update(created_at=_ago(100))

    assert _members(alpha, _c("ticket.open", "is", True)) == {waiting.pk}
    assert waiting.pk not in _members(alpha, _c("ticket.open", "is", False))
    assert {helped.pk, never.pk} <= _members(alpha, _c("ticket.open", "is", False))
    assert _members(alpha, _c("ticket.opened", "within_days", 30)) == {waiting.pk}
    assert _members(alpha, _c("ticket.opened", "older_than_days", 30)) == {helped.pk}
    assert never.pk in _members(alpha, _c("ticket.opened", "never"))
    assert _members(alpha, _c("ticket.opened", "ever")) == {waiting.pk, helped.pk}


def test_last_satisfaction_rating_and_a_bad_one(alpha: Workspace) -> None:
    agent = fresh(alpha.members[Role.SUPPORT_AGENT])
    recovered = ContactFactory.create()  # rated 1, then 5
    unhappy = ContactFactory.create()  # rated 4, then 2
    unrated = ContactFactory.create()  # asked, never answered
    ratings: list[tuple[Contact, list[tuple[int | None, int]]]] = [
        (recovered, [(1, 40), (5, 2)]),
        (unhappy, [(4, 40), (2, 2)]),
        (unrated, [(None, 1)]),
    ]
    for contact, answers in ratings:
        ticket = ticket_create(actor=agent, subject="Help", contact_id=contact.pk)
        for score, days_ago in answers:
            CsatSurvey.objects.create(
                ticket=ticket,
                contact=contact,
                score=score,
                rated_at=_ago(days_ago) if score else None,
            )

    assert _members(alpha, _c("csat.last_score", "gte", 4)) == {recovered.pk}
    assert _members(alpha, _c("csat.last_score", "lte", 2)) == {unhappy.pk}
    assert _members(alpha, _c("csat.last_score", "eq", 1)) == set()
    assert _members(alpha, _c("csat.bad", "within_days", 7)) == {unhappy.pk}
    assert _members(alpha, _c("csat.bad", "ever")) == {recovered.pk, unhappy.pk}
    assert _members(alpha, _c("csat.bad", "older_than_days", 7)) == {recovered.pk}
    assert unrated.pk in _members(alpha, _c("csat.bad", "never"))


def test_conditions_mix_with_any(alpha: Workspace) -> None:
    agent = fresh(alpha.members[Role.SUPPORT_AGENT])
    buyer = ContactFactory.create()
    complainer = ContactFactory.create()
    ContactFactory.create()
    _won(buyer, "10", 1)
    ticket_create(actor=agent, subject="Help", contact_id=complainer.pk)

    members = _members(
        alpha,
        _c("purchase.last", "within_days", 7),
        _c("ticket.open", "is", True),
        match="any",
    )

    assert members == {buyer.pk, complainer.pk}


@pytest.mark.parametrize(
    ("condition", "fragment"),
    [
        (_c("purchase.last", "within_days", 0), "Purchase (won deal): Give a number of days"),
        (_c("purchase.last", "within_days", "90"), "Give a number of days from 1 to 36500"),
        (_c("purchase.last", "within_days", True), "Give a number of days"),
        (_c("purchase.last", "gt", 3), "Choose an operator from: within_days"),
        (_c("lifetime_value", "gt", "a lot"), "Lifetime value: Give a number."),
        (_c("purchase.count", "gte", -1), "Number of purchases: Give a whole number from 0"),
        (_c("purchase.count", "gte", 1.5), "Give a whole number"),
        (_c("rfm_segment", "in", ["vip"]), "RFM segment: Choose one or more from: champions"),
        (_c("rfm_segment", "in", []), "Choose one or more"),
        (_c("rfm_segment", "in", "champions"), "Choose one or more"),
        (_c("csat.last_score", "gte", 6), "Give a rating from 1 to 5."),
        (_c("ticket.open", "is", "yes"), "Has an open ticket: Give true or false."),
        (_c("activity.dance", "within_days", 3), "“activity.dance” is not a field"),
        (_c("activity.call", "within_days", 40000), "Give a number of days from 1 to 36500"),
        (_c("activity_count.call", "gte", 3), "Give an object with “count” and “days”"),
        (_c("activity_count.call", "gte", {"count": 3}), "“count” and “days”"),
        (_c("activity_count.any", "gte", {"count": -2, "days": 7}), "Give a whole number of"),
        (_c("activity_count.any", "gte", {"count": 2, "days": 0}), "Give a number of days"),
    ],
)
def test_a_bad_value_is_refused_naming_the_condition_and_the_problem(
    alpha: Workspace, condition: dict[str, Any], fragment: str
) -> None:
    marketer = fresh(alpha.members[Role.MARKETER])

    with pytest.raises(ServiceError) as error:
        services.segment_create(
            actor=marketer,
            name="Bad",
            kind="dynamic",
            definition={"match": "all", "conditions": [condition]},
        )

    assert error.value.field == C0
    assert fragment in error.value.message
    assert Segment.objects.count() == 0


def test_a_sales_rep_sees_only_their_own_contacts_of_a_relation_condition(
    alpha: Workspace,
) -> None:
    Tenant.objects.filter(pk=alpha.tenant.pk).update(restrict_record_visibility=True)
    rep = alpha.members[Role.SALES_REP]
    mine = ContactFactory.create(owner=rep.user)
    theirs = ContactFactory.create(owner=alpha.owner.user)
    _won(mine, "10", 1)
    _won(theirs, "10", 1)
    segment = services.segment_create(
        actor=fresh(alpha.members[Role.MARKETER]),
        name="Buyers",
        kind="dynamic",
        definition={"match": "all", "conditions": [_c("purchase.last", "within_days", 7)]},
    )

    assert selectors.segment_count(actor=fresh(alpha.owner), segment=segment) == 2
    rows = selectors.segment_contacts(actor=fresh(rep), segment=segment)
    assert set(rows.values_list("pk", flat=True)) == {mine.pk}


NEW = "/marketing/segments/new/"


def _builder(alpha: Workspace) -> Any:
    return workspace_client(alpha.members[Role.MARKETER].user, alpha.tenant)


def test_builder_offers_the_new_conditions_with_their_inputs(alpha: Workspace) -> None:
    client = _builder(alpha)

    page = client.get(NEW).content.decode()
    for field in (
        "activity.any",
        "activity.call",
        "activity_count.meeting",
        "ticket.open",
        "ticket.opened",
        "csat.last_score",
        "csat.bad",
        "purchase.last",
        "purchase.count",
        "lifetime_value",
        "rfm_segment",
    ):
        assert f'value="{field}"' in page
    base = {"name": "S", "kind": "dynamic", "match": "all", "definition": ""}

    recency = client.post(NEW, {**base, "action": "choose", "c_field": "purchase.last"})
    html = recency.content.decode()
    assert recency.status_code == 200
    assert 'id="c_days"' in html
    assert 'value="not_within_days"' in html
    assert 'value="never"' in html

    rfm = client.post(NEW, {**base, "action": "choose", "c_field": "rfm_segment"}).content
    assert b'name="c_choices" value="champions"' in rfm
    assert b'name="c_choices" value="at_risk"' in rfm

    count = client.post(NEW, {**base, "action": "choose", "c_field": "activity_count.call"})
    assert b'id="c_count"' in count.content
    assert b'id="c_days"' in count.content


def test_builder_adds_the_milan_conditions_previews_and_creates(alpha: Workspace) -> None:
    dormant = ContactFactory.create(city="Milano")
    ContactFactory.create(city="Milano")
    _won(dormant, "6000", 200)
    customer_values_recompute()
    client = _builder(alpha)
    data: dict[str, Any] = {"name": "Milan, sleeping", "kind": "dynamic", "match": "all"}

    def step(**inputs: Any) -> str:
        response = client.post(NEW, {**data, **inputs}, HTTP_HX_REQUEST="true")
        assert response.status_code == 200
        html: str = response.content.decode()
        data["definition"] = _textarea(html)
        return html

    step(action="add", c_field="city", c_op="eq", c_value="Milano")
    step(action="add", c_field="lifetime_value", c_op="gt", c_value="5000")
    html = step(action="add", c_field="purchase.last", c_op="not_within_days", c_days="90")

    assert "1 contact matches now" in html
    assert "Lifetime value more than 5000" in html
    assert "Purchase (won deal): none in the last 90 days" in html
    response = client.post(NEW, {**data, "action": "create"})
    assert response.status_code == 302
    segment = Segment.objects.get()
    assert segment.definition["conditions"][2] == {
        "field": "purchase.last",
        "op": "not_within_days",
        "value": 90,
    }
    assert selectors.segment_count(actor=fresh(alpha.owner), segment=segment) == 1
    page = client.get(response["Location"]).content.decode()
    assert "Contacts who match all of the conditions:" in page
    assert "<li>Purchase (won deal): none in the last 90 days</li>" in page


def test_builder_refuses_a_bad_value_naming_the_condition_and_keeps_the_rest(
    alpha: Workspace,
) -> None:
    client = _builder(alpha)
    base = {"name": "S", "kind": "dynamic", "match": "all", "definition": ""}

    response = client.post(
        NEW,
        {**base, "action": "add", "c_field": "purchase.last", "c_op": "within_days", "c_days": "0"},
    )

    assert response.status_code == 400
    html = response.content.decode()
    assert "Purchase (won deal): Give a number of days from 1 to 36500." in html
    assert _textarea(html) == ""
    rfm = client.post(NEW, {**base, "action": "add", "c_field": "rfm_segment", "c_op": "in"})
    assert "RFM segment: Choose one or more from" in rfm.content.decode()
    assert Segment.objects.count() == 0


def test_builder_removes_a_condition(alpha: Workspace) -> None:
    client = _builder(alpha)
    definition = {
        "match": "any",
        "conditions": [_c("ticket.open", "is", True), _c("csat.bad", "ever")],
    }
    response = client.post(
        NEW,
        {
            "name": "S",
            "kind": "dynamic",
            "match": "any",
            "definition": json.dumps(definition),
            "remove": "0",
        },
    )

    assert response.status_code == 200
    assert json.loads(_textarea(response.content.decode())) == {
        "match": "any",
        "conditions": [{"field": "csat.bad", "op": "ever", "value": None}],
    }


def _textarea(html: str) -> str:
    found = re.search(r'<textarea name="definition"[^>]*>(.*?)</textarea>', html, re.S)
    assert found is not None
    return unescape(found.group(1)).strip()


@pytest.mark.parametrize("role", [Role.SALES_REP, Role.SUPPORT_AGENT, Role.READ_ONLY])
def test_only_those_who_manage_segments_use_the_builder(alpha: Workspace, role: str) -> None:
    client = workspace_client(alpha.members[role].user, alpha.tenant)

    step = client.post(
        NEW,
        {"name": "S", "kind": "dynamic", "action": "add", "c_field": "ticket.open", "c_op": "is"},
        HTTP_HX_REQUEST="true",
    )

    assert client.get(NEW).status_code == 403
    assert step.status_code == 403
    assert Segment.objects.count() == 0
