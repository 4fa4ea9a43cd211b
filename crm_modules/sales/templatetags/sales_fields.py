"""How a custom field's stored value reads on a page."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def custom_value(values: dict[str, Any] | None, field: Any) -> str:
    return _readable((values or {}).get(field.code))


@register.filter
def default_value(field: Any) -> str:
    """A field definition's default value, as a record's value reads."""
    return _readable(field.default_value)


def _readable(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)
