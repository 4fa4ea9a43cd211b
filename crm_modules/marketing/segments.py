"""A dynamic segment's filter: validated JSON compiled through an allow-list to an ORM ``Q``.

The stored shape is ``{"match": "all" | "any", "conditions": [{"field", "op", "value"}]}``.
Every field and operator comes from ``FIELDS``; values are checked and bound as parameters, so no
user text ever reaches SQL as code (ADR 0028). Relations (consent, deals) compile to ``EXISTS``
subqueries so a contact never appears twice and counts stay index-driven.
"""

from __future__ import annotations

import datetime
import decimal
import re
from dataclasses import dataclass
from typing import Any

from django.db.models import DecimalField, Exists, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm_modules.sales.api import Consent, Deal, LifecycleStage
from crm_platform.errors import ServiceError

MAX_CONDITIONS = 20
MAX_TEXT = 200
CHANNELS = ("email", "sms", "phone")
_CUSTOM_KEY = re.compile(r"^[a-z][a-z0-9_]{0,62}$")

TEXT_OPS = ("eq", "ne", "contains", "empty", "not_empty")
NUMBER_OPS = ("eq", "gt", "gte", "lt", "lte")


@dataclass(frozen=True)
class FieldSpec:
    label: Any
    kind: str  # text | choice | number | owner | tags | consent | bool | days
    ops: tuple[str, ...]
    path: str = ""
    choices: tuple[str, ...] = ()


def _text(label: Any, path: str) -> FieldSpec:
    return FieldSpec(label, "text", TEXT_OPS, path)


FIELDS: dict[str, FieldSpec] = {
    "first_name": _text(gettext_lazy("First name"), "first_name"),
    "last_name": _text(gettext_lazy("Last name"), "last_name"),
    "job_title": _text(gettext_lazy("Job title"), "job_title"),
    "email": _text(gettext_lazy("Email"), "primary_email"),
    "city": _text(gettext_lazy("City"), "city"),
    "country": _text(gettext_lazy("Country"), "country"),
    "source": _text(gettext_lazy("Source"), "source"),
    "utm_source": _text(gettext_lazy("UTM source"), "utm_source"),
    "utm_campaign": _text(gettext_lazy("UTM campaign"), "utm_campaign"),
    "company.name": _text(gettext_lazy("Company name"), "company__name"),
    "company.industry": _text(gettext_lazy("Company industry"), "company__industry"),
    "company.city": _text(gettext_lazy("Company city"), "company__city"),
    "lifecycle_stage": FieldSpec(
        gettext_lazy("Lifecycle stage"),
        "choice",
        ("eq", "ne", "in"),
        "lifecycle_stage",
        tuple(LifecycleStage.values),
    ),
    "score": FieldSpec(gettext_lazy("Score"), "number", NUMBER_OPS, "score"),
    "owner": FieldSpec(gettext_lazy("Owner"), "owner", ("eq", "empty", "not_empty"), "owner_id"),
    "tags": FieldSpec(gettext_lazy("Tags"), "tags", ("has", "lacks"), "tags"),
    "created": FieldSpec(
        gettext_lazy("Created"), "days", ("within_days", "older_than_days"), "created_at"
    ),
    "has_open_deal": FieldSpec(gettext_lazy("Has an open deal"), "bool", ("is",)),
    "won_amount": FieldSpec(gettext_lazy("Won deal amount"), "number", NUMBER_OPS),
}
for _channel in CHANNELS:
    FIELDS[f"consent.{_channel}"] = FieldSpec(
        gettext_lazy("Consent"), "consent", ("is",), choices=("given", "withdrawn", "none")
    )


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: Any


@dataclass(frozen=True)
class Definition:
    match: str
    conditions: tuple[Condition, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "match": self.match,
            "conditions": [
                {"field": c.field, "op": c.op, "value": c.value} for c in self.conditions
            ],
        }


def _fail(message: str, index: int | None = None) -> ServiceError:
    field = "definition" if index is None else f"definition.conditions[{index}]"
    return ServiceError(message, field=field)


def _spec(name: Any, index: int) -> FieldSpec:
    if isinstance(name, str) and name.startswith("custom."):
        if not _CUSTOM_KEY.match(name[7:]):
            raise _fail(_("“%(field)s” is not a custom field key.") % {"field": name}, index)
        return FieldSpec(name[7:], "custom", ("eq", "empty", "not_empty"))
    if not isinstance(name, str) or name not in FIELDS:
        raise _fail(
            _("“%(field)s” is not a field a segment can filter on.") % {"field": name}, index
        )
    return FIELDS[name]


def _check_value(spec: FieldSpec, op: str, value: Any, index: int) -> Any:
    if op in ("empty", "not_empty"):
        return None
    if spec.kind in ("text", "tags"):
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
            raise _fail(_("Give a text of 1 to %(max)d characters.") % {"max": MAX_TEXT}, index)
        return value.strip()
    if spec.kind == "custom":
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise _fail(_("Give a text or a number."), index)
        if isinstance(value, str) and (not value.strip() or len(value) > MAX_TEXT):
            raise _fail(_("Give a text of 1 to %(max)d characters.") % {"max": MAX_TEXT}, index)
        return value
    if spec.kind == "choice":
        values = value if op == "in" else [value]
        if not isinstance(values, list) or not values or any(v not in spec.choices for v in values):
            raise _fail(
                _("Choose from: %(choices)s.") % {"choices": ", ".join(spec.choices)}, index
            )
        return values if op == "in" else value
    if spec.kind == "number":
        if isinstance(value, bool):
            raise _fail(_("Give a number."), index)
        try:
            number = decimal.Decimal(str(value))
        except (decimal.InvalidOperation, ValueError):
            raise _fail(_("Give a number."), index) from None
        if not number.is_finite() or abs(number) >= 10**15:
            raise _fail(_("Give a number."), index)
        return str(number)
    if spec.kind == "owner":
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise _fail(_("Give the owner's user id."), index)
        return value
    if spec.kind == "days":
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= 36500:
            raise _fail(_("Give a number of days from 1 to 36500."), index)
        return value
    if spec.kind == "bool":
        if not isinstance(value, bool):
            raise _fail(_("Give true or false."), index)
        return value
    if spec.kind == "consent":
        if value not in spec.choices:
            raise _fail(
                _("Choose from: %(choices)s.") % {"choices": ", ".join(spec.choices)}, index
            )
        return value
    raise _fail(_("Unknown field."), index)  # pragma: no cover - FIELDS kinds are closed


def check_definition(raw: Any) -> Definition:
    """Validate and normalise a filter; raise ``ServiceError`` naming the bad part."""
    if not isinstance(raw, dict) or set(raw) - {"match", "conditions"}:
        raise _fail(_("A filter is an object with “match” and “conditions”."))
    match = raw.get("match", "all")
    if match not in ("all", "any"):
        raise _fail(_("“match” is “all” or “any”."))
    conditions = raw.get("conditions")
    if not isinstance(conditions, list) or not conditions:
        raise _fail(_("Add at least one condition."))
    if len(conditions) > MAX_CONDITIONS:
        raise _fail(_("At most %(max)d conditions.") % {"max": MAX_CONDITIONS})
    checked = []
    for index, item in enumerate(conditions):
        if not isinstance(item, dict) or set(item) - {"field", "op", "value"}:
            raise _fail(_("A condition is an object with “field”, “op” and “value”."), index)
        spec = _spec(item.get("field"), index)
        op = item.get("op")
        if op not in spec.ops:
            raise _fail(
                _("Choose an operator from: %(ops)s.") % {"ops": ", ".join(spec.ops)}, index
            )
        value = _check_value(spec, op, item.get("value"), index)
        checked.append(Condition(item["field"], op, value))
    return Definition(match, tuple(checked))


def _text_q(path: str, op: str, value: Any) -> Q:
    if op == "eq":
        return Q(**{f"{path}__iexact": value})
    if op == "ne":
        return ~Q(**{f"{path}__iexact": value})
    if op == "contains":
        return Q(**{f"{path}__icontains": value})
    empty = Q(**{f"{path}__isnull": True}) | Q(**{path: ""})
    return empty if op == "empty" else ~empty


def _number_q(path: str, op: str, value: Any) -> Q:
    if op == "eq":
        return Q(**{path: value})
    return Q(**{f"{path}__{op}": value})


def _won_amount() -> Any:
    won = (
        Deal.objects.filter(contacts=OuterRef("pk"), status="won")
        .order_by()
        .values("contacts")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    return Coalesce(
        Subquery(won, output_field=DecimalField(max_digits=18, decimal_places=2)),
        Value(decimal.Decimal(0)),
        output_field=DecimalField(max_digits=18, decimal_places=2),
    )


def _condition_q(condition: Condition) -> tuple[Q, dict[str, Any]]:
    """The ``Q`` for one condition and any annotation it needs."""
    name, op, value = condition.field, condition.op, condition.value
    if name.startswith("custom."):
        key = name[7:]
        if op == "eq":
            return Q(custom__contains={key: value}), {}
        present = Q(custom__has_key=key) & ~Q(**{f"custom__{key}": ""})
        return (~present if op == "empty" else present), {}
    spec = FIELDS[name]
    if spec.kind == "text":
        return _text_q(spec.path, op, value), {}
    if spec.kind == "choice":
        if op == "in":
            return Q(**{f"{spec.path}__in": value}), {}
        q = Q(**{spec.path: value})
        return (q if op == "eq" else ~q), {}
    if spec.kind == "owner":
        if op == "eq":
            return Q(owner_id=value), {}
        return (Q(owner__isnull=True) if op == "empty" else Q(owner__isnull=False)), {}
    if spec.kind == "tags":
        q = Q(tags__contains=[value])
        return (q if op == "has" else ~q), {}
    if spec.kind == "days":
        since = timezone.now() - datetime.timedelta(days=value)
        return (Q(created_at__gte=since) if op == "within_days" else Q(created_at__lt=since)), {}
    if spec.kind == "bool":
        open_deal = Exists(Deal.objects.filter(contacts=OuterRef("pk"), status="open"))
        return (Q(open_deal) if value else ~Q(open_deal)), {}
    if spec.kind == "consent":
        channel = name.split(".", 1)[1]
        rows = Consent.objects.filter(contact=OuterRef("pk"), channel=channel)
        if value == "none":
            return ~Q(Exists(rows)), {}
        return Q(Exists(rows.filter(status=value))), {}
    if name == "won_amount":
        alias = "segment_won_amount"
        return _number_q(alias, op, value), {alias: _won_amount()}
    return _number_q(spec.path, op, value), {}


def compile_definition(definition: Definition) -> tuple[Q, dict[str, Any]]:
    """The filter as one ``Q`` plus the aliases it refers to (``queryset.alias(**aliases)``)."""
    combined = Q()
    aliases: dict[str, Any] = {}
    for condition in definition.conditions:
        q, needs = _condition_q(condition)
        aliases.update(needs)
        combined = (combined & q) if definition.match == "all" else (combined | q)
    return combined, aliases
