"""Filters on custom fields (ADR 0012, ADR 0062): one reading of the ``cf_`` query parameters for
the REST API's lists, the sales list pages and their exports, and other modules' lists through
the facade (the service inbox).

- ``cf_<code>=value`` — the field is (a multi select: has) the value, normalised as stored
  values are; JSON containment (``custom @> {...}``), served by the ``custom`` GIN
  (``jsonb_path_ops``) index of each table.
- ``cf_<code>__any=value`` (repeated) — a select is one of the values, a multi select has at
  least one of them (ADR 0069): one containment per value, OR-ed, each served by the same GIN
  index. ``cf_<code>=`` repeated on a multi select asks for all of them.
- ``cf_<code>__contains=text`` — a text field (text, long text, web address, email, phone)
  contains the text, in any case. The trigram index on ``upper(custom::text)`` finds the
  records whose custom values contain it somewhere; the field's own value is then checked.
- ``cf_<code>__gte=`` / ``cf_<code>__lte=`` — a number, decimal or money field at least / at
  most the number; a date or date-and-time field on or after / on or before the day (a date
  and time by its day in UTC, as it is stored). A value stored before the field had its type
  is skipped, never an error.

A parameter naming no field in use (unknown, archived, deleted) or a value that does not fit
the field's type is refused with a ServiceError naming ``custom_fields.<code>`` and the
field's label.

When the list's other filters leave few rows (PostgreSQL's own estimate, at most
``CHECK_ON_ROWS_MAX``), the values and texts are checked on those rows, without the GIN
indexes: a bitmap of every record holding a common value costs more than reading the few rows
(ADR 0086)."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from django.db.models import BooleanField, F, Func, Model, Q, QuerySet, TextField, Value
from django.db.models.fields.json import DataContains, KeyTextTransform, KeyTransform
from django.db.models.functions import Cast, Upper
from django.db.models.lookups import Contains, IContains
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter

from crm_modules.sales.models import CustomField
from crm_modules.sales.services import checks
from crm_modules.sales.services.custom_fields import check_value
from crm_platform.errors import ServiceError
from tenants.models import Membership

PREFIX = "cf_"
CONTAINS, AT_LEAST, AT_MOST, ANY_OF = "contains", "gte", "lte", "any"
OPERATORS = (CONTAINS, AT_LEAST, AT_MOST, ANY_OF)
CHOICE_TYPES = frozenset({CustomField.Type.SELECT, CustomField.Type.MULTI_SELECT})
MAX_ANY = 50
TEXT_TYPES = frozenset(
    {
        CustomField.Type.TEXT,
        CustomField.Type.LONG_TEXT,
        CustomField.Type.URL,
        CustomField.Type.EMAIL,
        CustomField.Type.PHONE,
    }
)
NUMBER_TYPES = frozenset(
    {CustomField.Type.NUMBER, CustomField.Type.DECIMAL, CustomField.Type.CURRENCY}
)
DATE_TYPES = frozenset({CustomField.Type.DATE, CustomField.Type.DATETIME})
MAX_TEXT = 200
# Up to this many rows left by the other filters (PostgreSQL's estimate), the custom
# conditions are checked on them rather than through the GIN indexes (ADR 0086).
CHECK_ON_ROWS_MAX = 20_000

M = TypeVar("M", bound=Model)


class _PathExists(Func):
    """``jsonb_path_exists(custom, path, vars, silent => true)``: a value of the wrong shape
    (text where a number is compared) does not match, and raises nothing."""

    function = "jsonb_path_exists"
    output_field = BooleanField()


def _jsonpath(path: str) -> Func:
    return Func(Value(path), template="(%(expressions)s)::jsonpath", output_field=TextField())


def _jsonb(data: Any) -> Func:
    return Func(
        Value(json.dumps(data)), template="(%(expressions)s)::jsonb", output_field=TextField()
    )


def _holds(code: str, value: Any) -> Q:
    """``(custom -> code) @> value``: what ``custom @> {code: value}`` asks, in a form the GIN
    index does not serve (checked on rows found another way)."""
    return Q(DataContains(KeyTransform(code, "custom"), _jsonb(value)))


@dataclass
class Condition:
    """A condition as the GIN indexes serve it, and as checked on rows found another way."""

    indexed: Q
    checked: Q


@dataclass
class CustomFilter:
    """What the ``cf_`` parameters ask: values to contain, and the other conditions."""

    contains: dict[str, Any] = field(default_factory=dict)
    conditions: list[Condition] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.contains or self.conditions)

    def apply(self, records: QuerySet[M]) -> QuerySet[M]:
        """The records meeting every condition. Apply it after the list's other filters: when
        those leave few rows, the conditions are checked on them (ADR 0086)."""
        if _few_rows(records):
            for code, value in self.contains.items():
                records = records.filter(_holds(code, value))
            for condition in self.conditions:
                records = records.filter(condition.checked)
            return records
        if self.contains:
            # Containment in the normalised values: the GIN index on ``custom``.
            records = records.filter(custom__contains=self.contains)
        for condition in self.conditions:
            records = records.filter(condition.indexed)
        return records


def _few_rows(records: QuerySet[Any]) -> bool:
    """Whether PostgreSQL expects the records' other filters to leave at most
    ``CHECK_ON_ROWS_MAX`` rows (one ``EXPLAIN``, only when there are other filters)."""
    if not records.query.where or records.query.is_empty():
        return False
    plan = json.loads(records.order_by().explain(format="json"))
    return int(plan[0]["Plan"]["Plan Rows"]) <= CHECK_ON_ROWS_MAX


def custom_filter_schema(record: str) -> OpenApiParameter:
    """The ``cf_`` parameters of a list endpoint in the API's schema. Their names depend on the
    workspace's fields, so they are one free-form object, spread into the query (``form``,
    exploded) as ``cf_<code>…=value``."""
    return OpenApiParameter(
        "custom_fields",
        {"type": "object", "additionalProperties": {"type": "string"}},
        location=OpenApiParameter.QUERY,
        style="form",
        explode=True,
        description=(
            f"Filters on the workspace's {record} custom fields, one query parameter each, "
            "all of them to be met (`custom_fields` itself is never sent):\n"
            "- `cf_<code>=value` — the field is the value; a multi select has it (repeat the "
            "parameter to require several options); yes/no fields take `true` or `false`;\n"
            "- `cf_<code>__any=value` — a select is one of the values, a multi select has at "
            f"least one of them (repeat the parameter for each option, at most {MAX_ANY});\n"
            "- `cf_<code>__contains=text` — a text, long text, URL, email or phone field "
            f"contains the text, in any case (at most {MAX_TEXT} characters);\n"
            "- `cf_<code>__gte=` / `cf_<code>__lte=` — a number, decimal or money field at "
            "least / at most the number; a date or date-and-time field on or after / on or "
            "before the day (`YYYY-MM-DD`, a date and time by its day in UTC).\n"
            "A code that names no field in use, an operator the field's type does not have or "
            "a value that does not fit it answers 400 with the problem under "
            "`custom_fields.<code>`, the message starting with the field's label."
        ),
    )


def filter_parameters(params: Any) -> dict[str, list[str]]:
    """The ``cf_`` parameters of a query, with their non-empty values (a multi select's
    options may be given several times): a QueryDict, or a mapping whose values are texts or
    lists of texts (the filters an export keeps)."""
    pairs = (
        params.lists()
        if hasattr(params, "lists")
        else ((k, v if isinstance(v, list | tuple) else [v]) for k, v in params.items())
    )
    found: dict[str, list[str]] = {}
    for key, values in pairs:
        given = [str(v) for v in values if v not in ("", None)]
        if isinstance(key, str) and key.startswith(PREFIX) and given:
            found[key] = given
    return found


def check_custom_filter(
    *,
    actor: Membership | None,
    entity: str,
    params: Any,
    definitions: Iterable[CustomField] | None = None,
) -> CustomFilter:
    """The ``cf_`` parameters of ``params`` as a CustomFilter over ``entity``'s records."""
    wanted = filter_parameters(params)
    if not wanted:
        return CustomFilter()
    fields = {
        f.code: f
        for f in (
            definitions
            if definitions is not None
            else CustomField.objects.filter(entity=entity, archived_at__isnull=True)
        )
        if f.archived_at is None
    }
    result = CustomFilter()
    for key, values in sorted(wanted.items()):
        code, _sep, operator = key.removeprefix(PREFIX).partition("__")
        name = f"custom_fields.{code}"
        definition = fields.get(code)
        if definition is None or (operator and operator not in OPERATORS):
            raise ServiceError(
                _("There is no custom field filter “%(name)s”.") % {"name": key[:60]},
                field=name,
            )
        try:
            _add(result, actor, definition, operator, values, field=name)
        except ServiceError as error:
            raise ServiceError(
                f"{definition.label}: {error.message}", field=name, code=error.code
            ) from None
    return result


def _add(
    result: CustomFilter,
    actor: Membership | None,
    definition: CustomField,
    operator: str,
    values: list[str],
    *,
    field: str,
) -> None:
    code, kind = definition.code, definition.type
    if not operator:
        raw: Any = values if len(values) > 1 else values[0]
        if kind == CustomField.Type.MEMBER and actor is None:
            raise ServiceError(_("This field cannot be filtered here."), field=field)
        result.contains[code] = check_value(actor, definition, raw, field=field)
        return
    if operator == ANY_OF:
        result.conditions.append(_any_of(actor, definition, values, field=field))
        return
    text = values[-1].strip()
    if operator == CONTAINS:
        if kind not in TEXT_TYPES:
            raise ServiceError(_("Only a text field can be searched for words."), field=field)
        if len(text) > MAX_TEXT:
            raise ServiceError(
                _("Search for at most %(max)d characters.") % {"max": MAX_TEXT}, field=field
            )
        # The value as the JSON text of the whole object spells it (quotes and backslashes
        # escaped): what the trigram index on upper(custom::text) finds.
        spelled = json.dumps(text, ensure_ascii=False)[1:-1]
        own_value = Q(IContains(KeyTextTransform(code, "custom"), text))
        somewhere = Q(Contains(Upper(Cast("custom", output_field=TextField())), spelled.upper()))
        result.conditions.append(Condition(indexed=somewhere & own_value, checked=own_value))
        return
    if kind in NUMBER_TYPES:
        number = _number(text, field=field)
        comparison = ">=" if operator == AT_LEAST else "<="
        path = f'$."{code}" ? (@.double() {comparison} $bound)'
        bound: Any = float(number)
    elif kind in DATE_TYPES:
        day = checks.check_date(text, field=field)
        if day is None:
            raise ServiceError(_("Enter a date such as 2026-12-31."), field=field)
        # ISO dates (and UTC date-times) sort as text: "on or before a day" is "before the
        # next day", which takes in every time of that day.
        if operator == AT_LEAST:
            path, bound = f'$."{code}" ? (@.type() == "string" && @ >= $bound)', day.isoformat()
        else:
            after = day + datetime.timedelta(days=1)
            path, bound = f'$."{code}" ? (@.type() == "string" && @ < $bound)', after.isoformat()
    else:
        raise ServiceError(_("Only a number or a date field has a range."), field=field)
    in_range = Q(_PathExists(F("custom"), _jsonpath(path), _jsonb({"bound": bound}), Value(True)))
    result.conditions.append(Condition(indexed=in_range, checked=in_range))


def _any_of(
    actor: Membership | None, definition: CustomField, values: list[str], *, field: str
) -> Condition:
    """One containment per option, OR-ed: each is a bitmap of the ``custom`` GIN index."""
    if definition.type not in CHOICE_TYPES:
        raise ServiceError(_("Only a choice field can match any of several options."), field=field)
    if len(values) > MAX_ANY:
        raise ServiceError(_("Choose at most %(max)d options.") % {"max": MAX_ANY}, field=field)
    wanted: list[str] = []
    for value in values:
        if value not in wanted:
            wanted.append(value)
    indexed, checked = Q(), Q()
    for value in wanted:
        raw: Any = [value] if definition.type == CustomField.Type.MULTI_SELECT else value
        stored = check_value(actor, definition, raw, field=field)
        indexed |= Q(custom__contains={definition.code: stored})
        checked |= _holds(definition.code, stored)
    return Condition(indexed=indexed, checked=checked)


def _number(text: str, *, field: str) -> Decimal:
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ServiceError(_("Enter a number such as 12.50."), field=field) from None
    if not number.is_finite() or abs(number) >= Decimal("1e16"):
        raise ServiceError(_("Enter a number such as 12.50."), field=field)
    return number
