"""Template tags of the UI kit (frontend/templates/kit/).

``{% icon "name" %}`` inlines a vendored Lucide icon; ``{% component "kit/x.html" k=v %}…
{% endcomponent %}`` renders a kit include with the enclosed markup as its ``body``; the
``described_widget`` filter renders a form field's input tied to its help and error text;
``{{ deal|choice_label:"status" }}`` is ``get_status_display`` for a list's rows.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from django import template
from django.conf import settings
from django.db.models import Field, Model
from django.forms import BoundField
from django.template.base import FilterExpression, NodeList, Parser, Token
from django.template.context import Context
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

register = template.Library()

ICON_DIR = Path(settings.BASE_DIR) / "frontend" / "static" / "vendor" / "lucide" / "icons"
_ICON_NAME = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_SVG_OPEN = re.compile(r"<svg\b[^>]*>", re.S)


@lru_cache(maxsize=512)
def _choice_labels(field: Field[Any, Any], language: str | None) -> dict[Any, str]:
    return {value: str(label) for value, label in field.flatchoices}


@register.filter
def choice_label(record: Model, field_name: str) -> Any:
    """``{{ deal|choice_label:"status" }}``: what ``deal.get_status_display`` shows, from a
    table built once per field and language. Django's own builds a dictionary of every choice,
    translating each label, on every call: a list does that once per row."""
    field = record._meta.get_field(field_name)
    if not isinstance(field, Field):
        raise template.TemplateSyntaxError(f"{field_name!r} is not a field with choices")
    value = getattr(record, field.attname)
    return _choice_labels(field, get_language()).get(value, value)


@lru_cache(maxsize=256)
def icon_shapes(name: str) -> str:
    """The drawing inside a vendored icon's <svg> element, read once per process."""
    if not _ICON_NAME.match(name):
        raise template.TemplateSyntaxError(f"not an icon name: {name!r}")
    path = ICON_DIR / f"{name}.svg"
    if not path.is_file():
        raise template.TemplateSyntaxError(
            f"icon {name!r} is not vendored: copy it to frontend/static/vendor/lucide/icons/"
        )
    text = path.read_text(encoding="utf-8")
    opening = _SVG_OPEN.search(text)
    if opening is None:
        raise template.TemplateSyntaxError(f"icon {name!r} is not an SVG file")
    body = text[opening.end() : text.rindex("</svg>")]
    return " ".join(line.strip() for line in body.splitlines() if line.strip())


@register.simple_tag
def icon(name: str, label: str = "", size: int = 20, css: str = "") -> SafeString:
    """An inline SVG icon. Decorative (hidden from assistive technology) unless ``label`` is
    given, in which case it is announced as an image with that name."""
    classes = f"icon icon-{name} {css}".strip()
    a11y = f'role="img" aria-label="{escape(label)}"' if label else 'aria-hidden="true"'
    return mark_safe(  # noqa: S308 - the name is checked against a strict pattern, label escaped
        f'<svg class="{escape(classes)}" width="{int(size)}" height="{int(size)}" '
        'viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" '
        f'stroke-linecap="round" stroke-linejoin="round" focusable="false" {a11y}>'
        f"{icon_shapes(name)}</svg>"
    )


class ComponentNode(template.Node):
    def __init__(
        self, template_name: FilterExpression, params: dict[str, FilterExpression], body: NodeList
    ):
        self.template_name = template_name
        self.params = params
        self.body = body

    def render(self, context: Context) -> SafeString:
        name = self.template_name.resolve(context)
        values: dict[str, Any] = {key: value.resolve(context) for key, value in self.params.items()}
        values["body"] = mark_safe(self.body.render(context))  # noqa: S308 - rendered template
        if context.template is None:
            raise template.TemplateSyntaxError("component renders only inside a template")
        component = context.template.engine.get_template(name)
        # The include sees its parameters and nothing else: a page variable that happens to
        # share a parameter's name (``actions``, ``title``) must not leak into the component.
        return mark_safe(component.render(context.new(values)))  # noqa: S308 - rendered template


@register.tag
def component(parser: Parser, token: Token) -> ComponentNode:
    """``{% component "kit/sheet.html" title=… %}…{% endcomponent %}``: like ``include … with
    … only``, and the markup between the tags (rendered in the page's context) is passed as
    ``body``."""
    bits = token.split_contents()
    if len(bits) < 2:
        raise template.TemplateSyntaxError("component needs a template name")
    params: dict[str, FilterExpression] = {}
    for bit in bits[2:]:
        key, sep, value = bit.partition("=")
        if not sep or not key.isidentifier():
            raise template.TemplateSyntaxError(f"component takes key=value arguments, not {bit!r}")
        params[key] = parser.compile_filter(value)
    body = parser.parse(("endcomponent",))
    parser.delete_first_token()
    return ComponentNode(parser.compile_filter(bits[1]), params, body)


@register.filter
def described_widget(field: BoundField) -> SafeString:
    """The field's input, pointing at its help and error text (aria-describedby) and marked
    invalid when it has errors, whatever form class it belongs to."""
    attrs: dict[str, str | bool] = {}
    described = []
    if field.help_text:
        described.append(f"{field.auto_id}_help")
    if field.errors:
        described.append(f"{field.auto_id}_error")
        attrs["aria-invalid"] = "true"
    if described:
        attrs["aria-describedby"] = " ".join(described)
    return field.as_widget(attrs=attrs)


@register.filter
def labelled(row: list[Any], columns: list[Any]) -> list[tuple[Any, Any]]:
    """Pairs each cell of a row with its column label, for data-label on phone cards."""
    return list(zip(columns, row, strict=False))


@register.simple_tag
def listof(*items: Any) -> list[Any]:
    """``{% listof a b c as columns %}``: a list built in a template, e.g. translated column
    labels for kit/table.html."""
    return list(items)


@register.filter
def dom_id(prefix: str, value: object) -> str:
    """``{{ "deactivate"|dom_id:member.pk }}`` -> ``deactivate-12``: unique ids in a list."""
    return f"{prefix}-{value}"
