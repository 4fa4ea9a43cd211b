"""The workspace's business hours, holidays and SLA targets (Owner and Admin).

Changed hours and targets apply to the open tickets of the default policy in the background, as
an edit of any policy does (ADR 0061): their targets not yet met are recomputed from their
opening; a target met or breached stays as recorded.
"""

from __future__ import annotations

import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_modules.service import clock, sla
from crm_modules.service.models import (
    BusinessHours,
    Holiday,
    Priority,
    SlaEscalation,
    SlaPolicy,
    SlaTarget,
)
from crm_modules.service.module import MANAGE_SLA, SLA_CHANGED, WORK_TICKETS
from crm_platform.errors import ServiceError
from crm_platform.validation import check_time_zone
from tenants.audit.services import audit_record
from tenants.models import Membership
from tenants.permissions import require

# A year of business minutes bounds a target.
MAX_TARGET_MINUTES = 365 * 24 * 60
MAX_HOLIDAYS = 366


def check_openings(raw: Any) -> list[list[int]]:
    if not isinstance(raw, list | tuple):
        raise ServiceError(_("Give the opening hours of each day."), field="openings")
    week: dict[int, list[tuple[int, int]]] = {}
    for item in raw:
        if (
            not isinstance(item, list | tuple)
            or len(item) != 3
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in item)
        ):
            raise ServiceError(_("Give the opening hours of each day."), field="openings")
        day, start, end = item
        week.setdefault(day, []).append((start, end))
    try:
        cleaned = clock.check_hours(week)
    except ValueError as exc:
        messages = {
            "openings overlap": _("Two openings of the same day overlap."),
            "the schedule is never open": _("Open the business at least once a week."),
        }
        raise ServiceError(
            messages.get(str(exc), _("An opening must start before it ends, within one day.")),
            field="openings",
        ) from exc
    return [[day, start, end] for day, spans in sorted(cleaned.items()) for start, end in spans]


def check_holidays(raw: Any) -> list[tuple[datetime.date, str]]:
    if not isinstance(raw, list | tuple):
        raise ServiceError(_("Give each holiday as a date and a name."), field="holidays")
    found: dict[datetime.date, str] = {}
    for item in raw:
        if not isinstance(item, list | tuple) or len(item) != 2:
            raise ServiceError(_("Give each holiday as a date and a name."), field="holidays")
        day, name = item
        if isinstance(day, str):
            try:
                day = datetime.date.fromisoformat(day)
            except ValueError as exc:
                raise ServiceError(
                    _("Write each holiday's date as YYYY-MM-DD."), field="holidays"
                ) from exc
        if not isinstance(day, datetime.date) or not isinstance(name, str) or len(name) > 100:
            raise ServiceError(_("Give each holiday as a date and a name."), field="holidays")
        found[day] = " ".join(name.split())
    if len(found) > MAX_HOLIDAYS:
        raise ServiceError(_("At most %(max)d holidays.") % {"max": MAX_HOLIDAYS}, field="holidays")
    return sorted(found.items())


def _check_reachable(schedule: clock.Schedule, minutes: int, *, field: str) -> None:
    """A target the schedule cannot reach within three years is refused (one hour a week and a
    target of a year of business time, say)."""
    try:
        clock.add_business_seconds(timezone.now(), minutes * 60, schedule)
    except ValueError as exc:
        raise ServiceError(
            _("These business hours are too few to ever reach this target."), field=field
        ) from exc


def business_hours_update(
    *, actor: Membership, time_zone: str, openings: Any, holidays: Any
) -> BusinessHours:
    require(actor, MANAGE_SLA)
    time_zone = check_time_zone(time_zone)
    cleaned = check_openings(openings)
    days = check_holidays(holidays)
    with transaction.atomic():
        policy = sla.policy_default(time_zone=actor.tenant.time_zone)
        hours = BusinessHours.objects.select_for_update().get(pk=policy.hours_id)
        require(actor, MANAGE_SLA)
        schedule = clock.Schedule(
            zone=ZoneInfo(time_zone),
            week=clock.check_hours(
                {d: [(a, b) for day, a, b in cleaned if day == d] for d in {r[0] for r in cleaned}}
            ),
            holidays=frozenset(d for d, _name in days),
        )
        longest = max((t.resolution_minutes for t in policy.targets.all()), default=0)
        _check_reachable(schedule, longest, field="openings")
        before = {
            "time_zone": hours.time_zone,
            "openings": hours.openings,
            "holidays": [d.isoformat() for d in hours.holidays.values_list("date", flat=True)],
        }
        hours.time_zone = time_zone
        hours.openings = cleaned
        hours.save(update_fields=["time_zone", "openings"])
        hours.holidays.all().delete()
        Holiday.objects.bulk_create(Holiday(hours=hours, date=d, name=n) for d, n in days)
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=SLA_CHANGED,
            target=hours,
            data={
                "before": before,
                "after": {
                    "time_zone": time_zone,
                    "openings": cleaned,
                    "holidays": [d.isoformat() for d, _name in days],
                },
            },
        )
        _reapply_later()
    return hours


def _minutes(value: Any, *, field: str) -> int:
    try:
        minutes = int(value)
    except (TypeError, ValueError):
        minutes = 0
    if isinstance(value, bool) or not 1 <= minutes <= MAX_TARGET_MINUTES:
        raise ServiceError(
            _("Give a number of minutes from 1 to %(max)d.") % {"max": MAX_TARGET_MINUTES},
            field=field,
        )
    return minutes


def check_targets(
    targets: dict[str, tuple[Any, ...]],
) -> dict[str, tuple[int, int, int | None]]:
    """``targets``: priority → (first-response minutes, resolution minutes[, next-response
    minutes]); an empty next response means none (ADR 0060)."""
    clean: dict[str, tuple[int, int, int | None]] = {}
    for priority in Priority.values:
        if priority not in targets:
            raise ServiceError(_("Give a target for every priority."), field=priority)
        values = tuple(targets[priority])
        first = _minutes(values[0], field=f"{priority}_first_response")
        resolution = _minutes(
            values[1] if len(values) > 1 else None, field=f"{priority}_resolution"
        )
        raw_next = values[2] if len(values) > 2 else None
        following = None
        if raw_next is not None and not (isinstance(raw_next, str) and not raw_next.strip()):
            following = _minutes(raw_next, field=f"{priority}_next_response")
        if first > resolution:
            raise ServiceError(
                _("The first response cannot be due after the resolution."),
                field=f"{priority}_first_response",
            )
        if following is not None and following > resolution:
            raise ServiceError(
                _("The next response cannot be due after the resolution."),
                field=f"{priority}_next_response",
            )
        clean[priority] = (first, resolution, following)
    return clean


def sla_targets_update(
    *, actor: Membership, targets: dict[str, tuple[Any, ...]]
) -> list[SlaTarget]:
    """``targets``: priority → (first-response minutes, resolution minutes[, next-response
    minutes or empty])."""
    require(actor, MANAGE_SLA)
    clean = check_targets(targets)
    with transaction.atomic():
        policy = sla.policy_default(time_zone=actor.tenant.time_zone)
        rows = {t.priority: t for t in policy.targets.select_for_update()}
        require(actor, MANAGE_SLA)
        schedule = sla.schedule_of(policy.hours)
        for priority, (_first, resolution, _next) in clean.items():
            _check_reachable(schedule, resolution, field=f"{priority}_resolution")
        before = {
            p: [t.first_response_minutes, t.resolution_minutes, t.next_response_minutes]
            for p, t in rows.items()
        }
        saved = []
        for priority, (first, resolution, following) in clean.items():
            target, _created = SlaTarget.objects.update_or_create(
                policy=policy,
                priority=priority,
                defaults={
                    "first_response_minutes": first,
                    "resolution_minutes": resolution,
                    "next_response_minutes": following,
                },
            )
            saved.append(target)
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=SLA_CHANGED,
            target=policy,
            data={"before": before, "after": {p: list(v) for p, v in clean.items()}},
        )
        _reapply_later()
    return saved


def _reapply_later() -> None:
    # Imported here: sla_policies imports this module's checks.
    from crm_modules.service.services.sla_policies import sla_reapply_later

    sla_reapply_later()


# --- escalations on breach (ADR 0037) ---------------------------------------------------------

MAX_ESCALATIONS = 20


def sla_escalation_add(
    *,
    actor: Membership,
    target: Any,
    action: Any,
    user_id: Any = None,
    team_id: Any = None,
    policy_id: Any = None,
) -> SlaEscalation:
    """What a policy (the default one unless ``policy_id`` names another) does when a target
    of one of its tickets is breached: notify a member, reassign to a member and/or a team, or
    raise the priority (ADR 0061)."""
    from crm_modules.service.services.tickets import check_team

    require(actor, MANAGE_SLA)
    if target not in SlaEscalation.Target.values:
        raise ServiceError(_("Choose a value from the list."), field="target")
    if action not in SlaEscalation.Action.values:
        raise ServiceError(_("Choose a value from the list."), field="action")
    user = None
    if user_id not in (None, ""):
        try:
            number = int(user_id)
        except (TypeError, ValueError):
            number = 0
        member = Membership.objects.filter(
            tenant_id=actor.tenant_id, user_id=number, status=Membership.Status.ACTIVE
        ).first()
        if member is None:
            raise ServiceError(_("Choose an active member of this workspace."), field="user")
        if action == SlaEscalation.Action.REASSIGN and member.role not in WORK_TICKETS.roles:
            raise ServiceError(_("Choose a member who works tickets."), field="user")
        user = member.user_id
    team = check_team(actor, team_id)
    if action == SlaEscalation.Action.NOTIFY and user is None:
        raise ServiceError(_("Choose whom to notify."), field="user")
    if action == SlaEscalation.Action.REASSIGN and user is None and team is None:
        raise ServiceError(_("Choose a member or a team to give the ticket to."), field="user")
    with transaction.atomic():
        policy = _escalation_policy(actor, policy_id)
        if SlaEscalation.objects.filter(policy=policy).count() >= MAX_ESCALATIONS:
            raise ServiceError(
                _("A policy can have at most %(max)d escalations.") % {"max": MAX_ESCALATIONS},
                field="action",
            )
        escalation = SlaEscalation.objects.create(
            policy=policy,
            target=target,
            action=action,
            user_id=user if action != SlaEscalation.Action.RAISE_PRIORITY else None,
            team_id=team if action == SlaEscalation.Action.REASSIGN else None,
        )
        audit_record(
            tenant=actor.tenant, actor=actor.user, action=SLA_CHANGED, target=policy,
            data={"escalation": escalation.pk, "target": target, "action": action},
        )  # fmt: skip
    return escalation


def _escalation_policy(actor: Membership, policy_id: Any) -> SlaPolicy:
    """The policy an escalation is added to, locked: the default one, or a live policy
    chosen by rules."""
    if policy_id in (None, ""):
        return sla.policy_default(time_zone=actor.tenant.time_zone)
    try:
        number = int(policy_id)
    except (TypeError, ValueError):
        number = 0
    policy = (
        SlaPolicy.objects.select_for_update().filter(pk=number, retired_at__isnull=True).first()
    )
    if policy is None:
        raise ServiceError(_("This policy no longer exists."), field="policy")
    return policy


def sla_escalation_delete(*, actor: Membership, escalation_id: Any) -> None:
    require(actor, MANAGE_SLA)
    try:
        number = int(escalation_id)
    except (TypeError, ValueError):
        number = 0
    with transaction.atomic():
        escalation = SlaEscalation.objects.filter(pk=number).first()
        if escalation is None:
            raise ServiceError(_("This escalation no longer exists."), field="escalation")
        escalation.delete()
        audit_record(
            tenant=actor.tenant, actor=actor.user, action=SLA_CHANGED, target=escalation.policy,
            data={"escalation_deleted": number},
        )  # fmt: skip
