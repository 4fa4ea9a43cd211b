"""The attribution page: revenue per campaign, source or medium under a named model, with the
funnel from form fills to won deals, costs and ROI, and a Plotly chart of the revenue."""

from __future__ import annotations

import html
from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from crm_modules.marketing import attribution as attribution_models
from crm_modules.marketing.attribution_services import (
    Report,
    attribution_rebuild,
    attribution_report,
    campaign_cost_set,
)
from crm_modules.marketing.models_capture import AttributionCredit
from crm_modules.marketing.module import MANAGE_CAMPAIGN_COSTS, VIEW_ATTRIBUTION
from crm_platform.errors import ServiceError
from tenants.access import requires
from tenants.http import WorkspaceRequest
from tenants.permissions import allows


def figure(report: Report) -> dict[str, Any]:
    """A bar chart of credited revenue; every label escaped (names come from URLs people
    typed)."""
    none = _("(none)")
    keys = [html.escape(row.key or none) for row in report.rows]
    return {
        "data": [
            {
                "type": "bar",
                "x": keys,
                "y": [float(row.revenue) for row in report.rows],
                "name": html.escape(report.model_label),
            }
        ],
        "layout": {
            "title": {"text": html.escape(f"{report.model_label} · {report.currency}")},
            "margin": {"t": 40, "r": 10, "b": 80, "l": 60},
        },
    }


@requires(VIEW_ATTRIBUTION)
@require_safe
def attribution(request: WorkspaceRequest) -> HttpResponse:
    actor = request.membership
    model = request.GET.get("model", attribution_models.LINEAR)
    dimension = request.GET.get("by", "campaign")
    try:
        report = attribution_report(actor=actor, model=model, dimension=dimension)
    except ServiceError as exc:
        return render(request, "marketing/attribution.html", {"error": exc.message}, status=400)
    none = _("(none)")
    by_labels = {"campaign": _("campaign"), "source": _("source"), "medium": _("medium")}
    columns = [
        _("Campaign")
        if dimension == "campaign"
        else _("Source")
        if dimension == "source"
        else _("Medium"),
        _("Form fills"),
        _("People"),
        _("Qualified"),
        _("Won deals"),
        _("Revenue"),
        _("Cost"),
        _("Cost per lead"),
        _("ROI"),
    ]
    rows = [
        [
            row.key or none,
            row.form_fills,
            row.people,
            row.qualified,
            row.deals,
            row.revenue,
            "" if row.cost is None else row.cost,
            "" if row.cost_per_lead is None else row.cost_per_lead,
            "" if row.roi is None else f"{row.roi:.2%}",
        ]
        for row in report.rows
    ]
    context = {
        "report": report,
        "figure": figure(report),
        "columns": columns,
        "rows": rows,
        "models": AttributionCredit.Model.choices,
        "dimensions": [
            ("campaign", _("Campaign")),
            ("source", _("Source")),
            ("medium", _("Medium")),
        ],
        "totals": report.totals,
        "total_roi": (
            "" if report.totals is None or report.totals.roi is None else f"{report.totals.roi:.2%}"
        ),
        "can_manage": allows(actor, MANAGE_CAMPAIGN_COSTS),
        "title": _("Revenue by %(by)s — %(model)s model")
        % {"by": by_labels[dimension], "model": report.model_label},
        "unconverted": (
            _(
                "Amounts in %(currencies)s are left out: they have no exchange rate into "
                "%(currency)s. An admin adds one under Exchange rates."
            )
            % {"currencies": ", ".join(report.unconverted), "currency": report.currency}
            if report.unconverted
            else ""
        ),
    }
    return render(request, "marketing/attribution.html", context)


@requires(MANAGE_CAMPAIGN_COSTS)
@require_POST
def cost_set(request: WorkspaceRequest) -> HttpResponse:
    try:
        campaign_cost_set(
            actor=request.membership,
            campaign=request.POST.get("campaign", ""),
            amount=request.POST.get("amount", ""),
            currency=request.POST.get("currency", ""),
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("marketing:attribution")
    messages.success(request, _("Cost saved."))
    return redirect("marketing:attribution")


@requires(MANAGE_CAMPAIGN_COSTS)
@require_POST
def rebuild(request: WorkspaceRequest) -> HttpResponse:
    count = attribution_rebuild(actor=request.membership)
    messages.success(request, _("Attribution rebuilt: %(count)d credits.") % {"count": count})
    return redirect("marketing:attribution")
