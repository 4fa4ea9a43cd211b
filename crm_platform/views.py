"""The public site: landing, pricing, health check."""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from billing.plans import OFFERS


@require_GET
def landing(request: HttpRequest) -> HttpResponse:
    return render(request, "public/landing.html", {"offers": OFFERS})


@require_GET
def pricing(request: HttpRequest) -> HttpResponse:
    return render(request, "public/pricing.html", {"offers": OFFERS})


@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
