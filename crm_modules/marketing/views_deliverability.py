"""Deliverability pages (sender domains, their DNS records and check; the pause and its
resume; the bounce webhook's set-up) and the providers' webhooks (ADR 0043)."""

from __future__ import annotations

import hmac
import json

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from crm_modules.marketing.deliverability import domains, pause, webhooks
from crm_modules.marketing.deliverability.events import Report, mail_event_apply
from crm_modules.marketing.models_deliverability import MailEvent, SenderDomain
from crm_modules.marketing.module import MANAGE_DELIVERABILITY, VIEW_DELIVERABILITY
from crm_modules.marketing.pressure import current_workspace
from crm_platform.api.errors import error_response
from crm_platform.errors import ServiceError
from tenants.access import can, requires
from tenants.hosts import workspace_url
from tenants.http import WorkspaceRequest

RECENT_EVENTS = 20


class DomainForm(forms.Form):
    domain = forms.CharField(label=gettext_lazy("Domain"), max_length=300)
    local_part = forms.CharField(
        label=gettext_lazy("Sender name before @"), max_length=64, initial="news"
    )


def _domain(domain_id: int) -> SenderDomain:
    found = SenderDomain.objects.filter(pk=domain_id).first()
    if found is None:
        raise Http404
    return found


def _webhook_urls() -> dict[str, str]:
    slug = current_workspace().slug or ""
    return {
        "generic": workspace_url(slug, reverse("marketing:webhook_bounces")),
        "sns": workspace_url(slug, reverse("marketing:webhook_sns")),
    }


def _list_page(request: WorkspaceRequest, form: DomainForm, status: int = 200) -> HttpResponse:
    state = pause.state()
    manage = can(request, MANAGE_DELIVERABILITY)
    context = {
        "domains": list(SenderDomain.objects.order_by("domain")[: domains.MAX_DOMAINS]),
        "form": form,
        "state": state,
        "explanation": pause.pause_explanation(state) if state.paused_at else "",
        "rates": pause.rates(),
        "events": list(MailEvent.objects.order_by("-received_at", "-id")[:RECENT_EVENTS]),
        "manage": manage,
        "webhook_urls": _webhook_urls() if manage else {},
    }
    return render(request, "marketing/deliverability.html", context, status=status)


@requires(VIEW_DELIVERABILITY)
@require_http_methods(["GET", "HEAD"])
def sender_domains(request: WorkspaceRequest) -> HttpResponse:
    return _list_page(request, DomainForm())


@requires(MANAGE_DELIVERABILITY)
@require_POST
def sender_domain_new(request: WorkspaceRequest) -> HttpResponse:
    form = DomainForm(request.POST)
    if form.is_valid():
        try:
            added = domains.sender_domain_add(actor=request.membership, **form.cleaned_data)
        except ServiceError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            messages.success(
                request,
                _("%(domain)s added: publish its DNS records, then check.")
                % {"domain": added.domain},
            )
            return redirect("marketing:sender_domain_detail", added.pk)
    return _list_page(request, form, status=400)


@requires(VIEW_DELIVERABILITY)
@require_http_methods(["GET", "HEAD"])
def sender_domain_detail(request: WorkspaceRequest, domain_id: int) -> HttpResponse:
    domain = _domain(domain_id)
    context = {
        **_detail_context(domain),
        "records": domains.dns_records(domain),
        "manage": can(request, MANAGE_DELIVERABILITY),
    }
    return render(request, "marketing/sender_domain.html", context)


def _detail_context(domain: SenderDomain) -> dict[str, object]:
    report = domain.check_report or {}
    checks = []
    for name, ok in (("SPF", domain.spf_ok), ("DKIM", domain.dkim_ok), ("DMARC", domain.dmarc_ok)):
        found = report.get(name.lower(), {})
        checks.append(
            (name, ok, domains.problem_text(found.get("problem", "")), found.get("found", []))
        )
    return {"domain": domain, "checks": checks}


@requires(VIEW_DELIVERABILITY)
@require_POST
def sender_domain_check(request: WorkspaceRequest, domain_id: int) -> HttpResponse:
    domain = domains.sender_domain_check(actor=request.membership, domain=_domain(domain_id))
    if request.headers.get("HX-Request"):
        return render(request, "marketing/_sender_domain_checks.html", _detail_context(domain))
    if domain.verified:
        messages.success(request, _("All three records are in place: campaigns are signed."))
    else:
        messages.error(request, _("Some records are missing or wrong; see below."))
    return redirect("marketing:sender_domain_detail", domain.pk)


@requires(MANAGE_DELIVERABILITY)
@require_POST
def sender_domain_delete(request: WorkspaceRequest, domain_id: int) -> HttpResponse:
    domain = _domain(domain_id)
    domains.sender_domain_remove(actor=request.membership, domain=domain)
    messages.success(request, _("%(domain)s removed.") % {"domain": domain.domain})
    return redirect("marketing:sender_domains")


@requires(MANAGE_DELIVERABILITY)
@require_POST
def resume(request: WorkspaceRequest) -> HttpResponse:
    try:
        pause.bulk_sending_resume(
            actor=request.membership, understood=request.POST.get("understood") == "1"
        )
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Bulk sending resumed."))
    return redirect("marketing:sender_domains")


@requires(MANAGE_DELIVERABILITY)
@require_POST
def secret_rotate(request: WorkspaceRequest) -> HttpResponse:
    pause.webhook_secret_rotate(actor=request.membership)
    messages.success(request, _("New webhook secret made: give it to your mail provider."))
    return redirect("marketing:sender_domains")


# --- webhooks -----------------------------------------------------------------------------------
# Mail providers post here without a session (module.WEBHOOK_PATH); CSRF protects a session's
# authority and there is none: the workspace's secret is the authority.


def _error(field: str, message: str, status: int) -> JsonResponse:
    """The API's one error shape, naming the field."""
    code = {400: "invalid", 401: "not_authenticated", 403: "forbidden", 502: "unavailable"}
    return error_response(status, code.get(status, "invalid"), message, {field: [message]})


def _apply(reports: list[Report]) -> JsonResponse:
    outcomes = [mail_event_apply(report) for report in reports]
    return JsonResponse({"outcomes": outcomes})


@csrf_exempt
@never_cache
@require_POST
def webhook_generic(request: HttpRequest) -> HttpResponse:
    body = request.body
    secret = pause.state().webhook_secret
    if not webhooks.signature_valid(
        secret, body, str(request.headers.get("X-Rapport-Signature", ""))
    ):
        return _error("X-Rapport-Signature", "The signature does not match.", 401)
    try:
        reports = webhooks.generic_reports(body)
    except webhooks.Rejected as error:
        return _error(error.field, error.message, 400)
    return _apply(reports)


@csrf_exempt
@never_cache
@require_POST
def webhook_sns(request: HttpRequest) -> HttpResponse:
    secret = pause.state().webhook_secret
    key = str(request.GET.get("key", ""))
    if not secret or not hmac.compare_digest(secret, key):
        return _error("key", "The key does not match.", 401)
    try:
        envelope = json.loads(request.body) if len(request.body) <= webhooks.MAX_BODY else None
    except (ValueError, UnicodeDecodeError):
        envelope = None
    if not isinstance(envelope, dict):
        return _error("body", "The body is not an SNS message.", 400)
    try:
        webhooks.sns_verify(envelope)
        if envelope.get("Type") == "SubscriptionConfirmation":
            webhooks.sns_confirm_subscription(envelope)
            return JsonResponse({"outcomes": ["subscribed"]})
        reports = webhooks.ses_reports(envelope)
    except webhooks.Rejected as error:
        return _error(error.field, error.message, 403 if error.field != "Message" else 400)
    except OSError:
        return _error("SubscribeURL", "The subscription could not be confirmed.", 502)
    return _apply(reports)
