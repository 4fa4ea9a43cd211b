"""Import pages (upload, mapping with preview, progress, error report, undo) and exports of the
sales lists. Input → service → response; the services check permissions again."""

from __future__ import annotations

import datetime
import tempfile
from pathlib import Path
from typing import cast
from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from crm_modules.dataio import mapping as columns
from crm_modules.dataio import reading, selectors
from crm_modules.dataio.models import Entity, ImportJob
from crm_modules.dataio.module import EXPORT_AUDIT_LOG, EXPORT_RECORDS, IMPORT_RECORDS
from crm_modules.dataio.services import audit_export, exports, import_fields, imports
from crm_modules.sales import api as sales
from crm_platform.csv_export import csv_text
from crm_platform.errors import ServiceError
from tenants.access import client_ip, reads_only, requires
from tenants.http import WorkspaceRequest
from tenants.permissions import allows

IMPORT_ENTITIES = [(value, label) for value, label in Entity.choices if value in imports.ENTITIES]


def _list_context(request: WorkspaceRequest) -> dict[str, object]:
    return {
        "imports": selectors.import_list(actor=request.membership)[:50],
        "entities": IMPORT_ENTITIES,
        "max_mb": reading.MAX_FILE_BYTES // 1024**2,
    }


@requires(IMPORT_RECORDS)
@require_safe
def import_list(request: WorkspaceRequest) -> HttpResponse:
    return render(request, "dataio/import_list.html", _list_context(request))


@requires(IMPORT_RECORDS)
@require_POST
def import_upload(request: WorkspaceRequest) -> HttpResponse:
    context = _list_context(request)
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > reading.MAX_FILE_BYTES + 64 * 1024:
        # Refused before the body is read: a 2 GB upload costs us nothing.
        context["error"] = {
            "field": "file",
            "message": _("The file is larger than the limit of %(limit)d MB.")
            % {"limit": reading.MAX_FILE_BYTES // 1024**2},
        }
        return render(request, "dataio/import_list.html", context, status=413)
    upload = request.FILES.get("file")
    if upload is None:
        context["error"] = {"field": "file", "message": _("Choose a CSV or XLSX file to upload.")}
        return render(request, "dataio/import_list.html", context, status=400)
    try:
        job = imports.import_upload(
            actor=request.membership, entity=request.POST.get("entity", ""), upload=upload
        )
    except ServiceError as exc:
        context["error"] = {"field": exc.field, "message": exc.message}
        return render(request, "dataio/import_list.html", context, status=400)
    return redirect("dataio:import_detail", job.pk)


def _detail_context(request: WorkspaceRequest, job: ImportJob) -> dict[str, object]:
    context: dict[str, object] = {"job": job, "can_undo": imports.import_can_undo(job)}
    if job.status == ImportJob.Status.MAPPING:
        fields = list(sales.custom_field_list(actor=request.membership, entity=job.entity))
        context.update(
            {
                "targets": columns.target_choices(job.entity, fields),
                "columns_list": [
                    {
                        "index": index,
                        "header": header,
                        "target": job.mapping.get(str(index), ""),
                        "example": next(
                            (cells[index] for _n, cells in job.sample if index < len(cells)),
                            "",
                        )[:80],
                        "guess": columns.guess_field_type(
                            import_fields.column_values(job, index), job.date_format
                        ),
                        "options": columns.column_options(import_fields.column_values(job, index)),
                    }
                    for index, header in enumerate(job.headers)
                ],
                "can_create_fields": job.entity in import_fields.FIELD_ENTITIES
                and allows(request.membership, sales.MANAGE_CUSTOM_FIELDS),
                "field_types": [
                    (code, label)
                    for code, label in sales.CustomField.Type.choices
                    if code not in ("member", "datetime")
                ],
                "preview": imports.import_preview(actor=request.membership, job=job),
                "duplicate_choices": ImportJob.Duplicates.choices,
                "date_formats": [
                    (code, label) for code, (_p, label) in columns.DATE_FORMATS.items()
                ],
                "ambiguous_dates": any(
                    columns.is_ambiguous_date(cell) for _n, cells in job.sample for cell in cells
                ),
            }
        )
    return context


@requires(IMPORT_RECORDS)
@require_safe
def import_detail(request: WorkspaceRequest, import_id: int) -> HttpResponse:
    job = selectors.import_get(actor=request.membership, import_id=import_id)
    return render(request, "dataio/import_detail.html", _detail_context(request, job))


@requires(IMPORT_RECORDS)
@require_POST
def import_mapping(request: WorkspaceRequest, import_id: int) -> HttpResponse:
    job = selectors.import_get(actor=request.membership, import_id=import_id)
    chosen = {
        str(index): request.POST.get(f"column_{index}", "") for index in range(len(job.headers))
    }
    try:
        imports.import_configure(
            actor=request.membership,
            job=job,
            mapping=chosen,
            duplicates=request.POST.get("duplicates", ""),
            date_format=request.POST.get("date_format", ""),
        )
    except ServiceError as exc:
        job.mapping = {k: v for k, v in chosen.items() if v}
        context = _detail_context(request, job)
        context["error"] = {"field": exc.field, "message": exc.message}
        return render(request, "dataio/import_detail.html", context, status=400)
    return redirect("dataio:import_detail", job.pk)


@requires(sales.MANAGE_CUSTOM_FIELDS)
@require_POST
def import_field_create(request: WorkspaceRequest, import_id: int) -> HttpResponse:
    """A new custom field from an unmapped column: for members who define custom fields (the
    service asks for the right to import too)."""
    job = selectors.import_get(actor=request.membership, import_id=import_id)
    options = [line.strip() for line in request.POST.get("options", "").splitlines()]
    try:
        field = import_fields.import_field_create(
            actor=request.membership,
            job=job,
            column=request.POST.get("column"),
            label=request.POST.get("label", ""),
            type=request.POST.get("type", ""),
            options=[option for option in options if option] or None,
        )
    except ServiceError as exc:
        context = _detail_context(request, job)
        context["error"] = {"field": exc.field, "message": exc.message}
        return render(request, "dataio/import_detail.html", context, status=400)
    messages.success(
        request,
        _("The field “%(label)s” was created and the column will be imported into it.")
        % {"label": field.label},
    )
    return redirect("dataio:import_detail", job.pk)


@requires(IMPORT_RECORDS)
@require_POST
def import_start(request: WorkspaceRequest, import_id: int) -> HttpResponse:
    job = selectors.import_get(actor=request.membership, import_id=import_id)
    try:
        imports.import_start(actor=request.membership, job=job)
    except ServiceError as exc:
        messages.error(request, exc.message)
    return redirect("dataio:import_detail", job.pk)


@requires(IMPORT_RECORDS)
@require_safe
def import_progress(request: WorkspaceRequest, import_id: int) -> HttpResponse:
    """The progress fragment, fetched again on each live progress event (and after a
    reconnect), so a member who leaves and comes back sees where the import is."""
    job = selectors.import_get(actor=request.membership, import_id=import_id)
    return render(
        request,
        "dataio/_progress.html",
        {"job": job, "can_undo": imports.import_can_undo(job)},
    )


@requires(IMPORT_RECORDS)
@require_safe
def import_errors(request: WorkspaceRequest, import_id: int) -> HttpResponse:
    """Row, column and reason of every problem (about 1% of a file's rows: held in memory)."""
    job = selectors.import_get(actor=request.membership, import_id=import_id)
    rows = ([number, column, reason] for number, column, reason in imports.import_error_lines(job))
    body = csv_text([_("Row"), _("Column"), _("Reason")], rows)
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-errors.csv"'
    return response


@requires(IMPORT_RECORDS)
@require_POST
def import_undo(request: WorkspaceRequest, import_id: int) -> HttpResponse:
    job = selectors.import_get(actor=request.membership, import_id=import_id)
    try:
        imports.import_undo(actor=request.membership, job=job)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The import is being undone."))
    return redirect("dataio:import_detail", job.pk)


# --- exports --------------------------------------------------------------------------------


@reads_only
@requires(EXPORT_RECORDS)
@require_POST
def export(request: WorkspaceRequest, entity: str) -> HttpResponse:
    """Export a sales list with the filters it was showing (sent by its export form)."""
    if entity not in exports.COLUMNS:
        raise Http404("No such list")
    file_format = request.POST.get("format", "csv")
    if file_format not in exports.FORMATS:
        file_format = "csv"
    filters = exports.export_filters(entity, request.POST)
    actor = request.membership
    try:
        count = exports.export_count(actor=actor, entity=entity, filters=filters)
    except ServiceError:
        # A custom-field filter that does not fit its field: nothing is exported, and the
        # list, opened with the same filters, names the field.
        return redirect(f"{reverse(f'sales:{entity}_list')}?{urlencode(filters, doseq=True)}")
    if count > exports.INLINE_ROWS:
        exports.export_request(actor=actor, entity=entity, filters=filters, file_format=file_format)
        messages.success(
            request, _("The list is long: it is being exported, and you will be told when ready.")
        )
        return redirect("dataio:export_list")
    # At most INLINE_ROWS rows: written to a file, then answered in one piece.
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"export.{file_format}"
        exports.export_now(
            actor=actor, entity=entity, filters=filters, file_format=file_format, path=path
        )
        body = path.read_bytes()
    stamp = timezone.localtime().strftime("%Y-%m-%d")
    response = HttpResponse(body, content_type=exports.CONTENT_TYPES[file_format])
    response["Content-Disposition"] = f'attachment; filename="{entity}s-{stamp}.{file_format}"'
    return response


@requires(EXPORT_RECORDS)
@require_safe
def export_list(request: WorkspaceRequest) -> HttpResponse:
    return render(
        request,
        "dataio/export_list.html",
        {"exports": selectors.export_list(actor=request.membership)[:50]},
    )


@requires(EXPORT_RECORDS)
@require_safe
def export_download(request: WorkspaceRequest, export_id: int) -> HttpResponse:
    job = selectors.export_get(actor=request.membership, export_id=export_id)
    try:
        url = exports.export_download_url(actor=request.membership, job=job)
    except ServiceError as exc:
        raise Http404(exc.message) from exc
    return redirect(url)


# --- the audit log ---------------------------------------------------------------------------


@requires(EXPORT_AUDIT_LOG)
@require_safe
def audit_log_export(request: WorkspaceRequest) -> HttpResponse:
    """The audit log of ``?date_from=&date_to=`` (ISO days) as a streamed CSV; a missing or bad
    day answers 400 naming the field."""
    days: dict[str, datetime.date | None] = {}
    for name in ("date_from", "date_to"):
        raw = request.GET.get(name, "").strip()
        try:
            days[name] = datetime.date.fromisoformat(raw) if raw else None
        except ValueError:
            return _export_refused(
                ServiceError(_("Give the day as YYYY-MM-DD."), field=name, code="invalid")
            )
    try:
        lines = audit_export.audit_export_lines(
            actor=request.membership,
            date_from=days["date_from"],
            date_to=days["date_to"],
            ip_address=client_ip(request),
        )
    except ServiceError as error:
        return _export_refused(error)
    first, last = days["date_from"], days["date_to"]
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="audit-log-{first}-{last}.csv"'
    # ``requires`` is typed for HttpResponse; a streaming response passes through it unchanged.
    return cast(HttpResponse, response)


def _export_refused(error: ServiceError) -> HttpResponse:
    return HttpResponse(
        f"{error.field}: {error.message}", status=400, content_type="text/plain; charset=utf-8"
    )
