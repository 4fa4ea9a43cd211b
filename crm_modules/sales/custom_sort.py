"""Lists sorted by a custom field (ADR 0070): ``sort=cf_<code>`` (ascending) or
``sort=-cf_<code>`` (descending), on the list pages, their exports and saved views, and the REST
API's lists — one reading for all of them.

The order is on a typed expression of the record's ``custom`` value (numbers and money as
``numeric``, yes/no as ``boolean``, dates and dates with times as their stored ISO text in
UTC, byte by byte, texts and single selects as text), so that 9 comes before 10 and March
before December. A value that does not have the field's type (stored before the field had
it), an empty text and a missing value all count as no value: such records come last in both
directions. Ties, and the records without a value, are in primary-key order, which keyset
pages need (``keyset.ValueOrder``).

A multi select or a member field has no order; a code naming no field of the list's record
type in use (unknown, archived, another record type's) is refused with a ServiceError naming
``sort``. The list pages fall back to their default order instead (a saved view may outlive its
field)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from django.db.models import (
    BooleanField,
    Case,
    DecimalField,
    Expression,
    Func,
    TextField,
    Value,
    When,
)
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.db.models.functions import Collate, NullIf
from django.db.models.lookups import Exact, Regex
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter

from crm_modules.sales.custom_filters import DATE_TYPES, NUMBER_TYPES, TEXT_TYPES
from crm_modules.sales.keyset import ValueOrder
from crm_modules.sales.models import CustomField
from crm_platform.errors import ServiceError

PREFIX = "cf_"
SORTABLE_TYPES = frozenset(
    {
        *TEXT_TYPES,
        *NUMBER_TYPES,
        *DATE_TYPES,
        CustomField.Type.BOOLEAN,
        CustomField.Type.SELECT,
    }
)
# The texts each type's cast accepts; any other stored text is no value rather than an error.
NUMBER_TEXT = r"^\s*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]{1,3})?\s*$"
DATE_TEXT = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
# A date and time as stored: ``datetime.isoformat()`` in UTC, microseconds only when not zero.
DATETIME_TEXT = (
    r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]"
    r":[0-5][0-9](\.[0-9]{6})?\+00:00$"
)


def is_custom_sort(raw: Any) -> bool:
    return isinstance(raw, str) and raw.removeprefix("-").startswith(PREFIX)


def _cast(expression: Expression, sql_type: str, output_field: Any) -> Func:
    return Func(expression, template=f"(%(expressions)s)::{sql_type}", output_field=output_field)


def _json_type(code: str) -> Func:
    return Func(KeyTransform(code, "custom"), function="jsonb_typeof", output_field=TextField())


def sort_value(definition: CustomField) -> Expression:
    """The field's value as its type orders it; NULL when the record has none of that type."""
    code, kind = definition.code, definition.type
    text = KeyTextTransform(code, "custom")
    if kind in NUMBER_TYPES:
        # Whole numbers are stored as JSON numbers (the type test is cheaper than the pattern,
        # which only strings meet), decimals and money as exact strings.
        number = DecimalField()
        return Case(
            When(Exact(_json_type(code), "number"), then=_cast(text, "numeric", number)),
            When(Regex(text, NUMBER_TEXT), then=_cast(text, "numeric", number)),
            default=Value(None, output_field=number),
            output_field=number,
        )
    if kind in (CustomField.Type.DATE, CustomField.Type.DATETIME):
        # Stored as ISO text, dates and times in UTC, which orders chronologically byte by
        # byte: compared as text (no cast, so a date-shaped impossible value such as
        # 2026-02-31, left by a deleted field of the same code, cannot fail the query).
        pattern = DATE_TEXT if kind == CustomField.Type.DATE else DATETIME_TEXT
        return Case(
            When(Regex(text, pattern), then=Collate(text, "C")),
            default=Value(None, output_field=TextField()),
            output_field=TextField(),
        )
    if kind == CustomField.Type.BOOLEAN:
        return Case(
            When(Exact(_json_type(code), "boolean"), then=_cast(text, "boolean", BooleanField())),
            default=Value(None, output_field=BooleanField()),
            output_field=BooleanField(),
        )
    return NullIf(text, Value(""), output_field=TextField())


def _reader(kind: str) -> Any:
    if kind in NUMBER_TYPES:
        return _finite_number
    if kind == CustomField.Type.DATE:
        return _matching(DATE_TEXT)
    if kind == CustomField.Type.DATETIME:
        return _matching(DATETIME_TEXT)
    if kind == CustomField.Type.BOOLEAN:
        return _boolean
    return str


def _matching(pattern: str) -> Callable[[str], str]:
    def read(text: str) -> str:
        if re.fullmatch(pattern, text) is None:
            raise ValueError(text)
        return text

    return read


def _boolean(text: str) -> bool:
    if text not in ("True", "False"):
        raise ValueError(text)
    return text == "True"


def custom_sort(definition: CustomField, *, descending: bool) -> ValueOrder:
    key = f"{'-' if descending else ''}{PREFIX}{definition.code}"
    return ValueOrder(
        key=key,
        value=sort_value(definition),
        descending=descending,
        read=_reader(definition.type),
    )


def _finite_number(text: str) -> Decimal:
    number = Decimal(text)
    if not number.is_finite():
        raise ValueError(text)
    return number


def check_custom_sort(
    *, entity: str, raw: Any, definitions: Iterable[CustomField] | None = None
) -> ValueOrder | None:
    """The order ``sort`` asks for when it names a custom field (``cf_<code>`` or
    ``-cf_<code>``), None when it names none; a field that cannot order ``entity``'s list
    raises a ServiceError naming ``sort``."""
    if not is_custom_sort(raw):
        return None
    descending = raw.startswith("-")
    code = raw.removeprefix("-").removeprefix(PREFIX)
    fields = (
        definitions
        if definitions is not None
        else CustomField.objects.filter(entity=entity, code=code, archived_at__isnull=True)
    )
    definition = next(
        (f for f in fields if f.code == code and f.entity == entity and f.archived_at is None),
        None,
    )
    if definition is None:
        raise ServiceError(
            _("There is no custom field “%(code)s” to sort by.") % {"code": code[:60]},
            field="sort",
        )
    if definition.type not in SORTABLE_TYPES:
        raise ServiceError(
            _("%(label)s: a field of this type cannot order a list.") % {"label": definition.label},
            field="sort",
        )
    return custom_sort(definition, descending=descending)


def sort_choices(fields: Iterable[CustomField]) -> list[tuple[str, str]]:
    """The custom-field orders a list page offers: each sortable field in use, both ways."""
    choices: list[tuple[str, str]] = []
    for field in fields:
        if field.type not in SORTABLE_TYPES or field.archived_at is not None:
            continue
        label = {"label": field.label}
        choices.append((f"{PREFIX}{field.code}", _("Custom field: %(label)s, ascending") % label))
        choices.append((f"-{PREFIX}{field.code}", _("Custom field: %(label)s, descending") % label))
    return choices


def custom_sort_schema(record: str) -> OpenApiParameter:
    """The ``sort`` parameter of a list endpoint in the API's schema."""
    return OpenApiParameter(
        "sort",
        str,
        location=OpenApiParameter.QUERY,
        pattern=r"^-?cf_[-a-zA-Z0-9_]+$",
        description=(
            f"Order the list by one of the workspace's {record} custom fields: "
            "`cf_<code>` ascending, `-cf_<code>` descending. Numbers, decimals and money "
            "order by amount, dates and dates with times chronologically, yes/no fields no "
            "before yes, texts and single selects by text. Records without a value come last "
            "in both directions; ties are in id order (descending with `-`). Pages follow "
            "with the `next` link and lead back with `previous` (each carries its `cursor`). "
            "A multi select or member field, an archived field or a code naming no field of "
            "this record type answers 400 with the problem under `sort`. Takes precedence "
            "over `ordering`."
        ),
    )
