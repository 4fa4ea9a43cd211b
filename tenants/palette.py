"""The command palette registry: each module adds the quick actions and the record search that
Ctrl/⌘-K offers on every workspace page; a member sees only what ``allows`` grants.

An action is either a page to open (``url_name``) or, with ``mode="pick_contact"``, a page to
open after choosing a contact in the palette (its detail page at the anchor ``anchor``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.urls import reverse
from django.utils.functional import Promise

from tenants.capabilities import Capability
from tenants.permissions import allows


@dataclass(frozen=True)
class PaletteAction:
    key: str
    label: str | Promise
    url_name: str
    capability: Capability
    order: int = 100
    mode: str = "open"
    anchor: str = ""


@dataclass(frozen=True)
class PaletteSearch:
    url_name: str
    capability: Capability


_ACTIONS: dict[str, PaletteAction] = {}
_SEARCH: list[PaletteSearch] = []
MODES = ("open", "pick_contact")


def register(
    key: str,
    *,
    label: str | Promise,
    url_name: str,
    capability: Capability,
    order: int = 100,
    mode: str = "open",
    anchor: str = "",
) -> PaletteAction:
    if key in _ACTIONS:
        raise ValueError(f"Palette action {key} is already registered")
    if mode not in MODES:
        raise ValueError(f"Palette action {key}: unknown mode {mode}")
    action = PaletteAction(key, label, url_name, capability, order, mode, anchor)
    _ACTIONS[key] = action
    return action


def register_search(*, url_name: str, capability: Capability) -> None:
    """The endpoint that answers ``?q=…&palette=1`` with the palette's result options."""
    if _SEARCH:
        raise ValueError("The palette's search is already registered")
    _SEARCH.append(PaletteSearch(url_name, capability))


def actions_for(membership: Any) -> list[dict[str, str]]:
    return [
        {
            "key": action.key,
            "label": str(action.label),
            "url": reverse(action.url_name),
            "mode": action.mode,
            "anchor": action.anchor,
        }
        for action in sorted(_ACTIONS.values(), key=lambda a: (a.order, a.key))
        if allows(membership, action.capability)
    ]


def search_url_for(membership: Any) -> str:
    if _SEARCH and allows(membership, _SEARCH[0].capability, reading=True):
        return reverse(_SEARCH[0].url_name)
    return ""
