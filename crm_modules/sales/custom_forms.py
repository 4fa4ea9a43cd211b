"""The custom fields of a record on a page: the rows a record page or a new record's form shows,
the values a form posted (``cf_<code>``), an error named by the field's label, and the columns
a list may show (``cols``). The sales pages use them, and so do other modules' pages through
the sales facade (tickets, ADR 0050), with the partials ``sales/_custom_fields.html``,
``sales/_custom_inputs.html``, ``sales/_column_choice.html`` and ``sales/_custom_heads.html``,
and the ``{% custom_cells %}`` tag of ``sales_fields``."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

from django.http import QueryDict
from django.utils import timezone

from crm_modules.sales import selectors
from crm_modules.sales.models import CustomField
from crm_platform.errors import ServiceError
from tenants.http import WorkspaceRequest


def custom_rows(actor: Any, entity: str, record: Any) -> list[dict[str, Any]]:
    """Each custom field of the record's kind with its value, for the record page."""
    rows = []
    for field in selectors.custom_field_list(actor=actor, entity=entity):
        value = record.custom.get(field.code)
        rows.append({"field": field, "value": value, "input": _input_value(field, value)})
    return rows


def custom_columns(
    request: WorkspaceRequest, fields: list[CustomField] | None = None, entity: str = ""
) -> dict[str, Any]:
    """A list's optional custom-field columns: every field it may show (``column_choices``)
    and those the query asks for with ``cols=<code>`` (``custom_columns``), in the fields'
    order. ``fields``: the entity's fields when the caller already has them."""
    if fields is None:
        fields = list(selectors.custom_field_list(actor=request.membership, entity=entity))
    chosen = set(request.GET.getlist("cols"))
    return {"column_choices": fields, "custom_columns": [f for f in fields if f.code in chosen]}


def posted_custom(request: WorkspaceRequest, entity: str) -> dict[str, Any]:
    """The custom-field values a record form posted (``cf_<code>``), by code."""
    fields = selectors.custom_field_list(actor=request.membership, entity=entity)
    return _posted(request.POST, fields)


def _posted(post: QueryDict, fields: Iterable[CustomField]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for field in fields:
        name = f"cf_{field.code}"
        if field.type == CustomField.Type.MULTI_SELECT:
            values[field.code] = post.getlist(name)
        elif name in post:
            values[field.code] = post[name]
    return values


def customer_fields(entity: str) -> list[CustomField]:
    """The fields customers fill on a new record of theirs (tickets on the portal and the web
    form, ADR 0053): shown to customers and not archived."""
    return list(
        CustomField.objects.filter(entity=entity, archived_at__isnull=True, customer_visible=True)
    )


def customer_custom(post: QueryDict, fields: list[CustomField]) -> dict[str, Any]:
    """What a customer's form posted for ``fields`` (``customer_fields``); nothing else."""
    return _posted(post, fields)


def customer_custom_rows(post: QueryDict | None, fields: list[CustomField]) -> list[dict[str, Any]]:
    """The inputs of a customer's form (``sales/_custom_inputs.html``), showing what was posted."""
    if post is None:
        return [{"field": f, "value": None, "input": _default_input(f)} for f in fields]
    posted = _posted(post, fields)
    return [{"field": f, "value": None, "input": posted.get(f.code, "")} for f in fields]


def customer_labelled(fields: list[CustomField], error: ServiceError) -> ServiceError:
    """A customer's form's custom-field error with the field's label in front."""
    code = (error.field or "").removeprefix("custom_fields.")
    if code == (error.field or ""):
        return error
    label = next((f.label for f in fields if f.code == code), code)
    return ServiceError(f"{label}: {error.message}", field=error.field, code=error.code)


def labelled(request: WorkspaceRequest, entity: str, error: ServiceError) -> ServiceError:
    """A custom field's error with the field's label in front, for a form that shows it above
    its fields."""
    code = (error.field or "").removeprefix("custom_fields.")
    if code == (error.field or ""):
        return error
    field = selectors.custom_field_list(actor=request.membership, entity=entity).filter(code=code)
    label = field.values_list("label", flat=True).first() or code
    return ServiceError(f"{label}: {error.message}", field=error.field, code=error.code)


def new_custom_rows(request: WorkspaceRequest, entity: str) -> list[dict[str, Any]]:
    """The custom fields of a new record's form: each prefilled with its default value
    (ADR 0055), then showing what was posted."""
    fields = selectors.custom_field_list(actor=request.membership, entity=entity)
    if request.method != "POST":
        return [{"field": f, "value": None, "input": _default_input(f)} for f in fields]
    posted = posted_custom(request, entity)
    return [{"field": f, "value": None, "input": posted.get(f.code, "")} for f in fields]


def _default_input(field: CustomField) -> Any:
    """A field's default as its input shows it; empty without one."""
    return _input_value(field, field.default_value)


def _input_value(field: CustomField, value: Any) -> Any:
    if value is None:
        return [] if field.type == CustomField.Type.MULTI_SELECT else ""
    if field.type == CustomField.Type.BOOLEAN:
        return "true" if value else "false"
    if field.type == CustomField.Type.DATETIME:
        moment = datetime.datetime.fromisoformat(str(value))
        return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")
    return value


def custom_filter_rows(params: QueryDict, fields: Iterable[CustomField]) -> list[dict[str, Any]]:
    """A list's custom-field filters (``sales/_custom_filters.html``): each field in use with the
    inputs its type offers (``custom_filters``), showing what the query asks."""
    from crm_modules.sales.custom_filters import DATE_TYPES, NUMBER_TYPES, TEXT_TYPES

    rows = []
    for field in fields:
        if field.type in TEXT_TYPES:
            kind = "text"
        elif field.type in NUMBER_TYPES:
            kind = "number"
        elif field.type in DATE_TYPES:
            kind = "date"
        elif field.type == CustomField.Type.BOOLEAN:
            kind = "boolean"
        elif field.type in (CustomField.Type.SELECT, CustomField.Type.MULTI_SELECT):
            kind = "choice"
        else:
            continue  # a member field is filtered through the API only
        name = f"cf_{field.code}"
        asked: dict[str, Any] = {
            "is": params.get(name, ""),
            # A multi select's options: any of them (``__any``), or all of them (``cf_<code>``
            # repeated, as a link or a view saved before may ask).
            "any": params.getlist(f"{name}__any") if kind == "choice" else [],
            "all": params.getlist(name) if field.type == CustomField.Type.MULTI_SELECT else [],
            "contains": params.get(f"{name}__contains", ""),
            "gte": params.get(f"{name}__gte", ""),
            "lte": params.get(f"{name}__lte", ""),
        }
        rows.append(
            {
                "field": field,
                "kind": kind,
                "name": name,
                "asked": asked,
                "used": any(asked.values()),
            }
        )
    return rows
