"""The public site: landing and pricing."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.functional import Promise
from django.views.decorators.http import require_safe

from billing.currency import preselected_currency
from billing.plans import CURRENCIES, OFFERS, Interval


@dataclass(frozen=True)
class Offer:
    code: str
    name: str | Promise
    highlights: tuple[str | Promise, ...]
    # Sold with the plan, not built yet: listed apart as coming soon (ADR 0078).
    coming_soon: tuple[str | Promise, ...]
    # Per seat per month on monthly billing, in ``currency``.
    price_per_seat: Decimal
    currency: str


def _plans(request: HttpRequest) -> dict[str, Any]:
    """The plans in the visitor's currency: the one asked for (``?currency=``), else the
    one of the browser's region."""
    currency = preselected_currency(
        accept_language=request.headers.get("Accept-Language", ""),
        requested=request.GET.get("currency", ""),
    )
    offers = [
        Offer(
            code=spec.code,
            name=spec.name,
            highlights=spec.highlights,
            coming_soon=spec.coming_soon,
            price_per_seat=spec.price(currency=currency, interval=Interval.MONTH).amount,
            currency=currency,
        )
        for spec in OFFERS
    ]
    return {"offers": offers, "currency": currency, "currencies": CURRENCIES}


@require_safe
def landing(request: HttpRequest) -> HttpResponse:
    return render(request, "public/landing.html", _plans(request))


@require_safe
def pricing(request: HttpRequest) -> HttpResponse:
    return render(request, "public/pricing.html", _plans(request))
