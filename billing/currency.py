"""Which currency to show a visitor first among those the plans are sold in."""

from __future__ import annotations

from billing.plans import CURRENCIES
from tenants.currencies import visitor_currency


def preselected_currency(*, accept_language: str, requested: str = "", workspace: str = "") -> str:
    """The one asked for, else the workspace's own currency (chosen at signup) when the plans
    are sold in it, else the visitor's region's (EUR in the euro area, else USD)."""
    if requested.upper() in CURRENCIES:
        return requested.upper()
    if workspace.upper() in CURRENCIES:
        return workspace.upper()
    return visitor_currency(accept_language=accept_language, offered=CURRENCIES)
