"""The public site: landing and pricing."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from billing.plans import OFFERS


@require_safe
def landing(request: HttpRequest) -> HttpResponse:
    return render(request, "public/landing.html", {"offers": OFFERS})


@require_safe
def pricing(request: HttpRequest) -> HttpResponse:
    return render(request, "public/pricing.html", {"offers": OFFERS})
