"""The quotas page: the monthly quotas of a year that the manager may set, and the form that
sets (or replaces) one."""

from __future__ import annotations

import datetime

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from crm_modules.reporting import selectors, services
from crm_modules.reporting.compiler import workspace_zone
from crm_modules.reporting.forms import QuotaForm
from crm_modules.reporting.module import SET_QUOTAS
from crm_modules.reporting.services.quotas import FIRST_YEAR, LAST_YEAR
from crm_platform.errors import ServiceError
from tenants.access import requires
from tenants.http import WorkspaceRequest


def _year(request: WorkspaceRequest, raw: str | None) -> int:
    this_year = timezone.now().astimezone(workspace_zone(request.membership)).year
    try:
        year = int(raw or this_year)
    except ValueError:
        return this_year
    return year if FIRST_YEAR <= year <= LAST_YEAR else this_year


def _page(
    request: WorkspaceRequest, year: int, form: QuotaForm | None = None, status: int = 200
) -> HttpResponse:
    actor = request.membership
    quotas = list(
        selectors.quota_list(
            actor=actor, start=datetime.date(year, 1, 1), end=datetime.date(year + 1, 1, 1)
        )
    )
    members = selectors.quota_members(actor=actor)
    if form is None:
        form = QuotaForm(members=members, initial={"month": f"{year}-01"})
    url = reverse("reporting:quotas")
    return render(
        request,
        "reporting/quotas.html",
        {
            "year": year,
            "quotas": quotas,
            "total": sum((q.amount for q in quotas), start=0),
            "form": form,
            "previous_url": f"{url}?year={year - 1}" if year > FIRST_YEAR else "",
            "next_url": f"{url}?year={year + 1}" if year < LAST_YEAR else "",
        },
        status=status,
    )


@requires(SET_QUOTAS)
@require_safe
def quotas(request: WorkspaceRequest) -> HttpResponse:
    return _page(request, _year(request, request.GET.get("year")))


@requires(SET_QUOTAS)
@require_POST
def quota_set(request: WorkspaceRequest) -> HttpResponse:
    members = selectors.quota_members(actor=request.membership)
    form = QuotaForm(request.POST, members=members)
    year = _year(request, (request.POST.get("month") or "")[:4])
    if form.is_valid():
        try:
            quota = services.quota_set(
                actor=request.membership,
                owner=form.cleaned_data["owner"],
                month=form.cleaned_data["month"],
                amount=form.cleaned_data["amount"],
            )
        except ServiceError as error:
            form.add_service_error(error)
        else:
            messages.success(request, _("Quota saved."))
            return redirect(f"{reverse('reporting:quotas')}?year={quota.month.year}")
    return _page(request, year, form=form, status=400)


@requires(SET_QUOTAS)
@require_POST
def quota_delete(request: WorkspaceRequest, quota_id: int) -> HttpResponse:
    quota = selectors.quota_get(actor=request.membership, quota_id=quota_id)
    services.quota_delete(actor=request.membership, quota=quota)
    messages.success(request, _("Quota removed."))
    return redirect(f"{reverse('reporting:quotas')}?year={quota.month.year}")
