"""Reporting pages: the sales dashboard and its chart fragments, drill-through lists, saved
reports (view, share, pin, export, delete) and the report builder with its live preview."""

from __future__ import annotations

import json
from typing import Any

from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from crm_modules.reporting import builder, selectors, services
from crm_modules.reporting.card_cache import cached_card
from crm_modules.reporting.cards import ChartView, chart_view
from crm_modules.reporting.compiler import filtered_records
from crm_modules.reporting.dashboard import default_chart
from crm_modules.reporting.definition import ReportError, check_definition
from crm_modules.reporting.exports import report_csv
from crm_modules.reporting.layouts import card_url, dashboard_cards
from crm_modules.reporting.models import Report, ReportSchedule
from crm_modules.reporting.module import (
    BUILD_REPORTS,
    REPORT_EXPORTED,
    SHARE_REPORTS,
    VIEW_REPORTS,
)
from crm_modules.reporting.reach import may_read_source_code
from crm_platform.errors import ServiceError
from tenants.access import requires
from tenants.audit.services import audit_record
from tenants.http import WorkspaceRequest
from tenants.permissions import allows
from tenants.roles import Role

DRILL_LIMIT = 100


def _report_chart(request: WorkspaceRequest, report: Report) -> ChartView:
    return chart_view(
        report.definition, request.membership, key=f"report-{report.pk}", title=report.name
    )


def _chart_url(view: ChartView) -> str:
    return card_url(view.key)


@requires(VIEW_REPORTS)
@require_safe
def dashboard(request: WorkspaceRequest) -> HttpResponse:
    """The page shell: each card's title and where it loads from. The cards load themselves
    (htmx, one request each, in parallel), so the page paints before any chart is computed."""
    return render(
        request,
        "reporting/dashboard.html",
        {"cards": dashboard_cards(actor=request.membership)},
    )


def _card(request: WorkspaceRequest, view: ChartView) -> HttpResponse:
    return render(request, "reporting/_chart.html", {"chart": view, "url": _chart_url(view)})


@requires(VIEW_REPORTS)
@require_safe
def chart(request: WorkspaceRequest) -> HttpResponse:
    """One default chart's card (``?key=pipeline``): the dashboard's lazy load and a live
    refresh, from the card cache."""
    found = default_chart(request.GET.get("key", ""))
    member = request.membership
    if found is None or not all(may_read_source_code(member, c) for c in found.source_codes):
        raise Http404("No such chart")
    return _card(request, cached_card(member, found.key, lambda: found.view(member)))


@requires(VIEW_REPORTS)
@require_safe
def report_chart(request: WorkspaceRequest, report_id: int) -> HttpResponse:
    report = selectors.report_get(actor=request.membership, report_id=report_id)
    view = cached_card(
        request.membership, f"report-{report.pk}", lambda: _report_chart(request, report)
    )
    return _card(request, view)


@requires(VIEW_REPORTS)
@require_safe
def drill(request: WorkspaceRequest) -> HttpResponse:
    """The records behind one bar or slice, as far as the viewer may see them."""
    raw = request.GET.get("d", "")
    try:
        definition = check_definition(raw, drill=True)
    except ReportError as exc:
        return render(request, "reporting/drill.html", {"error": exc.message}, status=400)
    source = definition.source
    records = list(
        filtered_records(definition, request.membership)
        .select_related(*source.related)
        .order_by("-pk")[: DRILL_LIMIT + 1]
    )
    rows = [
        {"label": source.record_label(record), "url": source.record_url(record)}
        for record in records[:DRILL_LIMIT]
    ]
    return render(
        request,
        "reporting/drill.html",
        {
            "source": source,
            "rows": rows,
            "more": len(records) > DRILL_LIMIT,
            "limit": DRILL_LIMIT,
            "filters": definition.filters,
        },
    )


@requires(VIEW_REPORTS)
@require_safe
def report_list(request: WorkspaceRequest) -> HttpResponse:
    reports = list(selectors.report_list(actor=request.membership)[:200])
    return render(request, "reporting/report_list.html", {"reports": reports})


@requires(VIEW_REPORTS)
@require_safe
def report_detail(request: WorkspaceRequest, report_id: int) -> HttpResponse:
    report = selectors.report_get(actor=request.membership, report_id=report_id)
    return _detail(request, report)


def _detail(
    request: WorkspaceRequest,
    report: Report,
    *,
    status: int = 200,
    schedule_error: ServiceError | None = None,
) -> HttpResponse:
    view = _report_chart(request, report)
    return render(
        request,
        "reporting/report_detail.html",
        {
            "report": report,
            "chart": view,
            "url": _chart_url(view),
            "roles": Role.choices,
            "may_manage": services._may_manage(request.membership, report),
            "schedule_error": schedule_error,
            "posted": request.POST if schedule_error else None,
            **_schedule_context(request, report),
        },
        status=status,
    )


def _schedule_context(request: WorkspaceRequest, report: Report) -> dict[str, Any]:
    member = request.membership
    if not allows(member, BUILD_REPORTS):
        return {"may_schedule": False}
    return {
        "may_schedule": True,
        "schedules": list(selectors.schedule_list(actor=member).filter(report=report)),
        "recipients": selectors.schedule_recipients(actor=member, report=report),
        "frequencies": ReportSchedule.Frequency.choices,
        "hours": range(24),
        "weekdays": list(enumerate(WEEKDAYS[i] for i in range(7))),
        "days": range(1, 29),
    }


@requires(BUILD_REPORTS)
@require_POST
def schedule_create(request: WorkspaceRequest, report_id: int) -> HttpResponse:
    report = selectors.report_get(actor=request.membership, report_id=report_id)
    try:
        services.schedule_create(
            actor=request.membership,
            report=report,
            frequency=request.POST.get("frequency"),
            hour=request.POST.get("hour"),
            weekday=request.POST.get("weekday", 0),
            day=request.POST.get("day", 1),
            recipients=request.POST.getlist("recipients"),
        )
    except ServiceError as exc:
        return _detail(request, report, status=400, schedule_error=exc)
    return redirect("reporting:report_detail", report_id=report.pk)


@requires(BUILD_REPORTS)
@require_POST
def schedule_pause(request: WorkspaceRequest, schedule_id: int) -> HttpResponse:
    schedule = selectors.schedule_get(actor=request.membership, schedule_id=schedule_id)
    services.schedule_pause(
        actor=request.membership, schedule=schedule, paused=request.POST.get("paused") == "1"
    )
    return redirect("reporting:report_detail", report_id=schedule.report_id)


@requires(BUILD_REPORTS)
@require_POST
def schedule_delete(request: WorkspaceRequest, schedule_id: int) -> HttpResponse:
    schedule = selectors.schedule_get(actor=request.membership, schedule_id=schedule_id)
    services.schedule_delete(actor=request.membership, schedule=schedule)
    return redirect("reporting:report_detail", report_id=schedule.report_id)


@requires(BUILD_REPORTS)
@require_safe
def report_export(request: WorkspaceRequest, report_id: int) -> HttpResponse:
    report = selectors.report_get(actor=request.membership, report_id=report_id)
    try:
        text, row_count = report_csv(report=report, member=request.membership)
    except ReportError as exc:
        return HttpResponse(exc.message, status=400, content_type="text/plain; charset=utf-8")
    audit_record(
        tenant=request.membership.tenant,
        actor=request.user,
        action=REPORT_EXPORTED,
        target=report,
        data={"rows": row_count},
    )
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="report-{report.pk}.csv"'
    return response


@requires(SHARE_REPORTS)
@require_POST
def report_share(request: WorkspaceRequest, report_id: int) -> HttpResponse:
    report = selectors.report_get(actor=request.membership, report_id=report_id)
    try:
        services.report_share(
            actor=request.membership, report=report, roles=request.POST.getlist("roles")
        )
    except ServiceError as exc:
        return HttpResponse(exc.message, status=400, content_type="text/plain; charset=utf-8")
    return redirect("reporting:report_detail", report_id=report.pk)


@requires(SHARE_REPORTS)
@require_POST
def report_pin(request: WorkspaceRequest, report_id: int) -> HttpResponse:
    report = selectors.report_get(actor=request.membership, report_id=report_id)
    services.report_pin(
        actor=request.membership, report=report, pinned=request.POST.get("pinned") == "1"
    )
    return redirect("reporting:report_detail", report_id=report.pk)


@requires(BUILD_REPORTS)
@require_POST
def report_delete(request: WorkspaceRequest, report_id: int) -> HttpResponse:
    report = selectors.report_get(actor=request.membership, report_id=report_id)
    services.report_delete(actor=request.membership, report=report)
    return redirect("reporting:report_list")


def _preview(request: WorkspaceRequest, params: Any) -> ChartView:
    raw = builder.definition_from_params(params)
    return chart_view(raw, request.membership, key="preview", title=_("Preview"))


@requires(BUILD_REPORTS)
@require_safe
def report_builder(request: WorkspaceRequest) -> HttpResponse:
    context = builder.form_context(request.GET)
    if request.headers.get("HX-Request") and request.GET.get("part") == "form":
        return render(request, "reporting/_builder_form.html", context)
    return render(request, "reporting/builder.html", context)


@requires(BUILD_REPORTS)
@require_safe
def report_preview(request: WorkspaceRequest) -> HttpResponse:
    view = _preview(request, request.GET)
    status = 400 if view.error else 200
    return render(request, "reporting/_chart.html", {"chart": view, "url": ""}, status=status)


@requires(BUILD_REPORTS)
@require_POST
def report_save(request: WorkspaceRequest) -> HttpResponse:
    raw = builder.definition_from_params(request.POST)
    try:
        report = services.report_save(
            actor=request.membership, name=request.POST.get("name", ""), definition=raw
        )
    except ServiceError as exc:
        context = builder.form_context(request.POST)
        context.update(error=exc.message, error_field=exc.field)
        return render(request, "reporting/builder.html", context, status=400)
    return redirect("reporting:report_detail", report_id=report.pk)


def definition_json(definition: dict[str, Any]) -> str:
    return json.dumps(definition, ensure_ascii=False, indent=2)
