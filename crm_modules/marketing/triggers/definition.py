"""A trigger rule's definition: validated JSON compiled against an allow-list (never user SQL).

    {"when": {"event": "sales.tag_added", "match": {"tag": "Gold"}}
          | {"threshold": {"field": "won_revenue" | "score" | "custom.<code>", "crosses": 1000}},
     "delay_minutes": 4320,
     "actions": [{"type": "add_tag", "tag": "Gold"},
                 {"type": "set_lifecycle", "stage": "customer"},
                 {"type": "send_email", "subject": "…", "body": "…", "purpose": "marketing"},
                 {"type": "create_task", "title": "…", "due_in_days": 1},
                 {"type": "add_to_list", "segment": 12}]}

Events are the kinds modules registered with ``tenants.modules.register_record_event_kind``;
a threshold is crossed when a value goes from below it to at or above it (won revenue and a
custom field once per contact; the lead score at each upward crossing, as a score falls back
with time and may rise again). ``rule_cycle``
finds the rules an action of a rule would set off again (ADR 0042).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _

from crm_modules.marketing.campaigns.content import placeholders_check
from crm_modules.marketing.models import Segment
from crm_modules.marketing.pressure import Purpose
from crm_modules.sales.api import CustomField, LifecycleStage
from crm_platform.errors import ServiceError
from crm_platform.validation import check_text
from tenants.modules import record_event_kinds

MAX_ACTIONS = 10
MAX_DELAY_MINUTES = 60 * 24 * 365
MAX_BODY = 20_000
MAX_THRESHOLD = Decimal("1e15")
ACTION_TYPES = ("add_tag", "set_lifecycle", "send_email", "create_task", "add_to_list")
# Thresholds: the field, and the event after which it is compared.
WON_REVENUE = "won_revenue"
SCORE = "score"
SCORE_EVENT = "scoring.score_changed"
THRESHOLD_EVENTS = {WON_REVENUE: "sales.deal_won", SCORE: SCORE_EVENT}
CUSTOM_PREFIX = "custom."
NUMBER_TYPES = {"number", "decimal", "currency"}
FIELD_EVENT = "sales.field_changed"
TAG_EVENT = "sales.tag_added"
LIFECYCLE_EVENT = "sales.lifecycle_changed"
# Kinds a rule reaches only through a threshold, never as "when.event".
THRESHOLD_ONLY_EVENTS = frozenset({FIELD_EVENT, SCORE_EVENT})


@dataclass(frozen=True)
class Definition:
    listens_to: str
    match: dict[str, str] = field(default_factory=dict)
    threshold_field: str = ""
    threshold: Decimal | None = None
    delay_minutes: int = 0
    actions: tuple[dict[str, Any], ...] = ()

    def produces(self) -> list[tuple[str, dict[str, str]]]:
        """The events this rule's actions can cause."""
        made: list[tuple[str, dict[str, str]]] = []
        for action in self.actions:
            if action["type"] == "add_tag":
                made.append((TAG_EVENT, {"tag": action["tag"]}))
            elif action["type"] == "set_lifecycle":
                made.append((LIFECYCLE_EVENT, {"to": action["stage"]}))
        return made

    def crossed_by(self, data: Mapping[str, Any]) -> bool:
        """For a threshold read from the event's own ``from`` and ``to`` (the score): whether
        the value went from below the threshold to at or above it."""
        if self.threshold is None:
            return False
        before, after = decimal_or_none(data.get("from")), decimal_or_none(data.get("to"))
        if after is None or after < self.threshold:
            return False
        return before is None or before < self.threshold

    def hears(self, kind: str, data: Mapping[str, Any]) -> bool:
        return kind == self.listens_to and all(
            str(data.get(key, "")) == value for key, value in self.match.items()
        )


def decimal_or_none(value: Any) -> Decimal | None:
    if value in (None, "") or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _error(message: str, where: str) -> ServiceError:
    return ServiceError(message, field="definition", code=where)


def _object(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise _error(_("%(where)s must be an object.") % {"where": where}, where)
    return raw


def _unknown_keys(raw: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
    extra = sorted(set(raw) - set(allowed))
    if extra:
        raise _error(
            _("%(where)s has unknown keys: %(keys)s.") % {"where": where, "keys": ", ".join(extra)},
            where,
        )


def _string(raw: Any, where: str, *, max_length: int) -> str:
    if not isinstance(raw, str):
        raise _error(_("%(where)s must be text.") % {"where": where}, where)
    try:
        return check_text(raw, field="definition", max_length=max_length, label=where)
    except ServiceError as exc:
        raise _error(exc.message, where) from exc


def _integer(raw: Any, where: str, *, low: int, high: int) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or not low <= raw <= high:
        raise _error(
            _("%(where)s must be a whole number from %(low)d to %(high)d.")
            % {"where": where, "low": low, "high": high},
            where,
        )
    return raw


def check_tag(raw: Any, where: str) -> str:
    tag = " ".join(_string(raw, where, max_length=50).split())
    return tag


def _check_threshold(raw: Any, kept_field: str) -> tuple[str, str, Decimal]:
    threshold = _object(raw, "when.threshold")
    _unknown_keys(threshold, ("field", "crosses"), "when.threshold")
    name = _string(threshold.get("field"), "when.threshold.field", max_length=60)
    value = threshold.get("crosses")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _error(_("when.threshold.crosses must be a number."), "when.threshold.crosses")
    try:
        number = Decimal(str(value))
    except InvalidOperation as exc:
        raise _error(
            _("when.threshold.crosses must be a number."), "when.threshold.crosses"
        ) from exc
    if not number.is_finite() or abs(number) >= MAX_THRESHOLD:
        raise _error(_("when.threshold.crosses must be a number."), "when.threshold.crosses")
    if name in THRESHOLD_EVENTS:
        return name, THRESHOLD_EVENTS[name], number
    if name.startswith(CUSTOM_PREFIX):
        code = name[len(CUSTOM_PREFIX) :]
        custom = CustomField.objects.filter(entity="contact", code=code).first()
        if custom is None:
            raise _error(
                _("The custom field %(field)s does not exist (any more).") % {"field": name},
                "when.threshold.field",
            )
        if custom.archived_at is not None and name != kept_field:
            # Not offered for a new threshold; a rule that already uses it keeps running.
            raise _error(
                _("The custom field %(field)s is archived; restore it to use it in a rule.")
                % {"field": name},
                "when.threshold.field",
            )
        if custom.type not in NUMBER_TYPES:
            raise _error(
                _("The custom field %(field)s holds %(type)s, not numbers.")
                % {"field": name, "type": custom.get_type_display()},
                "when.threshold.field",
            )
        return name, FIELD_EVENT, number
    raise _error(
        _("when.threshold.field must be won_revenue, score or custom.<code> of a number field."),
        "when.threshold.field",
    )


def _check_when(raw: Any, kept_field: str) -> tuple[str, dict[str, str], str, Decimal | None]:
    when = _object(raw, "when")
    _unknown_keys(when, ("event", "match", "threshold"), "when")
    if "threshold" in when:
        if "event" in when or "match" in when:
            raise _error(_("when has either an event or a threshold, not both."), "when")
        name, kind, number = _check_threshold(when["threshold"], kept_field)
        return kind, {}, name, number
    kinds = {kind.code: kind for kind in record_event_kinds()}
    code = when.get("event")
    if code not in kinds or code in THRESHOLD_ONLY_EVENTS:
        raise _error(
            _("when.event must be one of: %(kinds)s.")
            % {"kinds": ", ".join(sorted(set(kinds) - THRESHOLD_ONLY_EVENTS))},
            "when.event",
        )
    match_raw = _object(when.get("match", {}), "when.match")
    _unknown_keys(match_raw, kinds[code].keys, "when.match")
    match: dict[str, str] = {}
    for key, value in match_raw.items():
        if key == "tag":
            match[key] = check_tag(value, "when.match.tag")
        elif key == "to" and code == LIFECYCLE_EVENT:
            if value not in LifecycleStage.values:
                raise _error(
                    _("when.match.to must be one of: %(stages)s.")
                    % {"stages": ", ".join(LifecycleStage.values)},
                    "when.match.to",
                )
            match[key] = value
        else:
            match[key] = _string(
                value if not isinstance(value, int) or isinstance(value, bool) else str(value),
                f"when.match.{key}",
                max_length=100,
            )
    return code, match, "", None


def _check_action(raw: Any, where: str) -> dict[str, Any]:
    action = _object(raw, where)
    kind = action.get("type")
    if kind not in ACTION_TYPES:
        raise _error(
            _("%(where)s.type must be one of: %(types)s.")
            % {"where": where, "types": ", ".join(ACTION_TYPES)},
            f"{where}.type",
        )
    if kind == "add_tag":
        _unknown_keys(action, ("type", "tag"), where)
        return {"type": kind, "tag": check_tag(action.get("tag"), f"{where}.tag")}
    if kind == "set_lifecycle":
        _unknown_keys(action, ("type", "stage"), where)
        if action.get("stage") not in LifecycleStage.values:
            raise _error(
                _("%(where)s.stage must be one of: %(stages)s.")
                % {"where": where, "stages": ", ".join(LifecycleStage.values)},
                f"{where}.stage",
            )
        return {"type": kind, "stage": action["stage"]}
    if kind == "send_email":
        _unknown_keys(action, ("type", "subject", "body", "purpose"), where)
        subject = _string(action.get("subject"), f"{where}.subject", max_length=200)
        body = _string(action.get("body"), f"{where}.body", max_length=MAX_BODY)
        for name, text in (("subject", subject), ("body", body)):
            try:
                placeholders_check(text, field=name)
            except ServiceError as exc:
                raise _error(exc.message, f"{where}.{name}") from exc
        purpose = action.get("purpose", Purpose.MARKETING)
        if purpose not in (Purpose.MARKETING, Purpose.TRANSACTIONAL):
            raise _error(
                _("%(where)s.purpose must be marketing or transactional.") % {"where": where},
                f"{where}.purpose",
            )
        return {"type": kind, "subject": subject, "body": body, "purpose": str(purpose)}
    if kind == "create_task":
        _unknown_keys(action, ("type", "title", "due_in_days"), where)
        return {
            "type": kind,
            "title": _string(action.get("title"), f"{where}.title", max_length=200),
            "due_in_days": _integer(
                action.get("due_in_days", 1), f"{where}.due_in_days", low=0, high=365
            ),
        }
    _unknown_keys(action, ("type", "segment"), where)
    segment_id = _integer(action.get("segment"), f"{where}.segment", low=1, high=2**62)
    if not Segment.objects.filter(pk=segment_id, kind=Segment.Kind.STATIC).exists():
        raise _error(
            _("%(where)s.segment must be a static list of this workspace.") % {"where": where},
            f"{where}.segment",
        )
    return {"type": kind, "segment": segment_id}


def check_definition(raw: Any, *, kept_field: str = "") -> tuple[dict[str, Any], Definition]:
    """The normalised JSON to store and what it compiles to; a ``ServiceError`` naming the
    part at fault otherwise. ``kept_field``: the threshold field of the rule being changed,
    accepted even if it was archived since (the rule keeps working)."""
    root = _object(raw, "definition")
    _unknown_keys(root, ("when", "delay_minutes", "actions"), "definition")
    listens_to, match, threshold_field, threshold = _check_when(root.get("when"), kept_field)
    delay = _integer(root.get("delay_minutes", 0), "delay_minutes", low=0, high=MAX_DELAY_MINUTES)
    actions_raw = root.get("actions")
    if not isinstance(actions_raw, list) or not actions_raw:
        raise _error(
            _("actions must be a list of 1 to %(max)d actions.") % {"max": MAX_ACTIONS}, "actions"
        )
    if len(actions_raw) > MAX_ACTIONS:
        raise _error(
            _("A rule can have at most %(max)d actions; this one has %(count)d.")
            % {"max": MAX_ACTIONS, "count": len(actions_raw)},
            "actions",
        )
    actions = tuple(_check_action(item, f"actions[{i}]") for i, item in enumerate(actions_raw))
    when: dict[str, Any]
    if threshold is not None:
        when = {"threshold": {"field": threshold_field, "crosses": str(threshold)}}
    else:
        when = {"event": listens_to, **({"match": match} if match else {})}
    stored = {"when": when, "delay_minutes": delay, "actions": [dict(a) for a in actions]}
    return stored, compile_definition(stored)


def threshold_field_of(stored: Any) -> str:
    """The threshold field a stored definition names ("" for an event rule)."""
    when = stored.get("when") if isinstance(stored, Mapping) else None
    threshold = when.get("threshold") if isinstance(when, Mapping) else None
    field = threshold.get("field") if isinstance(threshold, Mapping) else None
    return field if isinstance(field, str) else ""


def offered_threshold_fields() -> list[CustomField]:
    """The contact number fields a new threshold may use: archived ones are not offered."""
    return list(
        CustomField.objects.filter(
            entity="contact", type__in=sorted(NUMBER_TYPES), archived_at__isnull=True
        ).order_by("position", "id")
    )


def compile_definition(stored: Mapping[str, Any]) -> Definition:
    """A stored (already checked) definition as the engine reads it."""
    when = stored["when"]
    if "threshold" in when:
        name = when["threshold"]["field"]
        return Definition(
            listens_to=THRESHOLD_EVENTS.get(name, FIELD_EVENT),
            match={} if name in THRESHOLD_EVENTS else {"field": name},
            threshold_field=name,
            threshold=Decimal(str(when["threshold"]["crosses"])),
            delay_minutes=int(stored.get("delay_minutes", 0)),
            actions=tuple(stored["actions"]),
        )
    return Definition(
        listens_to=when["event"],
        match=dict(when.get("match", {})),
        delay_minutes=int(stored.get("delay_minutes", 0)),
        actions=tuple(stored["actions"]),
    )


def rule_cycle(
    *, rule_id: int | None, name: str, definition: Definition, others: Mapping[int, Any]
) -> list[str] | None:
    """The names along a cycle through the rule being saved, if its actions can set itself
    off again, directly or through other active rules (``others``: id → (name, Definition))."""
    me = -1 if rule_id is None else rule_id
    rules: dict[int, tuple[str, Definition]] = {
        pk: value for pk, value in others.items() if pk != me
    }
    rules[me] = (name, definition)

    def successors(pk: int) -> list[int]:
        produced = rules[pk][1].produces()
        return sorted(
            other
            for other, (_name, other_def) in rules.items()
            if any(other_def.hears(kind, data) for kind, data in produced)
        )

    path: list[int] = [me]
    seen: set[int] = set()

    def walk(pk: int) -> list[int] | None:
        for nxt in successors(pk):
            if nxt == me:
                return [*path, me]
            if nxt in seen:
                continue
            seen.add(nxt)
            path.append(nxt)
            found = walk(nxt)
            if found:
                return found
            path.pop()
        return None

    found = walk(me)
    return None if found is None else [rules[pk][0] for pk in found]
