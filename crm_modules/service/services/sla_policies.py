"""SLA policies chosen by rules (ADR 0060), Owner and Admin: besides the workspace's default
policy, policies with their own business hours and targets that apply to a ticket by customer
tier, team, channel and type, the first matching by position winning. Overlapping conditions
are allowed and resolved by that order.

A saved, moved or deleted policy, an edit of the default policy and a change of a customer's
tier apply to the open tickets they concern in the background (ADR 0061): the request only
enqueues ``tasks.reapply_sla_policies``, which walks those tickets in batches by id, gives each
the policy the rules choose now and recomputes its targets not yet met. A deleted policy is
retired at once (chosen for no ticket from then on) and removed by the same task once no ticket
points at it; the solved and closed tickets it held keep a policy for the record, the one
chosen for them then, with their timers as they were.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import connection, transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tenants.utils import schema_context

from crm_modules.service import clock, sla
from crm_modules.service.models import (
    OPEN_STATUSES,
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
from crm_modules.service.services.sla_alerts import SLA_ALARM
from crm_modules.service.services.sla_settings import (
    _check_reachable,
    check_holidays,
    check_openings,
    check_targets,
)
from crm_platform.bulk import rows_update
from crm_platform.errors import ServiceError
from crm_platform.validation import check_text, check_time_zone
from tenants.alarms import alarm_at
from tenants.audit.services import audit_record
from tenants.models import Membership, Team, Tenant
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
            policy = (
                SlaPolicy.objects.select_for_update()
                .filter(pk=policy.pk, retired_at__isnull=True)
                .first()
            )
            if policy is None or policy.is_default:
                raise ServiceError(_("This policy no longer exists."), field="name")
        require(actor, MANAGE_SLA)
        if (
            policy is None
            and SlaPolicy.objects.filter(retired_at__isnull=True).count() > MAX_POLICIES
        ):
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
        sla_reapply_later()
    return policy


def _policy(policy_id: Any) -> SlaPolicy:
    try:
        number = int(policy_id)
    except (TypeError, ValueError):
        number = 0
    policy = (
        SlaPolicy.objects.select_for_update()
        .filter(pk=number, is_default=False, retired_at__isnull=True)
        .first()
    )
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
            .filter(is_default=False, retired_at__isnull=True)
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
        sla_reapply_later()


def sla_policy_delete(*, actor: Membership, policy_id: Any) -> None:
    """Delete a policy chosen by rules: retired now (no ticket is given it from then on), its
    tickets given the policy chosen for them now in the background, and the policy removed
    once no ticket points at it (ADR 0061)."""
    require(actor, MANAGE_SLA)
    with transaction.atomic():
        policy = _policy(policy_id)
        require(actor, MANAGE_SLA)
        policy.retired_at = timezone.now()
        policy.save(update_fields=["retired_at"])
        audit_record(
            tenant=actor.tenant, actor=actor.user, action=SLA_CHANGED, target=policy,
            data={"policy": "deleted", "name": policy.name},
        )  # fmt: skip
        sla_reapply_later()


# --- the background re-choice (ADR 0061) ------------------------------------------------------

REAPPLY_BATCH = 500


def sla_reapply_later(
    *, contacts: Iterable[int] | None = None, companies: Iterable[int] | None = None
) -> None:
    """After commit, have the open tickets concerned (every one, or those of these contacts
    and companies) get the policy the rules choose now, in the background. The task carries
    the current workspace's schema (D6): after commit the connection may be elsewhere."""
    scope: dict[str, list[int]] = {}
    if contacts is not None or companies is not None:
        scope = {"contacts": sorted(set(contacts or ())), "companies": sorted(set(companies or ()))}
    schema: str = connection.schema_name  # type: ignore[attr-defined]

    def send() -> None:
        from crm_modules.service.tasks import reapply_sla_policies

        with schema_context(schema):
            reapply_sla_policies.delay(**scope)

    transaction.on_commit(send)


def sla_policies_reapply(
    *,
    tenant: Tenant,
    contacts: list[int] | None = None,
    companies: list[int] | None = None,
    batch: int = REAPPLY_BATCH,
) -> int:
    """In the current workspace: every open ticket (or those of ``contacts`` and
    ``companies``) gets the policy the rules choose now, its targets not yet met recomputed
    from its opening under that policy (``sla.policy_reselect``); then the retired policies'
    tickets are moved off them and the policies removed. Batches by id, each in its own
    transaction, so agents wait at most one batch for a ticket, and each batch's changed
    tickets written by one statement (ADR 0068). Returns how many tickets changed."""
    where = Q(status__in=OPEN_STATUSES)
    if contacts is not None or companies is not None:
        where &= Q(contact_id__in=contacts or []) | Q(company_id__in=companies or [])
    changed = _walk(tenant=tenant, where=where, batch=batch)
    retired = list(SlaPolicy.objects.filter(retired_at__isnull=False).values_list("pk", flat=True))
    if retired:
        changed += _walk(tenant=tenant, where=Q(sla_policy_id__in=retired), batch=batch)
        _remove_retired(retired)
    return changed


def _walk(*, tenant: Tenant, where: Q, batch: int) -> int:
    changed, after = 0, 0
    while True:
        with transaction.atomic():
            tickets = list(
                Ticket.objects.select_for_update(of=("self",))
                .select_related("contact", "company")
                .filter(where, pk__gt=after)
                .order_by("pk")[:batch]
            )
            if not tickets:
                return changed
            candidates = sla.policies_in_order()
            default = sla.policy_default(time_zone=tenant.time_zone)
            tiers = sla.tier_fields() if any(p.tiers for p in candidates) else {}
            clocks: dict[tuple[int, str], sla.Clock] = {}
            done, timed = [], []
            for ticket in tickets:
                if ticket.status not in OPEN_STATUSES:
                    # Solved or closed on a retired policy: the policy chosen now, for the
                    # record; the timers stay as they were when the clocks stopped.
                    ticket.sla_policy = sla.policy_for(
                        ticket,
                        time_zone=tenant.time_zone,
                        candidates=candidates,
                        default=default,
                        tiers=tiers,
                    )
                    done.append(ticket)
                elif sla.policy_reselect(
                    ticket,
                    time_zone=tenant.time_zone,
                    candidates=candidates,
                    default=default,
                    refresh=True,
                    clocks=clocks,
                    tiers=tiers,
                ):
                    timed.append(ticket)
            # One UPDATE for the batch's changed rows instead of one per ticket.
            rows_update(Ticket, done, ["sla_policy"])
            rows_update(Ticket, timed, ["sla_policy", *sla.TIMER_FIELDS])
            changed += len(done) + len(timed)
            alarms = [t.sla_alarm_at for t in timed if t.sla_alarm_at is not None]
            alarm_at(kind=SLA_ALARM, at=min(alarms, default=None))
            after = tickets[-1].pk
        if len(tickets) < batch:
            return changed


def _remove_retired(retired: list[int]) -> None:
    with transaction.atomic():
        for policy in SlaPolicy.objects.select_for_update().filter(pk__in=retired):
            if Ticket.objects.filter(sla_policy=policy).exists():
                continue  # written meanwhile; the next run removes it
            hours_id = policy.hours_id
            policy.delete()
            BusinessHours.objects.filter(pk=hours_id, is_default=False, policies=None).delete()
