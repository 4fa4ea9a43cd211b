from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from crm_modules.documents import logo
from crm_modules.documents.forms import UploadCompleteForm, UploadStartForm
from crm_modules.documents.views import _error, _form_error
from crm_platform.errors import ServiceError
from tenants import capabilities
from tenants.access import client_ip, requires
from tenants.http import WorkspaceRequest


@requires(capabilities.USE_WORKSPACE)
@require_safe
def logo_image(request: WorkspaceRequest) -> HttpResponse:
    """The workspace's own logo: a redirect to a short-lived presigned URL."""
    url = logo.workspace_logo_url(actor=request.membership)
    if url is None:
        raise Http404
    response = HttpResponseRedirect(url)
    response["Cache-Control"] = "private, no-store"
    return response


@requires(capabilities.MANAGE_SETTINGS)
@require_POST
def logo_upload_start(request: WorkspaceRequest) -> JsonResponse:
    form = UploadStartForm(request.POST)
    if not form.is_valid():
        return _form_error(form)
    try:
        ticket = logo.workspace_logo_upload_start(
            actor=request.membership,
            content_type=form.cleaned_data["content_type"],
            size=form.cleaned_data["size"],
        )
    except ServiceError as error:
        return _error(error.message, error.field)
    return JsonResponse({"url": ticket.url, "headers": ticket.headers, "ticket": ticket.ticket})


@requires(capabilities.MANAGE_SETTINGS)
@require_POST
def logo_upload_complete(request: WorkspaceRequest) -> JsonResponse:
    form = UploadCompleteForm(request.POST)
    if not form.is_valid():
        return _form_error(form)
    try:
        logo.workspace_logo_upload_complete(
            actor=request.membership,
            ticket=form.cleaned_data["ticket"],
            ip_address=client_ip(request),
        )
    except ServiceError as error:
        return _error(error.message, error.field)
    return JsonResponse({"logo": True}, status=201)


@requires(capabilities.MANAGE_SETTINGS)
@require_POST
def logo_remove(request: WorkspaceRequest) -> HttpResponse:
    logo.workspace_logo_remove(actor=request.membership, ip_address=client_ip(request))
    messages.success(request, _("Logo removed."))
    return redirect("settings")
