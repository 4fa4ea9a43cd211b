"""The web form customers use to open a ticket (ADR 0036), served to anyone on the
workspace's host at ``/service/form/`` (``register_open_path`` in module.py) and framed by the
snippet ``static/service/ticket-form.js`` on the customer's site.

No session: the form is exempt from CSRF (it changes nothing a session owns, and a framed
third-party page has no cookies); robots are kept out by a hidden trap field and a limit of
a few tickets per address in ten minutes.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from crm_modules.sales import api as sales
from crm_modules.service.forms import WebForm
from crm_modules.service.services.webform import TooManySubmissions, webform_submit
from crm_platform.errors import ServiceError
from crm_platform.security import content_security_policy


def _client_ip(request: HttpRequest) -> str:
    return str(request.META.get("REMOTE_ADDR") or "unknown")


def _frameable(response: HttpResponse) -> HttpResponse:
    response.headers["Content-Security-Policy"] = content_security_policy().replace(
        "frame-ancestors 'none'", "frame-ancestors *"
    )
    return response


@csrf_exempt
@xframe_options_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def ticket_form(request: HttpRequest) -> HttpResponse:
    tenant = request.tenant  # type: ignore[attr-defined]
    embedded = request.GET.get("embed") == "1"
    status = 200
    # The ticket fields shown to customers (ADR 0053).
    fields = sales.customer_fields("ticket")
    if request.method == "POST":
        form = WebForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            if data["website"]:
                # A robot filled the trap: thanked like a person, nothing is written.
                return _frameable(render(request, "service/form_sent.html", {"embedded": embedded}))
            try:
                webform_submit(
                    tenant=tenant,
                    name=data["name"],
                    email=data["email"],
                    subject=data["subject"],
                    message=data["message"],
                    ip_address=_client_ip(request),
                    custom_fields=sales.customer_custom(request.POST, fields),
                )
            except TooManySubmissions as error:
                form.add_service_error(error)
                status = 429
            except ServiceError as error:
                form.add_service_error(sales.customer_labelled(fields, error))
                status = 400
            else:
                return _frameable(render(request, "service/form_sent.html", {"embedded": embedded}))
        else:
            status = 400
    else:
        form = WebForm()
    return _frameable(
        render(
            request,
            "service/form.html",
            {
                "form": form,
                "embedded": embedded,
                "workspace_name": tenant.name,
                "custom_rows": sales.customer_custom_rows(
                    request.POST if request.method == "POST" else None, fields
                ),
            },
            status=status,
        )
    )
