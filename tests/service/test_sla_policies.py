"""SLA policies chosen by rules (ADR 0060): each with its own business hours and targets; the
first by position whose conditions (customer tier, team, channel, type) a ticket meets applies,
the default otherwise; chosen when the ticket is opened and again when a field the conditions
read changes, the clocks counting from the opening under the new targets."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from crm_modules.service import services, sla
from crm_modules.service.models import SlaPolicy, Ticket
from crm_modules.service.services.customer import ticket_open_for_contact
from crm_modules.service.services.routing import routing_rule_save
from crm_platform.errors import PermissionDenied, ServiceError
from tenants.audit.models import AuditEvent
from tenants.models import Team
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.sales.factories import CompanyFactory, ContactFactory
from tests.service.conftest import fresh

pytestmark = pytest.mark.usefixtures("in_alpha")

UTC = datetime.UTC
WEEKDAYS_ALL_DAY = [[d, 0, 1440] for d in range(7)]


def at(day: int, hour: int, minute: int = 0) -> datetime.datetime:
    """December 2026; the 2nd is a Wednesday."""
    return datetime.datetime(2026, 12, day, hour, minute, tzinfo=UTC)


def _targets(first: int, resolution: int) -> dict[str, tuple[object, ...]]:
    return dict.fromkeys(("low", "normal", "high", "urgent"), (first, resolution))


def _policy(alpha: Workspace, name: str, **kwargs: Any) -> SlaPolicy:
    values: dict[str, Any] = {
        "time_zone": "UTC",
        "openings": WEEKDAYS_ALL_DAY,
        "holidays": [],
        "targets": _targets(30, 240),
        **kwargs,
    }
    return services.sla_policy_save(actor=fresh(alpha.owner), name=name, **values)


def _team(alpha: Workspace, name: str) -> Team:
    return Team.objects.create(tenant=alpha.tenant, name=name)


def _agent(alpha: Workspace) -> Any:
    return fresh(alpha.members[Role.SUPPORT_AGENT])


def test_the_first_matching_policy_by_position_wins_and_the_default_otherwise(
    alpha: Workspace,
) -> None:
    gold_company = CompanyFactory.create(custom={"tier": "Gold"})
    gold_contact = ContactFactory.create(company=gold_company)
    plain = ContactFactory.create()
    support = _team(alpha, "Support")
    # Overlapping: "Gold" and "Email incidents" both match a gold customer's email incident.
    gold = _policy(alpha, "Gold", tiers="gold, platinum")
    email = _policy(alpha, "Email incidents", channels=["email"], types=["incident"])
    team = _policy(alpha, "Support team", teams=[str(support.pk)])
    assert [p.name for p in SlaPolicy.objects.filter(is_default=False).order_by("position")] == [
        "Gold",
        "Email incidents",
        "Support team",
    ]

    def chosen(**fields: Any) -> str:
        ticket = Ticket(subject="x", **fields)
        return sla.policy_for(ticket, time_zone="UTC").name

    # The tier of the company when the contact has none, casefolded.
    assert chosen(contact=gold_contact, company=gold_company, channel="email", type="incident") == (
        gold.name
    )
    assert chosen(contact=plain, channel="email", type="incident") == email.name
    # Every condition must hold: an email question is not an email incident.
    assert chosen(contact=plain, channel="email", type="question") == "Standard"
    assert chosen(contact=plain, team_id=support.pk) == team.name
    assert chosen(contact=plain) == "Standard"
    # The contact's own tier comes before its company's.
    silver = ContactFactory.create(company=gold_company, custom={"tier": "silver"})
    assert chosen(contact=silver, company=gold_company) == "Standard"

    # Moving "Email incidents" up makes it win the overlap.
    services.sla_policy_move(actor=fresh(alpha.owner), policy_id=email.pk, up=True)
    assert chosen(contact=gold_contact, company=gold_company, channel="email", type="incident") == (
        email.name
    )
    assert chosen(contact=gold_contact, company=gold_company) == gold.name


def test_a_new_ticket_gets_its_policy_with_its_own_hours_and_targets(alpha: Workspace) -> None:
    company = CompanyFactory.create(custom={"tier": "gold"})
    contact = ContactFactory.create(company=company)
    # Gold: around the clock, first response in 30 minutes.
    gold = _policy(alpha, "Gold", tiers="gold")
    ticket = services.ticket_create(
        actor=_agent(alpha), subject="Down", contact_id=contact.pk, now=at(5, 22)
    )
    assert ticket.sla_policy_id == gold.pk
    assert ticket.first_response_due_at == at(5, 22, 30)  # a Saturday night
    other = services.ticket_create(actor=_agent(alpha), subject="Slow", now=at(5, 22))
    assert other.sla_policy.is_default  # type: ignore[union-attr]
    # Standard: Mon-Fri 09:00-17:00, normal first response in 8 hours, from Monday 09:00.
    assert other.first_response_due_at == at(7, 17)


def test_a_team_change_reselects_the_policy_and_the_clock_counts_from_the_opening(
    alpha: Workspace,
) -> None:
    vip = _team(alpha, "VIP")
    vip_policy = _policy(alpha, "VIP desk", teams=[vip.pk], targets=_targets(120, 600))
    agent = _agent(alpha)
    ticket = services.ticket_create(actor=agent, subject="Help", now=at(2, 10))
    # Standard: 8 business hours of Mon-Fri 09:00-17:00, 7 on Wednesday and 1 on Thursday.
    assert ticket.first_response_due_at == at(3, 10)
    services.ticket_assign(
        actor=fresh(alpha.members[Role.MANAGER]), ticket=ticket, team_id=vip.pk, now=at(2, 11)
    )
    ticket.refresh_from_db()
    assert ticket.sla_policy_id == vip_policy.pk
    # From the opening at 10:00 under the new target: 120 minutes around the clock.
    assert ticket.first_response_due_at == at(2, 12)
    assert ticket.sla_alarm_at is not None

    # Sent back to no team: the default again, due times from the opening too.
    services.ticket_assign(
        actor=fresh(alpha.members[Role.MANAGER]), ticket=ticket, team_id=None, now=at(2, 11, 30)
    )
    ticket.refresh_from_db()
    assert ticket.sla_policy.is_default  # type: ignore[union-attr]
    assert ticket.first_response_due_at == at(3, 10)


def test_a_type_or_contact_change_reselects_the_policy(alpha: Workspace) -> None:
    incident = _policy(alpha, "Incidents", types=["incident"])
    gold = _policy(alpha, "Gold", tiers="gold")
    agent = _agent(alpha)
    ticket = services.ticket_create(actor=agent, subject="Help", now=at(2, 10))
    services.ticket_update(actor=agent, ticket=ticket, changes={"type": "incident"})
    ticket.refresh_from_db()
    assert ticket.sla_policy_id == incident.pk
    contact = ContactFactory.create(custom={"tier": "gold"})
    services.ticket_update(
        actor=agent, ticket=ticket, changes={"type": "question", "contact": contact.pk}
    )
    ticket.refresh_from_db()
    assert ticket.sla_policy_id == gold.pk


def test_a_team_given_by_routing_chooses_the_policy_of_a_customers_ticket(
    alpha: Workspace,
) -> None:
    billing = _team(alpha, "Billing")
    routing_rule_save(
        actor=fresh(alpha.owner), name="Invoices", team_id=billing.pk, keywords="invoice"
    )
    policy = _policy(alpha, "Billing desk", teams=[billing.pk])
    contact = ContactFactory.create()
    ticket, _message = ticket_open_for_contact(
        tenant=alpha.tenant,
        contact=contact,
        subject="Invoice twice",
        body="Счёт дважды",
        channel="email",
        now=at(2, 10),
    )
    ticket.refresh_from_db()
    assert ticket.team_id == billing.pk
    assert ticket.sla_policy_id == policy.pk
    assert ticket.first_response_due_at == at(2, 10, 30)


def test_deleting_a_policy_gives_its_tickets_the_policy_chosen_now(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    contact = ContactFactory.create(custom={"tier": "gold"})
    gold = _policy(alpha, "Gold", tiers="gold")
    ticket = services.ticket_create(
        actor=_agent(alpha), subject="Down", contact_id=contact.pk, now=at(2, 10)
    )
    assert ticket.first_response_due_at == at(2, 10, 30)
    # Its tickets move in the background, after commit (ADR 0061).
    with django_capture_on_commit_callbacks(execute=True):
        services.sla_policy_delete(actor=fresh(alpha.owner), policy_id=gold.pk)
    ticket.refresh_from_db()
    assert ticket.sla_policy.is_default  # type: ignore[union-attr]
    assert ticket.first_response_due_at == at(3, 10)
    assert not SlaPolicy.objects.filter(pk=gold.pk).exists()
    assert AuditEvent.objects.filter(action="sla.changed", data__policy="deleted").exists()
    # The default policy is not deleted here.
    default = SlaPolicy.objects.get(is_default=True)
    with pytest.raises(ServiceError) as error:
        services.sla_policy_delete(actor=fresh(alpha.owner), policy_id=default.pk)
    assert error.value.field == "policy"


def test_only_owner_and_admin_manage_policies(alpha: Workspace) -> None:
    for role in (Role.MANAGER, Role.SUPPORT_AGENT, Role.SALES_REP):
        with pytest.raises(PermissionDenied):
            services.sla_policy_save(
                actor=fresh(alpha.members[role]), name="Gold", time_zone="UTC",
                openings=WEEKDAYS_ALL_DAY, holidays=[], targets=_targets(30, 60),
            )  # fmt: skip
    assert not SlaPolicy.objects.filter(is_default=False).exists()
    policy = services.sla_policy_save(
        actor=fresh(alpha.members[Role.ADMIN]), name="Gold", time_zone="UTC",
        openings=WEEKDAYS_ALL_DAY, holidays=[], targets=_targets(30, 60),
    )  # fmt: skip
    with pytest.raises(PermissionDenied):
        services.sla_policy_delete(actor=fresh(alpha.members[Role.MANAGER]), policy_id=policy.pk)
    with pytest.raises(PermissionDenied):
        services.sla_policy_move(
            actor=fresh(alpha.members[Role.SUPPORT_AGENT]), policy_id=policy.pk, up=True
        )


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": "  "}, "name"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"openings": [[0, 600, 540]]}, "openings"),
        ({"channels": ["pigeon"]}, "channels"),
        ({"types": ["rumour"]}, "types"),
        ({"teams": ["999999"]}, "teams"),
        ({"targets": {**_targets(30, 60), "low": (90, 60)}}, "low_first_response"),
        ({"targets": {**_targets(30, 60), "low": (30, 60, 61)}}, "low_next_response"),
    ],
)
def test_bad_policies_name_the_field(alpha: Workspace, kwargs: dict[str, Any], field: str) -> None:
    values: dict[str, Any] = {
        "name": "Золото 金",
        "time_zone": "UTC",
        "openings": WEEKDAYS_ALL_DAY,
        "holidays": [],
        "targets": _targets(30, 60),
        **kwargs,
    }
    with pytest.raises(ServiceError) as error:
        services.sla_policy_save(actor=fresh(alpha.owner), **values)
    assert error.value.field == field
    assert not SlaPolicy.objects.filter(is_default=False).exists()


def test_a_team_of_another_workspace_is_refused(alpha: Workspace, bravo: Workspace) -> None:
    theirs = Team.objects.create(tenant=bravo.tenant, name="Theirs")
    with pytest.raises(ServiceError) as error:
        _policy(alpha, "Gold", teams=[theirs.pk])
    assert error.value.field == "teams"


def test_the_policy_pages_save_change_move_and_delete(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    support = _team(alpha, "Support")
    client = workspace_client(alpha.members[Role.ADMIN].user, alpha.tenant)
    assert 'data-testid="sla-policies-link"' in client.get("/service/sla/").content.decode()
    page = client.get("/service/sla/policies/")
    assert page.status_code == 200
    # A new policy starts from office hours, Monday to Friday.
    assert page.content.decode().count('value="09:00-17:00"') == 5
    form: dict[str, Any] = {
        "name": "Золото 金",
        "time_zone": "Europe/Rome",
        "day_0": "08:00-20:00",
        "holidays": "2026-12-25 Natale",
        "tiers": "gold",
        "teams": [str(support.pk)],
        "channels": ["email", "portal"],
        "types": ["incident"],
    }
    for priority in ("low", "normal", "high", "urgent"):
        form[f"{priority}_first_response"] = "30"
        form[f"{priority}_resolution"] = "240"
        form[f"{priority}_next_response"] = "60"
    assert client.post("/service/sla/policies/", form).status_code == 302
    policy = SlaPolicy.objects.get(is_default=False)
    assert (policy.name, policy.tiers, policy.team_ids, policy.channels, policy.types) == (
        "Золото 金", ["gold"], [support.pk], ["email", "portal"], ["incident"],
    )  # fmt: skip
    assert policy.hours.time_zone == "Europe/Rome"
    assert policy.hours.openings == [[0, 480, 1200]]
    assert [h.name for h in policy.hours.holidays.all()] == ["Natale"]
    assert set(policy.targets.values_list("next_response_minutes", flat=True)) == {60}

    edit = client.get(f"/service/sla/policies/{policy.pk}/").content.decode()
    assert 'value="Золото 金"' in edit
    bad = client.post(f"/service/sla/policies/{policy.pk}/", {**form, "low_resolution": "x"})
    assert bad.status_code == 400
    assert 'data-field="low_resolution"' in bad.content.decode()
    form["name"] = "Gold"
    assert client.post(f"/service/sla/policies/{policy.pk}/", form).status_code == 302
    policy.refresh_from_db()
    assert policy.name == "Gold"

    second = _policy(alpha, "Second")
    assert (
        client.post(f"/service/sla/policies/{second.pk}/move/", {"direction": "up"}).status_code
        == 302
    )
    assert list(
        SlaPolicy.objects.filter(is_default=False)
        .order_by("position")
        .values_list("name", flat=True)
    ) == ["Second", "Gold"]
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"/service/sla/policies/{policy.pk}/delete/").status_code == 302
    assert list(SlaPolicy.objects.filter(is_default=False).values_list("name", flat=True)) == [
        "Second"
    ]
    # The default policy has no page here.
    default = SlaPolicy.objects.get(is_default=True)
    assert client.get(f"/service/sla/policies/{default.pk}/").status_code == 404
