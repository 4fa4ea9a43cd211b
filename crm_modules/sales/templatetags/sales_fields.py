"""How a custom field's stored value reads on a page, and the cells every row of a list
repeats (written here rather than as included templates: a list renders them once per row)."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def custom_value(values: dict[str, Any] | None, field: Any) -> str:
    return _readable((values or {}).get(field.code))


@register.filter
def default_value(field: Any) -> str:
    """A field definition's default value, as a record's value reads."""
    return _readable(field.default_value)


@register.simple_tag(takes_context=True)
def bulk_check(context: template.Context, pk: int) -> str:
    """``{% bulk_check record.pk %}``: the row's box for the list's bulk actions, when the
    member may use any of them (``bulk`` from ``views_lists.list_extras``)."""
    bulk = context.get("bulk")
    if not bulk or not bulk.get("any"):
        return ""
    return format_html(
        '<td class="bulk-check"><input type="checkbox" name="ids" value="{}" form="bulk-form"'
        ' aria-label="{}"></td>',
        pk,
        _("Select"),
    )


@register.simple_tag(takes_context=True)
def custom_cells(context: template.Context, record: Any) -> str:
    """``{% custom_cells record %}``: the row's cells of the custom-field columns the member
    chose (``custom_columns`` from ``views_lists.list_extras``)."""
    values = record.custom or {}
    return format_html_join(
        "",
        '<td data-label="{}" data-column="{}">{}</td>',
        (
            (field.label, field.code, _readable(values.get(field.code)))
            for field in context.get("custom_columns") or ()
        ),
    )


def _readable(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)
