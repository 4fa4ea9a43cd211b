"""Segment conditions on custom fields of contacts (``custom.<code>``) and of the contact's
company (``company.custom.<code>``), with the operators that suit the field's type: a select is
one of its options, numbers and dates compare, a yes/no field is yes or no, text contains.

A custom field's values live in the record's ``custom`` JSON (ADR 0012). Equality, options,
yes/no and members compile to JSON containment (``@>``), served by the records' ``custom``
GIN index; comparisons read the value as a number or a date only where it has that shape, so a
stray value never makes the query fail. A condition on the company's field is ``company IN``
the companies whose field passes, so a contact without a company is never joined twice and is
counted by the negative operators ("is not", "is empty").

A key without a field (deleted, or never defined) keeps the operators every custom condition
had before types were known: is (the exact JSON value), is empty, is not empty."""

from __future__ import annotations

import datetime
import decimal
from dataclasses import dataclass
from typing import Any

from django.db.models import Case, DateField, DecimalField, JSONField, Q, Value, When
from django.db.models.fields.json import KeyTextTransform, KeyTransform, KeyTransformExact
from django.db.models.functions import Cast
from django.db.models.lookups import IContains, Regex
from django.utils.translation import gettext as _

from crm_modules.sales.api import Company, CustomField
from crm_platform.errors import ServiceError

MAX_TEXT = 200
TEXT_TYPES = ("text", "long_text", "url", "email", "phone")
NUMBER_TYPES = ("number", "decimal", "currency")
DATE_TYPES = ("date", "datetime")
LEGACY_OPS = ("eq", "empty", "not_empty")
OPS_BY_TYPE: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(TEXT_TYPES, ("eq", "ne", "contains", "empty", "not_empty")),
    **dict.fromkeys(NUMBER_TYPES, ("eq", "gt", "gte", "lt", "lte", "empty", "not_empty")),
    **dict.fromkeys(DATE_TYPES, ("eq", "gt", "gte", "lt", "lte", "empty", "not_empty")),
    "boolean": ("is", "empty", "not_empty"),
    "select": ("eq", "ne", "in", "empty", "not_empty"),
    "multi_select": ("has", "lacks", "empty", "not_empty"),
    "member": ("eq", "empty", "not_empty"),
}
# Operators that select the records lacking what the positive operator selects.
NEGATIVE = {"ne": "eq", "lacks": "has", "empty": "not_empty"}
_NUMBER = r"^-?[0-9]{1,18}(\.[0-9]{1,12})?$"
_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_DATETIME = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T"
NUMBER_FIELD = DecimalField(max_digits=30, decimal_places=12)


@dataclass(frozen=True)
class CustomTarget:
    """A custom condition's field: on contacts or on their company, its code and the
    definition (None when the workspace has no field with that code)."""

    entity: str
    code: str
    field: CustomField | None

    @property
    def type(self) -> str:
        return self.field.type if self.field is not None else ""

    @property
    def ops(self) -> tuple[str, ...]:
        return OPS_BY_TYPE.get(self.type, LEGACY_OPS)

    @property
    def options(self) -> tuple[str, ...]:
        options = self.field.options if self.field is not None else []
        return tuple(str(o) for o in options) if isinstance(options, list) else ()


def custom_target(entity: str, code: str) -> CustomTarget:
    field = CustomField.objects.filter(entity=entity, code=code).first()
    return CustomTarget(entity, code, field)


def offered_targets() -> list[CustomTarget]:
    """The custom fields of contacts and companies the builder offers: archived ones are not
    (a stored filter on one keeps working)."""
    fields = CustomField.objects.filter(
        entity__in=("contact", "company"), archived_at__isnull=True
    ).order_by("entity", "position", "id")
    return [CustomTarget(f.entity, f.code, f) for f in fields]


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
        raise ServiceError(_("Give a text of 1 to %(max)d characters.") % {"max": MAX_TEXT})
    return value.strip()


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ServiceError(_("Give a number."))
    try:
        number = decimal.Decimal(str(value).strip())
    except (decimal.InvalidOperation, ValueError):
        raise ServiceError(_("Give a number.")) from None
    if not number.is_finite() or abs(number) >= 10**16:
        raise ServiceError(_("Give a number."))
    return str(number)


def _date(value: Any) -> str:
    try:
        return datetime.date.fromisoformat(value).isoformat() if isinstance(value, str) else ""
    except ValueError:
        pass
    raise ServiceError(_("Give a date as YYYY-MM-DD."))


def check_value(target: CustomTarget, op: str, value: Any) -> Any:
    """The condition's value, normalised; a ``ServiceError`` (without a field) saying what to
    give otherwise."""
    if op in ("empty", "not_empty"):
        return None
    kind = target.type
    if not kind:  # no field of that code: the exact JSON value, as before types were known
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ServiceError(_("Give a text or a number."))
        return _text(value) if isinstance(value, str) else value
    if kind in NUMBER_TYPES:
        return _number(value)
    if kind in DATE_TYPES:
        return _date(value)
    if kind == "boolean":
        if not isinstance(value, bool):
            raise ServiceError(_("Give true or false."))
        return value
    if kind == "member":
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ServiceError(_("Give the member's user id."))
        return value
    if kind == "select" and op == "in":
        if not isinstance(value, list) or not value or len(value) > 100:
            raise ServiceError(_("Choose one or more of the field's options."))
        return list(dict.fromkeys(_text(v) for v in value))
    # Text, a select's option, a multi-select's option. An option since removed from the field
    # is not refused: a stored filter on it keeps working and matches the records that keep it.
    return _text(value)


def check_offered(target: CustomTarget, op: str, value: Any) -> None:
    """What only a filter being saved must meet: the field is not archived, and a select's
    value is one of its options."""
    if target.field is None:
        return
    if target.field.archived_at is not None:
        raise ServiceError(
            _("The custom field “%(field)s” is archived; restore it to filter on it.")
            % {"field": target.field.label}
        )
    if target.type in ("select", "multi_select") and op not in ("empty", "not_empty"):
        values = value if isinstance(value, list) else [value]
        if any(v not in target.options for v in values):
            raise ServiceError(
                _("Choose from: %(choices)s.") % {"choices": ", ".join(target.options)}
            )


def _contains(code: str, value: Any) -> Q:
    return Q(custom__contains={code: value})


def _is(code: str, value: Any) -> Q:
    """The field's JSON value is exactly ``value`` (containment would take any list for
    ``[]``). The key is an expression, never a lookup path, whatever the field's code."""
    return Q(
        KeyTransformExact(KeyTransform(code, "custom"), Value(value, output_field=JSONField()))
    )


def _positive(target: CustomTarget, op: str, value: Any, alias: str) -> tuple[Q, dict[str, Any]]:
    """The records (with a ``custom`` column) that pass the positive form of ``op``."""
    code, kind = target.code, target.type
    if op == "not_empty":
        return Q(custom__has_key=code) & ~_is(code, "") & ~_is(code, []), {}
    if op == "contains":
        return Q(IContains(KeyTextTransform(code, "custom"), value)), {}
    if op == "in":
        combined = Q()
        for option in value:
            combined |= _contains(code, option)
        return combined, {}
    if op == "has":
        return _contains(code, [value]), {}
    if kind in NUMBER_TYPES or kind in DATE_TYPES:
        text = KeyTextTransform(code, "custom")
        bound: Any
        if kind in NUMBER_TYPES:
            shape, typed, bound = _NUMBER, Cast(text, NUMBER_FIELD), decimal.Decimal(value)
        else:
            shape = _DATE if kind == "date" else _DATETIME
            # A date and time is compared by its day in UTC, as it is stored.
            typed = Cast(text, DateField())
            bound = datetime.date.fromisoformat(value)
        figure = Case(
            When(Regex(KeyTextTransform(code, "custom"), shape), then=typed),
            default=Value(None),
            output_field=NUMBER_FIELD if kind in NUMBER_TYPES else DateField(),
        )
        lookup = alias if op == "eq" else f"{alias}__{op}"
        return Q(**{lookup: bound}), {alias: figure}
    # eq on text, an option, yes/no, a member, or a key without a field; "is" on yes/no.
    return _contains(code, value), {}


def custom_q(target: CustomTarget, op: str, value: Any, alias: str) -> tuple[Q, dict[str, Any]]:
    """The condition on contacts: a ``Q`` and the aliases it needs (``alias`` names the one a
    comparison needs)."""
    positive_op = NEGATIVE.get(op, op)
    q, aliases = _positive(target, positive_op, value, alias)
    if target.entity == "company":
        companies = Company.objects.alias(**aliases).filter(q).values("pk")
        q, aliases = Q(company__in=companies), {}
    return (~q if op in NEGATIVE else q), aliases
