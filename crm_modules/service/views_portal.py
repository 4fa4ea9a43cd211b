"""The customer portal at /portal/ on a workspace host (ADR 0038), and the satisfaction page
the survey email links to.

Customers are their own sign-in realm: a view here reads the portal cookie only (never the
staff session), and ``portal_required`` answers a visitor without a portal session with the
sign-in page. Every ticket is fetched through ``selectors.portal_ticket_get``, which answers
404 for a ticket that is not the customer's (or their company's, when the workspace allows).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from crm_modules.sales import api as sales
from crm_modules.sales.api import keyset_page
from crm_modules.service import selectors
from crm_modules.service.models import CsatSurvey, PortalSession, Status
from crm_modules.service.services import csat, portal
from crm_platform.errors import ServiceError
from tenants.access import client_ip
from tenants.models import Tenant

PAGE_SIZE = 20
# Portal writes are refused while the workspace is read-only (unpaid or suspended).
READ_ONLY_MESSAGE = gettext_lazy("This service desk does not take new messages at the moment.")


class PortalRequest(HttpRequest):
    tenant: Tenant
    portal_session: PortalSession


def _tenant(request: HttpRequest) -> Tenant:
    tenant: Tenant = request.tenant  # type: ignore[attr-defined]
    return tenant


def _speak(request: HttpRequest, language: str) -> None:
    """Pages for a known customer are in the customer's language (their contact's), whatever
    the browser says; an unknown one keeps the browser's."""
    if language:
        translation.activate(language)
        request.LANGUAGE_CODE = language


def portal_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The view needs a signed-in customer (the portal cookie, not a staff session)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        session = portal.portal_session_get(request.COOKIES.get(portal.COOKIE_NAME))
        if session is None:
            response = redirect("portal:sign_in")
            response.delete_cookie(portal.COOKIE_NAME, path=portal.COOKIE_PATH)
            return response
        request.portal_session = session  # type: ignore[attr-defined]
        _speak(request, session.contact.language)
        if request.method == "POST" and _tenant(request).is_read_only:
            messages.error(request, READ_ONLY_MESSAGE)
            return redirect("portal:home")
        return view(request, *args, **kwargs)

    wrapper.portal_realm = True  # type: ignore[attr-defined]
    return wrapper


def _company_tickets() -> bool:
    return portal.portal_settings().company_tickets


def _context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    session = getattr(request, "portal_session", None)
    return {
        "portal_workspace": _tenant(request),
        "customer": session.contact if session else None,
        **extra,
    }


# --- sign-in ---------------------------------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
def sign_in(request: HttpRequest) -> HttpResponse:
    """Ask for a magic link. The answer is the same for a known and an unknown address."""
    error: ServiceError | None = None
    email = request.POST.get("email", "") if request.method == "POST" else ""
    if request.method == "POST":
        try:
            portal.portal_link_request(
                tenant=_tenant(request), email=email, ip_address=client_ip(request)
            )
        except ServiceError as exc:
            error = exc
        else:
            return render(request, "service/portal/link_sent.html", _context(request, email=email))
    status = 400 if error is not None else 200
    if error is not None and error.code == "rate_limited":
        status = 429
    return render(
        request,
        "service/portal/sign_in.html",
        _context(request, email=email, error=error),
        status=status,
    )


@require_http_methods(["GET", "HEAD", "POST"])
def redeem(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a button (mail scanners follow links: a GET never uses the link up); the
    customer's POST uses it and starts the portal session."""
    if request.method != "POST":
        link = portal.portal_link_find(token)
        return render(
            request,
            "service/portal/redeem.html",
            _context(request, link=link),
            status=200 if link is not None else 400,
        )
    try:
        new = portal.portal_link_redeem(tenant=_tenant(request), token=token)
    except ServiceError as error:
        return render(
            request,
            "service/portal/redeem.html",
            _context(request, link=None, error=error),
            status=400,
        )
    response = redirect("portal:home")
    response.set_cookie(
        portal.COOKIE_NAME,
        new.token,
        max_age=portal.SESSION_DAYS * 24 * 3600,
        path=portal.COOKIE_PATH,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
    return response


@portal_required
@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    portal.portal_session_end(session=request.portal_session)  # type: ignore[attr-defined]
    response = redirect("portal:sign_in")
    response.delete_cookie(portal.COOKIE_NAME, path=portal.COOKIE_PATH)
    return response


# --- tickets ---------------------------------------------------------------------------------


@portal_required
@require_safe
def home(request: HttpRequest) -> HttpResponse:
    contact = request.portal_session.contact  # type: ignore[attr-defined]
    tickets = selectors.portal_tickets(contact=contact, company_tickets=_company_tickets())
    page = keyset_page(
        tickets.select_related("contact"),
        order=("-updated_at", "-id"),
        after=request.GET.get("after", ""),
        size=PAGE_SIZE,
    )
    return render(request, "service/portal/home.html", _context(request, page=page))


@portal_required
@require_http_methods(["GET", "HEAD", "POST"])
def ticket_new(request: HttpRequest) -> HttpResponse:
    contact = request.portal_session.contact  # type: ignore[attr-defined]
    error: ServiceError | None = None
    values = {
        "subject": request.POST.get("subject", ""),
        "description": request.POST.get("description", ""),
    }
    # The ticket fields shown to customers (ADR 0053).
    fields = sales.customer_fields("ticket")
    if request.method == "POST":
        try:
            ticket = portal.portal_ticket_create(
                tenant=_tenant(request),
                contact=contact,
                subject=values["subject"],
                description=values["description"],
                custom_fields=sales.customer_custom(request.POST, fields),
            )
        except ServiceError as exc:
            error = sales.customer_labelled(fields, exc)
        else:
            messages.success(request, _("Your request is with us. We will answer soon."))
            return redirect("portal:ticket", ticket.pk)
    rows = sales.customer_custom_rows(request.POST if request.method == "POST" else None, fields)
    return render(
        request,
        "service/portal/ticket_new.html",
        _context(request, values=values, error=error, custom_rows=rows),
        status=400 if error else 200,
    )


def _ticket_page(request: HttpRequest, ticket_id: int, **extra: Any) -> HttpResponse:
    contact = request.portal_session.contact  # type: ignore[attr-defined]
    ticket = selectors.portal_ticket_get(
        contact=contact, company_tickets=_company_tickets(), ticket_id=ticket_id
    )
    status = extra.pop("status", 200)
    return render(
        request,
        "service/portal/ticket.html",
        _context(
            request,
            ticket=ticket,
            conversation=list(selectors.portal_messages(ticket=ticket)),
            can_reply=ticket.status != Status.CLOSED,
            **extra,
        ),
        status=status,
    )


@portal_required
@require_safe
def ticket(request: HttpRequest, ticket_id: int) -> HttpResponse:
    return _ticket_page(request, ticket_id)


@portal_required
@require_POST
def ticket_reply(request: HttpRequest, ticket_id: int) -> HttpResponse:
    contact = request.portal_session.contact  # type: ignore[attr-defined]
    ticket = selectors.portal_ticket_get(
        contact=contact, company_tickets=_company_tickets(), ticket_id=ticket_id
    )
    try:
        portal.portal_ticket_reply(
            tenant=_tenant(request), contact=contact, ticket=ticket, body=request.POST.get("body")
        )
    except ServiceError as error:
        return _ticket_page(
            request, ticket_id, error=error, body=request.POST.get("body", ""), status=400
        )
    messages.success(request, _("Your message is sent."))
    return redirect("portal:ticket", ticket.pk)


# --- the customer's own details ---------------------------------------------------------------


@portal_required
@require_http_methods(["GET", "HEAD", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    contact = request.portal_session.contact  # type: ignore[attr-defined]
    error: ServiceError | None = None
    if request.method == "POST":
        changes = {name: request.POST.get(name, "") for name in portal.SELF_FIELDS}
        try:
            portal.portal_contact_correct(tenant=_tenant(request), contact=contact, changes=changes)
        except ServiceError as exc:
            error = exc
        else:
            messages.success(request, _("Your details are saved."))
            return redirect("portal:profile")
        values = changes
    else:
        values = {name: getattr(contact, name) for name in portal.SELF_FIELDS}
    return render(
        request,
        "service/portal/profile.html",
        _context(
            request,
            values=values,
            error=error,
            emails=list(contact.emails.all()),
            languages=settings.LANGUAGES,
        ),
        status=400 if error else 200,
    )


# --- the satisfaction survey (no sign-in: the signed link is the key) -------------------------


@require_http_methods(["GET", "HEAD", "POST"])
def rate(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows the question with the score of the link chosen (and records nothing: mail
    scanners follow every link); POST records the answer."""
    survey = csat.csat_survey_from_token(token)
    if survey is None:
        return render(request, "service/portal/rate_invalid.html", _context(request), status=404)
    if survey.contact is not None:
        _speak(request, survey.contact.language)
    raw = request.POST.get("score") if request.method == "POST" else request.GET.get("score")
    chosen = raw if raw in {str(v) for v in CsatSurvey.Score.values} else ""
    if not chosen and survey.score is not None:
        chosen = str(survey.score)
    error: ServiceError | None = None
    if request.method == "POST":
        try:
            survey = csat.csat_rate(
                tenant=_tenant(request),
                survey=survey,
                score=request.POST.get("score"),
                comment=request.POST.get("comment", ""),
                now=timezone.now(),
            )
        except ServiceError as exc:
            error = exc
        else:
            return render(
                request, "service/portal/rate_thanks.html", _context(request, survey=survey)
            )
    return render(
        request,
        "service/portal/rate.html",
        _context(
            request,
            survey=survey,
            chosen=chosen,
            scores=list(reversed(CsatSurvey.Score.choices)),
            comment=request.POST.get("comment", survey.comment),
            error=error,
        ),
        status=400 if error else 200,
    )


# --- public articles (anyone on the workspace host: a public knowledge base) -----------------


def _portal_session_if_any(request: HttpRequest) -> None:
    session = portal.portal_session_get(request.COOKIES.get(portal.COOKIE_NAME))
    if session is not None:
        request.portal_session = session  # type: ignore[attr-defined]


@require_safe
def articles(request: HttpRequest) -> HttpResponse:
    _portal_session_if_any(request)
    q = request.GET.get("q", "")
    page = keyset_page(
        selectors.public_articles(q=q).select_related("category"),
        order=("-updated_at", "-id"),
        after=request.GET.get("after", ""),
        size=PAGE_SIZE,
    )
    return render(request, "service/portal/articles.html", _context(request, page=page, q=q))


@require_safe
def article(request: HttpRequest, article_id: int) -> HttpResponse:
    _portal_session_if_any(request)
    found = selectors.public_article_get(article_id=article_id)
    translations = [
        other
        for other in selectors.article_translations(article=found)
        if other.state == "published" and other.visibility == "public"
    ]
    return render(
        request,
        "service/portal/article.html",
        _context(request, article=found, translations=translations),
    )


@require_safe
def article_suggest(request: HttpRequest) -> HttpResponse:
    """Public articles matching what a customer is writing (an HTMX fragment)."""
    text = " ".join(request.GET.get(name, "") for name in ("subject", "description", "body"))
    found = selectors.article_suggestions(text=text, articles=selectors.public_articles())
    return render(
        request,
        "service/_article_suggestions.html",
        {"suggestions": found, "url_name": "portal:article"},
    )
