"""The answer a customer-facing channel gives while the workspace's plan leaves its module out
(ADR 0078): a page saying it is not available, with 404, and nothing taken in. The customer is
not told about the workspace's plan. ``customer_facing(feature)`` puts that answer in front of
any page or endpoint that visitors reach without a member (ADR 0081)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from billing.plans import plan_allows

# Marks the page for the tests and for support.
NOT_AVAILABLE_STATUS = 404

View = Callable[..., HttpResponse]


def not_available(request: HttpRequest, *, wants_json: bool = False) -> HttpResponse:
    if wants_json:
        return JsonResponse(
            {"ok": False, "code": "not_available", "message": _("This is not available.")},
            status=NOT_AVAILABLE_STATUS,
        )
    return render(request, "not_available.html", status=NOT_AVAILABLE_STATUS)


def wants_json(request: HttpRequest) -> bool:
    """An endpoint that answers JSON (its path ends in ``.json``) or a caller that asks for it."""
    return request.path.endswith(".json") or "application/json" in request.headers.get("Accept", "")


def customer_facing(feature: str) -> Callable[[View], View]:
    """A page or endpoint visitors reach without a member (the customer portal, the ticket web
    form, marketing's public forms): "not available" (404, JSON for a JSON caller) and nothing
    taken in while the workspace's plan leaves ``feature`` out."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not plan_allows(request.tenant, feature):  # type: ignore[attr-defined]
                return not_available(request, wants_json=wants_json(request))
            return view(request, *args, **kwargs)

        return wrapper

    return decorate
