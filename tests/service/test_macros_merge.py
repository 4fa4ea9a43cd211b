"""Macros with placeholders and fallbacks (a broken placeholder refused at save time), applied
whole or inserted into the reply box; merging tickets (messages and timeline move, the merged
one closed with a pointer, a reply to it lands on the survivor) and splitting a message off;
bulk changes of priority, team and tags."""

from __future__ import annotations

import datetime

import pytest

from crm_modules.activities.api import timeline
from crm_modules.service import services
from crm_modules.service.models import Macro, Ticket, TicketMessage
from crm_modules.service.services import macros, merge
from crm_platform.errors import PermissionDenied, ServiceError
from tenants.audit.models import AuditEvent
from tenants.models import Membership, Team
from tenants.roles import Role
from tests.conftest import Workspace
from tests.sales.factories import CompanyFactory, ContactFactory
from tests.service.conftest import fresh

pytestmark = pytest.mark.usefixtures("in_alpha")

WEDNESDAY_10 = datetime.datetime(2026, 12, 2, 10, 0, tzinfo=datetime.UTC)


def _agent(alpha: Workspace) -> Membership:
    return fresh(alpha.members[Role.SUPPORT_AGENT])


def _open(alpha: Workspace, **kwargs: object) -> Ticket:
    kwargs.setdefault("subject", "Printer on fire")
    kwargs.setdefault("now", WEDNESDAY_10)
    return services.ticket_create(actor=_agent(alpha), **kwargs)  # type: ignore[arg-type]


def _inbound(ticket: Ticket, body: str) -> TicketMessage:
    return TicketMessage.objects.create(ticket=ticket, kind="reply", direction="inbound", body=body)


# --- macros ----------------------------------------------------------------------------------


def test_a_macro_fills_placeholders_with_fallbacks_and_applies_its_changes(
    alpha: Workspace,
) -> None:
    manager = fresh(alpha.members[Role.MANAGER])
    team = Team.objects.create(tenant=alpha.tenant, name="Escalations")
    macro = macros.macro_save(
        actor=manager,
        name="Need details",
        body=(
            "Здравствуйте, {{ contact.first_name | there }}! About #{{ ticket.number }} "
            "({{ company.name|your company }}) — {{agent.first_name}}"
        ),
        status="pending",
        priority="high",
        team_id=team.pk,
        add_tags="waiting, 等待",
    )
    company = CompanyFactory.create(name="Acme")
    named = _open(alpha, contact_id=ContactFactory.create(first_name="Мария", company=company).pk)
    unnamed = _open(alpha, contact_id=ContactFactory.create(first_name="").pk)
    # Giving the ticket to a team needs the right to assign: a manager applies it.
    agent = fresh(alpha.members[Role.MANAGER])
    agent.user.full_name = "Somchai Jaidee"

    reply = macros.macro_apply(actor=agent, ticket=named, macro=macro, seen_message_id=0)
    assert reply is not None
    assert reply.body == f"Здравствуйте, Мария! About #{named.pk} (Acme) — Somchai"
    named.refresh_from_db()
    assert (named.status, named.priority, named.team_id, named.tags) == (
        "pending",
        "high",
        team.pk,
        ["waiting", "等待"],
    )
    text = macros.render(macro.body, ticket=unnamed, agent=agent)
    assert text == f"Здравствуйте, there! About #{unnamed.pk} (your company) — Somchai"


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ("Hi {{ contact.nickname }}", "{{ contact.nickname }}"),
        ("Hi {{ customer.first_name | x }}", "{{ customer.first_name | x }}"),
        ("Hi {{ contact.first_name", ""),
        ("Hi contact.first_name }}", ""),
    ],
)
def test_a_broken_placeholder_is_refused_at_save_naming_it(
    alpha: Workspace, body: str, named: str
) -> None:
    with pytest.raises(ServiceError) as error:
        macros.macro_save(actor=fresh(alpha.members[Role.MANAGER]), name="Bad", body=body)
    assert (error.value.field, error.value.code) == ("body", "placeholder")
    assert named in error.value.message
    assert not Macro.objects.exists()


def test_applying_a_macro_is_all_or_nothing_and_keeps_the_reply_guard(alpha: Workspace) -> None:
    macro = macros.macro_save(
        actor=fresh(alpha.members[Role.MANAGER]), name="Solve", body="Done.", priority="urgent",
        status="solved",
    )  # fmt: skip
    ticket = _open(alpha)
    _inbound(ticket, "One more thing!")

    with pytest.raises(services.NewerMessages):
        macros.macro_apply(actor=_agent(alpha), ticket=ticket, macro=macro, seen_message_id=0)

    ticket.refresh_from_db()
    assert (ticket.priority, ticket.status) == ("normal", "new")
    assert not TicketMessage.objects.filter(direction="outbound").exists()


@pytest.mark.parametrize("role", [Role.SUPPORT_AGENT, Role.SALES_REP, Role.READ_ONLY])
def test_only_managers_write_macros_and_readers_cannot_apply_them(
    alpha: Workspace, role: str
) -> None:
    with pytest.raises(PermissionDenied):
        macros.macro_save(actor=fresh(alpha.members[role]), name="x", body="Hello")
    assert not Macro.objects.exists()
    macro = Macro.objects.create(name="Hi", body="Hello")
    ticket = _open(alpha)
    if role == Role.SUPPORT_AGENT:
        assert macros.macro_apply(actor=fresh(alpha.members[role]), ticket=ticket, macro=macro)
    else:
        with pytest.raises(PermissionDenied):
            macros.macro_apply(actor=fresh(alpha.members[role]), ticket=ticket, macro=macro)
        assert not TicketMessage.objects.exists()


# --- merge and split ---------------------------------------------------------------------------


def test_merging_moves_messages_and_timeline_and_closes_the_merged_ticket(
    alpha: Workspace,
) -> None:
    contact = ContactFactory.create()
    survivor = _open(alpha, contact_id=contact.pk, subject="Login fails", tags="login")
    merged = _open(
        alpha, contact_id=contact.pk, subject="Still cannot log in", description="Since today",
        tags="urgent",
    )  # fmt: skip
    first = _inbound(merged, "Any news?")
    services.ticket_reply(actor=_agent(alpha), ticket=merged, body="Looking into it")

    result = merge.ticket_merge(actor=_agent(alpha), ticket=merged, into_id=f"{survivor.pk}")

    assert result.pk == survivor.pk
    merged.refresh_from_db()
    survivor.refresh_from_db()
    assert (merged.status, merged.merged_into_id, merged.closed_at is not None) == (
        "closed",
        survivor.pk,
        True,
    )
    assert survivor.tags == ["login", "urgent"]
    bodies = list(
        TicketMessage.objects.filter(ticket=survivor).order_by("id").values_list("body", flat=True)
    )
    assert bodies == [
        "Any news?",
        "Looking into it",
        f"Merged from #{merged.pk} Still cannot log in:\n\nSince today",
    ]
    assert not TicketMessage.objects.filter(ticket=merged).exists()
    # The merged ticket's history is on the survivor's timeline now, with the merge itself.
    kinds = sorted(entry.kind for entry in timeline(survivor))
    assert kinds == ["ticket", "ticket", "ticket_merged", "ticket_reply"]
    assert timeline(merged) == []
    assert set(
        AuditEvent.objects.filter(action="ticket.merged").values_list("target_id", flat=True)
    ) == {str(merged.pk), str(survivor.pk)}

    # A reply to the merged ticket lands on the survivor.
    reply = services.ticket_reply(
        actor=_agent(alpha), ticket=merged, body="Answer", seen_message_id=first.pk
    )
    assert reply.ticket_id == survivor.pk


@pytest.mark.parametrize(
    ("into", "field"), [("", "into"), ("abc", "into"), ("999999", "into"), ("self", "into")]
)
def test_bad_merges_change_nothing(alpha: Workspace, into: str, field: str) -> None:
    ticket = _open(alpha)
    _inbound(ticket, "Hi")
    with pytest.raises(ServiceError) as error:
        merge.ticket_merge(
            actor=_agent(alpha), ticket=ticket, into_id=ticket.pk if into == "self" else into
        )
    assert error.value.field == field
    ticket.refresh_from_db()
    assert (ticket.status, ticket.merged_into_id, ticket.messages.count()) == ("new", None, 1)


def test_a_closed_ticket_takes_no_merge(alpha: Workspace) -> None:
    closed = _open(alpha)
    services.ticket_change_status(actor=_agent(alpha), ticket=closed, status="closed")
    ticket = _open(alpha)
    with pytest.raises(ServiceError):
        merge.ticket_merge(actor=_agent(alpha), ticket=ticket, into_id=closed.pk)
    ticket.refresh_from_db()
    assert ticket.merged_into_id is None


def test_splitting_a_message_makes_a_new_ticket_for_the_same_customer(alpha: Workspace) -> None:
    contact = ContactFactory.create()
    ticket = _open(alpha, contact_id=contact.pk, priority="high")
    _inbound(ticket, "Printer question")
    second = _inbound(ticket, "Also: how do I change my invoice address?\nThanks")

    new = merge.ticket_split(actor=_agent(alpha), ticket=ticket, message_id=second.pk)

    assert (new.subject, new.contact_id, new.priority) == (
        "Also: how do I change my invoice address?",
        contact.pk,
        "high",
    )
    second.refresh_from_db()
    assert second.ticket_id == new.pk
    assert list(ticket.messages.values_list("body", flat=True)) == ["Printer question"]
    assert "ticket_split" in [e.kind for e in timeline(ticket)]
    note = TicketMessage.objects.create(ticket=ticket, kind="note", direction="internal", body="x")
    with pytest.raises(ServiceError) as error:
        merge.ticket_split(actor=_agent(alpha), ticket=ticket, message_id=note.pk)
    assert error.value.field == "message"
    assert Ticket.objects.count() == 2


# --- bulk ------------------------------------------------------------------------------------


def test_bulk_sets_priority_team_and_tags_on_all_or_none(alpha: Workspace) -> None:
    manager = fresh(alpha.members[Role.MANAGER])
    team = Team.objects.create(tenant=alpha.tenant, name="Tier 2")
    one, two = _open(alpha, tags="a, b"), _open(alpha, tags="b")

    assert services.tickets_bulk(
        actor=manager, ticket_ids=[one.pk, two.pk], priority="urgent", team_id=team.pk,
        add_tags="c", remove_tags="b",
    ) == 2  # fmt: skip

    rows = list(Ticket.objects.order_by("pk").values_list("priority", "team_id", "tags"))
    assert rows == [("urgent", team.pk, ["a", "c"]), ("urgent", team.pk, ["c"])]
    with pytest.raises(ServiceError) as error:
        services.tickets_bulk(actor=manager, ticket_ids=[one.pk, 999_999], priority="low")
    assert error.value.field == "tickets"
    assert list(Ticket.objects.values_list("priority", flat=True).distinct()) == ["urgent"]
    with pytest.raises(PermissionDenied):
        services.tickets_bulk(actor=_agent(alpha), ticket_ids=[one.pk], team_id=None)
