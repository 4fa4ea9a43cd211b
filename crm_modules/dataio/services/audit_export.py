"""The audit log of a date range as CSV (ADR 0078), for the plans with audit export: streamed
row by row from a server-side cursor, so a year of events never sits in memory, every cell
neutralised against spreadsheet formulas as the other exports are (``safe_cell``). The export
is itself audited, before the first row leaves."""

from __future__ import annotations

import csv
import datetime
import io
import json
from collections.abc import Iterator

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_modules.dataio.module import AUDIT_LOG_EXPORTED, EXPORT_AUDIT_LOG
from crm_platform.csv_export import safe_cell
from crm_platform.errors import ServiceError
from tenants.audit.models import AuditEvent
from tenants.audit.services import audit_record
from tenants.models import Membership
from tenants.permissions import require

# Longest range one file covers: a year and a day (a leap year, both ends included).
MAX_DAYS = 366
CHUNK = 2000
HEADER = (
    "created_at",
    "actor_email",
    "action",
    "target_type",
    "target_id",
    "target",
    "details",
    "ip_address",
)


def check_audit_range(
    date_from: datetime.date | None, date_to: datetime.date | None
) -> tuple[datetime.date, datetime.date]:
    if date_from is None:
        raise ServiceError(_("Give the first day to export."), field="date_from", code="required")
    if date_to is None:
        raise ServiceError(_("Give the last day to export."), field="date_to", code="required")
    if date_to < date_from:
        raise ServiceError(
            _("The last day is before the first day."), field="date_to", code="order"
        )
    if (date_to - date_from).days >= MAX_DAYS:
        raise ServiceError(
            _("Export at most %(days)s days at a time.") % {"days": MAX_DAYS},
            field="date_to",
            code="too_long",
        )
    return date_from, date_to


def _line(cells: tuple[object, ...]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow([safe_cell(cell) for cell in cells])
    return buffer.getvalue()


def audit_export_lines(
    *,
    actor: Membership,
    date_from: datetime.date | None,
    date_to: datetime.date | None,
    ip_address: str | None = None,
) -> Iterator[str]:
    """Check, audit, then return the CSV's lines (a BOM and the header first), oldest event
    first, days in the current time zone (the reader's, as on the audit page)."""
    require(actor, EXPORT_AUDIT_LOG)
    first, last = check_audit_range(date_from, date_to)
    zone = timezone.get_current_timezone()
    start = datetime.datetime.combine(first, datetime.time.min, tzinfo=zone)
    end = datetime.datetime.combine(last + datetime.timedelta(days=1), datetime.time.min, zone)
    with transaction.atomic():
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=AUDIT_LOG_EXPORTED,
            target_repr=f"{first.isoformat()} to {last.isoformat()}",
            data={"from": first.isoformat(), "to": last.isoformat()},
            ip_address=ip_address,
        )
    events = AuditEvent.objects.filter(created_at__gte=start, created_at__lt=end).order_by(
        "created_at", "id"
    )
    return _stream(events)


def _stream(events: QuerySet[AuditEvent]) -> Iterator[str]:
    yield "\ufeff" + _line(HEADER)
    for event in events.iterator(chunk_size=CHUNK):
        yield _line(
            (
                event.created_at.isoformat(),
                event.actor_email,
                event.action,
                event.target_type,
                event.target_id,
                event.target_repr,
                json.dumps(event.data, ensure_ascii=False, sort_keys=True) if event.data else "",
                event.ip_address or "",
            )
        )
