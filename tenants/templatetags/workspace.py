"""Template tags of workspace pages: the navigation from the registry, and the permission
question for buttons and links (``{% if membership|allows:"sales.edit_deals" %}``)."""

from __future__ import annotations

from typing import Any

from django import template

from tenants import capabilities, navigation, palette
from tenants.models import Membership
from tenants.modules import record_panels as _record_panels
from tenants.permissions import allows as _allows

register = template.Library()


@register.simple_tag(takes_context=True)
def navigation_links(context: template.Context) -> list[navigation.NavLink]:
    request = context.get("request")
    return navigation.links_for(request) if request is not None else []


@register.filter(name="allows")
def allows_filter(membership: Membership | None, capability_code: str) -> bool:
    return _allows(membership, capabilities.get(capability_code))


@register.simple_tag
def allows_on(membership: Membership | None, capability_code: str, obj: Any) -> bool:
    """``{% allows_on membership "sales.edit_deals" deal as can_edit %}``"""
    return _allows(membership, capabilities.get(capability_code), obj)


@register.simple_tag(takes_context=True)
def record_panels(context: template.Context, record_type: str, record: Any) -> list[dict[str, Any]]:
    """The panels other modules add to a record page, for this member:
    ``{% record_panels "sales.contact" record as panels %}{% for item in panels %}{% include
    item.template with panel=item.panel %}{% endfor %}``."""
    request = context.get("request")
    member = getattr(request, "membership", None)
    return [
        {"template": panel.template, "panel": panel.context(member, record)}
        for panel in _record_panels(record_type)
        if member is not None and _allows(member, panel.capability, reading=True)
    ]


@register.simple_tag(takes_context=True)
def command_palette(context: template.Context) -> dict[str, Any]:
    """``{% command_palette as palette %}``: the quick actions and the search endpoint this
    member may use from Ctrl/⌘-K."""
    request = context.get("request")
    member = getattr(request, "membership", None)
    return {"actions": palette.actions_for(member), "search_url": palette.search_url_for(member)}
