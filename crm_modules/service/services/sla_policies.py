"""SLA policies chosen by rules (ADR 0060), Owner and Admin: besides the workspace's default
policy, policies with their own business hours and targets that apply to a ticket by customer
tier, team, channel and type, the first matching by position winning. Overlapping conditions
are allowed and resolved by that order.

A saved, moved or deleted policy applies to tickets when one of the fields its conditions read
next changes (as changed targets apply, ADR 0026); a deleted policy's tickets go back to the
policy chosen for them now.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from crm_modules.service import clock, sla
from crm_modules.service.models import (
    DONE_STATUSES,
    BusinessHours,
    Holiday,
    SlaPolicy,
    SlaTarget,
    Ticket,
    TicketChannel,
    TicketType,
)
from crm_modules.service.module import MANAGE_SLA, SLA_CHANGED
from crm_modules.service.services.routing import check_words
from crm_modules.service.services.sla_alerts import sla_alarm
from crm_modules.service.services.sla_settings import (
    _check_reachable,
    check_holidays,
    check_openings,
    check_targets,
)
from crm_platform.errors import ServiceError
from crm_platform.validation import check_text, check_time_zone
from tenants.audit.services import audit_record
from tenants.models import Membership, Team
from tenants.permissions import require

MAX_POLICIES = 50


def _choices(raw: Any, choices: Any, *, field: str) -> list[str]:
    values = [raw] if isinstance(raw, str) else list(raw or [])
    clean: list[str] = []
    for value in values:
        if value in ("", None):
            continue
        if value not in choices.values:
            raise ServiceError(_("Choose a value from the list."), field=field)
        if value not in clean:
            clean.append(str(value))
    return clean


def _teams(actor: Membership, raw: Any) -> list[int]:
    values = [raw] if isinstance(raw, str | int) else list(raw or [])
    numbers: list[int] = []
    for value in values:
        if value in ("", None):
            continue
        try:
            number = int(value)
        except (TypeError, ValueError):
            number = 0
        if number not in numbers:
            numbers.append(number)
    found = set(
        Team.objects.filter(tenant_id=actor.tenant_id, pk__in=numbers).values_list("pk", flat=True)
    )
    if len(found) != len(numbers):
        raise ServiceError(_("Choose a team of this workspace."), field="teams")
    return numbers


def sla_policy_save(
    *,
    actor: Membership,
    policy: SlaPolicy | None = None,
    name: Any,
    time_zone: Any,
    openings: Any,
    holidays: Any,
    targets: dict[str, tuple[Any, ...]],
    tiers: Any = None,
    teams: Any = None,
    channels: Any = None,
    types: Any = None,
) -> SlaPolicy:
    """Create (``policy`` None) or change a policy chosen by rules, with its business hours
    and targets. The default policy is changed on the SLA screen, not here."""
    require(actor, MANAGE_SLA)
    clean_name = check_text(str(name or ""), field="name", max_length=100, label=_("Name"))
    if not clean_name:
        raise ServiceError(_("Give the policy a name."), field="name")
    zone = check_time_zone(str(time_zone or ""))
    cleaned = check_openings(openings)
    days = check_holidays(holidays)
    clean_targets = check_targets(targets)
    conditions = {
        "tiers": check_words(tiers, field="tiers", max_length=50),
        "team_ids": _teams(actor, teams),
        "channels": _choices(channels, TicketChannel, field="channels"),
        "types": _choices(types, TicketType, field="types"),
    }
    with transaction.atomic():
        sla.policy_default(time_zone=actor.tenant.time_zone)
        if policy is not None:
            policy = SlaPolicy.objects.select_for_update().filter(pk=policy.pk).first()
            if policy is None or policy.is_default:
                raise ServiceError(_("This policy no longer exists."), field="name")
        require(actor, MANAGE_SLA)
        if policy is None and SlaPolicy.objects.count() > MAX_POLICIES:
            raise ServiceError(
                _("A workspace can have at most %(max)d SLA policies.") % {"max": MAX_POLICIES},
                field="name",
            )
        if policy is None:
            hours = BusinessHours(name=clean_name)
        else:
            hours = BusinessHours.objects.select_for_update().get(pk=policy.hours_id)
        hours.name, hours.time_zone, hours.openings = clean_name, zone, cleaned
        hours.save()
        schedule = sla.schedule_of(hours)
        schedule = clock.Schedule(
            zone=schedule.zone, week=schedule.week, holidays=frozenset(d for d, _n in days)
        )
        for priority, (_first, resolution, _next) in clean_targets.items():
            _check_reachable(schedule, resolution, field=f"{priority}_resolution")
        hours.holidays.all().delete()
        Holiday.objects.bulk_create(Holiday(hours=hours, date=d, name=n) for d, n in days)
        created = policy is None
        if policy is None:
            last = SlaPolicy.objects.filter(is_default=False).aggregate(m=Max("position"))["m"]
            policy = SlaPolicy(hours=hours, position=(last or 0) + 1)
        policy.name = clean_name
        for key, value in conditions.items():
            setattr(policy, key, value)
        policy.save()
        for priority, (first, resolution, following) in clean_targets.items():
            SlaTarget.objects.update_or_create(
                policy=policy,
                priority=priority,
                defaults={
                    "first_response_minutes": first,
                    "resolution_minutes": resolution,
                    "next_response_minutes": following,
                },
            )
        audit_record(
            tenant=actor.tenant, actor=actor.user, action=SLA_CHANGED, target=policy,
            data={
                "policy": "created" if created else "changed", "name": clean_name,
                "time_zone": zone, "openings": cleaned, **conditions,
                "targets": {p: list(v) for p, v in clean_targets.items()},
            },
        )  # fmt: skip
    return policy


def _policy(policy_id: Any) -> SlaPolicy:
    try:
        number = int(policy_id)
    except (TypeError, ValueError):
        number = 0
    policy = SlaPolicy.objects.select_for_update().filter(pk=number, is_default=False).first()
    if policy is None:
        raise ServiceError(_("This policy no longer exists."), field="policy")
    return policy


def sla_policy_move(*, actor: Membership, policy_id: Any, up: bool) -> None:
    """One place earlier (``up``) or later in the order policies are tried."""
    require(actor, MANAGE_SLA)
    with transaction.atomic():
        policy = _policy(policy_id)
        ordered = list(
            SlaPolicy.objects.select_for_update()
            .filter(is_default=False)
            .order_by("position", "id")
        )
        index = next(i for i, p in enumerate(ordered) if p.pk == policy.pk)
        other = index - 1 if up else index + 1
        if not 0 <= other < len(ordered):
            return
        ordered[index], ordered[other] = ordered[other], ordered[index]
        for position, row in enumerate(ordered, start=1):
            if row.position != position:
                row.position = position
                row.save(update_fields=["position"])
        audit_record(
            tenant=actor.tenant, actor=actor.user, action=SLA_CHANGED, target=policy,
            data={"policy": "moved", "order": [p.pk for p in ordered]},
        )  # fmt: skip


def sla_policy_delete(*, actor: Membership, policy_id: Any) -> None:
    """Delete a policy chosen by rules; its tickets get the policy chosen for them now, open
    ones with their due times recomputed."""
    require(actor, MANAGE_SLA)
    with transaction.atomic():
        policy = _policy(policy_id)
        hours_id = policy.hours_id
        tickets = list(
            Ticket.objects.select_for_update(of=("self",))
            .select_related("contact", "company")
            .filter(sla_policy=policy)
            .order_by("id")
        )
        audit_record(
            tenant=actor.tenant, actor=actor.user, action=SLA_CHANGED, target=policy,
            data={"policy": "deleted", "name": policy.name, "tickets": len(tickets)},
        )  # fmt: skip
        policy.delete()
        BusinessHours.objects.filter(pk=hours_id, is_default=False, policies=None).delete()
        for ticket in tickets:
            ticket.sla_policy_id = None
            if ticket.status in DONE_STATUSES:
                ticket.sla_policy = sla.policy_for(ticket, time_zone=actor.tenant.time_zone)
                ticket.save(update_fields=["sla_policy"])
                continue
            sla.policy_reselect(ticket, time_zone=actor.tenant.time_zone)
            ticket.save(update_fields=["sla_policy", *sla.TIMER_FIELDS])
            sla_alarm(ticket)
