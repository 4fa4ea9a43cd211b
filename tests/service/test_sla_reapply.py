"""When what chooses a ticket's SLA policy changes after it was opened (ADR 0061): a policy
created, edited, moved or deleted, the default policy's hours or targets, a customer's tier —
the open tickets concerned get the policy the rules choose now in a background task (never in
the request), their targets not yet met recomputed from the opening; met and breached targets
stay as recorded, solved and closed tickets keep theirs. Escalations are each policy's own."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from crm_modules.sales import services as sales_services
from crm_modules.service import services, sla
from crm_modules.service.models import SlaEscalation, SlaPolicy, Ticket
from crm_modules.service.services.customer import ticket_customer_message
from crm_modules.service.services.sla_alerts import sla_alerts_send
from crm_modules.service.services.sla_policies import sla_policies_reapply
from tenants.audit.models import AuditEvent
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.sales.factories import CompanyFactory, ContactFactory
from tests.service.conftest import fresh, sla_reapplies
from tests.service.test_sla_policies import WEEKDAYS_ALL_DAY, _agent, _policy, _targets, _team, at

pytestmark = pytest.mark.usefixtures("in_alpha")


def _open(alpha: Workspace, when: datetime.datetime, **kwargs: Any) -> Ticket:
    return services.ticket_create(actor=_agent(alpha), subject="Help", now=when, **kwargs)


def _reloaded(ticket: Ticket) -> Ticket:
    return Ticket.objects.select_related("sla_policy").get(pk=ticket.pk)


def _tasks_sent(callbacks: list[Any]) -> None:
    """Run what the request left for after its commit (the task is eager in tests)."""
    for callback in callbacks:
        callback()


def test_a_new_policy_applies_to_open_tickets_in_the_background_not_to_solved_ones(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    contact = ContactFactory.create(custom={"tier": "gold"})
    waiting = _open(alpha, at(2, 10), contact_id=contact.pk)
    solved = _open(alpha, at(2, 10), contact_id=contact.pk)
    services.ticket_change_status(
        actor=_agent(alpha), ticket=solved, status="solved", now=at(2, 11)
    )
    solved_before = _reloaded(solved)
    assert waiting.sla_policy.is_default  # type: ignore[union-attr]
    assert waiting.first_response_due_at == at(3, 10)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        gold = _policy(alpha, "Gold", tiers="gold")
    # The request wrote no ticket: the task does, after commit.
    assert _reloaded(waiting).sla_policy_id == waiting.sla_policy_id
    assert sla_reapplies(callbacks) == 1
    _tasks_sent(callbacks)

    waiting = _reloaded(waiting)
    assert waiting.sla_policy_id == gold.pk
    # From the opening at 10:00 under Gold: 30 minutes around the clock.
    assert (waiting.first_response_due_at, waiting.resolution_due_at) == (
        at(2, 10, 30),
        at(2, 14),
    )
    # Already past: left to the sweep to tell, so its alarm is due.
    assert waiting.sla_alarm_at == at(2, 10, 15)  # the warning, already past
    assert not waiting.first_response_breached
    after = _reloaded(solved)
    assert (after.sla_policy_id, after.resolution_due_at) == (
        solved_before.sla_policy_id,
        solved_before.resolution_due_at,
    )


def test_an_edited_policy_recomputes_targets_not_met_and_keeps_met_and_breached_ones(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    contact = ContactFactory.create(custom={"tier": "gold"})
    with django_capture_on_commit_callbacks(execute=True):
        gold = _policy(alpha, "Gold", tiers="gold")
    answered = _open(alpha, at(2, 10), contact_id=contact.pk)
    services.ticket_reply(actor=_agent(alpha), ticket=answered, body="On it", now=at(2, 10, 20))
    late = _open(alpha, at(2, 10), contact_id=contact.pk)
    with django_capture_on_commit_callbacks(execute=True):
        sla_alerts_send(tenant=alpha.tenant, now=at(2, 10, 31))
    late = _reloaded(late)
    assert late.first_response_breached
    answered, late_before = _reloaded(answered), late

    with django_capture_on_commit_callbacks(execute=True):
        services.sla_policy_save(
            actor=fresh(alpha.owner), policy=gold, name="Gold", time_zone="UTC",
            openings=WEEKDAYS_ALL_DAY, holidays=[], targets=_targets(60, 480), tiers="gold",
        )  # fmt: skip

    for before in (answered, late_before):
        ticket = _reloaded(before)
        # The first response, met or breached, stays as recorded; the resolution, not yet
        # met, counts from the opening under the new target.
        assert ticket.first_response_due_at == before.first_response_due_at == at(2, 10, 30)
        assert ticket.resolution_due_at == at(2, 18)
    assert _reloaded(late_before).first_response_breached


def test_a_next_response_met_stays_and_one_running_is_recomputed(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    contact = ContactFactory.create(custom={"tier": "gold"})
    targets = dict.fromkeys(("low", "normal", "high", "urgent"), (30, 480, 60))
    with django_capture_on_commit_callbacks(execute=True):
        gold = _policy(alpha, "Gold", tiers="gold", targets=targets)
    met, running = (_open(alpha, at(2, 10), contact_id=contact.pk) for _ in range(2))
    for ticket in (met, running):
        services.ticket_reply(actor=_agent(alpha), ticket=ticket, body="On it", now=at(2, 10, 10))
        ticket.refresh_from_db()
        ticket_customer_message(
            tenant=alpha.tenant, ticket=ticket, body="Still", now=at(2, 11), wake=True, reopen=True
        )
    services.ticket_reply(actor=_agent(alpha), ticket=met, body="Fixed?", now=at(2, 11, 30))
    assert _reloaded(running).next_response_due_at == at(2, 12)

    with django_capture_on_commit_callbacks(execute=True):
        services.sla_policy_save(
            actor=fresh(alpha.owner), policy=gold, name="Gold", time_zone="UTC",
            openings=WEEKDAYS_ALL_DAY, holidays=[], tiers="gold",
            targets=dict.fromkeys(("low", "normal", "high", "urgent"), (30, 480, 120)),
        )  # fmt: skip
    assert _reloaded(met).next_response_due_at == at(2, 12)
    assert _reloaded(running).next_response_due_at == at(2, 13)


def test_moving_a_policy_rechooses_overlapping_ones(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    contact = ContactFactory.create(custom={"tier": "gold"})
    with django_capture_on_commit_callbacks(execute=True):
        gold = _policy(alpha, "Gold", tiers="gold")
        incidents = _policy(alpha, "Incidents", types=["incident"], targets=_targets(90, 600))
    ticket = _open(alpha, at(2, 10), contact_id=contact.pk, ticket_type="incident")
    assert ticket.sla_policy_id == gold.pk
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.sla_policy_move(actor=fresh(alpha.owner), policy_id=incidents.pk, up=True)
    assert _reloaded(ticket).sla_policy_id == gold.pk
    _tasks_sent(callbacks)
    ticket = _reloaded(ticket)
    assert (ticket.sla_policy_id, ticket.first_response_due_at) == (incidents.pk, at(2, 11, 30))


def test_deleting_a_policy_retires_it_in_the_request_and_the_task_moves_its_tickets(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    contact = ContactFactory.create(custom={"tier": "gold"})
    with django_capture_on_commit_callbacks(execute=True):
        gold = _policy(alpha, "Gold", tiers="gold")
    ticket = _open(alpha, at(2, 10), contact_id=contact.pk)
    solved = _open(alpha, at(2, 10), contact_id=contact.pk)
    services.ticket_change_status(
        actor=_agent(alpha), ticket=solved, status="solved", now=at(2, 11)
    )
    solved_due = _reloaded(solved).resolution_due_at
    client = workspace_client(alpha.members[Role.ADMIN].user, alpha.tenant)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert client.post(f"/service/sla/policies/{gold.pk}/delete/").status_code == 302
    # Nothing of the tickets was written in the request; the policy is only retired.
    assert _reloaded(ticket).sla_policy_id == gold.pk
    assert _reloaded(ticket).first_response_due_at == at(2, 10, 30)
    assert SlaPolicy.objects.get(pk=gold.pk).retired_at is not None
    # Retired: chosen for no ticket, not listed, no page.
    assert sla.policy_for(_reloaded(ticket), time_zone="UTC").is_default
    assert "Gold" not in client.get("/service/sla/policies/").content.decode()
    assert client.get(f"/service/sla/policies/{gold.pk}/").status_code == 404
    _tasks_sent(callbacks)

    ticket = _reloaded(ticket)
    assert ticket.sla_policy.is_default  # type: ignore[union-attr]
    assert ticket.first_response_due_at == at(3, 10)
    solved_after = _reloaded(solved)
    assert solved_after.sla_policy.is_default  # type: ignore[union-attr]
    assert solved_after.resolution_due_at == solved_due
    assert not SlaPolicy.objects.filter(pk=gold.pk).exists()


def test_a_default_policy_edit_applies_to_its_open_tickets(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    ticket = _open(alpha, at(2, 10))
    assert ticket.first_response_due_at == at(3, 10)
    with django_capture_on_commit_callbacks(execute=True):
        services.sla_targets_update(
            actor=fresh(alpha.owner),
            targets=dict.fromkeys(("low", "normal", "high", "urgent"), (60, 480)),
        )
    assert _reloaded(ticket).first_response_due_at == at(2, 11)


def _tier_field(alpha: Workspace, entity: str) -> None:
    sales_services.custom_field_create(
        actor=fresh(alpha.owner), entity=entity, code="tier", label="Tier", type="text"
    )


def test_a_contacts_tier_change_rechooses_their_open_tickets_after_commit(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    _tier_field(alpha, "contact")
    with django_capture_on_commit_callbacks(execute=True):
        gold = _policy(alpha, "Gold", tiers="gold")
    contact = ContactFactory.create(custom={"tier": "silver"})
    other = ContactFactory.create(custom={"tier": "silver"})
    ticket = _open(alpha, at(2, 10), contact_id=contact.pk)
    theirs = _open(alpha, at(2, 10), contact_id=other.pk)
    assert ticket.sla_policy.is_default  # type: ignore[union-attr]

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        sales_services.contact_update(
            actor=fresh(alpha.owner), contact=contact, changes={"custom_fields": {"tier": "Gold"}}
        )
    assert _reloaded(ticket).sla_policy.is_default  # type: ignore[union-attr]
    assert sla_reapplies(callbacks) == 1
    _tasks_sent(callbacks)
    assert _reloaded(ticket).sla_policy_id == gold.pk
    assert _reloaded(ticket).first_response_due_at == at(2, 10, 30)
    assert _reloaded(theirs).sla_policy.is_default  # type: ignore[union-attr]

    # Another field of the contact: no task.
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        sales_services.contact_update(
            actor=fresh(alpha.owner), contact=contact, changes={"first_name": "Лиза"}
        )
    assert sla_reapplies(callbacks) == 0


def test_a_companys_tier_change_rechooses_its_open_tickets(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    _tier_field(alpha, "company")
    with django_capture_on_commit_callbacks(execute=True):
        gold = _policy(alpha, "Gold", tiers="gold")
    company = CompanyFactory.create(custom={"tier": "gold"})
    contact = ContactFactory.create(company=company)
    ticket = _open(alpha, at(2, 10), contact_id=contact.pk)
    assert ticket.sla_policy_id == gold.pk
    with django_capture_on_commit_callbacks(execute=True):
        sales_services.company_update(
            actor=fresh(alpha.owner), company=company, changes={"custom_fields": {"tier": ""}}
        )
    ticket = _reloaded(ticket)
    assert ticket.sla_policy.is_default  # type: ignore[union-attr]
    assert ticket.first_response_due_at == at(3, 10)


def test_the_walk_goes_in_batches_and_counts_what_changed(alpha: Workspace) -> None:
    contact = ContactFactory.create(custom={"tier": "gold"})
    tickets = [_open(alpha, at(2, 10), contact_id=contact.pk) for _ in range(5)]
    # Saved without its task running (the test's transaction never commits).
    _policy(alpha, "Gold", tiers="gold")
    assert {_reloaded(t).sla_policy.name for t in tickets} == {"Standard"}  # type: ignore[union-attr]
    assert sla_policies_reapply(tenant=alpha.tenant, batch=2) == 5
    assert {_reloaded(t).sla_policy.name for t in tickets} == {"Gold"}  # type: ignore[union-attr]
    # Nothing left to change: a second run writes nothing.
    assert sla_policies_reapply(tenant=alpha.tenant, batch=2) == 0


def test_a_ticket_made_due_by_the_new_policy_is_told_and_escalated_by_that_policy(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    """A target the recompute puts in the past is breached by the next sweep, with the new
    policy's escalations — not the default policy's."""
    contact = ContactFactory.create(custom={"tier": "gold"})
    services.sla_escalation_add(actor=fresh(alpha.owner), target="any", action="raise_priority")
    agent = alpha.members[Role.SUPPORT_AGENT]
    ticket = _open(
        alpha, at(2, 10), contact_id=contact.pk, priority="low", assignee_id=agent.user_id
    )
    with django_capture_on_commit_callbacks(execute=True):
        gold = _policy(alpha, "Gold", tiers="gold")
    manager = alpha.members[Role.MANAGER]
    services.sla_escalation_add(
        actor=fresh(alpha.owner), target="first_response", action="notify",
        user_id=manager.user_id, policy_id=gold.pk,
    )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        assert sla_alerts_send(tenant=alpha.tenant, now=at(2, 12)) >= 1
    ticket = _reloaded(ticket)
    assert ticket.first_response_breached
    # Gold notifies the manager and does not raise the priority as the default policy would.
    assert ticket.priority == "low"
    [event] = AuditEvent.objects.filter(action="ticket.escalated")
    assert (event.data["action"], event.data["user"]) == ("notify", manager.user_id)


def test_each_policy_runs_its_own_escalations_including_on_next_response(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    support = _team(alpha, "Support")
    targets = dict.fromkeys(("low", "normal", "high", "urgent"), (30, 480, 60))
    with django_capture_on_commit_callbacks(execute=True):
        desk = _policy(alpha, "Desk", teams=[support.pk], targets=targets)
        # The default policy has a next-response target too, and no escalation.
        services.sla_targets_update(actor=fresh(alpha.owner), targets=targets)
    services.sla_escalation_add(
        actor=fresh(alpha.owner), target="next_response", action="raise_priority",
        policy_id=desk.pk,
    )  # fmt: skip
    on_desk = _open(alpha, at(2, 10), team_id=support.pk, priority="low")
    on_default = _open(alpha, at(2, 10), priority="low")
    assert on_desk.sla_policy_id == desk.pk
    for ticket in (on_desk, on_default):
        services.ticket_reply(actor=_agent(alpha), ticket=ticket, body="On it", now=at(2, 10, 5))
        ticket.refresh_from_db()
        ticket_customer_message(
            tenant=alpha.tenant, ticket=ticket, body="Still", now=at(2, 10, 6), wake=True,
            reopen=True,
        )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        sla_alerts_send(tenant=alpha.tenant, now=at(2, 11, 7))
    on_desk = _reloaded(on_desk)
    assert (on_desk.next_response_breached, on_desk.priority) == (True, "normal")
    on_default = _reloaded(on_default)
    assert (on_default.next_response_breached, on_default.priority) == (True, "low")
    [event] = AuditEvent.objects.filter(action="ticket.escalated")
    assert (event.target_id, event.data["target"]) == (str(on_desk.pk), "next_response")


def test_the_policy_page_adds_and_removes_its_escalations(alpha: Workspace) -> None:
    gold = _policy(alpha, "Gold", tiers="gold")
    client = workspace_client(alpha.members[Role.ADMIN].user, alpha.tenant)
    page = client.get(f"/service/sla/policies/{gold.pk}/").content.decode()
    assert 'data-testid="escalation-form"' in page
    assert f'name="policy" value="{gold.pk}"' in page
    added = client.post(
        "/service/sla/escalations/",
        {"policy": str(gold.pk), "target": "next_response", "action": "raise_priority"},
    )
    assert added.status_code == 302
    assert added["Location"] == f"/service/sla/policies/{gold.pk}/"
    escalation = SlaEscalation.objects.get()
    assert (escalation.policy_id, escalation.target) == (gold.pk, "next_response")
    assert "data-escalation" not in client.get("/service/sla/").content.decode()

    refused = client.post(
        "/service/sla/escalations/", {"policy": str(gold.pk), "target": "x", "action": "notify"}
    )
    assert refused.status_code == 400
    assert 'data-field="target"' in refused.content.decode()
    assert SlaEscalation.objects.count() == 1
    missing = client.post(
        "/service/sla/escalations/",
        {"policy": "999999", "target": "any", "action": "raise_priority"},
    )
    assert missing.status_code == 404
    assert SlaEscalation.objects.count() == 1

    removed = client.post(f"/service/sla/escalations/{escalation.pk}/delete/")
    assert removed["Location"] == f"/service/sla/policies/{gold.pk}/"
    assert not SlaEscalation.objects.exists()


def test_only_owner_and_admin_add_escalations_to_a_policy(alpha: Workspace) -> None:
    gold = _policy(alpha, "Gold", tiers="gold")
    for role in (Role.MANAGER, Role.SUPPORT_AGENT, Role.SALES_REP):
        client = workspace_client(alpha.members[role].user, alpha.tenant)
        response = client.post(
            "/service/sla/escalations/",
            {"policy": str(gold.pk), "target": "any", "action": "raise_priority"},
        )
        assert response.status_code in (403, 404)
    assert not SlaEscalation.objects.exists()


def test_a_team_change_keeps_a_met_first_response_and_a_solved_ticket_keeps_its_policy(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    """Inline, for the ticket's own fields: the same rule as the background re-choice."""
    vip = _team(alpha, "VIP")
    with django_capture_on_commit_callbacks(execute=True):
        desk = _policy(alpha, "VIP desk", teams=[vip.pk], targets=_targets(120, 600))
    agent, manager = _agent(alpha), fresh(alpha.members[Role.MANAGER])
    answered = _open(alpha, at(2, 10))
    services.ticket_reply(actor=agent, ticket=answered, body="On it", now=at(2, 11))
    services.ticket_assign(actor=manager, ticket=answered, team_id=vip.pk, now=at(2, 12))
    answered = _reloaded(answered)
    assert answered.sla_policy_id == desk.pk
    # Met against the standard policy's due time, which stays as recorded.
    assert answered.first_response_due_at == at(3, 10)
    assert answered.resolution_due_at == at(2, 20)

    solved = _open(alpha, at(2, 10))
    services.ticket_change_status(actor=agent, ticket=solved, status="solved", now=at(2, 11))
    standard = _reloaded(solved).sla_policy_id
    services.ticket_assign(actor=manager, ticket=solved, team_id=vip.pk, now=at(2, 12))
    assert _reloaded(solved).sla_policy_id == standard
