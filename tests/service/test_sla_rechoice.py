"""What else re-chooses an open ticket's SLA policy (ADR 0068, 0075): the customer-tier
field archived, restored, deleted or defined again, a tier option removed from it or offered
again; contacts and companies merged (their tickets follow the survivor, and back on undo).
And the walk writes each batch's changed tickets with one statement, its due times those of
each policy's own hours."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm_modules.sales import services as sales_services
from crm_modules.sales.models import Contact, CustomField
from crm_modules.sales.services.merge import companies_merge, contacts_merge, merge_undo
from crm_modules.service import services, sla
from crm_modules.service.models import SlaPolicy, Ticket, TicketMessage
from crm_modules.service.services.sla_policies import sla_policies_reapply
from tests.conftest import Workspace
from tests.sales.factories import CompanyFactory, ContactFactory
from tests.service.conftest import fresh, sla_reapplies
from tests.service.test_sla_policies import _agent, _policy, _team, at

pytestmark = pytest.mark.usefixtures("in_alpha")


def _open(alpha: Workspace, **kwargs: Any) -> Ticket:
    return services.ticket_create(actor=_agent(alpha), subject="Help", now=at(2, 10), **kwargs)


def _policy_of(ticket: Ticket) -> SlaPolicy:
    policy = Ticket.objects.select_related("sla_policy").get(pk=ticket.pk).sla_policy
    assert policy is not None
    return policy


def _field(alpha: Workspace, entity: str, **kwargs: Any) -> CustomField:
    values: dict[str, Any] = {"type": "text", **kwargs}
    return sales_services.custom_field_create(
        actor=fresh(alpha.owner), entity=entity, code="tier", label="Tier", **values
    )


def test_archiving_the_tier_field_rechooses_the_tickets_its_tier_chose(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    field = _field(alpha, "contact")
    with django_capture_on_commit_callbacks(execute=True):
        gold = _policy(alpha, "Gold", tiers="gold")
    contact = ContactFactory.create(custom={"tier": "gold"})
    ticket = _open(alpha, contact_id=contact.pk)
    assert ticket.sla_policy_id == gold.pk
    assert ticket.first_response_due_at == at(2, 10, 30)

    with django_capture_on_commit_callbacks(execute=True):
        sales_services.custom_field_archive(actor=fresh(alpha.owner), field=field, archived=True)
    assert _policy_of(ticket).is_default
    # The default policy's clocks: 8 business hours, Monday to Friday 09:00-17:00.
    assert Ticket.objects.get(pk=ticket.pk).first_response_due_at == at(3, 10)
    # The value stays on the contact; restored, the field chooses again.
    with django_capture_on_commit_callbacks(execute=True):
        sales_services.custom_field_archive(actor=fresh(alpha.owner), field=field, archived=False)
    assert _policy_of(ticket).pk == gold.pk
    assert Ticket.objects.get(pk=ticket.pk).first_response_due_at == at(2, 10, 30)


def test_the_company_tier_counts_when_the_contacts_tier_field_is_archived(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    field = _field(alpha, "contact")
    _field(alpha, "company")
    with django_capture_on_commit_callbacks(execute=True):
        gold = _policy(alpha, "Gold", tiers="gold")
        silver = _policy(alpha, "Silver", tiers="silver")
    company = CompanyFactory.create(custom={"tier": "silver"})
    contact = ContactFactory.create(company=company, custom={"tier": "gold"})
    ticket = _open(alpha, contact_id=contact.pk)
    assert ticket.sla_policy_id == gold.pk
    with django_capture_on_commit_callbacks(execute=True):
        sales_services.custom_field_archive(actor=fresh(alpha.owner), field=field, archived=True)
    assert _policy_of(ticket).pk == silver.pk


def test_deleting_the_tier_field_rechooses_and_defining_it_again_chooses_back(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    field = _field(alpha, "contact")
    with django_capture_on_commit_callbacks(execute=True):
        gold = _policy(alpha, "Gold", tiers="gold")
    contact = ContactFactory.create(custom={"tier": "gold"})
    undefined = ContactFactory.create(custom={"tier": "gold"})
    ticket = _open(alpha, contact_id=contact.pk)
    assert ticket.sla_policy_id == gold.pk

    with django_capture_on_commit_callbacks(execute=True):
        sales_services.custom_field_delete(actor=fresh(alpha.owner), field=field)
    # The value stays on the contact, and counts for nothing once its field is deleted.
    assert Contact.objects.get(pk=contact.pk).custom == {"tier": "gold"}
    assert _policy_of(ticket).is_default
    assert _open(alpha, contact_id=undefined.pk).sla_policy_id != gold.pk
    with django_capture_on_commit_callbacks(execute=True):
        _field(alpha, "contact")
    assert _policy_of(ticket).pk == gold.pk


def test_a_tier_never_defined_counts_as_stored(alpha: Workspace) -> None:
    gold = _policy(alpha, "Gold", tiers="gold")
    contact = ContactFactory.create(custom={"tier": "gold"})
    assert _open(alpha, contact_id=contact.pk).sla_policy_id == gold.pk


def test_removing_a_tier_option_rechooses_and_offering_it_again_chooses_it_back(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    field = _field(alpha, "contact", type="select", options=["Gold", "Silver"])
    with django_capture_on_commit_callbacks(execute=True):
        gold = _policy(alpha, "Gold", tiers="gold")
    contact = ContactFactory.create(custom={"tier": "Gold"})
    ticket = _open(alpha, contact_id=contact.pk)
    assert ticket.sla_policy_id == gold.pk

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        field = sales_services.custom_field_update(
            actor=fresh(alpha.owner), field=field, changes={"options": ["Silver", "Bronze"]}
        )
    assert len(callbacks) >= 1
    assert _policy_of(ticket).is_default
    assert Ticket.objects.get(pk=ticket.pk).first_response_due_at == at(3, 10)

    # A change that is not of the options tells nothing.
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        field = sales_services.custom_field_update(
            actor=fresh(alpha.owner), field=field, changes={"label": "Уровень"}
        )
    assert sla_reapplies(callbacks) == 0

    with django_capture_on_commit_callbacks(execute=True):
        sales_services.custom_field_update(
            actor=fresh(alpha.owner), field=field, changes={"options": ["Silver", "Gold"]}
        )
    assert _policy_of(ticket).pk == gold.pk


def test_a_ticket_field_named_tier_rechooses_nothing(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    field = _field(alpha, "ticket")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        sales_services.custom_field_archive(actor=fresh(alpha.owner), field=field, archived=True)
    assert sla_reapplies(callbacks) == 0


def test_merging_contacts_moves_their_tickets_and_rechooses_by_the_survivors_tier(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        gold = _policy(alpha, "Gold", tiers="gold")
    survivor = ContactFactory.create(custom={"tier": "silver"})
    merged = ContactFactory.create(custom={"tier": "gold"})
    ticket = _open(alpha, contact_id=merged.pk)
    solved = _open(alpha, contact_id=merged.pk)
    services.ticket_change_status(
        actor=_agent(alpha), ticket=solved, status="solved", now=at(2, 11)
    )
    message = TicketMessage.objects.create(
        ticket=ticket, kind="reply", direction="inbound", body="Привет", sender_contact=merged
    )
    assert ticket.sla_policy_id == gold.pk

    with django_capture_on_commit_callbacks(execute=True):
        merge = contacts_merge(
            actor=fresh(alpha.owner), survivor_id=survivor.pk, other_ids=[merged.pk]
        )
    moved = Ticket.objects.get(pk=ticket.pk)
    assert moved.contact_id == survivor.pk
    assert Ticket.objects.get(pk=solved.pk).contact_id == survivor.pk
    assert TicketMessage.objects.get(pk=message.pk).sender_contact_id == survivor.pk
    # The survivor is silver: the open ticket leaves Gold, the solved one keeps it.
    assert _policy_of(moved).is_default
    assert moved.first_response_due_at == at(3, 10)
    assert _policy_of(solved).pk == gold.pk

    with django_capture_on_commit_callbacks(execute=True):
        merge_undo(actor=fresh(alpha.owner), merge=merge)
    back = Ticket.objects.get(pk=ticket.pk)
    assert (back.contact_id, _policy_of(back).pk) == (merged.pk, gold.pk)
    assert TicketMessage.objects.get(pk=message.pk).sender_contact_id == merged.pk


def test_merging_companies_moves_their_tickets_and_rechooses(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        gold = _policy(alpha, "Gold", tiers="gold")
    survivor = CompanyFactory.create(custom={"tier": "bronze"})
    merged = CompanyFactory.create(custom={"tier": "gold"})
    contact = ContactFactory.create(company=merged)
    ticket = _open(alpha, contact_id=contact.pk)
    assert (ticket.company_id, ticket.sla_policy_id) == (merged.pk, gold.pk)

    with django_capture_on_commit_callbacks(execute=True):
        merge = companies_merge(
            actor=fresh(alpha.owner), survivor_id=survivor.pk, other_ids=[merged.pk]
        )
    moved = Ticket.objects.get(pk=ticket.pk)
    assert moved.company_id == survivor.pk
    assert _policy_of(moved).is_default

    with django_capture_on_commit_callbacks(execute=True):
        merge_undo(actor=fresh(alpha.owner), merge=merge)
    back = Ticket.objects.get(pk=ticket.pk)
    assert (back.company_id, _policy_of(back).pk) == (merged.pk, gold.pk)


def _ticket_updates(captured: CaptureQueriesContext) -> int:
    """Writes of tickets' policies and timers (not the policy deletion's own ``SET NULL``)."""
    return sum(
        q["sql"].startswith('UPDATE "service_ticket"') and '"sla_policy_id" IN (' not in q["sql"]
        for q in captured.captured_queries
    )


def test_the_walk_writes_each_batch_with_one_statement_under_each_policys_hours(
    alpha: Workspace,
) -> None:
    """Five tickets in batches of two: three statements, not five. The night team's tickets
    get the night policy's clocks (22:00-06:00 in Bangkok, UTC+7), the others the gold
    policy's (every day, all day), exactly as a ticket opened under each would."""
    night = _team(alpha, "Night desk")
    contact = ContactFactory.create(custom={"tier": "gold"})
    nightly = [_open(alpha, contact_id=contact.pk, team_id=night.pk) for _ in range(2)]
    daily = [_open(alpha, contact_id=contact.pk) for _ in range(3)]
    # Saved without their task running (the test's transaction never commits).
    late = _policy(
        alpha, "Night", time_zone="Asia/Bangkok", teams=[night.pk],
        openings=[[d, 22 * 60, 1440] for d in range(7)] + [[d, 0, 6 * 60] for d in range(7)],
    )  # fmt: skip
    gold = _policy(alpha, "Gold", tiers="gold")
    with CaptureQueriesContext(connection) as captured:
        assert sla_policies_reapply(tenant=alpha.tenant, batch=2) == 5
    assert _ticket_updates(captured) == 3
    for ticket in nightly:
        ticket = Ticket.objects.get(pk=ticket.pk)
        assert ticket.sla_policy_id == late.pk
        # Opened 10:00 UTC = 17:00 in Bangkok; the desk opens at 22:00 (15:00 UTC): 30 and
        # 240 business minutes from there.
        assert ticket.first_response_due_at == at(2, 15, 30)
        assert ticket.resolution_due_at == at(2, 19)
        assert ticket.next_due_at == at(2, 15, 30)
        assert ticket.sla_alarm_at == ticket.first_response_warn_at == at(2, 15, 15)
    for ticket in daily:
        ticket = Ticket.objects.get(pk=ticket.pk)
        assert ticket.sla_policy_id == gold.pk
        assert (ticket.first_response_due_at, ticket.resolution_due_at) == (
            at(2, 10, 30),
            at(2, 14),
        )
        # The same as the clocks of a ticket given the policy one by one.
        alone = Ticket.objects.select_related("contact", "company").get(pk=ticket.pk)
        sla.recompute(alone, sla.clock_for(alone))
        assert [getattr(alone, f) for f in sla.TIMER_FIELDS] == [
            getattr(ticket, f) for f in sla.TIMER_FIELDS
        ]
    # Nothing left to change: no statement at all.
    with CaptureQueriesContext(connection) as captured:
        assert sla_policies_reapply(tenant=alpha.tenant, batch=2) == 0
    assert _ticket_updates(captured) == 0


def test_retired_policys_solved_tickets_are_moved_in_one_statement(alpha: Workspace) -> None:
    gold = _policy(alpha, "Gold", tiers="gold")
    contact = ContactFactory.create(custom={"tier": "gold"})
    tickets = [_open(alpha, contact_id=contact.pk) for _ in range(3)]
    for ticket in tickets:
        services.ticket_change_status(
            actor=_agent(alpha), ticket=ticket, status="solved", now=at(2, 11)
        )
    before = [Ticket.objects.get(pk=t.pk).resolution_due_at for t in tickets]
    services.sla_policy_delete(actor=fresh(alpha.owner), policy_id=gold.pk)
    with CaptureQueriesContext(connection) as captured:
        assert sla_policies_reapply(tenant=alpha.tenant) == 3
    assert _ticket_updates(captured) == 1
    assert not SlaPolicy.objects.filter(pk=gold.pk).exists()
    after = Ticket.objects.filter(pk__in=[t.pk for t in tickets]).order_by("pk")
    assert all(t.sla_policy is not None and t.sla_policy.is_default for t in after)
    assert [t.resolution_due_at for t in after] == before
    assert all(isinstance(d, datetime.datetime) for d in before)
