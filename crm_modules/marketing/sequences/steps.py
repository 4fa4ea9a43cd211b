"""A sequence's steps as the editor and the API give them: validated (each error names the step
and its field, ``steps[2].body``) and normalised; and when a step falls due.

Email bodies are the campaign editor's HTML: sanitised with the same rules and written with the
same placeholders (``crm_modules.marketing.campaigns.content``), so a broken placeholder is
refused with the step and the placeholder named.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from crm_modules.marketing.campaigns import content
from crm_modules.marketing.models_sequences import SequenceStep
from crm_modules.sales.api import LifecycleStage
from crm_platform.errors import ServiceError
from crm_platform.validation import check_text

MAX_STEPS = 20
# A step waits at most a year after the one before it.
MAX_DELAY_HOURS = 365 * 24
Kind = SequenceStep.Kind
Unit = SequenceStep.DelayUnit
Condition = SequenceStep.Condition


@dataclass(frozen=True)
class StepDraft:
    kind: str
    delay_amount: Any = 1
    delay_unit: str = Unit.DAYS
    condition: str = Condition.ALWAYS
    condition_value: str = ""
    subject: str = ""
    body: str = ""
    task_title: str = ""


def _hours(amount: int, unit: str) -> int:
    return amount if unit == Unit.HOURS else amount * 24


def _error(position: int, name: str, message: str) -> ServiceError:
    return ServiceError(
        _("Step %(position)d: %(message)s") % {"position": position, "message": message},
        field=f"steps[{position - 1}].{name}",
    )


def _check_placeholders(text: str, *, position: int, name: str) -> None:
    try:
        content.placeholders_check(text, field=name)
    except ServiceError as exc:
        raise _error(position, name, exc.message) from None


def check_step(draft: StepDraft, *, position: int) -> dict[str, Any]:
    """One step's values for a ``SequenceStep`` (position counts from 1)."""
    if draft.kind not in Kind.values:
        raise _error(position, "kind", _("choose an email or a task."))
    if draft.delay_unit not in Unit.values:
        raise _error(position, "delay_unit", _("choose hours, days or business days."))
    try:
        amount = int(str(draft.delay_amount).strip())
    except (TypeError, ValueError):
        raise _error(position, "delay_amount", _("give the delay as a whole number.")) from None
    # The first step may go at once; a later one needs a real pause after the one before.
    least = 0 if position == 1 else 1
    if amount < least:
        raise _error(
            position,
            "delay_amount",
            _("the delay must be at least %(least)d.") % {"least": least}
            if least
            else _("the delay cannot be negative."),
        )
    if _hours(amount, draft.delay_unit) > MAX_DELAY_HOURS:
        raise _error(position, "delay_amount", _("the delay can be at most 365 days."))
    if draft.condition not in Condition.values:
        raise _error(position, "condition", _("choose a condition from the list."))
    condition_value = (draft.condition_value or "").strip()
    if draft.condition == Condition.LIFECYCLE_IS:
        if condition_value not in LifecycleStage.values:
            raise _error(position, "condition_value", _("choose a lifecycle stage."))
    else:
        condition_value = ""
    values: dict[str, Any] = {
        "position": position,
        "kind": draft.kind,
        "delay_amount": amount,
        "delay_unit": draft.delay_unit,
        "condition": draft.condition,
        "condition_value": condition_value,
        "subject": "",
        "body": "",
        "links": [],
        "task_title": "",
    }
    if draft.kind == Kind.EMAIL:
        try:
            subject = check_text(
                draft.subject or "", field="subject", max_length=200, label=_("Subject")
            )
        except ServiceError as exc:
            raise _error(position, "subject", exc.message) from None
        _check_placeholders(subject, position=position, name="subject")
        try:
            body = content.check_html(draft.body)
        except ServiceError as exc:
            raise _error(position, "body", exc.message) from None
        clean = content.sanitise_html(body)
        _check_placeholders(clean, position=position, name="body")
        built = content.build(subject=subject, preheader="", mode="html", blocks=[], html=clean)
        values.update(subject=subject, body=clean, links=built.links)
    else:
        try:
            title = check_text(
                draft.task_title or "", field="task_title", max_length=200, label=_("Task title")
            )
        except ServiceError as exc:
            raise _error(position, "task_title", exc.message) from None
        values["task_title"] = title
    return values


def check_steps(drafts: list[StepDraft]) -> list[dict[str, Any]]:
    if not drafts:
        raise ServiceError(_("Add at least one step."), field="steps")
    if len(drafts) > MAX_STEPS:
        raise ServiceError(_("At most %(max)d steps.") % {"max": MAX_STEPS}, field="steps")
    steps = [check_step(draft, position=n) for n, draft in enumerate(drafts, start=1)]
    for step in steps:
        if step["condition"] in (Condition.NOT_OPENED, Condition.NOT_CLICKED) and not any(
            earlier["kind"] == Kind.EMAIL for earlier in steps[: step["position"] - 1]
        ):
            raise _error(
                step["position"], "condition", _("no email comes before this step to check.")
            )
    return steps


def step_due(
    *, anchor: datetime.datetime, amount: int, unit: str, zone: datetime.tzinfo
) -> datetime.datetime:
    """When a step falls due ``amount`` units after ``anchor``; business days skip Saturdays
    and Sundays of the contact's calendar, keeping the wall-clock time."""
    if unit == Unit.HOURS:
        return anchor + datetime.timedelta(hours=amount)
    if unit == Unit.DAYS:
        return anchor + datetime.timedelta(days=amount)
    local = anchor.astimezone(zone)
    day = local.date()
    left = amount
    while left > 0:
        day += datetime.timedelta(days=1)
        if day.weekday() < 5:
            left -= 1
    while day.weekday() >= 5:
        day += datetime.timedelta(days=1)
    wall = datetime.datetime.combine(day, local.time().replace(tzinfo=None))
    return wall.replace(tzinfo=zone).astimezone(datetime.UTC)
