"""Arranging the sales dashboard: a member's own cards, or (Owners, Admins, Managers) the
workspace's shared dashboard. Up and down buttons rather than dragging, so it works by touch
at 375 px and with a keyboard."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from crm_modules.reporting import services
from crm_modules.reporting.layouts import (
    addable_cards,
    layout_cards,
    shared_layout_keys,
    stored_layout,
)
from crm_modules.reporting.module import SHARE_REPORTS, VIEW_REPORTS
from crm_platform.errors import PermissionDenied as Refused
from crm_platform.errors import ServiceError
from tenants.access import requires
from tenants.http import WorkspaceRequest
from tenants.permissions import allows


def _shared(request: WorkspaceRequest) -> bool:
    return (request.GET.get("shared") or request.POST.get("shared")) == "1"


def _page(request: WorkspaceRequest, *, error: ServiceError | None = None) -> HttpResponse:
    actor = request.membership
    shared = _shared(request)
    if shared:
        keys = shared_layout_keys()
        own = None
    else:
        own = stored_layout(owner_id=actor.user_id)
        keys = own.cards if own is not None else shared_layout_keys()
    cards = layout_cards(actor, keys)
    context = {
        "shared": shared,
        "cards": cards,
        "addable": addable_cards(actor=actor, current=[c.key for c in cards]),
        "has_own": own is not None,
        "may_share": allows(actor, SHARE_REPORTS),
        "error": error,
    }
    template = (
        "reporting/_layout_editor.html"
        if request.headers.get("HX-Request")
        else "reporting/layout.html"
    )
    return render(request, template, context, status=400 if error else 200)


@requires(VIEW_REPORTS)
@require_safe
def layout_page(request: WorkspaceRequest) -> HttpResponse:
    if _shared(request) and not allows(request.membership, SHARE_REPORTS):
        raise PermissionDenied
    return _page(request)


@requires(VIEW_REPORTS)
@require_POST
def layout_change(request: WorkspaceRequest) -> HttpResponse:
    try:
        services.layout_change(
            actor=request.membership,
            shared=_shared(request),
            action=request.POST.get("action"),
            card=request.POST.get("card"),
        )
    except Refused as exc:
        raise PermissionDenied from exc
    except ServiceError as exc:
        return _page(request, error=exc)
    if request.headers.get("HX-Request"):
        return _page(request)
    url = reverse("reporting:layout")
    return redirect(f"{url}?shared=1" if _shared(request) else url)
