"""Pages a recipient opens from a message, with no account (ADR 0033).

They sit under an open path of the workspace host (``tenants.modules.register_open_path``),
need no session and set no cookie. CSRF protection is off on purpose: it guards a session's
ambient authority, and these pages have none — the signed token in the URL is the authority,
and a mail client's RFC 8058 one-click POST carries no CSRF token. A GET never changes
anything (link scanners follow every URL in a message); a POST acts at once.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from crm_modules.marketing import recipients
from crm_modules.marketing.capture import optin
from crm_modules.marketing.pressure import current_workspace
from crm_modules.marketing.recipients import BadToken
from crm_modules.sales.api import Consent
from crm_platform.errors import ServiceError
from tenants.access import client_ip


def _context(**extra: Any) -> dict[str, Any]:
    return {"workspace_name": current_workspace().name, **extra}


def _invalid(request: HttpRequest) -> HttpResponse:
    return render(request, "marketing/recipient_invalid.html", _context(), status=404)


def _agent(request: HttpRequest) -> str:
    return str(request.META.get("HTTP_USER_AGENT", ""))[:300]


@csrf_exempt
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET: a page with one button. POST (the button, or a mail client's one-click
    ``List-Unsubscribe=One-Click``): unsubscribed now."""
    try:
        recipient = recipients.recipient_from_token(token)
    except BadToken:
        return _invalid(request)
    done = False
    if request.method == "POST":
        recipients.unsubscribe(
            recipient=recipient, ip_address=client_ip(request), user_agent=_agent(request)
        )
        done = True
    context = _context(done=done, preferences_url=recipients.preferences_url(recipient.contact))
    return render(request, "marketing/unsubscribe.html", context)


@csrf_exempt
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def preferences(request: HttpRequest, token: str) -> HttpResponse:
    try:
        recipient = recipients.recipient_from_token(token)
    except BadToken:
        return _invalid(request)
    saved, error, status = False, "", 200
    if request.method == "POST":
        try:
            wanted = {int(value) for value in request.POST.getlist("topics")}
            recipients.preferences_save(
                recipient=recipient,
                wanted_topic_ids=wanted,
                subscribed=request.POST.get("subscribed") == "1",
                ip_address=client_ip(request),
                user_agent=_agent(request),
            )
            saved = True
        except ValueError:
            error, status = _("Choose topics from the list."), 400
        except ServiceError as problem:
            error, status = problem.message, 400
    consent = Consent.objects.filter(contact=recipient.contact, channel=recipient.channel).first()
    context = _context(
        saved=saved,
        error=error,
        subscribed=consent is None or consent.status != Consent.Status.WITHDRAWN,
        topics=recipients.topic_choices(recipient.contact),
    )
    return render(request, "marketing/preferences.html", context, status=status)


@csrf_exempt
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def opt_in_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """GET: a page with one button (a scanner's GET confirms nothing). POST: confirmed, with
    proof."""
    try:
        opt_in = recipients.opt_in_from_token(token)
    except BadToken:
        return _invalid(request)
    done = opt_in.confirmed_at is not None
    if request.method == "POST":
        recipients.opt_in_confirm(
            request=opt_in, ip_address=client_ip(request), user_agent=_agent(request)
        )
        done = True
    return render(request, "marketing/opt_in_confirm.html", _context(done=done, email=opt_in.email))


@csrf_exempt
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def consent_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """A form's double opt-in: GET shows one button (a scanner's GET confirms nothing), POST
    confirms with proof (ADR 0043)."""
    try:
        mail = optin.consent_mail_from_token(token)
    except BadToken:
        return _invalid(request)
    done = mail.request.status == mail.request.Status.CONFIRMED
    if request.method == "POST":
        optin.consent_confirm(mail=mail, ip_address=client_ip(request), user_agent=_agent(request))
        done = True
    return render(request, "marketing/opt_in_confirm.html", _context(done=done, email=mail.email))
