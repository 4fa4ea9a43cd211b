"""Scheduled reports: a member has a saved report they may open emailed every day, week or
month, at an hour of their own time zone, to themselves or to other members who may open it
too. Each recipient gets the rows their own access allows, as a formula-safe CSV attachment
plus a link, written in their language and time zone.

The sweep runs every minute but enters only the workspaces whose schedule alarm is due
(``tenants/alarms.py``); every write that moves a send time sets the alarm in its transaction.
"""

from __future__ import annotations

import datetime
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from crm_modules.reporting.definition import ReportError
from crm_modules.reporting.exports import report_csv
from crm_modules.reporting.models import Report, ReportSchedule
from crm_modules.reporting.module import (
    BUILD_REPORTS,
    SCHEDULE_CREATED,
    SCHEDULE_DELETED,
    SCHEDULE_PAUSED,
    VIEW_REPORTS,
)
from crm_modules.reporting.selectors import report_list
from crm_platform.errors import PermissionDenied, ServiceError
from tenants.alarms import alarm_at
from tenants.audit.services import audit_record
from tenants.hosts import workspace_url
from tenants.models import Membership, Tenant
from tenants.permissions import allows, require

# The workspace alarm (tenants/alarms.py) that brings the sweep to a workspace.
SCHEDULE_ALARM = "reporting.schedules"
MAX_RECIPIENTS = 50
SWEEP_BATCH = 100
# A send time missed by longer than this (say, after an outage) is skipped, not sent late.
STALE_AFTER = datetime.timedelta(hours=6)


@dataclass(frozen=True)
class When:
    frequency: str
    hour: int
    weekday: int
    day: int


def _number(value: Any, *, field: str, low: int, high: int, message: str) -> int:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise ServiceError(message, field=field) from None
    if not low <= number <= high:
        raise ServiceError(message, field=field)
    return number


def check_when(*, frequency: Any, hour: Any, weekday: Any = 0, day: Any = 1) -> When:
    if frequency not in ReportSchedule.Frequency.values:
        raise ServiceError(_("Choose daily, weekly or monthly."), field="frequency")
    return When(
        frequency=str(frequency),
        hour=_number(
            hour, field="hour", low=0, high=23, message=_("The hour must be from 0 to 23.")
        ),
        weekday=_number(
            weekday if frequency == "weekly" else 0,
            field="weekday",
            low=0,
            high=6,
            message=_("Choose a day of the week."),
        ),
        day=_number(
            day if frequency == "monthly" else 1,
            field="day",
            low=1,
            high=28,
            message=_("The day of the month must be from 1 to 28."),
        ),
    )


def next_run(*, when: When, zone: zoneinfo.ZoneInfo, after: datetime.datetime) -> datetime.datetime:
    """The first send time strictly after ``after``: ``when.hour`` o'clock in ``zone`` on the
    next matching day (every day; the weekday; the day of the month)."""
    start = after.astimezone(zone).date()
    for offset in range(64):
        date = start + datetime.timedelta(days=offset)
        if when.frequency == ReportSchedule.Frequency.WEEKLY and date.weekday() != when.weekday:
            continue
        if when.frequency == ReportSchedule.Frequency.MONTHLY and date.day != when.day:
            continue
        at = datetime.datetime.combine(date, datetime.time(when.hour), tzinfo=zone)
        if at > after:
            return at.astimezone(datetime.UTC)
    raise AssertionError("every month has days 1 to 28")  # pragma: no cover


def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def _when_of(schedule: ReportSchedule) -> When:
    return When(schedule.frequency, schedule.hour, schedule.weekday, schedule.day)


def may_receive(member: Membership, report: Report) -> bool:
    return (
        allows(member, VIEW_REPORTS, reading=True)
        and report_list(actor=member).filter(pk=report.pk).exists()
    )


def check_recipients(*, actor: Membership, report: Report, recipients: Iterable[Any]) -> list[int]:
    """Active members of the workspace who may open the report; none chosen: the actor."""
    try:
        ids = list(dict.fromkeys(int(str(value)) for value in recipients if str(value).strip()))
    except ValueError:
        raise ServiceError(_("Choose recipients from the list."), field="recipients") from None
    if not ids:
        return [actor.user_id]
    if len(ids) > MAX_RECIPIENTS:
        raise ServiceError(
            _("At most %(count)d recipients.") % {"count": MAX_RECIPIENTS}, field="recipients"
        )
    members = {
        m.user_id: m
        for m in Membership.objects.filter(
            tenant_id=actor.tenant_id, status=Membership.Status.ACTIVE, user_id__in=ids
        ).select_related("user", "tenant")
    }
    for user_id in ids:
        member = members.get(user_id)
        if member is None:
            raise ServiceError(_("Choose recipients from the list."), field="recipients")
        if not may_receive(member, report):
            raise ServiceError(
                _("%(member)s may not open this report.")
                % {"member": member.user.full_name or member.user.email},
                field="recipients",
            )
    return ids


def schedule_create(
    *,
    actor: Membership,
    report: Report,
    frequency: Any,
    hour: Any,
    weekday: Any = 0,
    day: Any = 1,
    recipients: Iterable[Any] = (),
    now: datetime.datetime | None = None,
) -> ReportSchedule:
    require(actor, BUILD_REPORTS)
    if not may_receive(actor, report):
        raise PermissionDenied(_("Your role does not allow this."))
    when = check_when(frequency=frequency, hour=hour, weekday=weekday, day=day)
    ids = check_recipients(actor=actor, report=report, recipients=recipients)
    zone_name = actor.user.time_zone or actor.tenant.time_zone or "UTC"
    zone = _zone(zone_name)
    with transaction.atomic():
        schedule = ReportSchedule.objects.create(
            report=report,
            owner=actor.user,
            frequency=when.frequency,
            hour=when.hour,
            weekday=when.weekday,
            day=when.day,
            time_zone=zone.key,
            recipient_ids=ids,
            next_run_at=next_run(when=when, zone=zone, after=now or timezone.now()),
        )
        alarm_at(kind=SCHEDULE_ALARM, at=schedule.next_run_at)
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=SCHEDULE_CREATED,
            target=report,
            data={"schedule": schedule.pk, "frequency": when.frequency, "recipients": ids},
        )
    return schedule


def _locked_own(actor: Membership, schedule: ReportSchedule) -> ReportSchedule:
    require(actor, BUILD_REPORTS)
    locked = ReportSchedule.objects.select_for_update().get(pk=schedule.pk)
    require(actor, BUILD_REPORTS)
    if locked.owner_id != actor.user_id:
        raise PermissionDenied(_("Your role does not allow this."))
    return locked


def schedule_pause(
    *,
    actor: Membership,
    schedule: ReportSchedule,
    paused: bool,
    now: datetime.datetime | None = None,
) -> ReportSchedule:
    with transaction.atomic():
        locked = _locked_own(actor, schedule)
        if locked.paused == paused:
            return locked
        locked.paused = paused
        fields = ["paused"]
        if not paused:
            # Sends missed while paused are not made up for.
            locked.next_run_at = next_run(
                when=_when_of(locked), zone=_zone(locked.time_zone), after=now or timezone.now()
            )
            fields.append("next_run_at")
            alarm_at(kind=SCHEDULE_ALARM, at=locked.next_run_at)
        locked.save(update_fields=fields)
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=SCHEDULE_PAUSED,
            target_repr=str(locked),
            data={"schedule": locked.pk, "report": locked.report_id, "paused": paused},
        )
    return locked


def schedule_delete(*, actor: Membership, schedule: ReportSchedule) -> None:
    with transaction.atomic():
        locked = _locked_own(actor, schedule)
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=SCHEDULE_DELETED,
            target_repr=str(locked),
            data={"schedule": locked.pk, "report": locked.report_id},
        )
        locked.delete()


def _send_one(*, tenant: Tenant, schedule: ReportSchedule, member: Membership) -> None:
    report = schedule.report
    user = member.user
    url = workspace_url(tenant.slug or "", reverse("reporting:report_detail", args=[report.pk]))
    with (
        translation.override(user.language or settings.LANGUAGE_CODE),
        timezone.override(user.time_zone or tenant.time_zone or "UTC"),
    ):
        today = timezone.localdate()
        try:
            text, row_count = report_csv(report=report, member=member)
            error = ""
        except ReportError as exc:
            text, row_count, error = "", 0, exc.message
        subject = _("%(report)s — %(date)s") % {
            "report": report.name,
            "date": formats.date_format(today, "SHORT_DATE_FORMAT"),
        }
        body = render_to_string(
            "email/scheduled_report.txt",
            {
                "report": report,
                "rows": row_count,
                "error": error,
                "url": url,
                "member": member,
                "workspace": tenant,
                "schedule": schedule,
                "sent_at": timezone.localtime(),
            },
        )
    message = EmailMessage(subject, body, None, [user.email])
    if not error:
        message.attach(f"report-{report.pk}-{today:%Y-%m-%d}.csv", text, "text/csv")
    message.send()  # queued for delivery after commit


def schedules_send(*, tenant: Tenant, now: datetime.datetime | None = None) -> int:
    """In the current workspace: send every schedule that is due, each to each recipient
    who may still open the report; returns the number of emails. Safe to run concurrently:
    schedules being sent by another run are skipped."""
    now = now or timezone.now()
    with transaction.atomic():
        due = list(
            ReportSchedule.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(paused=False, next_run_at__lte=now)
            .select_related("report")
            .order_by("next_run_at", "id")[:SWEEP_BATCH]
        )
        if not due:
            return 0
        members = {
            m.user_id: m
            for m in Membership.objects.filter(
                tenant=tenant,
                status=Membership.Status.ACTIVE,
                user_id__in={uid for schedule in due for uid in schedule.recipient_ids},
            ).select_related("user", "tenant")
        }
        sent = 0
        for schedule in due:
            if schedule.next_run_at > now - STALE_AFTER:
                for user_id in schedule.recipient_ids:
                    member = members.get(user_id)
                    # A recipient who left or lost access to the report gets nothing.
                    if member is None or not may_receive(member, schedule.report):
                        continue
                    _send_one(tenant=tenant, schedule=schedule, member=member)
                    sent += 1
                schedule.last_sent_at = now
            schedule.next_run_at = next_run(
                when=_when_of(schedule), zone=_zone(schedule.time_zone), after=now
            )
        ReportSchedule.objects.bulk_update(due, ["last_sent_at", "next_run_at"])
    return sent


def schedules_next_at() -> datetime.datetime | None:
    """When the sweep next has a schedule to send in the current workspace."""
    at: datetime.datetime | None = (
        ReportSchedule.objects.filter(paused=False)
        .order_by("next_run_at")
        .values_list("next_run_at", flat=True)
        .first()
    )
    return at
