"""Evaluating trigger rules (ADR 0042).

A module announces what happened to a contact (``tenants.modules.record_event``); ``hear``
queues ``tasks.trigger_evaluate`` after commit when an active rule listens to that kind.
``evaluate`` writes one ``TriggerFiring`` per (rule, contact, occurrence) — the unique
constraint makes a second evaluation of the same happening, in any worker, a no-op — due now
or after the rule's delay; ``firing_run`` runs a due firing's actions once (row lock, status
checked under it) and ``run_due`` is the beat sweep's part, visiting only workspaces whose
alarm is due.

Loops: the rules whose actions led to an event travel with it (``chain``). A firing whose rule
is already in its chain, whose chain is ``MAX_DEPTH`` rules long, or whose rule fired
``RATE_LIMIT`` times for the contact in the last hour is written as stopped, with the reason,
and runs nothing.
"""

from __future__ import annotations

import contextvars
import datetime
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_modules.marketing.models_triggers import TriggerFiring, TriggerRule
from crm_modules.marketing.triggers.definition import (
    CUSTOM_PREFIX,
    SCORE,
    SCORE_EVENT,
    WON_REVENUE,
    Definition,
    compile_definition,
    decimal_or_none,
)
from crm_modules.reporting.api import converted
from crm_modules.sales.api import Contact, CustomField, Deal
from tenants.alarms import alarm_at
from tenants.modules import RecordEvent

MAX_DEPTH = 3
RATE_LIMIT = 5
RATE_WINDOW = datetime.timedelta(hours=1)
SWEEP_ALARM = "marketing.triggers"
SWEEP_BATCH = 500

_CHAIN: contextvars.ContextVar[tuple[int, ...]] = contextvars.ContextVar(
    "trigger_chain", default=()
)


@contextmanager
def chain_of(rule_ids: tuple[int, ...]) -> Iterator[None]:
    """Events announced inside carry ``rule_ids`` as the rules that caused them."""
    token = _CHAIN.set(rule_ids)
    try:
        yield
    finally:
        _CHAIN.reset(token)


def hear(events: Sequence[RecordEvent]) -> None:
    """The record-event listener: inside the announcing transaction, queue the evaluation of
    each event some active rule listens to for after its commit (one indexed query a batch).
    A score change is queued only when it crosses an active rule's threshold: a nightly
    rescoring changes many scores and crosses few thresholds."""
    kinds = {event.kind for event in events}
    listening = list(
        TriggerRule.objects.filter(active=True, listens_to__in=kinds).values_list(
            "listens_to", "definition"
        )
    )
    listened = {kind for kind, _definition in listening}
    score_rules = [
        compile_definition(definition) for kind, definition in listening if kind == SCORE_EVENT
    ]
    heard = [
        event
        for event in events
        if event.kind in listened
        and (
            event.kind != SCORE_EVENT
            or any(definition.crossed_by(event.data) for definition in score_rules)
        )
    ]
    if not heard:
        return
    chain = list(_CHAIN.get())

    def queue() -> None:
        from crm_modules.marketing.triggers.tasks import trigger_evaluate

        for event in heard:
            trigger_evaluate.delay(
                event.kind, event.contact_id, event.occurrence, event.data, chain
            )

    transaction.on_commit(queue)


def _threshold_state(definition: Definition, contact_id: int, data: Mapping[str, Any]) -> str:
    """'crossed', 'not_crossed' or 'field_deleted'."""
    limit = definition.threshold if definition.threshold is not None else Decimal(0)
    if definition.threshold_field == WON_REVENUE:
        # In the workspace's currency at the rate of each deal's winning day, as the revenue
        # reports count it (ADR 0047): a deal whose currency has no rate is not counted.
        won = Deal.objects.filter(contacts=contact_id, status=Deal.Status.WON)
        in_base = converted("amount", currency="currency", on="closed_at")
        total = won.aggregate(total=Sum(in_base))["total"] or Decimal(0)
        this_deal = won.filter(pk=int(data.get("deal") or 0)).aggregate(total=Sum(in_base))["total"]
        before = total - (this_deal or Decimal(0))
        return "crossed" if before < limit <= total else "not_crossed"
    if definition.threshold_field == SCORE:
        return "crossed" if definition.crossed_by(data) else "not_crossed"
    code = definition.threshold_field[len(CUSTOM_PREFIX) :]
    if not CustomField.objects.filter(entity="contact", code=code).exists():
        return "field_deleted"
    before_value, after_value = decimal_or_none(data.get("from")), decimal_or_none(data.get("to"))
    if after_value is None or after_value < limit:
        return "not_crossed"
    return "crossed" if before_value is None or before_value < limit else "not_crossed"


def _names(rule_ids: list[int]) -> str:
    names = dict(TriggerRule.objects.filter(pk__in=rule_ids).values_list("pk", "name"))
    return " → ".join(names.get(pk, f"#{pk}") for pk in rule_ids)


def _guard(rule: TriggerRule, contact_id: int, chain: list[int], now: datetime.datetime) -> str:
    if rule.pk in chain:
        return _("Loop: the rule set itself off again through %(chain)s.") % {
            "chain": _names([*chain, rule.pk])
        }
    if len(chain) >= MAX_DEPTH:
        return _("Chain too long: %(chain)s (at most %(max)d rules in a row).") % {
            "chain": _names([*chain, rule.pk]),
            "max": MAX_DEPTH,
        }
    recent = TriggerFiring.objects.filter(
        contact_id=contact_id, rule=rule, created_at__gte=now - RATE_WINDOW
    ).count()
    if recent >= RATE_LIMIT:
        return _(
            "Rate limit: the rule fired %(count)d times for this contact in the last hour."
        ) % {"count": recent}
    return ""


def _insert(**values: Any) -> TriggerFiring | None:
    """The firing, or None when this (rule, contact, occurrence) already has one."""
    try:
        with transaction.atomic():
            return TriggerFiring.objects.create(**values)
    except IntegrityError:
        return None


def evaluate(
    *, kind: str, contact_id: int, occurrence: str, data: Mapping[str, Any], chain: list[int]
) -> list[int]:
    """Write the firings an event causes and run those due now; returns their ids."""
    if not Contact.objects.filter(pk=contact_id).exists():
        return []
    now = timezone.now()
    made: list[int] = []
    for rule in TriggerRule.objects.filter(active=True, listens_to=kind).order_by("pk"):
        definition = compile_definition(rule.definition)
        if not definition.hears(kind, data):
            continue
        key = occurrence
        status, reason = TriggerFiring.Status.PENDING, ""
        if definition.threshold is not None:
            state = _threshold_state(definition, contact_id, data)
            if state == "not_crossed":
                continue
            # Won revenue and a custom field cross a threshold once per contact; a score
            # crosses at each rise from below (the event's occurrence is that rescoring).
            if definition.threshold_field != SCORE:
                key = f"threshold:{definition.threshold_field}:{definition.threshold}"
            if state == "field_deleted":
                status = TriggerFiring.Status.FAILED
                reason = _("The custom field %(field)s was deleted; the rule cannot run.") % {
                    "field": definition.threshold_field
                }
        if not reason:
            reason = _guard(rule, contact_id, chain, now)
            if reason:
                status = TriggerFiring.Status.STOPPED
        firing = _insert(
            rule=rule,
            contact_id=contact_id,
            occurrence=key[:200],
            status=status,
            due_at=now + datetime.timedelta(minutes=definition.delay_minutes),
            chain=list(chain),
            data=dict(data),
            reason=reason[:300],
            finished_at=None if status == TriggerFiring.Status.PENDING else now,
        )
        if firing is None:
            continue
        made.append(firing.pk)
        if firing.status != TriggerFiring.Status.PENDING:
            continue
        if firing.due_at <= now:
            firing_run(firing.pk)
        else:
            alarm_at(kind=SWEEP_ALARM, at=firing.due_at)
    return made


def firing_run(firing_id: int, *, now: datetime.datetime | None = None) -> TriggerFiring | None:
    """Run a pending firing's actions once; another worker holding it is skipped."""
    from crm_modules.marketing.triggers.actions import run_actions

    now = now or timezone.now()
    with transaction.atomic():
        firing = (
            TriggerFiring.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("rule", "contact")
            .filter(pk=firing_id, status=TriggerFiring.Status.PENDING, due_at__lte=now)
            .first()
        )
        if firing is None:
            return None
        rule = firing.rule
        if not rule.active:
            firing.status = TriggerFiring.Status.CANCELED
            firing.reason = _("The rule was switched off before this was due.")
        else:
            with chain_of((*firing.chain, rule.pk)):
                firing.outcome = run_actions(rule=rule, firing=firing)
            done = [item for item in firing.outcome if item["status"] == "done"]
            firing.status = (
                TriggerFiring.Status.DONE
                if len(done) == len(firing.outcome)
                else TriggerFiring.Status.PARTIAL
                if done
                else TriggerFiring.Status.FAILED
            )
        firing.finished_at = timezone.now()
        firing.save(update_fields=["status", "reason", "outcome", "finished_at"])
    return firing


def next_due() -> datetime.datetime | None:
    return (
        TriggerFiring.objects.filter(status=TriggerFiring.Status.PENDING)
        .order_by("due_at")
        .values_list("due_at", flat=True)
        .first()
    )


def run_due(*, now: datetime.datetime) -> int:
    """Run the firings due by ``now`` in the current workspace (oldest first, a batch)."""
    ids = list(
        TriggerFiring.objects.filter(status=TriggerFiring.Status.PENDING, due_at__lte=now)
        .order_by("due_at")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    return sum(1 for pk in ids if firing_run(pk, now=now) is not None)
