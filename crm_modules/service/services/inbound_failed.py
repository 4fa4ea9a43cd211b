"""Mail that failed processing (ADR 0045): processed again on an admin's request, and the raw
MIME kept for the admins purged after ``INBOUND_EMAIL_RAW_RETENTION_DAYS``.

Processing again only puts a failed message back to "received" and queues it, under a lock:
a second request for the same message (a double click, two admins) finds it no longer failed
and changes nothing. Purging empties ``raw`` alone: the sender, subject, reason and — for a
ticketed message — the ticket, its messages and its documents stay.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from django.db.models.functions import Length
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_modules.service.models import InboundMessage
from crm_modules.service.module import INBOUND_RETRIED, RETRY_INBOUND
from crm_platform.errors import PermissionDenied, ServiceError
from tenants.audit.services import audit_record
from tenants.models import Membership
from tenants.permissions import allows


def inbound_failed_list(*, limit: int) -> QuerySet[InboundMessage]:
    """The latest failed mail, newest first, with ``raw_size`` (0 once the raw MIME is
    purged), without loading the raw bytes."""
    return (
        InboundMessage.objects.filter(status=InboundMessage.Status.FAILED)
        .annotate(raw_size=Length("raw"))
        .defer("raw", "body_html")
        .order_by("-received_at", "-id")[:limit]
    )


def inbound_failed_get(*, inbound_id: int) -> InboundMessage | None:
    return (
        InboundMessage.objects.filter(pk=inbound_id, status=InboundMessage.Status.FAILED)
        .annotate(raw_size=Length("raw"))
        .defer("raw", "body_html")
        .first()
    )


def inbound_retry(*, actor: Membership, inbound_id: int) -> bool:
    """Queue a failed message for processing again. True when queued; False when it is no
    longer failed (already queued or processed: nothing changes)."""
    from crm_modules.service.services.inbound import _process_later

    if not allows(actor, RETRY_INBOUND):
        raise PermissionDenied(_("You may not process mail again."))
    with transaction.atomic():
        inbound = (
            InboundMessage.objects.select_for_update()
            .annotate(raw_size=Length("raw"))
            .defer("raw", "body_html")
            .filter(pk=inbound_id)
            .first()
        )
        if inbound is None or inbound.status != InboundMessage.Status.FAILED:
            return False
        if not inbound.raw_size:
            raise ServiceError(
                _(
                    "The original message was deleted after %(days)s days; "
                    "it cannot be processed again."
                )
                % {"days": settings.INBOUND_EMAIL_RAW_RETENTION_DAYS},
                field="message",
                code="purged",
            )
        previous = inbound.reason
        inbound.status = InboundMessage.Status.RECEIVED
        inbound.reason = ""
        inbound.processed_at = None
        inbound.save(update_fields=["status", "reason", "processed_at"])
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=INBOUND_RETRIED,
            target=inbound,
            target_repr=inbound.message_id[:200],
            data={"reason": previous[:500]},
        )
        schema = connection.schema_name  # type: ignore[attr-defined]
        transaction.on_commit(lambda: _process_later(schema, inbound.pk))
    return True


def inbound_raw_purge(*, now: datetime.datetime | None = None) -> int:
    """Empty the raw MIME of messages received more than the retention period ago; returns
    how many were purged. Runs in the workspace's schema."""
    cutoff = (now or timezone.now()) - datetime.timedelta(
        days=int(settings.INBOUND_EMAIL_RAW_RETENTION_DAYS)
    )
    return (
        InboundMessage.objects.filter(received_at__lt=cutoff)
        .exclude(status=InboundMessage.Status.RECEIVED)
        .annotate(raw_size=Length("raw"))
        .filter(raw_size__gt=0)
        .update(raw=b"")
    )
