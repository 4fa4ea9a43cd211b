"""SLA timers on tickets (ADR 0026): the clock arithmetic of ``clock.py`` applied to a ticket
in memory. The services lock the ticket, call these, and save.

A target's due time is always ``created_at`` plus its business minutes plus the business time
the ticket spent paused (``paused_seconds``), so a change of priority recomputes it exactly.
Pending customer and on hold pause the clocks, as do solved and closed (a reopened ticket
continues where it stopped). A target past due when the clock stops, or fulfilled late, is
marked breached for good.

The next-response target (ADR 0060) counts from a customer message that follows an agent's
public reply (``next_response_started_at``) to the next public reply, in the same business
hours and with the same pauses; its due time is the start plus its business minutes plus the
business time paused since the start. Later customer messages before the reply do not restart
it: the customer has waited since the first unanswered one.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.db import connection
from django.utils.translation import gettext_lazy as _

from crm_modules.sales import api as sales
from crm_modules.service import clock
from crm_modules.service.models import (
    DONE_STATUSES,
    PAUSED_STATUSES,
    BusinessHours,
    Priority,
    SlaPolicy,
    SlaTarget,
    Ticket,
)

# Targets of a new workspace's policy, in business minutes (first response, resolution).
DEFAULT_TARGETS = {
    Priority.URGENT: (60, 8 * 60),
    Priority.HIGH: (4 * 60, 2 * 8 * 60),
    Priority.NORMAL: (8 * 60, 5 * 8 * 60),
    Priority.LOW: (2 * 8 * 60, 10 * 8 * 60),
}
# Monday to Friday, 09:00-17:00.
DEFAULT_OPENINGS = [[day, 9 * 60, 17 * 60] for day in range(5)]
# "Breaching soon": a running target due within this time.
SOON = datetime.timedelta(hours=2)
# A warning goes out this many business seconds before a due time (or halfway, for targets
# shorter than twice this).
WARN_BEFORE = 30 * 60
# What the timers write on a ticket; the services save these after calling them.
TIMER_FIELDS = (
    "status", "solved_at", "closed_at", "paused_since", "paused_seconds",
    "first_response_due_at", "resolution_due_at", "next_due_at",
    "first_responded_at", "first_response_breached", "resolution_breached",
    "first_response_warn_at", "first_response_warned", "resolution_warn_at",
    "resolution_warned", "sla_alarm_at",
    "first_response_business_seconds", "resolution_business_seconds",
    "next_response_started_at", "next_response_paused_base", "next_response_due_at",
    "next_responded_at", "next_response_breached", "next_response_warn_at",
    "next_response_warned",
)  # fmt: skip


def schedule_of(hours: BusinessHours) -> clock.Schedule:
    week: dict[int, list[tuple[int, int]]] = {}
    for day, start, end in hours.openings:
        week.setdefault(int(day), []).append((int(start), int(end)))
    return clock.Schedule(
        zone=ZoneInfo(hours.time_zone),
        week=clock.check_hours(week),
        holidays=frozenset(hours.holidays.values_list("date", flat=True)),
    )


def policy_default(*, time_zone: str) -> SlaPolicy:
    """The workspace's default policy, made on first use with Monday-Friday 09:00-17:00 in
    the workspace's time zone. The caller holds a transaction."""
    policy = SlaPolicy.objects.select_related("hours").filter(is_default=True).first()
    if policy is not None:
        return policy
    # Two first tickets at once: the second waits for the first's policy, then reads it.
    schema = connection.schema_name  # type: ignore[attr-defined]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"{schema}:service.sla"])
    policy = SlaPolicy.objects.select_related("hours").filter(is_default=True).first()
    if policy is not None:
        return policy
    hours = BusinessHours.objects.filter(is_default=True).first()
    if hours is None:
        hours = BusinessHours.objects.create(
            name=str(_("Office hours")),
            time_zone=time_zone or "UTC",
            openings=DEFAULT_OPENINGS,
            is_default=True,
        )
    policy = SlaPolicy.objects.create(name=str(_("Standard")), hours=hours, is_default=True)
    SlaTarget.objects.bulk_create(
        SlaTarget(policy=policy, priority=p, first_response_minutes=fr, resolution_minutes=res)
        for p, (fr, res) in DEFAULT_TARGETS.items()
    )
    return policy


def policy_matches(policy: SlaPolicy, ticket: Ticket, *, tier: str) -> bool:
    """Whether every non-empty condition of ``policy`` holds for ``ticket``."""
    if policy.tiers and tier not in policy.tiers:
        return False
    if policy.team_ids and ticket.team_id not in policy.team_ids:
        return False
    if policy.channels and ticket.channel not in policy.channels:
        return False
    return not (policy.types and ticket.type not in policy.types)


# How the ``tier`` field of contacts and of companies reads now, by entity (ADR 0068).
TierFields = dict[str, sales.FieldInUse]
TIER_CODE = "tier"


def tier_fields() -> TierFields:
    """The ``tier`` fields of contacts and companies as they read now (one query)."""
    return sales.custom_fields_in_use(code=TIER_CODE, entities=("contact", "company"))


def customer_tier(ticket: Ticket, *, fields: TierFields | None = None) -> str:
    """The customer's tier as routing and the SLA policies read it: the ``tier`` custom
    value of the contact, else of its company, casefolded. A value does not count while its
    field is archived, nor, for a select, once it is no longer one of the options (ADR
    0068); a value whose field is not defined counts as stored. ``fields``: ``tier_fields()``
    read once for many tickets."""
    fields = tier_fields() if fields is None else fields
    for entity, record in (("contact", ticket.contact), ("company", ticket.company)):
        if record is None:
            continue
        value = (record.custom or {}).get(TIER_CODE)
        if not isinstance(value, str) or not value.strip():
            continue
        field = fields.get(entity)
        if field is not None and not field.counts(value.strip()):
            continue
        return value.strip().casefold()
    return ""


def policies_in_order() -> list[SlaPolicy]:
    """The policies chosen by rules, in the order they are tried (not the retired ones)."""
    return list(
        SlaPolicy.objects.filter(is_default=False, retired_at__isnull=True).order_by(
            "position", "id"
        )
    )


def policy_for(
    ticket: Ticket,
    *,
    time_zone: str,
    candidates: list[SlaPolicy] | None = None,
    default: SlaPolicy | None = None,
    tiers: TierFields | None = None,
) -> SlaPolicy:
    """The first policy by position whose conditions ``ticket`` meets, else the default
    (ADR 0060). ``candidates``, ``default`` and ``tiers``: ``policies_in_order()``,
    ``policy_default()`` and ``tier_fields()`` read once for many tickets. The caller holds a
    transaction."""
    default = default or policy_default(time_zone=time_zone)
    candidates = policies_in_order() if candidates is None else candidates
    # The tier is read only when a policy asks for one (it costs the fields' query).
    tier = customer_tier(ticket, fields=tiers) if any(p.tiers for p in candidates) else ""
    for policy in candidates:
        if policy_matches(policy, ticket, tier=tier):
            return policy
    return default


def policy_reselect(
    ticket: Ticket,
    *,
    time_zone: str,
    candidates: list[SlaPolicy] | None = None,
    default: SlaPolicy | None = None,
    refresh: bool = False,
    clocks: dict[tuple[int, str], Clock] | None = None,
    tiers: TierFields | None = None,
) -> bool:
    """Choose an open ``ticket``'s policy again after something its conditions read changed
    (ADR 0060, 0061); with a new policy (or with ``refresh``, after the policy itself
    changed) the targets not yet met are recomputed from the ticket's creation under the
    policy's targets and business hours (the business time already counted as paused is
    kept; met and breached targets stay as recorded). A solved or closed ticket keeps the
    policy it was worked under. Returns whether the policy or a timer changed; the caller
    saves ``sla_policy`` and ``TIMER_FIELDS``."""
    if ticket.status in DONE_STATUSES:
        return False
    policy = policy_for(
        ticket, time_zone=time_zone, candidates=candidates, default=default, tiers=tiers
    )
    if policy.pk == ticket.sla_policy_id and not refresh:
        return False
    before = _timers(ticket)
    ticket.sla_policy = policy
    recompute_unmet(ticket, clock_for(ticket, clocks))
    return before != _timers(ticket)


def _timers(ticket: Ticket) -> tuple[object, ...]:
    return (ticket.sla_policy_id, *(getattr(ticket, name) for name in TIMER_FIELDS))


# What a target's recorded due time is made of, kept as it is once the target is met or
# breached.
_RECORDED = {
    "first_response": ("first_response_due_at", "first_response_warn_at", "first_response_warned"),
    "next_response": ("next_response_due_at", "next_response_warn_at", "next_response_warned"),
    "resolution": ("resolution_due_at", "resolution_warn_at", "resolution_warned"),
}


def recompute_unmet(ticket: Ticket, timer: Clock | None) -> None:
    """``recompute`` for the targets not yet met nor breached; the others keep the due time
    they were met or breached against (ADR 0061). A target whose new due time has already
    passed is not marked here: the sweep tells its breach (``sla_alarm_at`` is then due)."""
    settled = {
        "first_response": ticket.first_responded_at is not None or ticket.first_response_breached,
        "next_response": ticket.next_response_started_at is not None
        and (ticket.next_responded_at is not None or ticket.next_response_breached),
        "resolution": ticket.resolution_breached or ticket.status in DONE_STATUSES,
    }
    kept = {
        name: getattr(ticket, name)
        for code, names in _RECORDED.items()
        if settled[code]
        for name in names
    }
    recompute(ticket, timer)
    for name, value in kept.items():
        setattr(ticket, name, value)
    _next_due(ticket)


# A sweep finding a breach within this time of its due time is on time.
ESCALATION_GRACE = datetime.timedelta(minutes=2)


def escalation_at(
    due_at: datetime.datetime, now: datetime.datetime, schedule: clock.Schedule
) -> datetime.datetime:
    """When the escalations of a breach due at ``due_at`` and found at ``now`` run (ADR 0044):
    at once if the sweep is on time for a due time inside business hours (a due time is a
    business time, so it may be the very end of an opening) or if the business is open now;
    otherwise at the start of the next opening, holidays and time zone included."""
    second = datetime.timedelta(seconds=1)
    on_time = now - due_at <= ESCALATION_GRACE and (
        clock.is_open(due_at, schedule) or clock.is_open(due_at - second, schedule)
    )
    if on_time:
        return now
    return clock.next_open(now, schedule)


@dataclass(frozen=True)
class Clock:
    """What the timers of one ticket need: its policy's schedule and its priority's target."""

    schedule: clock.Schedule
    target: SlaTarget | None


def clock_for(ticket: Ticket, cache: dict[tuple[int, str], Clock] | None = None) -> Clock | None:
    """The ticket's clock; ``cache`` keeps each policy and priority's for many tickets."""
    if ticket.sla_policy_id is None:
        return None
    key = (ticket.sla_policy_id, ticket.priority)
    if cache is not None and key in cache:
        return cache[key]
    policy = SlaPolicy.objects.select_related("hours").get(pk=ticket.sla_policy_id)
    target = policy.targets.filter(priority=ticket.priority).first()
    timer = Clock(schedule=schedule_of(policy.hours), target=target)
    if cache is not None:
        cache[key] = timer
    return timer


def _running(ticket: Ticket) -> bool:
    return ticket.paused_since is None and ticket.status not in DONE_STATUSES


def _stopping(status: str) -> bool:
    return status in PAUSED_STATUSES or status in DONE_STATUSES


def recompute(ticket: Ticket, timer: Clock | None) -> None:
    """Due times from creation, targets and paused time; the next due time if running."""
    before = (
        ticket.first_response_due_at,
        ticket.resolution_due_at,
        ticket.next_response_due_at,
    )
    _next_response_due(ticket, timer)
    if timer is None or timer.target is None:
        ticket.first_response_due_at = ticket.resolution_due_at = ticket.next_due_at = None
        ticket.first_response_warn_at = ticket.resolution_warn_at = None
    else:
        target, schedule = timer.target, timer.schedule

        def at(seconds: int) -> datetime.datetime:
            return clock.add_business_seconds(ticket.created_at, seconds, schedule)

        first, resolution = target.first_response_minutes * 60, target.resolution_minutes * 60
        paused = ticket.paused_seconds
        ticket.first_response_due_at = at(first + paused)
        ticket.resolution_due_at = at(resolution + paused)
        ticket.first_response_warn_at = at(_warn_seconds(first) + paused)
        ticket.resolution_warn_at = at(_warn_seconds(resolution) + paused)
    # A due time that moved (a new priority, time spent paused) is warned of again.
    if ticket.first_response_due_at != before[0]:
        ticket.first_response_warned = False
    if ticket.resolution_due_at != before[1]:
        ticket.resolution_warned = False
    if ticket.next_response_due_at != before[2]:
        ticket.next_response_warned = False
    _next_due(ticket)


def _next_response_due(ticket: Ticket, timer: Clock | None) -> None:
    """The due and warning times of the next-response clock, if one was started."""
    minutes = timer.target.next_response_minutes if timer and timer.target else None
    if ticket.next_response_started_at is None or minutes is None or timer is None:
        ticket.next_response_due_at = ticket.next_response_warn_at = None
        return
    paused = max(ticket.paused_seconds - ticket.next_response_paused_base, 0)
    seconds = minutes * 60
    start = ticket.next_response_started_at
    ticket.next_response_due_at = clock.add_business_seconds(
        start, seconds + paused, timer.schedule
    )
    ticket.next_response_warn_at = clock.add_business_seconds(
        start, _warn_seconds(seconds) + paused, timer.schedule
    )


def _next_response_running(ticket: Ticket) -> bool:
    return ticket.next_response_started_at is not None and ticket.next_responded_at is None


def _warn_seconds(target_seconds: int) -> int:
    return max(target_seconds - WARN_BEFORE, target_seconds // 2)


def _next_due(ticket: Ticket) -> None:
    dues = []
    if _running(ticket):
        if ticket.first_responded_at is None and ticket.first_response_due_at is not None:
            dues.append(ticket.first_response_due_at)
        if ticket.resolution_due_at is not None:
            dues.append(ticket.resolution_due_at)
        if _next_response_running(ticket) and ticket.next_response_due_at is not None:
            dues.append(ticket.next_response_due_at)
    ticket.next_due_at = min(dues) if dues else None
    pending = [when for _, _, when in _pending_alerts(ticket)]
    ticket.sla_alarm_at = min(pending) if pending else None


def _pending_alerts(ticket: Ticket) -> list[tuple[str, str, datetime.datetime]]:
    """(target, "warning" or "breach", when) of a running ticket's targets not yet told."""
    if not _running(ticket):
        return []
    pending = []
    targets = (
        (
            "first_response",
            ticket.first_response_due_at if ticket.first_responded_at is None else None,
            ticket.first_response_warn_at,
            ticket.first_response_warned,
            ticket.first_response_breached,
        ),
        (
            "next_response",
            ticket.next_response_due_at if _next_response_running(ticket) else None,
            ticket.next_response_warn_at,
            ticket.next_response_warned,
            ticket.next_response_breached,
        ),
        (
            "resolution",
            ticket.resolution_due_at,
            ticket.resolution_warn_at,
            ticket.resolution_warned,
            ticket.resolution_breached,
        ),
    )
    for code, due, warn, warned, breached in targets:
        if due is None or breached:
            continue
        if not warned and warn is not None and warn < due:
            pending.append((code, "warning", warn))
        else:
            pending.append((code, "breach", due))
    return pending


def alerts_due(ticket: Ticket, *, now: datetime.datetime) -> list[tuple[str, str]]:
    """The warnings and breaches of ``ticket`` due by ``now``, as (target, "warning" or
    "breach"), each marked told (a breach as breached for good); the sweep saves
    ``TIMER_FIELDS``. A target already past due is told its breach only, not a warning."""
    told = []
    for code, _kind, _when in _pending_alerts(ticket):
        due = getattr(ticket, f"{code}_due_at")
        if due <= now:
            setattr(ticket, f"{code}_breached", True)
            told.append((code, "breach"))
        elif getattr(ticket, f"{code}_warn_at") <= now:
            setattr(ticket, f"{code}_warned", True)
            told.append((code, "warning"))
    _next_due(ticket)
    return told


def _mark_breaches(ticket: Ticket, now: datetime.datetime) -> None:
    if not _running(ticket):
        return
    due = ticket.first_response_due_at
    if ticket.first_responded_at is None and due is not None and due <= now:
        ticket.first_response_breached = True
    if ticket.resolution_due_at is not None and ticket.resolution_due_at <= now:
        ticket.resolution_breached = True
    due = ticket.next_response_due_at
    if _next_response_running(ticket) and due is not None and due <= now:
        ticket.next_response_breached = True


def on_status(
    ticket: Ticket, *, new_status: str, timer: Clock | None, now: datetime.datetime
) -> None:
    """Stop or restart the clocks as ``ticket`` moves to ``new_status`` (not yet set)."""
    was_running = _running(ticket)
    if was_running and _stopping(new_status):
        _mark_breaches(ticket, now)
        ticket.paused_since = now
    elif not was_running and not _stopping(new_status) and ticket.paused_since is not None:
        if timer is not None:
            ticket.paused_seconds += clock.business_seconds_between(
                ticket.paused_since, now, timer.schedule
            )
        ticket.paused_since = None
    ticket.status = new_status
    recompute(ticket, timer)


def business_times(ticket: Ticket, timer: Clock | None) -> None:
    """The business time the customer waited for the first reply and for the solution, for
    reports; empty while not yet reached (or without a policy)."""

    def waited(until: datetime.datetime | None) -> int | None:
        if until is None or timer is None:
            return None
        return clock.business_seconds_between(ticket.created_at, until, timer.schedule)

    ticket.first_response_business_seconds = waited(ticket.first_responded_at)
    ticket.resolution_business_seconds = waited(ticket.solved_at)


def on_public_reply(ticket: Ticket, *, now: datetime.datetime) -> None:
    """An agent's first public reply fulfils the first-response target; a later one the
    running next-response target."""
    if ticket.first_responded_at is not None and not _next_response_running(ticket):
        return
    _mark_breaches(ticket, now)
    if ticket.first_responded_at is None:
        ticket.first_responded_at = now
    if _next_response_running(ticket):
        ticket.next_responded_at = now
    _next_due(ticket)


def on_customer_message(ticket: Ticket, *, timer: Clock | None, now: datetime.datetime) -> None:
    """A customer's message: after an agent's public reply, when no next-response clock is
    running, it starts one (a new cycle: not breached, not warned). Call before a status
    change the message makes, which resumes the clock like the others."""
    if ticket.first_responded_at is None or _next_response_running(ticket):
        return
    base = ticket.paused_seconds
    if ticket.paused_since is not None and timer is not None:
        # Paused now: the pause counted when the clocks resume started before this clock.
        base += clock.business_seconds_between(ticket.paused_since, now, timer.schedule)
    ticket.next_response_started_at = now
    ticket.next_response_paused_base = base
    ticket.next_responded_at = None
    ticket.next_response_breached = False
    ticket.next_response_warned = False
    recompute(ticket, timer)


@dataclass(frozen=True)
class TargetState:
    code: str  # first_response | next_response | resolution
    label: str
    state: str  # none | running | paused | met | breached
    due_at: datetime.datetime | None


def state(ticket: Ticket, *, now: datetime.datetime) -> list[TargetState]:
    """The timers as an agent sees them."""
    return [
        _target_state(
            ticket,
            "first_response",
            str(_("First response")),
            ticket.first_response_due_at,
            ticket.first_responded_at,
            ticket.first_response_breached,
            now,
        ),
        _target_state(
            ticket,
            "next_response",
            str(_("Next response")),
            ticket.next_response_due_at,
            ticket.next_responded_at,
            ticket.next_response_breached,
            now,
        ),
        _target_state(
            ticket,
            "resolution",
            str(_("Resolution")),
            ticket.resolution_due_at,
            ticket.solved_at if ticket.status in DONE_STATUSES else None,
            ticket.resolution_breached,
            now,
        ),
    ]


def _target_state(
    ticket: Ticket,
    code: str,
    label: str,
    due: datetime.datetime | None,
    done_at: datetime.datetime | None,
    breached: bool,
    now: datetime.datetime,
) -> TargetState:
    if due is None:
        return TargetState(code, label, "none", None)
    if breached:
        return TargetState(code, label, "breached", due)
    if done_at is not None:
        return TargetState(code, label, "met", due)
    if ticket.paused_since is not None:
        return TargetState(code, label, "paused", None)
    return TargetState(code, label, "breached" if due <= now else "running", due)
