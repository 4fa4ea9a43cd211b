"""Credited revenue and campaign costs in the workspace's currency. A credit keeps the
currency of its won deal; sums convert it with reporting's exchange rates at the rate of the
day the deal was won — the
same conversion the deals source and the revenue charts use (ADR 0047) — so 1,000 EUR is never
added to 1,000 USD, and a credit whose currency has no rate that day is left out and named."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from crm_modules.reporting.api import converted, unconverted_currencies


def credit_in_workspace_currency() -> Any:
    """An expression over ``AttributionCredit``: its credit in the workspace's currency (NULL
    where its currency has no rate on the day the deal was won)."""
    return converted("credit", currency="currency", on="won_at")


def credits_without_rate(credits: QuerySet[Any]) -> list[str]:
    """The currencies of ``credits`` with no rate into the workspace's currency on their day."""
    return unconverted_currencies(credits, currency="currency", on="won_at")


def cost_in_workspace_currency() -> Any:
    """An expression over ``CampaignCost``: its amount in the workspace's currency at the rate
    of the day it was entered (NULL where its currency has no rate that day)."""
    return converted("amount", currency="currency", on="updated_at")


def costs_without_rate(costs: QuerySet[Any]) -> list[str]:
    """The currencies of ``costs`` with no rate into the workspace's currency on their day."""
    return unconverted_currencies(costs, currency="currency", on="updated_at")
