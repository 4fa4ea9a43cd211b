"""Record pages: a contact, company, deal or lead with its shared timeline, and the forms that
act on it (log a call or note, move a deal, convert a lead, complete a task, create records)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.db.models import Model
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from crm_modules.activities.api import LOG_ACTIVITY, entry_type, timeline
from crm_modules.sales import selectors, services, views_duplicates
from crm_modules.sales.custom_forms import (
    custom_rows,
    labelled,
    new_custom_rows,
    posted_custom,
)
from crm_modules.sales.forms import (
    CompanyForm,
    ConsentForm,
    ContactForm,
    DealForm,
    LeadForm,
    LogActivityForm,
    MoveDealForm,
    TaskForm,
)
from crm_modules.sales.models import Company, Contact, Deal, Lead
from crm_modules.sales.module import (
    CREATE_RECORDS,
    EDIT_MARKETING,
    EDIT_RECORDS,
    VIEW_RECORDS,
    WORK_TASKS,
)
from crm_modules.sales.services.scores import score_explanation
from crm_platform.errors import ServiceError
from tenants.access import requires
from tenants.http import WorkspaceRequest
from tenants.permissions import allows


def _entries(record: Model) -> list[dict[str, Any]]:
    entries = []
    for activity in timeline(record, limit=20):
        kind = entry_type(activity.kind)
        entries.append({"activity": activity, "label": kind.label if kind else activity.kind})
    return entries


_ENTITIES = {Contact: "contact", Company: "company", Deal: "deal", Lead: "lead"}


def _page(
    request: WorkspaceRequest,
    template: str,
    record: Model,
    extra: dict[str, Any],
    *,
    log_form: LogActivityForm | None = None,
    status: int = 200,
) -> HttpResponse:
    entity = _ENTITIES.get(type(record), "")
    # A converted lead is kept as it was: its custom fields are shown, not edited.
    converted = isinstance(record, Lead) and record.status == Lead.Status.CONVERTED
    context = {
        "record": record,
        "entries": _entries(record),
        "log_form": log_form or LogActivityForm(initial={"kind": "call"}),
        "can_log": allows(request.membership, LOG_ACTIVITY),
        "can_edit": allows(request.membership, EDIT_RECORDS, record) and not converted,
        "can_edit_marketing": allows(request.membership, EDIT_MARKETING, record),
        "custom_rows": custom_rows(request.membership, entity, record) if entity else [],
        "custom_url": f"sales:{entity}_custom" if entity else "",
        "score_explanation": (
            score_explanation(record) if isinstance(record, Contact | Lead) else []
        ),
        **extra,
    }
    return render(request, template, context, status=status)


def _contact_extra(contact: Any, consent_form: ConsentForm | None = None) -> dict[str, Any]:
    return {
        "consent_form": consent_form or ConsentForm(initial={"status": "given"}),
        "emails": list(contact.emails.order_by("-is_primary", "id")),
        "phones": list(contact.phones.order_by("-is_primary", "id")),
        "consents": list(contact.consents.order_by("channel")),
        "history": list(contact.company_history.select_related("company").order_by("-started_at")),
    }


def _company_extra(request: WorkspaceRequest, company: Any) -> dict[str, Any]:
    actor = request.membership
    return {
        "contacts": list(
            selectors.contact_list(actor=actor, company_id=company.pk).order_by("-id")[:20]
        ),
        "deals": list(selectors.deal_list(actor=actor, company_id=company.pk).order_by("-id")[:20]),
    }


def _deal_extra(request: WorkspaceRequest, deal: Any) -> dict[str, Any]:
    return {
        "stages": list(deal.pipeline.stages.all()),
        # Only the contacts the member may open (a restricted rep's deal may name others').
        "contacts": list(
            selectors.contact_list(actor=request.membership).filter(deals=deal).order_by("id")
        ),
        "move_form": MoveDealForm(initial={"stage": deal.stage_id}),
        "line_items": list(selectors.line_item_list(deal=deal)),
        **_product_picker(request),
    }


def _product_picker(request: WorkspaceRequest) -> dict[str, Any]:
    """The products offered for a new line item, narrowed by ``product_q`` when searched."""
    search = request.GET.get("product_q", "")
    products, more = selectors.product_choices(actor=request.membership, q=search)
    return {
        "products": products,
        "more_products": more,
        "product_q": " ".join(search.split())[:100],
        # With a search that matches nothing, the picker stays so the member can search again.
        "has_products": bool(products)
        or selectors.product_list(actor=request.membership, active=True).exists(),
    }


@requires(VIEW_RECORDS)
@require_safe
def contact_detail(request: WorkspaceRequest, contact_id: int) -> HttpResponse:
    contact = selectors.contact_get(actor=request.membership, contact_id=contact_id)
    return _page(request, "sales/contact_detail.html", contact, _contact_extra(contact))


@requires(VIEW_RECORDS)
@require_safe
def company_detail(request: WorkspaceRequest, company_id: int) -> HttpResponse:
    company = selectors.company_get(actor=request.membership, company_id=company_id)
    return _page(request, "sales/company_detail.html", company, _company_extra(request, company))


@requires(VIEW_RECORDS)
@require_safe
def deal_detail(request: WorkspaceRequest, deal_id: int) -> HttpResponse:
    deal = selectors.deal_get(actor=request.membership, deal_id=deal_id)
    return _page(request, "sales/deal_detail.html", deal, _deal_extra(request, deal))


def deal_page(
    request: WorkspaceRequest, deal: Any, *, line_error: ServiceError, status: int
) -> HttpResponse:
    """The deal page again, naming what was wrong with a line item."""
    extra = {**_deal_extra(request, deal), "line_error": line_error}
    return _page(request, "sales/deal_detail.html", deal, extra, status=status)


@requires(VIEW_RECORDS)
@require_safe
def lead_detail(request: WorkspaceRequest, lead_id: int) -> HttpResponse:
    lead = selectors.lead_get(actor=request.membership, lead_id=lead_id)
    return _page(request, "sales/lead_detail.html", lead, {})


def _log(
    request: WorkspaceRequest, record: Model, template: str, extra: dict[str, Any], url: str
) -> HttpResponse:
    form = LogActivityForm(request.POST)
    if form.is_valid():
        try:
            services.record_log_activity(
                actor=request.membership,
                record=record,  # type: ignore[arg-type]
                kind=form.cleaned_data["kind"],
                subject=form.cleaned_data["subject"],
                body=form.cleaned_data["body"],
            )
        except ServiceError as error:
            form.add_service_error(error)
        else:
            messages.success(request, _("Saved on the timeline."))
            return redirect(url)
    return _page(request, template, record, extra, log_form=form, status=400)


def _panels(request: WorkspaceRequest, record: Model) -> HttpResponse:
    """The panels other modules add to a record page (tickets, documents, contact pressure,
    sequences, offers), asked for by the page once it is shown (ADR 0085): the page and its
    timeline do not wait for them."""
    context = {"record": record, "record_type": f"sales.{_ENTITIES[type(record)]}"}
    return render(request, "sales/_record_panels.html", context)


@requires(VIEW_RECORDS)
@require_safe
def contact_panels(request: WorkspaceRequest, contact_id: int) -> HttpResponse:
    return _panels(request, selectors.contact_get(actor=request.membership, contact_id=contact_id))


@requires(VIEW_RECORDS)
@require_safe
def company_panels(request: WorkspaceRequest, company_id: int) -> HttpResponse:
    return _panels(request, selectors.company_get(actor=request.membership, company_id=company_id))


@requires(VIEW_RECORDS)
@require_safe
def deal_panels(request: WorkspaceRequest, deal_id: int) -> HttpResponse:
    return _panels(request, selectors.deal_get(actor=request.membership, deal_id=deal_id))


@requires(VIEW_RECORDS)
@require_safe
def lead_panels(request: WorkspaceRequest, lead_id: int) -> HttpResponse:
    return _panels(request, selectors.lead_get(actor=request.membership, lead_id=lead_id))


@requires(LOG_ACTIVITY)
@require_POST
def contact_log(request: WorkspaceRequest, contact_id: int) -> HttpResponse:
    contact = selectors.contact_get(actor=request.membership, contact_id=contact_id)
    url = reverse("sales:contact_detail", args=[contact.pk])
    return _log(request, contact, "sales/contact_detail.html", _contact_extra(contact), url)


@requires(EDIT_MARKETING)
@require_POST
def contact_consent(request: WorkspaceRequest, contact_id: int) -> HttpResponse:
    """Record a contact's consent on one channel: given or withdrawn, when and how."""
    contact = selectors.contact_get(
        actor=request.membership, contact_id=contact_id, capability=EDIT_MARKETING
    )
    form = ConsentForm(request.POST)
    if form.is_valid():
        try:
            services.contact_set_consent(
                actor=request.membership, contact=contact, **form.cleaned_data
            )
        except ServiceError as error:
            form.add_service_error(error)
        else:
            messages.success(request, _("Consent saved."))
            return redirect("sales:contact_detail", contact.pk)
    extra = _contact_extra(contact, consent_form=form)
    return _page(request, "sales/contact_detail.html", contact, extra, status=400)


@requires(LOG_ACTIVITY)
@require_POST
def company_log(request: WorkspaceRequest, company_id: int) -> HttpResponse:
    company = selectors.company_get(actor=request.membership, company_id=company_id)
    url = reverse("sales:company_detail", args=[company.pk])
    extra = _company_extra(request, company)
    return _log(request, company, "sales/company_detail.html", extra, url)


@requires(LOG_ACTIVITY)
@require_POST
def deal_log(request: WorkspaceRequest, deal_id: int) -> HttpResponse:
    deal = selectors.deal_get(actor=request.membership, deal_id=deal_id)
    url = reverse("sales:deal_detail", args=[deal.pk])
    return _log(request, deal, "sales/deal_detail.html", _deal_extra(request, deal), url)


@requires(EDIT_RECORDS)
@require_POST
def deal_move(request: WorkspaceRequest, deal_id: int) -> HttpResponse:
    """The board's keyboard and no-script path: a form with the target stage."""
    deal = selectors.deal_get(actor=request.membership, deal_id=deal_id, capability=EDIT_RECORDS)
    form = MoveDealForm(request.POST)
    if form.is_valid():
        try:
            services.deal_move_stage(
                actor=request.membership,
                deal=deal,
                stage=form.cleaned_data["stage"],
                lost_reason=form.cleaned_data["lost_reason"],
            )
        except ServiceError as error:
            form.add_service_error(error)
        else:
            if request.POST.get("next") == "board":
                return redirect(reverse("sales:deal_board") + f"?pipeline={deal.pipeline_id}")
            return redirect("sales:deal_detail", deal.pk)
    extra = {**_deal_extra(request, deal), "move_form": form}
    return _page(request, "sales/deal_detail.html", deal, extra, status=400)


@requires(EDIT_RECORDS)
@require_POST
def lead_convert(request: WorkspaceRequest, lead_id: int) -> HttpResponse:
    lead = selectors.lead_get(actor=request.membership, lead_id=lead_id, capability=EDIT_RECORDS)
    try:
        result = services.lead_convert(actor=request.membership, lead=lead)
    except ServiceError as error:
        messages.error(request, error.message)
        return _page(request, "sales/lead_detail.html", lead, {}, status=400)
    messages.success(request, _("Lead converted."))
    return redirect("sales:contact_detail", result.contact.pk)


@requires(WORK_TASKS)
@require_POST
def task_done(request: WorkspaceRequest, task_id: int) -> HttpResponse:
    task = selectors.task_get(actor=request.membership, task_id=task_id, capability=WORK_TASKS)
    services.task_complete(actor=request.membership, task=task, done=not task.done)
    return redirect(reverse("sales:task_list") + "?mine=1")


@requires(CREATE_RECORDS)
@require_http_methods(["GET", "HEAD", "POST"])
def contact_new(request: WorkspaceRequest) -> HttpResponse:
    form = ContactForm(request.POST or None)
    matches: list[Any] = []
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if not request.POST.get("save_anyway"):
            matches = views_duplicates.contact_matches(data)
    if request.method == "POST" and form.is_valid() and not matches:
        data = form.cleaned_data
        try:
            contact = services.contact_create(
                actor=request.membership,
                first_name=data["first_name"],
                last_name=data["last_name"],
                job_title=data["job_title"],
                emails=[data["emails"]] if data["emails"] else [],
                phones=[data["phones"]] if data["phones"] else [],
                custom_fields=posted_custom(request, "contact"),
                complete_custom=True,
            )
        except ServiceError as error:
            form.add_service_error(labelled(request, "contact", error))
        else:
            return redirect("sales:contact_detail", contact.pk)
    status = 400 if request.method == "POST" else 200
    context = {
        "form": form,
        "custom_rows": new_custom_rows(request, "contact"),
        "title": _("New contact"),
        "duplicates": matches,
        "check_url": reverse("sales:contact_duplicates"),
        "detail_url": "sales:contact_detail",
    }
    return render(request, "sales/record_new.html", context, status=status)


@requires(CREATE_RECORDS)
@require_http_methods(["GET", "HEAD", "POST"])
def company_new(request: WorkspaceRequest) -> HttpResponse:
    form = CompanyForm(request.POST or None)
    matches: list[Any] = []
    if request.method == "POST" and form.is_valid() and not request.POST.get("save_anyway"):
        matches = views_duplicates.company_matches(form.cleaned_data)
    if request.method == "POST" and form.is_valid() and not matches:
        try:
            company = services.company_create(
                actor=request.membership,
                custom_fields=posted_custom(request, "company"),
                complete_custom=True,
                **form.cleaned_data,
            )
        except ServiceError as error:
            form.add_service_error(labelled(request, "company", error))
        else:
            return redirect("sales:company_detail", company.pk)
    status = 400 if request.method == "POST" else 200
    context = {
        "form": form,
        "custom_rows": new_custom_rows(request, "company"),
        "title": _("New company"),
        "duplicates": matches,
        "check_url": reverse("sales:company_duplicates"),
        "detail_url": "sales:company_detail",
    }
    return render(request, "sales/record_new.html", context, status=status)


def _record_new(
    request: WorkspaceRequest,
    *,
    entity: str,
    form: Any,
    create: Callable[..., Any],
    detail: str,
    title: str,
) -> HttpResponse:
    """The new-record page of a deal or a lead: its form and custom fields, created through
    ``create`` (the entity's service), then off to the record's page."""
    if request.method == "POST" and form.is_valid():
        try:
            record = create(
                actor=request.membership,
                custom_fields=posted_custom(request, entity),
                complete_custom=True,
                **form.cleaned_data,
            )
        except ServiceError as error:
            form.add_service_error(labelled(request, entity, error))
        else:
            return redirect(detail, record.pk)
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "title": title, "custom_rows": new_custom_rows(request, entity)}
    return render(request, "sales/record_new.html", context, status=status)


@requires(CREATE_RECORDS)
@require_http_methods(["GET", "HEAD", "POST"])
def deal_new(request: WorkspaceRequest) -> HttpResponse:
    return _record_new(
        request,
        entity="deal",
        form=DealForm(request.POST or None),
        create=services.deal_create,
        detail="sales:deal_detail",
        title=_("New deal"),
    )


@requires(CREATE_RECORDS)
@require_http_methods(["GET", "HEAD", "POST"])
def lead_new(request: WorkspaceRequest) -> HttpResponse:
    return _record_new(
        request,
        entity="lead",
        form=LeadForm(request.POST or None),
        create=services.lead_create,
        detail="sales:lead_detail",
        title=_("New lead"),
    )


@requires(WORK_TASKS)
@require_http_methods(["GET", "HEAD", "POST"])
def task_new(request: WorkspaceRequest) -> HttpResponse:
    """A task of one's own, with no record: the palette's "New task"."""
    form = TaskForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.task_create(actor=request.membership, **form.cleaned_data)
        except ServiceError as error:
            form.add_service_error(error)
        else:
            messages.success(request, _("Task created."))
            return redirect("sales:task_list")
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "title": _("New task")}
    return render(request, "sales/record_new.html", context, status=status)
