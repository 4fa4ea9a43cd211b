"""The navigation registry: each module adds its entries; one template tag renders them.

An entry is shown to a member only when ``allows`` grants its capability, so no template
holds a role literal or a per-module flag.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.template import TemplateSyntaxError
from django.urls import reverse
from django.utils.functional import Promise

from crm_platform.templatetags.kit import icon_shapes
from tenants.capabilities import Capability
from tenants.permissions import allows


@dataclass(frozen=True)
class NavEntry:
    key: str
    label: str | Promise
    icon: str
    url_name: str
    capability: Capability
    order: int = 100


@dataclass(frozen=True)
class NavLink:
    """What a template needs to draw one entry."""

    key: str
    label: str
    icon: str
    url: str
    current: bool


_REGISTRY: dict[str, NavEntry] = {}


def register(
    key: str,
    *,
    label: str | Promise,
    icon: str,
    url_name: str,
    capability: Capability,
    order: int = 100,
) -> NavEntry:
    if key in _REGISTRY:
        raise ValueError(f"Navigation entry {key} is already registered")
    try:
        icon_shapes(icon)  # a missing icon fails at start-up, not on somebody's page
    except TemplateSyntaxError as exc:
        raise ValueError(f"Navigation entry {key}: {exc}") from exc
    entry = NavEntry(
        key=key,
        label=label,
        icon=icon,
        url_name=url_name,
        capability=capability,
        order=order,
    )
    _REGISTRY[key] = entry
    return entry


def unregister(key: str) -> None:
    _REGISTRY.pop(key, None)


def all_entries() -> list[NavEntry]:
    return sorted(_REGISTRY.values(), key=lambda entry: (entry.order, entry.key))


def links_for(request: Any) -> list[NavLink]:
    """The entries this request's member may open, in order, the current one marked: the home
    page only on itself, any other section on every path below its own."""
    membership = getattr(request, "membership", None)
    path = getattr(request, "path", "")
    links = []
    for entry in all_entries():
        if not allows(membership, entry.capability, reading=True):
            continue
        url = reverse(entry.url_name)
        links.append(
            NavLink(
                key=entry.key,
                label=str(entry.label),
                icon=entry.icon,
                url=url,
                current=path == url if url == "/" else path.startswith(url),
            )
        )
    return links
