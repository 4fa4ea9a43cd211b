"""Mail that failed processing (ADR 0045): the admins' page with the reason, "process again"
(capability-checked, idempotent, refused once the original is purged), and the retention
of raw MIME by the beat task, which keeps the sender, the reason and the ticket."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from crm_modules.service.models import InboundMessage, Ticket, TicketMessage
from crm_modules.service.services.inbound_failed import inbound_raw_purge, inbound_retry
from crm_modules.service.tasks import purge_inbound_raw
from crm_platform.errors import PermissionDenied
from tenants.audit.models import AuditEvent
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.service.conftest import fresh
from tests.service.test_inbound import email

pytestmark = pytest.mark.usefixtures("in_alpha")

BROKEN = b"Subject: =?KOI8-R?B?8NLJ18XU?=\r\nMessage-ID: <broken@x>\r\n\r\nno sender"


def failed(raw: bytes, *, message_id: str = "<m1@example.it>", days_ago: int = 0) -> InboundMessage:
    """A message whose processing failed earlier (a transient error since cleared, when its
    raw MIME is sound)."""
    return InboundMessage.objects.create(
        message_id=message_id,
        source=InboundMessage.Source.SMTP,
        status=InboundMessage.Status.FAILED,
        reason="Временная ошибка <script>alert(1)</script>",
        raw=raw,
        size=len(raw),
        sender="maria@example.it",
        subject="Ordine in ritardo",
        received_at=timezone.now() - datetime.timedelta(days=days_ago),
        processed_at=timezone.now(),
    )


def retry_post(alpha: Workspace, role: str, inbound_id: int, capture: Any) -> Any:
    client = workspace_client(alpha.members[role].user, alpha.tenant)
    with capture(execute=True):
        response = client.post(f"/service/channels/failed/{inbound_id}/retry/", follow=True)
    connection.set_tenant(alpha.tenant)  # type: ignore[attr-defined]
    return response


def test_the_page_lists_failed_mail_with_the_reason_escaped(alpha: Workspace) -> None:
    item = failed(email())
    InboundMessage.objects.create(
        message_id="<ok@x>", source="smtp", status=InboundMessage.Status.TICKETED
    )

    response = workspace_client(alpha.owner.user, alpha.tenant).get("/service/channels/failed/")

    assert response.status_code == 200
    page = response.content.decode()
    assert [row.pk for row in response.context["failed"]] == [item.pk]
    assert "Временная ошибка &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert f'action="/service/channels/failed/{item.pk}/retry/"' in page


def test_process_again_tickets_the_message_once(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    item = failed(email())

    first = retry_post(alpha, Role.ADMIN, item.pk, django_capture_on_commit_callbacks)
    second = retry_post(alpha, Role.OWNER, item.pk, django_capture_on_commit_callbacks)

    assert first.redirect_chain == [("/service/channels/failed/", 302)]
    assert "The message is being processed again." in first.content.decode()
    assert "The message is no longer failed; nothing was changed." in second.content.decode()
    item.refresh_from_db()
    assert (item.status, item.reason) == (InboundMessage.Status.TICKETED, "")
    ticket = Ticket.objects.get()
    assert item.ticket_id == ticket.pk
    assert TicketMessage.objects.filter(ticket=ticket).count() == 1
    event = AuditEvent.objects.get(action="inbound.retried")
    assert (event.actor_id, event.target_id) == (alpha.members[Role.ADMIN].user_id, str(item.pk))
    assert event.data == {"reason": "Временная ошибка <script>alert(1)</script>"}


def test_a_message_that_still_cannot_be_read_fails_again_with_its_reason(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    item = failed(BROKEN, message_id="<broken@x>")

    retry_post(alpha, Role.OWNER, item.pk, django_capture_on_commit_callbacks)

    item.refresh_from_db()
    assert item.status == InboundMessage.Status.FAILED
    assert item.reason == "The message has no sender address (From)."
    assert bytes(item.raw) == BROKEN
    assert Ticket.objects.count() == 0


@pytest.mark.parametrize(
    "role", [Role.MANAGER, Role.SUPPORT_AGENT, Role.SALES_REP, Role.MARKETER, Role.READ_ONLY]
)
def test_only_owners_and_admins_process_mail_again(
    alpha: Workspace, role: str, django_capture_on_commit_callbacks: Any
) -> None:
    item = failed(email())
    client = workspace_client(alpha.members[role].user, alpha.tenant)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/service/channels/failed/{item.pk}/retry/")
    connection.set_tenant(alpha.tenant)  # type: ignore[attr-defined]

    assert response.status_code == 403
    with pytest.raises(PermissionDenied):
        inbound_retry(actor=fresh(alpha.members[role]), inbound_id=item.pk)
    item.refresh_from_db()
    assert item.status == InboundMessage.Status.FAILED
    assert Ticket.objects.count() == 0
    assert not AuditEvent.objects.filter(action="inbound.retried").exists()


def test_a_purged_message_cannot_be_processed_again(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    item = failed(email(), days_ago=40)
    assert inbound_raw_purge() == 1

    page = workspace_client(alpha.owner.user, alpha.tenant).get("/service/channels/failed/")
    response = retry_post(alpha, Role.OWNER, item.pk, django_capture_on_commit_callbacks)

    assert 'data-testid="raw-purged"' in page.content.decode()
    assert "/retry/" not in page.content.decode()
    assert "The original message was deleted after 30 days" in response.content.decode()
    item.refresh_from_db()
    assert item.status == InboundMessage.Status.FAILED
    assert Ticket.objects.count() == 0


def test_the_purge_keeps_recent_and_waiting_mail_and_the_ticket_data(
    alpha: Workspace, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.INBOUND_EMAIL_RAW_RETENTION_DAYS = 7
    old_failed = failed(BROKEN, message_id="<old@x>", days_ago=8)
    recent = failed(BROKEN, message_id="<recent@x>", days_ago=6)
    waiting = InboundMessage.objects.create(
        message_id="<waiting@x>",
        source="smtp",
        raw=b"x",
        received_at=timezone.now() - datetime.timedelta(days=8),
    )
    # Ticketed, yet its raw MIME was kept because an attachment was refused.
    ticketed = failed(email(), message_id="<m1@example.it>", days_ago=8)
    retry_post(alpha, Role.OWNER, ticketed.pk, django_capture_on_commit_callbacks)
    InboundMessage.objects.filter(pk=ticketed.pk).update(raw=email(), reason="a.exe: refused")

    assert inbound_raw_purge() == 2
    assert inbound_raw_purge() == 0

    kept = {m.pk: bytes(m.raw) for m in InboundMessage.objects.all()}
    assert kept[old_failed.pk] == b""
    assert kept[ticketed.pk] == b""
    assert kept[recent.pk] == BROKEN
    assert kept[waiting.pk] == b"x"
    old_failed.refresh_from_db()
    assert (old_failed.sender, old_failed.status) == ("maria@example.it", "failed")
    ticketed.refresh_from_db()
    ticket = Ticket.objects.get()
    assert (ticketed.status, ticketed.ticket_id, ticketed.reason) == (
        "ticketed",
        ticket.pk,
        "a.exe: refused",
    )
    assert TicketMessage.objects.get(ticket=ticket).body == "Il mio ordine non è arrivato."


def test_the_beat_task_purges_every_workspace_in_its_own_schema(
    alpha: Workspace, bravo: Workspace, settings: Any
) -> None:
    assert settings.CELERY_BEAT_SCHEDULE["purge-inbound-raw"]["task"] == (
        "crm_modules.service.tasks.purge_inbound_raw"
    )
    failed(BROKEN, message_id="<alpha@x>", days_ago=31)
    with schema_context(bravo.tenant.schema_name):
        failed(BROKEN, message_id="<bravo@x>", days_ago=31)
        failed(BROKEN, message_id="<bravo-new@x>", days_ago=1)

    assert purge_inbound_raw.delay().get() == 2

    assert bytes(InboundMessage.objects.get(message_id="<alpha@x>").raw) == b""
    with schema_context(bravo.tenant.schema_name):
        assert bytes(InboundMessage.objects.get(message_id="<bravo@x>").raw) == b""
        assert bytes(InboundMessage.objects.get(message_id="<bravo-new@x>").raw) == BROKEN


def test_a_foreign_workspaces_message_is_404_and_untouched(
    alpha: Workspace, bravo: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    with schema_context(bravo.tenant.schema_name):
        item = failed(email())

    response = workspace_client(alpha.owner.user, alpha.tenant).post(
        f"/service/channels/failed/{item.pk}/retry/"
    )

    assert response.status_code == 404
    with schema_context(bravo.tenant.schema_name):
        item.refresh_from_db()
        assert item.status == InboundMessage.Status.FAILED
