"""Changing a live subscription: each change is previewed (GET, with Stripe's invoice
preview) and made only when confirmed (POST)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import formats
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from billing import changes
from billing.plans import Interval, plan_spec
from billing.views import format_money
from crm_platform.errors import ServiceError
from tenants import capabilities
from tenants.access import requires


def _refused(request: HttpRequest, error: ServiceError) -> HttpResponse:
    messages.error(request, error.message)
    return redirect("billing:overview")


def _confirm_page(
    request: HttpRequest, preview: changes.ChangePreview, *, action: str, kind: str
) -> HttpResponse:
    context = {
        "preview": preview,
        "kind": kind,
        "action": action,
        "plan_name": plan_spec(preview.plan).name,
        "interval_label": Interval(preview.interval).label if preview.interval else "",
        "next_total": format_money(preview.next_invoice_total),
        "proration": format_money(preview.proration),
        "proration_is_credit": preview.proration.amount < 0,
        "next_date": (
            formats.date_format(preview.next_invoice_at, "DATE_FORMAT")
            if preview.next_invoice_at
            else ""
        ),
    }
    return render(request, "billing/confirm_change.html", context)


@requires(capabilities.MANAGE_BILLING)
@require_http_methods(["GET", "HEAD", "POST"])
def change_seats(request: HttpRequest) -> HttpResponse:
    """GET ?seats=N: the preview; POST seats=N: the change, once confirmed."""
    actor = request.membership  # type: ignore[attr-defined]
    if request.method == "POST":
        try:
            seats = changes.seats_purchase(actor=actor, seats=request.POST.get("seats"))
        except ServiceError as error:
            return _refused(request, error)
        messages.success(
            request, _("The workspace now pays for %(seats)d seats.") % {"seats": seats}
        )
        return redirect("billing:overview")
    try:
        preview = changes.seats_preview(actor=actor, seats=request.GET.get("seats"))
    except ServiceError as error:
        return _refused(request, error)
    return _confirm_page(request, preview, action="billing:change_seats", kind="seats")


@requires(capabilities.MANAGE_BILLING)
@require_http_methods(["GET", "HEAD", "POST"])
def change_plan(request: HttpRequest) -> HttpResponse:
    """GET ?plan=…&interval=…: the preview; POST: the change, once confirmed."""
    actor = request.membership  # type: ignore[attr-defined]
    data = request.POST if request.method == "POST" else request.GET
    plan, interval = data.get("plan", ""), data.get("interval", "")
    if request.method == "POST":
        try:
            timing = changes.plan_change(actor=actor, plan=plan, interval=interval)
        except ServiceError as error:
            return _refused(request, error)
        if timing == "now":
            messages.success(request, _("Your plan has changed."))
        else:
            messages.success(request, _("Your plan will change when the current period ends."))
        return redirect("billing:overview")
    try:
        preview = changes.plan_preview(actor=actor, plan=plan, interval=interval)
    except ServiceError as error:
        return _refused(request, error)
    return _confirm_page(request, preview, action="billing:change_plan", kind="plan")


@requires(capabilities.MANAGE_BILLING)
@require_POST
def withdraw_plan_change(request: HttpRequest) -> HttpResponse:
    try:
        withdrawn = changes.plan_change_withdraw(actor=request.membership)  # type: ignore[attr-defined]
    except ServiceError as error:
        return _refused(request, error)
    if withdrawn:
        messages.success(request, _("The planned plan change was withdrawn."))
    else:
        messages.info(request, _("No plan change was planned."))
    return redirect("billing:overview")


@requires(capabilities.MANAGE_BILLING)
@require_POST
def cancel(request: HttpRequest) -> HttpResponse:
    try:
        changes.subscription_cancel(actor=request.membership)  # type: ignore[attr-defined]
    except ServiceError as error:
        return _refused(request, error)
    messages.success(request, _("The subscription will end with the current period."))
    return redirect("billing:overview")


@requires(capabilities.MANAGE_BILLING)
@require_POST
def resume(request: HttpRequest) -> HttpResponse:
    try:
        changes.subscription_resume(actor=request.membership)  # type: ignore[attr-defined]
    except ServiceError as error:
        return _refused(request, error)
    messages.success(request, _("The subscription will renew as before."))
    return redirect("billing:overview")
