"""The billing page of a workspace."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.formats import number_format
from django.views.decorators.http import require_safe

from billing.currency import preselected_currency
from billing.plans import CURRENCIES, PLANS, Interval, Money, plan_spec
from tenants import capabilities
from tenants.access import requires
from tenants.models import Plan
from tenants.selectors import seats_used_summary, trial_days_left


def format_money(money: Money) -> str:
    """The amount with the active locale's separators, then the currency code."""
    amount = number_format(money.amount, decimal_pos=2, use_l10n=True, force_grouping=True)
    return f"{amount} {money.currency}"


@requires(capabilities.MANAGE_BILLING)
@require_safe
def overview(request: HttpRequest) -> HttpResponse:
    tenant = request.tenant  # type: ignore[attr-defined]
    interval = request.GET.get("interval", "")
    if interval not in Interval.values:
        interval = Interval.MONTH
    currency = preselected_currency(
        accept_language=request.headers.get("Accept-Language", ""),
        requested=request.GET.get("currency", ""),
    )
    seats = seats_used_summary(tenant=tenant)
    billable_seats = max(1, seats["used"])
    offers: list[dict[str, Any]] = []
    for spec in PLANS:
        price = spec.price(currency=currency, interval=interval)
        offers.append(
            {
                "spec": spec,
                "price": format_money(price),
                "total": format_money(Money(price.amount * billable_seats, currency)),
                "current": spec.code == tenant.plan,
            }
        )
    context = {
        "seats": seats,
        "billable_seats": billable_seats,
        "on_trial": tenant.plan == Plan.TRIAL,
        "trial_plan": plan_spec(Plan.TRIAL),
        "days_left": trial_days_left(tenant),
        "offers": offers,
        "interval": interval,
        "intervals": Interval.choices,
        "currency": currency,
        "currencies": CURRENCIES,
    }
    return render(request, "billing/overview.html", context)
