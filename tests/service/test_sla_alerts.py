"""SLA warnings and breaches (the Celery beat sweep): a warning a few business minutes before a
due time and a notice at the breach, each once, to the assignee (else the team, else the
managers), on their open pages and by email in their language and time zone; a breach is on
the shared timeline and in the audit log. The sweep enters only workspaces whose alarm is due."""

from __future__ import annotations

import datetime
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core import mail
from django.utils import timezone
from django_tenants.utils import schema_context

from crm_modules.activities.api import timeline
from crm_modules.activities.models import Activity
from crm_modules.service import services
from crm_modules.service.models import Ticket
from crm_modules.service.services.sla_alerts import SLA_ALARM, sla_alerts_send
from crm_modules.service.tasks import send_sla_alerts
from tenants.alarms import alarm_at
from tenants.audit.models import AuditEvent
from tenants.models import Membership, Team, User, WorkspaceAlarm
from tenants.notifications import user_group
from tenants.roles import Role
from tests.conftest import Workspace
from tests.sales.factories import ContactFactory
from tests.service.conftest import fresh

pytestmark = pytest.mark.usefixtures("in_alpha")

UTC = datetime.UTC


def at(day: int, hour: int, minute: int = 0) -> datetime.datetime:
    """December 2026; the 2nd is a Wednesday. Business hours: Mon-Fri 09:00-17:00 UTC."""
    return datetime.datetime(2026, 12, day, hour, minute, tzinfo=UTC)


def _urgent(alpha: Workspace, **kwargs: Any) -> Ticket:
    """Urgent: first response within 60 business minutes, resolution within 8 hours."""
    kwargs.setdefault("subject", "Server down")
    kwargs.setdefault("now", at(2, 10))
    agent = fresh(alpha.members[Role.SUPPORT_AGENT])
    return services.ticket_create(actor=agent, priority="urgent", **kwargs)


def alarm(workspace: Workspace) -> WorkspaceAlarm | None:
    return WorkspaceAlarm.objects.filter(
        kind=SLA_ALARM, schema_name=workspace.tenant.schema_name
    ).first()


@pytest.fixture
def socket_of(alpha: Workspace) -> Iterator[Any]:
    """A probe channel in a member's notification group."""
    layer = get_channel_layer()
    assert layer is not None
    joined: list[tuple[str, str]] = []

    def join(member: Membership) -> str:
        channel = f"probe-{secrets.token_hex(4)}"
        group = user_group(schema_name=alpha.tenant.schema_name, user_id=member.user_id)
        async_to_sync(layer.group_add)(group, channel)
        joined.append((group, channel))
        return channel

    yield join
    for group, channel in joined:
        async_to_sync(layer.group_discard)(group, channel)


def test_a_new_ticket_warns_30_business_minutes_before_each_due_time(alpha: Workspace) -> None:
    ticket = _urgent(alpha)
    assert ticket.first_response_due_at == at(2, 11)
    assert ticket.first_response_warn_at == at(2, 10, 30)
    # 8 business hours from Wednesday 10:00 is Thursday 10:00; the warning 30 minutes before.
    assert ticket.resolution_due_at == at(3, 10)
    assert ticket.resolution_warn_at == at(3, 9, 30)
    assert ticket.sla_alarm_at == at(2, 10, 30)
    assert alarm(alpha).due_at == at(2, 10, 30)  # type: ignore[union-attr]


def test_a_warning_inside_the_night_waits_for_business_hours(alpha: Workspace) -> None:
    # Opened at 16:45: the first response is due Thursday 09:45 and warned at 09:15, not at
    # night.
    ticket = _urgent(alpha, now=at(2, 16, 45))
    assert ticket.first_response_due_at == at(3, 9, 45)
    assert ticket.first_response_warn_at == at(3, 9, 15)


def test_the_assignee_is_warned_once_and_told_the_breach_once_in_their_language(
    alpha: Workspace, socket_of: Any, django_capture_on_commit_callbacks: Any
) -> None:
    agent = alpha.members[Role.SUPPORT_AGENT]
    User.objects.filter(pk=agent.user_id).update(language="it", time_zone="Europe/Rome")
    contact = ContactFactory.create()
    ticket = _urgent(alpha, contact_id=contact.pk, assignee_id=agent.user_id)
    channel = socket_of(agent)

    with django_capture_on_commit_callbacks(execute=True):
        assert sla_alerts_send(tenant=alpha.tenant, now=at(2, 10, 29)) == 0
    assert mail.outbox == []
    with django_capture_on_commit_callbacks(execute=True):
        assert sla_alerts_send(tenant=alpha.tenant, now=at(2, 10, 30)) == 1
    [warning] = mail.outbox
    assert warning.to == [agent.user.email]
    # 11:00 UTC is 12:00 in Rome.
    assert warning.subject == (
        f"Avviso SLA: Prima risposta del ticket #{ticket.pk} scade il 02/12/2026 12:00"
    )
    assert "Server down" in warning.body
    pushed = async_to_sync(get_channel_layer().receive)(channel)
    assert pushed["event"] == "notification"
    assert pushed["payload"]["text"] == warning.subject
    assert pushed["payload"]["url"].endswith(f"/service/{ticket.pk}/")
    ticket.refresh_from_db()
    assert ticket.first_response_warned is True
    assert ticket.first_response_breached is False
    assert ticket.sla_alarm_at == at(2, 11)

    # Once only.
    with django_capture_on_commit_callbacks(execute=True):
        assert sla_alerts_send(tenant=alpha.tenant, now=at(2, 10, 59)) == 0
    assert len(mail.outbox) == 1
    assert not Activity.objects.filter(kind="ticket_sla_breach").exists()

    with django_capture_on_commit_callbacks(execute=True):
        assert sla_alerts_send(tenant=alpha.tenant, now=at(2, 11)) == 1
    breach = mail.outbox[1]
    assert breach.to == [agent.user.email]
    assert breach.subject == (
        f"SLA violato: Prima risposta del ticket #{ticket.pk} era in scadenza il 02/12/2026 12:00"
    )
    ticket.refresh_from_db()
    assert ticket.first_response_breached is True
    # Next: the resolution warning, Thursday 09:30.
    assert ticket.sla_alarm_at == at(3, 9, 30)
    [entry] = Activity.objects.filter(kind="ticket_sla_breach")
    assert entry.occurred_at == at(2, 11)
    assert entry.data == {
        "ticket": ticket.pk,
        "target": "first_response",
        "due_at": at(2, 11).isoformat(),
    }
    assert entry.pk in {e.pk for e in timeline(contact)}
    [audit] = AuditEvent.objects.filter(action="ticket.sla_breached")
    assert audit.actor_id is None
    assert audit.data["target"] == "first_response"

    with django_capture_on_commit_callbacks(execute=True):
        assert sla_alerts_send(tenant=alpha.tenant, now=at(2, 12)) == 0
    assert len(mail.outbox) == 2
    assert Activity.objects.filter(kind="ticket_sla_breach").count() == 1
    assert AuditEvent.objects.filter(action="ticket.sla_breached").count() == 1


def test_a_sweep_that_comes_late_tells_the_breach_without_the_warning(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    agent = alpha.members[Role.SUPPORT_AGENT]
    _urgent(alpha, assignee_id=agent.user_id)
    with django_capture_on_commit_callbacks(execute=True):
        assert sla_alerts_send(tenant=alpha.tenant, now=at(2, 11, 5)) == 1
    [breach] = mail.outbox
    assert breach.subject.startswith("SLA breached: First response of ticket #")


def test_an_unassigned_ticket_of_a_team_tells_the_team_members_who_work_tickets(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    team = Team.objects.create(tenant=alpha.tenant, name="Support")
    agent = alpha.members[Role.SUPPORT_AGENT]
    rep = alpha.members[Role.SALES_REP]
    Membership.objects.filter(pk__in=[agent.pk, rep.pk]).update(team=team)
    manager = fresh(alpha.members[Role.MANAGER])
    ticket = _urgent(alpha)
    services.ticket_assign(actor=manager, ticket=ticket, team_id=team.pk, now=at(2, 10, 1))
    with django_capture_on_commit_callbacks(execute=True):
        assert sla_alerts_send(tenant=alpha.tenant, now=at(2, 10, 30)) == 1
    assert [m.to for m in mail.outbox] == [[agent.user.email]]


def test_an_unassigned_ticket_without_a_team_tells_the_managers(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    _urgent(alpha)
    with django_capture_on_commit_callbacks(execute=True):
        assert sla_alerts_send(tenant=alpha.tenant, now=at(2, 10, 30)) == 1
    managers = {alpha.members[r].user.email for r in (Role.OWNER, Role.ADMIN, Role.MANAGER)}
    assert sorted(m.to[0] for m in mail.outbox) == sorted(managers)


def test_an_assignee_who_left_is_not_written_to_and_the_managers_are(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    agent = alpha.members[Role.SUPPORT_AGENT]
    _urgent(alpha, assignee_id=agent.user_id)
    Membership.objects.filter(pk=agent.pk).update(status=Membership.Status.DEACTIVATED)
    with django_capture_on_commit_callbacks(execute=True):
        assert sla_alerts_send(tenant=alpha.tenant, now=at(2, 10, 30)) == 1
    assert agent.user.email not in {m.to[0] for m in mail.outbox}
    assert len(mail.outbox) == 3


def test_a_reply_in_time_fulfils_the_first_response_and_nothing_is_told_for_it(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    agent = fresh(alpha.members[Role.SUPPORT_AGENT])
    ticket = _urgent(alpha, assignee_id=agent.user_id)
    services.ticket_reply(actor=agent, ticket=ticket, body="On it", now=at(2, 10, 20))
    ticket.refresh_from_db()
    assert ticket.sla_alarm_at == at(3, 9, 30)
    with django_capture_on_commit_callbacks(execute=True):
        assert sla_alerts_send(tenant=alpha.tenant, now=at(2, 11, 30)) == 0
    assert mail.outbox == []
    ticket.refresh_from_db()
    assert ticket.first_response_breached is False


def test_a_paused_or_solved_ticket_is_not_told_and_a_resumed_one_is_warned_again(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    agent = fresh(alpha.members[Role.SUPPORT_AGENT])
    ticket = _urgent(alpha, assignee_id=agent.user_id)
    with django_capture_on_commit_callbacks(execute=True):
        assert sla_alerts_send(tenant=alpha.tenant, now=at(2, 10, 30)) == 1
    services.ticket_change_status(actor=agent, ticket=ticket, status="pending", now=at(2, 10, 40))
    ticket.refresh_from_db()
    assert ticket.sla_alarm_at is None
    with django_capture_on_commit_callbacks(execute=True):
        assert sla_alerts_send(tenant=alpha.tenant, now=at(2, 12)) == 0
    # Back after two business hours: the due time moved, so it is warned of again.
    services.ticket_change_status(actor=agent, ticket=ticket, status="open", now=at(2, 12, 40))
    ticket.refresh_from_db()
    assert ticket.first_response_due_at == at(2, 13)
    assert ticket.first_response_warned is False
    assert ticket.sla_alarm_at == at(2, 12, 30)
    with django_capture_on_commit_callbacks(execute=True):
        assert sla_alerts_send(tenant=alpha.tenant, now=at(2, 12, 41)) == 1
    assert len(mail.outbox) == 2
    services.ticket_change_status(actor=agent, ticket=ticket, status="solved", now=at(2, 12, 50))
    ticket.refresh_from_db()
    assert ticket.sla_alarm_at is None
    with django_capture_on_commit_callbacks(execute=True):
        assert sla_alerts_send(tenant=alpha.tenant, now=at(9, 12)) == 0
    assert len(mail.outbox) == 2
    assert not Activity.objects.filter(kind="ticket_sla_breach").exists()


def test_a_new_priority_moves_the_warning(alpha: Workspace) -> None:
    agent = fresh(alpha.members[Role.SUPPORT_AGENT])
    ticket = _urgent(alpha)
    services.ticket_update(
        actor=agent, ticket=ticket, changes={"priority": "high"}, now=at(2, 10, 5)
    )
    ticket.refresh_from_db()
    # High: four business hours to the first response.
    assert ticket.first_response_due_at == at(2, 14)
    assert ticket.sla_alarm_at == at(2, 13, 30)


def test_the_sweep_enters_only_workspaces_whose_alarm_is_due_and_moves_it(
    alpha: Workspace, bravo: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    now = timezone.now()
    agent = fresh(alpha.members[Role.SUPPORT_AGENT])
    ticket = services.ticket_create(
        actor=agent, subject="Past due", priority="urgent", now=now - datetime.timedelta(days=8)
    )
    with schema_context(bravo.tenant.schema_name):
        # Written past the services (as an old row would be): no alarm, so no visit.
        Ticket.objects.create(subject="Bravo's", sla_alarm_at=now - datetime.timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert send_sla_alerts() == 2  # both targets of alpha's ticket are past due
    ticket.refresh_from_db()
    assert ticket.first_response_breached is True
    assert ticket.resolution_breached is True
    assert ticket.sla_alarm_at is None
    assert alarm(alpha) is None
    with schema_context(bravo.tenant.schema_name):
        assert Ticket.objects.get().sla_alarm_at is not None
    assert {m.to[0] for m in mail.outbox} <= {m.user.email for m in alpha.members.values()}
    # Once bravo's alarm is set, the next sweep goes there too (nothing to tell on a ticket
    # without targets), and its alarm is reset.
    alarm_at(kind=SLA_ALARM, at=now, schema_name=bravo.tenant.schema_name)
    with pytest.MonkeyPatch.context() as patch:
        visited: list[str] = []
        real = sla_alerts_send

        def spy(*, tenant: Any, now: Any) -> int:
            visited.append(tenant.schema_name)
            return real(tenant=tenant, now=now)

        patch.setattr("crm_modules.service.tasks.sla_alerts_send", spy)
        assert send_sla_alerts() == 0
    assert visited == [bravo.tenant.schema_name]
    with schema_context(bravo.tenant.schema_name):
        assert Ticket.objects.get().sla_alarm_at is None
