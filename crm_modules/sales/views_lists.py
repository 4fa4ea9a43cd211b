"""What every sales list shares: saved views, custom-field columns and bulk actions; and the
custom fields of a record edited on its page."""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from crm_modules.sales import selectors, services
from crm_modules.sales.custom_forms import custom_columns, custom_filter_rows, posted_custom
from crm_modules.sales.custom_sort import sort_choices
from crm_modules.sales.models import Company, Contact, CustomField, Deal, Lead, LifecycleStage
from crm_modules.sales.module import (
    DELETE_RECORDS,
    EDIT_RECORDS,
    REASSIGN_RECORDS,
    SHARE_VIEWS,
    VIEW_RECORDS,
)
from crm_modules.sales.services.bulk import KINDS, records_bulk_apply
from crm_modules.sales.services.views import saved_view_create, saved_view_delete
from crm_platform.errors import ServiceError
from tenants.access import requires
from tenants.hosts import safe_local_path
from tenants.http import WorkspaceRequest
from tenants.permissions import allows
from tenants.selectors import member_list

LIST_URLS = {
    "contact": "sales:contact_list",
    "company": "sales:company_list",
    "lead": "sales:lead_list",
    "deal": "sales:deal_list",
}
WITH_CUSTOM_FIELDS = {"contact", "company", "deal", "lead"}


def list_extras(
    request: WorkspaceRequest,
    entity: str,
    *,
    pipelines: list[Any] | None = None,
    fields: list[CustomField] | None = None,
) -> dict[str, Any]:
    """Context for a list page: its saved views, the custom fields it may show as columns and
    those chosen (``cols``), the custom fields it may be sorted by (``custom_sorts``), and the
    bulk actions the member's role offers (the deals list passes its ``pipelines``, whose
    stages the deals may be moved to, and its ``fields`` when it has read them)."""
    actor = request.membership
    if fields is None:
        fields = (
            list(selectors.custom_field_list(actor=actor, entity=entity))
            if entity in WITH_CUSTOM_FIELDS
            else []
        )
    query = request.GET.copy()
    query.pop("after", None)
    for key in [k for k, values in query.lists() if k.startswith("cf_") and not any(values)]:
        # The custom-field inputs left empty: a saved view keeps only the filters in use.
        query.pop(key)
    kind = KINDS[entity]
    can_reassign = allows(actor, REASSIGN_RECORDS)
    can_tag = allows(actor, kind.tag_capability)
    can_lifecycle = kind.lifecycle_capability is not None and allows(
        actor, kind.lifecycle_capability
    )
    can_move = entity == "deal" and pipelines is not None and allows(actor, EDIT_RECORDS)
    can_delete = allows(actor, DELETE_RECORDS)
    filter_rows = custom_filter_rows(request.GET, fields)
    return {
        "entity": entity,
        "saved_views": list(selectors.saved_view_list(actor=actor, entity=entity)),
        "can_share_views": allows(actor, SHARE_VIEWS),
        "view_query": query.urlencode(),
        **custom_columns(request, fields),
        "custom_filter_rows": filter_rows,
        "custom_sorts": sort_choices(fields),
        "custom_filter_used": any(row["used"] for row in filter_rows),
        "bulk": {
            "owner": can_reassign,
            "tag": can_tag,
            "lifecycle": can_lifecycle,
            "stage": can_move,
            "delete": can_delete,
            "any": can_reassign or can_tag or can_lifecycle or can_move or can_delete,
        },
        "bulk_members": list(member_list(tenant=actor.tenant).filter(status="active"))
        if can_reassign
        else [],
        "bulk_lifecycle_stages": LifecycleStage.choices if can_lifecycle else [],
        "bulk_pipelines": [p for p in pipelines or [] if not p.archived_at] if can_move else [],
    }


def _back(request: WorkspaceRequest, entity: str) -> HttpResponse:
    return redirect(safe_local_path(request.POST.get("next"), reverse(LIST_URLS[entity])))


BULK_VALUES = {"owner": "owner", "tag": "tag", "untag": "tag", "lifecycle": "lifecycle"}


def _bulk(request: WorkspaceRequest, entity: str) -> HttpResponse:
    post = request.POST
    action = post.get("action", "")
    try:
        result = records_bulk_apply(
            actor=request.membership,
            entity=entity,
            ids=post.getlist("ids"),
            action=action,
            value=post.get(BULK_VALUES.get(action, "stage"), ""),
            lost_reason=post.get("lost_reason", ""),
        )
    except ServiceError as error:
        messages.error(request, error.message)
        return _back(request, entity)
    messages.success(
        request,
        _("Changed: %(changed)d. Skipped, not allowed for you: %(skipped)d.")
        % {"changed": result.changed, "skipped": result.skipped},
    )
    for outcome in result.failed[:5]:
        messages.error(
            request,
            _("Not changed, record %(id)d: %(reason)s")
            % {"id": outcome.id, "reason": outcome.message},
        )
    return _back(request, entity)


@requires(VIEW_RECORDS)
@require_POST
def contact_bulk(request: WorkspaceRequest) -> HttpResponse:
    return _bulk(request, "contact")


@requires(VIEW_RECORDS)
@require_POST
def company_bulk(request: WorkspaceRequest) -> HttpResponse:
    return _bulk(request, "company")


@requires(VIEW_RECORDS)
@require_POST
def lead_bulk(request: WorkspaceRequest) -> HttpResponse:
    return _bulk(request, "lead")


@requires(VIEW_RECORDS)
@require_POST
def deal_bulk(request: WorkspaceRequest) -> HttpResponse:
    return _bulk(request, "deal")


@requires(VIEW_RECORDS)
@require_POST
def view_save(request: WorkspaceRequest) -> HttpResponse:
    entity = request.POST.get("entity", "")
    try:
        view = saved_view_create(
            actor=request.membership,
            entity=entity,
            name=request.POST.get("name", ""),
            query=request.POST.get("query", ""),
            shared=request.POST.get("shared", ""),
        )
    except ServiceError as error:
        messages.error(request, error.message)
        fallback = reverse(LIST_URLS.get(entity, "sales:contact_list"))
        return redirect(safe_local_path(request.POST.get("next"), fallback))
    messages.success(request, _("View saved."))
    return redirect(reverse(LIST_URLS[view.entity]) + (f"?{view.query}" if view.query else ""))


@requires(VIEW_RECORDS)
@require_POST
def view_delete(request: WorkspaceRequest, view_id: int) -> HttpResponse:
    view = selectors.saved_view_get(actor=request.membership, view_id=view_id)
    try:
        saved_view_delete(actor=request.membership, view=view)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("View deleted."))
    return redirect(LIST_URLS[view.entity])


# --- custom fields of a record ------------------------------------------------------------


def _save_custom(request: WorkspaceRequest, entity: str, record: Any, update: Any) -> HttpResponse:
    fields = list(selectors.custom_field_list(actor=request.membership, entity=entity))
    labels = {f"custom_fields.{field.code}": field.label for field in fields}
    values = posted_custom(request, entity)
    seen = request.POST.get("updated_at", "")
    try:
        expected = datetime.datetime.fromisoformat(seen) if seen else None
    except ValueError:
        expected = None
    try:
        update(
            actor=request.membership,
            changes={"custom_fields": values},
            expected_updated_at=expected,
            **{entity: record},
        )
    except ServiceError as error:
        label = labels.get(error.field or "", "")
        messages.error(request, f"{label}: {error.message}" if label else error.message)
    else:
        messages.success(request, _("Saved."))
    return redirect(f"sales:{entity}_detail", record.pk)


@requires(EDIT_RECORDS)
@require_POST
def contact_custom(request: WorkspaceRequest, contact_id: int) -> HttpResponse:
    contact: Contact = selectors.contact_get(
        actor=request.membership, contact_id=contact_id, capability=EDIT_RECORDS
    )
    return _save_custom(request, "contact", contact, services.contact_update)


@requires(EDIT_RECORDS)
@require_POST
def company_custom(request: WorkspaceRequest, company_id: int) -> HttpResponse:
    company: Company = selectors.company_get(
        actor=request.membership, company_id=company_id, capability=EDIT_RECORDS
    )
    return _save_custom(request, "company", company, services.company_update)


@requires(EDIT_RECORDS)
@require_POST
def deal_custom(request: WorkspaceRequest, deal_id: int) -> HttpResponse:
    deal: Deal = selectors.deal_get(
        actor=request.membership, deal_id=deal_id, capability=EDIT_RECORDS
    )
    return _save_custom(request, "deal", deal, services.deal_update)


@requires(EDIT_RECORDS)
@require_POST
def lead_custom(request: WorkspaceRequest, lead_id: int) -> HttpResponse:
    lead: Lead = selectors.lead_get(
        actor=request.membership, lead_id=lead_id, capability=EDIT_RECORDS
    )
    return _save_custom(request, "lead", lead, services.lead_update)
