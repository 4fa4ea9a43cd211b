"""The admins' page of the email and web-form channels (ADR 0036): the workspace's support
address, its webhook URL and signing key, the web form's snippet, and the latest mail that
failed or was ignored, with the reason; the page of failed mail with "process again"
(ADR 0045); and the customer portal's settings (ADR 0038)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from crm_modules.service.mail.addresses import workspace_address
from crm_modules.service.mail.sns import sns_token
from crm_modules.service.mail.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, signing_key
from crm_modules.service.models import InboundMessage
from crm_modules.service.module import MANAGE_CHANNELS, MANAGE_PORTAL, RETRY_INBOUND
from crm_modules.service.services import portal
from crm_modules.service.services.inbound_failed import inbound_failed_list
from crm_modules.service.services.inbound_failed import inbound_retry as inbound_retry_service
from crm_platform.errors import ServiceError
from tenants.access import can, requires
from tenants.hosts import public_url, workspace_url
from tenants.http import WorkspaceRequest

SHOWN = 50


def _latest(status: str) -> list[InboundMessage]:
    return list(
        InboundMessage.objects.filter(status=status)
        .order_by("-received_at", "-id")
        .defer("raw", "body_html")[:SHOWN]
    )


@requires(MANAGE_CHANNELS)
@require_safe
def channels(request: WorkspaceRequest) -> HttpResponse:
    tenant = request.membership.tenant
    host = workspace_url(tenant.slug or "", "")
    webhook_url = public_url(
        reverse("inbound_email", urlconf=settings.PUBLIC_SCHEMA_URLCONF, args=[tenant.slug])
    )
    return render(
        request,
        "service/channels.html",
        {
            "address": workspace_address(tenant),
            "webhook_url": webhook_url,
            "sns_url": f"{webhook_url}?token={sns_token(tenant.schema_name)}",
            "signing_key": signing_key(tenant.schema_name),
            "signature_header": SIGNATURE_HEADER,
            "timestamp_header": TIMESTAMP_HEADER,
            "max_bytes": settings.INBOUND_EMAIL_MAX_BYTES,
            "form_url": f"{host}{reverse('service:ticket_form')}",
            "snippet": (
                f'<script src="{host}/static/service/ticket-form.js" '
                f'data-workspace="{host}" async></script>'
            ),
            "failed": _latest(InboundMessage.Status.FAILED),
            "ignored": _latest(InboundMessage.Status.IGNORED),
        },
    )


@requires(MANAGE_PORTAL)
@require_http_methods(["GET", "HEAD", "POST"])
def portal_settings(request: WorkspaceRequest) -> HttpResponse:
    """Whether customers see their company's tickets in the portal. The form always sends
    ``company_tickets`` (a hidden "no" before the checkbox); a POST without it is refused."""
    current = portal.portal_settings()
    error: ServiceError | None = None
    if request.method == "POST":
        values = request.POST.getlist("company_tickets")
        choice = {"yes": True, "no": False}.get(values[-1] if values else "")
        try:
            portal.portal_settings_update(
                actor=request.membership,
                company_tickets=choice if choice is not None else values,
            )
        except ServiceError as exc:
            error = exc
        else:
            messages.success(request, _("Portal settings saved."))
            return redirect("service:portal_settings")
    return render(
        request,
        "service/portal_settings.html",
        {
            "settings_row": current,
            "portal_url": workspace_url(request.membership.tenant.slug or "", "/portal/"),
            "error": error,
        },
        status=400 if error else 200,
    )


@requires(MANAGE_CHANNELS)
@require_safe
def inbound_failed(request: WorkspaceRequest) -> HttpResponse:
    return render(
        request,
        "service/inbound_failed.html",
        {
            "failed": list(inbound_failed_list(limit=SHOWN * 4)),
            "may_retry": can(request, RETRY_INBOUND),
            "retention_days": settings.INBOUND_EMAIL_RAW_RETENTION_DAYS,
        },
    )


@requires(RETRY_INBOUND)
@require_POST
def inbound_retry(request: WorkspaceRequest, inbound_id: int) -> HttpResponse:
    if not InboundMessage.objects.filter(pk=inbound_id).exists():
        raise Http404("No such message")
    try:
        queued = inbound_retry_service(actor=request.membership, inbound_id=inbound_id)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            _("The message is being processed again.")
            if queued
            else _("The message is no longer failed; nothing was changed."),
        )
    return redirect("service:inbound_failed")
