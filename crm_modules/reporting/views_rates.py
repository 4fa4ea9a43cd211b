"""The exchange rates page for admins (ADR 0047): the rates that convert deal amounts into the
workspace's currency, newest first per currency, and the form that sets (or replaces) one."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from crm_modules.reporting import services
from crm_modules.reporting.compiler import workspace_zone
from crm_modules.reporting.forms import ExchangeRateForm
from crm_modules.reporting.models_rates import ExchangeRate
from crm_modules.reporting.module import SET_EXCHANGE_RATES
from crm_platform.errors import ServiceError
from tenants.access import requires
from tenants.http import WorkspaceRequest


def _page(
    request: WorkspaceRequest, form: ExchangeRateForm | None = None, status: int = 200
) -> HttpResponse:
    base = request.membership.tenant.currency
    if form is None:
        today = timezone.now().astimezone(workspace_zone(request.membership)).date()
        form = ExchangeRateForm(initial={"valid_from": today.isoformat()})
    rates = ExchangeRate.objects.filter(base=base).order_by("currency", "-valid_from", "-id")
    return render(
        request,
        "reporting/rates.html",
        {"form": form, "rates": list(rates[:500]), "base": base},
        status=status,
    )


@requires(SET_EXCHANGE_RATES)
@require_safe
def rates(request: WorkspaceRequest) -> HttpResponse:
    return _page(request)


@requires(SET_EXCHANGE_RATES)
@require_POST
def rate_set(request: WorkspaceRequest) -> HttpResponse:
    form = ExchangeRateForm(request.POST)
    if form.is_valid():
        try:
            services.rate_set(
                actor=request.membership,
                currency=form.cleaned_data["currency"],
                rate=form.cleaned_data["rate"],
                valid_from=form.cleaned_data["valid_from"],
            )
        except ServiceError as error:
            form.add_service_error(error)
        else:
            messages.success(request, _("Exchange rate saved."))
            return redirect("reporting:rates")
    return _page(request, form=form, status=400)


@requires(SET_EXCHANGE_RATES)
@require_POST
def rate_delete(request: WorkspaceRequest, rate_id: int) -> HttpResponse:
    rate = ExchangeRate.objects.filter(pk=rate_id).first()
    if rate is None:
        raise Http404("No such exchange rate")
    services.rate_delete(actor=request.membership, rate=rate)
    messages.success(request, _("Exchange rate removed."))
    return redirect("reporting:rates")
