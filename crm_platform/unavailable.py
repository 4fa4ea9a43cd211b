"""The answer a customer-facing channel gives while the workspace's plan leaves its module out
(ADR 0078): a page saying it is not available, with 404, and nothing taken in. The customer is
not told about the workspace's plan."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

# Marks the page for the tests and for support.
NOT_AVAILABLE_STATUS = 404


def not_available(request: HttpRequest, *, wants_json: bool = False) -> HttpResponse:
    if wants_json:
        return JsonResponse(
            {"ok": False, "code": "not_available", "message": _("This is not available.")},
            status=NOT_AVAILABLE_STATUS,
        )
    return render(request, "not_available.html", status=NOT_AVAILABLE_STATUS)
