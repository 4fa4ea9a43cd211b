"""Duplicate pages: the check as a record is typed (an HTMX fragment), the workspace-wide scan
and its groups, the merge page (a value per field) and undoing a merge."""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from crm_modules.sales import selectors
from crm_modules.sales.models import Company, Contact, MergeRecord
from crm_modules.sales.module import FIND_DUPLICATES, MERGE_RECORDS, VIEW_RECORDS
from crm_modules.sales.services.duplicates import (
    Match,
    company_duplicates,
    contact_duplicates,
)
from crm_modules.sales.services.merge import (
    COMPANY_FIELDS,
    CONTACT_FIELDS,
    MAX_RECORDS,
    companies_merge,
    contacts_merge,
    merge_can_undo,
    merge_undo,
)
from crm_modules.sales.tasks import duplicates_scan_task
from crm_platform.errors import ServiceError
from tenants.access import requires
from tenants.http import WorkspaceRequest
from tenants.permissions import allows

ENTITIES: dict[str, tuple[type[Contact] | type[Company], str, tuple[str, ...]]] = {
    "contact": (Contact, "sales:contact_detail", CONTACT_FIELDS),
    "company": (Company, "sales:company_detail", COMPANY_FIELDS),
}


def contact_matches(data: Any) -> list[Match]:
    return contact_duplicates(
        first_name=data.get("first_name", ""),
        last_name=data.get("last_name", ""),
        emails=[data.get("emails", "")],
        phones=[data.get("phones", "")] if data.get("phones") else [],
    )


def company_matches(data: Any) -> list[Match]:
    return company_duplicates(name=data.get("name", ""), domain=data.get("domain", ""))


def _fragment(request: WorkspaceRequest, matches: list[Match], url_name: str) -> HttpResponse:
    return render(
        request,
        "sales/_duplicates.html",
        {"duplicates": matches, "detail_url": url_name, "merge_entity": ""},
    )


@requires(VIEW_RECORDS)
@require_safe
def contact_duplicates_check(request: WorkspaceRequest) -> HttpResponse:
    """What the new-contact form shows as the member types."""
    return _fragment(request, contact_matches(request.GET), "sales:contact_detail")


@requires(VIEW_RECORDS)
@require_safe
def company_duplicates_check(request: WorkspaceRequest) -> HttpResponse:
    return _fragment(request, company_matches(request.GET), "sales:company_detail")


def _entity(raw: str | None) -> str:
    return raw if raw in ENTITIES else "contact"


@requires(FIND_DUPLICATES)
@require_safe
def duplicates(request: WorkspaceRequest) -> HttpResponse:
    entity = _entity(request.GET.get("entity"))
    model, detail_url, _fields = ENTITIES[entity]
    groups = list(selectors.duplicate_groups(entity=entity)[:50])
    ids = {pk for group in groups for pk in group.record_ids}
    records: dict[Any, Any] = model.objects.in_bulk(ids)
    rows = []
    for group in groups:
        present = [records[pk] for pk in group.record_ids if pk in records]
        if len(present) > 1:
            ids_text = ",".join(str(record.pk) for record in present[:MAX_RECORDS])
            rows.append({"group": group, "records": present, "ids": ids_text})
    merges = [
        merge
        for merge in MergeRecord.objects.filter(entity=entity, undone_at__isnull=True).order_by(
            "-merged_at", "-id"
        )[:20]
        if merge_can_undo(merge)
    ]
    return render(
        request,
        "sales/duplicates.html",
        {
            "entity": entity,
            "rows": rows,
            "detail_url": detail_url,
            "merges": merges,
            "can_merge": allows(request.membership, MERGE_RECORDS),
        },
    )


@requires(FIND_DUPLICATES)
@require_POST
def duplicates_scan(request: WorkspaceRequest) -> HttpResponse:
    entity = _entity(request.POST.get("entity"))
    duplicates_scan_task.delay(entity=entity)
    messages.success(
        request, _("The scan has started; this page shows its groups when it is done.")
    )
    return redirect(reverse("sales:duplicates") + f"?entity={entity}")


def _merge_records(request: WorkspaceRequest, entity: str, raw_ids: str) -> list[Any]:
    try:
        ids = [int(pk) for pk in raw_ids.split(",") if pk.strip()][:MAX_RECORDS]
    except ValueError as exc:
        raise Http404("No such records") from exc
    getter = selectors.contact_get if entity == "contact" else selectors.company_get
    records = []
    for pk in dict.fromkeys(ids):
        kwargs = {f"{entity}_id": pk}
        records.append(getter(actor=request.membership, capability=MERGE_RECORDS, **kwargs))
    return records


def _field_rows(records: list[Any], fields: tuple[str, ...]) -> list[dict[str, Any]]:
    rows = []
    for name in fields:
        model_field = records[0]._meta.get_field(name)
        values = []
        for record in records:
            display = getattr(record, f"get_{name}_display", None)
            value = display() if callable(display) else getattr(record, name)
            values.append({"record": record, "value": "" if value is None else str(value)})
        if len({v["value"] for v in values}) > 1:
            rows.append({"name": name, "label": model_field.verbose_name, "values": values})
    return rows


def _merge(request: WorkspaceRequest, entity: str) -> HttpResponse:
    records = _merge_records(request, entity, request.GET.get("ids", ""))
    _model, detail_url, fields = ENTITIES[entity]
    error = ""
    if len(records) < 2:
        # Reached without a group: say where merges start.
        error = _("Choose two or more records to merge, from the duplicates page.")
        records = []
    elif request.method == "POST":
        survivor_id = request.POST.get("survivor", "")
        ids = [record.pk for record in records]
        values = {name: request.POST[name] for name in fields if request.POST.get(name)}
        seen: dict[int, datetime.datetime] = {}
        for record in records:
            stamp = parse_datetime(request.POST.get(f"seen_{record.pk}", ""))
            if stamp is not None:
                seen[record.pk] = stamp
        service = contacts_merge if entity == "contact" else companies_merge
        try:
            survivor = int(survivor_id)
            merge = service(
                actor=request.membership,
                survivor_id=survivor,
                other_ids=[pk for pk in ids if pk != survivor],
                values=values,
                seen=seen,
            )
        except (ValueError, ServiceError) as exc:
            error = (
                exc.message if isinstance(exc, ServiceError) else _("Choose the record to keep.")
            )
        else:
            messages.success(
                request,
                _("Merged. You can undo this merge for 7 days from the duplicates page."),
            )
            return redirect(detail_url, merge.survivor_id)
    return render(
        request,
        "sales/merge.html",
        {
            "entity": entity,
            "records": records,
            "rows": _field_rows(records, fields) if records else [],
            "error": error,
            "detail_url": detail_url,
        },
        status=400 if error and request.method == "POST" else 200,
    )


@requires(MERGE_RECORDS)
@require_http_methods(["GET", "HEAD", "POST"])
def contact_merge(request: WorkspaceRequest) -> HttpResponse:
    return _merge(request, "contact")


@requires(MERGE_RECORDS)
@require_http_methods(["GET", "HEAD", "POST"])
def company_merge(request: WorkspaceRequest) -> HttpResponse:
    return _merge(request, "company")


@requires(MERGE_RECORDS)
@require_POST
def merge_undo_view(request: WorkspaceRequest, merge_id: int) -> HttpResponse:
    merge = selectors.merge_get(actor=request.membership, merge_id=merge_id)
    try:
        merge_undo(actor=request.membership, merge=merge)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("The merge is undone."))
    return redirect(reverse("sales:duplicates") + f"?entity={merge.entity}")
