"""The admins' page of the email and web-form channels (ADR 0036): the workspace's support
address, its webhook URL and signing key, the web form's snippet, and the latest mail that
failed or was ignored, with the reason."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_safe

from crm_modules.service.mail.addresses import workspace_address
from crm_modules.service.mail.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, signing_key
from crm_modules.service.models import InboundMessage
from crm_modules.service.module import MANAGE_CHANNELS
from tenants.access import requires
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
    return render(
        request,
        "service/channels.html",
        {
            "address": workspace_address(tenant),
            "webhook_url": public_url(
                reverse("inbound_email", urlconf=settings.PUBLIC_SCHEMA_URLCONF, args=[tenant.slug])
            ),
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
