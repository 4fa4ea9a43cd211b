"""The public site: landing and pricing."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from billing.plans import OFFERS


@require_GET
def landing(request: HttpRequest) -> HttpResponse:
    return render(request, "public/landing.html", {"offers": OFFERS})


@require_GET
def pricing(request: HttpRequest) -> HttpResponse:
    return render(request, "public/pricing.html", {"offers": OFFERS})
