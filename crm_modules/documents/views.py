from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpResponse, HttpResponseBase, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from crm_modules.documents import selectors, services
from crm_modules.documents.api import attachable_record, panel_context
from crm_modules.documents.forms import (
    DocumentFilterForm,
    LinkForm,
    UploadCompleteForm,
    UploadStartForm,
)
from crm_modules.documents.module import MANAGE_TRASH, UPLOAD_DOCUMENTS, VIEW_DOCUMENTS
from crm_modules.documents.responses import download_response
from crm_platform.errors import PermissionDenied, ServiceError
from tenants.access import requires
from tenants.http import WorkspaceRequest
from tenants.models import User
from tenants.permissions import allows

# How many documents the panel's "Link a document" search offers at once.
LINK_CHOICES = 20


def _error(message: str, field: str | None, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": {"message": message, "field": field}}, status=status)


def _form_error(form: UploadStartForm | UploadCompleteForm) -> JsonResponse:
    field, errors = next(iter(form.errors.items()))
    return _error(str(errors[0]), field)


@requires(VIEW_DOCUMENTS)
@require_safe
def document_index(request: WorkspaceRequest) -> HttpResponse:
    trash = request.GET.get("trash") == "1" and allows(
        request.membership, MANAGE_TRASH, reading=True
    )
    form = DocumentFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    uploader_id = None
    if filters.get("uploader"):
        user = User.objects.filter(email__iexact=filters["uploader"]).first()
        uploader_id = user.pk if user is not None else -1
    documents = selectors.document_list(
        actor=request.membership,
        query=filters.get("q", ""),
        content_type=filters.get("type", ""),
        uploaded_by=uploader_id,
        created_from=filters.get("date_from"),
        created_to=filters.get("date_to"),
        linked=filters.get("linked", ""),
        linked_type=filters.get("linked_type", ""),
        trash=trash,
    )[:200]
    rows = list(documents)
    linked = selectors.linked_records(actor=request.membership, documents=rows)
    for document in rows:
        document.linked_to = linked.get(document.pk, [])  # type: ignore[attr-defined]
    return render(
        request, "documents/index.html", {"form": form, "documents": rows, "trash": trash}
    )


@requires(UPLOAD_DOCUMENTS)
@require_POST
def upload_start(request: WorkspaceRequest) -> JsonResponse:
    form = UploadStartForm(request.POST)
    if not form.is_valid():
        return _form_error(form)
    return _start(request, form, document=None)


@requires(UPLOAD_DOCUMENTS)
@require_POST
def version_upload_start(request: WorkspaceRequest, document_id: int) -> JsonResponse:
    document = selectors.document_get(actor=request.membership, document_id=document_id)
    form = UploadStartForm(request.POST)
    if not form.is_valid():
        return _form_error(form)
    return _start(request, form, document=document)


def _start(request: WorkspaceRequest, form: UploadStartForm, *, document: object) -> JsonResponse:
    data = form.cleaned_data
    try:
        ticket = services.document_upload_start(
            actor=request.membership,
            name=data["name"],
            content_type=data["content_type"],
            size=data["size"],
            record_type=data["record_type"],
            record_id=data["record_id"],
            document=document,  # type: ignore[arg-type]
        )
    except ServiceError as error:
        return _error(error.message, error.field)
    return JsonResponse(_ticket_json(ticket))


def _ticket_json(ticket: services.UploadTicket) -> dict[str, object]:
    if ticket.parts or ticket.part_size:
        return {"ticket": ticket.ticket, "part_size": ticket.part_size, "parts": ticket.parts}
    return {"url": ticket.url, "headers": ticket.headers, "ticket": ticket.ticket}


@requires(UPLOAD_DOCUMENTS)
@require_POST
def upload_resume(request: WorkspaceRequest) -> JsonResponse:
    """An upload in parts after a dropped connection: the parts still to send."""
    form = UploadCompleteForm(request.POST)
    if not form.is_valid():
        return _form_error(form)
    try:
        ticket = services.document_upload_resume(
            actor=request.membership, ticket=form.cleaned_data["ticket"]
        )
    except ServiceError as error:
        return _error(error.message, error.field)
    return JsonResponse(_ticket_json(ticket))


@requires(UPLOAD_DOCUMENTS)
@require_POST
def upload_abort(request: WorkspaceRequest) -> JsonResponse:
    form = UploadCompleteForm(request.POST)
    if not form.is_valid():
        return _form_error(form)
    try:
        services.document_upload_abort(actor=request.membership, ticket=form.cleaned_data["ticket"])
    except ServiceError as error:
        return _error(error.message, error.field)
    return JsonResponse({"aborted": True})


@requires(UPLOAD_DOCUMENTS)
@require_POST
def upload_complete(request: WorkspaceRequest) -> JsonResponse:
    form = UploadCompleteForm(request.POST)
    if not form.is_valid():
        return _form_error(form)
    try:
        document = services.document_upload_complete(
            actor=request.membership, ticket=form.cleaned_data["ticket"]
        )
    except ServiceError as error:
        return _error(error.message, error.field)
    return JsonResponse(
        {"id": document.pk, "name": document.name, "version": document.current_version},
        status=201,
    )


@requires(VIEW_DOCUMENTS)
@require_safe
def document_download(request: WorkspaceRequest, document_id: int) -> HttpResponseBase:
    document = selectors.document_get(actor=request.membership, document_id=document_id)
    version = None
    if request.GET.get("version"):
        try:
            number = int(request.GET["version"])
        except ValueError:
            number = 0
        version = selectors.document_version_get(document=document, number=number)
    download = services.document_download(
        actor=request.membership, document=document, version=version
    )
    return download_response(request, download)


@requires(VIEW_DOCUMENTS)
@require_safe
def document_thumbnail(request: WorkspaceRequest, document_id: int) -> HttpResponse:
    """The first page of a PDF as a small PNG, once the background rendering has made it."""
    document = selectors.document_get(actor=request.membership, document_id=document_id)
    url = services.document_thumbnail_url(actor=request.membership, document=document)
    if url is None:
        raise Http404("No thumbnail")
    response = HttpResponseRedirect(url)
    response["X-Content-Type-Options"] = "nosniff"
    return response


@requires(VIEW_DOCUMENTS)
@require_safe
def document_detail(request: WorkspaceRequest, document_id: int) -> HttpResponse:
    document = selectors.document_get(actor=request.membership, document_id=document_id)
    versions = list(selectors.document_versions(document=document))
    current = next((v for v in versions if v.number == document.current_version), None)
    preview = ""
    if current is not None and services.previewable(current):
        preview = "pdf" if current.content_type == "application/pdf" else "image"
    context = {
        "document": document,
        "versions": versions,
        "preview": preview,
        "thumbnail": current is not None and bool(current.thumbnail_key),
    }
    return render(request, "documents/detail.html", context)


@requires(UPLOAD_DOCUMENTS)
@require_POST
def version_restore(
    request: WorkspaceRequest, document_id: int, version_number: int
) -> HttpResponse:
    document = selectors.document_get(actor=request.membership, document_id=document_id)
    selectors.document_version_get(document=document, number=version_number)
    try:
        services.document_version_restore(
            actor=request.membership, document=document, number=version_number
        )
    except ServiceError as error:
        return HttpResponse(error.message, status=400)
    return redirect("documents:detail", document_id=document.pk)


@requires(UPLOAD_DOCUMENTS)
@require_POST
def document_delete(request: WorkspaceRequest, document_id: int) -> HttpResponse:
    document = selectors.document_get(actor=request.membership, document_id=document_id)
    services.document_delete(actor=request.membership, document=document)
    return redirect("documents:list")


@requires(MANAGE_TRASH)
@require_POST
def document_restore(request: WorkspaceRequest, trashed_document_id: int) -> HttpResponse:
    document = selectors.document_get(
        actor=request.membership, document_id=trashed_document_id, trash=True
    )
    services.document_restore(actor=request.membership, document=document)
    return redirect("documents:detail", document_id=document.pk)


# --- linking an existing document to a record, from the record's Documents panel -----------


def _panel_record(request: WorkspaceRequest, form: LinkForm) -> Any:
    """The record a panel request names, if the member may see it; 404 otherwise."""
    if not form.is_valid():
        raise Http404("No such record")
    record = attachable_record(
        actor=request.membership,
        key=form.cleaned_data["record_type"],
        record_id=form.cleaned_data["record_id"],
    )
    if record is None:
        raise Http404("No such record")
    return record


def _panel(
    request: WorkspaceRequest, *, record_type: str, record: Any, error: str = "", status: int = 200
) -> HttpResponse:
    panel = panel_context(record_type)(request.membership, record)
    return render(
        request, "documents/_record_panel.html", {"panel": {**panel, "error": error}}, status=status
    )


@requires(UPLOAD_DOCUMENTS)
@require_safe
def link_choices(request: WorkspaceRequest) -> HttpResponse:
    """Documents the member sees that the record does not have yet, by name: what the panel's
    "Link a document" search offers."""
    form = LinkForm(request.GET)
    record = _panel_record(request, form)
    record_type = form.cleaned_data["record_type"]
    query = request.GET.get("q", "").strip()[:255]
    documents = (
        selectors.document_list(actor=request.membership, query=query)
        .exclude(links__record_type=record_type, links__record_id=record.pk)
        .distinct()[:LINK_CHOICES]
    )
    return render(
        request,
        "documents/_link_choices.html",
        {
            "documents": documents,
            "record_type": record_type,
            "record_id": record.pk,
            "query": query,
        },
    )


def _link_or_unlink(request: WorkspaceRequest, document_id: int, *, unlink: bool) -> HttpResponse:
    document = selectors.document_get(actor=request.membership, document_id=document_id)
    form = LinkForm(request.POST)
    if not form.is_valid():
        field, errors = next(iter(form.errors.items()))
        return HttpResponse(f"{field}: {errors[0]}", status=400, content_type="text/plain")
    record_type, record_id = form.cleaned_data["record_type"], form.cleaned_data["record_id"]
    htmx = bool(request.headers.get("HX-Request"))
    change = services.document_unlink if unlink else services.document_link
    try:
        change(
            actor=request.membership,
            document=document,
            record_type=record_type,
            record_id=record_id,
        )
    except PermissionDenied as refused:
        # The member may not edit this record: the 403 page, as for any refused role.
        raise DjangoPermissionDenied(refused.message) from refused
    except ServiceError as error:
        record = attachable_record(actor=request.membership, key=record_type, record_id=record_id)
        if record is None or not htmx:
            return HttpResponse(error.message, status=400, content_type="text/plain")
        return _panel(
            request, record_type=record_type, record=record, error=error.message, status=400
        )
    if not htmx:
        return redirect("documents:detail", document_id=document.pk)
    record = attachable_record(actor=request.membership, key=record_type, record_id=record_id)
    return _panel(request, record_type=record_type, record=record)


@requires(UPLOAD_DOCUMENTS)
@require_POST
def document_link(request: WorkspaceRequest, document_id: int) -> HttpResponse:
    return _link_or_unlink(request, document_id, unlink=False)


@requires(UPLOAD_DOCUMENTS)
@require_POST
def document_unlink(request: WorkspaceRequest, document_id: int) -> HttpResponse:
    return _link_or_unlink(request, document_id, unlink=True)
