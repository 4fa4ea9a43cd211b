"""Service pages: the shared inbox (unassigned, mine, my team's, breaching soon, all) with bulk
changes, a ticket with its conversation and reply form, a new ticket, and the SLA settings."""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.db import connection, transaction
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from crm_modules.sales import api as sales
from crm_modules.sales.api import contact_get, keyset_page
from crm_modules.service import selectors, services, sla
from crm_modules.service.forms import WEEKDAYS, ReplyForm, TicketFieldsForm, TicketForm
from crm_modules.service.models import (
    OPEN_STATUSES,
    Article,
    ArticleCategory,
    BusinessHours,
    Priority,
    SlaEscalation,
    Status,
    Ticket,
    TicketMessage,
    TicketType,
)
from crm_modules.service.module import (
    ASSIGN_TICKETS,
    MANAGE_ARTICLES,
    MANAGE_SLA,
    VIEW_ARTICLES,
    VIEW_TICKETS,
    WORK_TICKETS,
)
from crm_modules.service.plan import automation_paused_here
from crm_modules.service.services import articles as article_services
from crm_modules.service.services.tickets import CUSTOM_ENTITY
from crm_modules.service.views_macros import macro_choices
from crm_modules.service.views_routing import availability_of
from crm_platform.errors import ServiceError
from crm_platform.locales import time_zone_names
from tenants.access import requires
from tenants.http import WorkspaceRequest
from tenants.models import Membership, Team
from tenants.permissions import allows
from tenants.selectors import member_list

PAGE_SIZE = 50


def _agents(actor: Membership) -> list[Membership]:
    """Members a ticket can be given to: active, and allowed to work tickets."""
    members = member_list(tenant=actor.tenant).filter(status=Membership.Status.ACTIVE)
    return [m for m in members if m.role in WORK_TICKETS.roles]


def _teams(actor: Membership) -> list[Team]:
    return list(Team.objects.filter(tenant_id=actor.tenant_id).order_by("name", "id"))


@requires(VIEW_TICKETS)
@require_safe
def inbox(request: WorkspaceRequest) -> HttpResponse:
    actor = request.membership
    view = request.GET.get("view", "")
    if view not in selectors.VIEWS:
        view = "unassigned" if allows(actor, WORK_TICKETS) else "all"
    status = request.GET.get("status", "")
    status = status if status in Status.values else ""
    now = timezone.now()
    custom_error = ""
    try:
        custom = selectors.custom_filter(actor=actor, params=request.GET)
    except ServiceError as error:
        # Named above the filters (with the field's label); the inbox stays unfiltered.
        custom_error = error.message
        custom = sales.CustomFilter()
    tickets = selectors.ticket_list(actor=actor, view=view, status=status, custom=custom, now=now)
    fields = list(sales.custom_field_list(actor=actor, entity=CUSTOM_ENTITY))
    page = keyset_page(
        selectors.inbox_rows(tickets),
        order=selectors.VIEWS[view],
        after=request.GET.get("after", ""),
        size=PAGE_SIZE,
    )
    can_work = allows(actor, WORK_TICKETS)
    can_assign = allows(actor, ASSIGN_TICKETS)
    required = selectors.required_ticket_fields()
    views = [
        ("unassigned", _("Unassigned")),
        ("mine", _("Mine")),
        *([("team", _("My team's"))] if actor.team_id is not None else []),
        ("breaching", _("Breaching soon")),
        ("all", _("All")),
    ]
    context = {
        "page": page,
        "rows": [
            {
                "ticket": t,
                "sla": sla.state(t, now=now),
                # Shown on open tickets only: a solved one was finished before a field
                # became required.
                "needs_fields": t.is_open and bool(selectors.ticket_missing_fields(t, required)),
            }
            for t in page.rows
        ],
        "view": view,
        "views": views,
        "counts": {
            key: str(count) if count < selectors.COUNT_CAP else f"{selectors.COUNT_CAP - 1}+"
            for key, count in selectors.inbox_counts(actor=actor, now=now).items()
        },
        "status": status,
        "statuses": Status.choices,
        "can_work": can_work,
        "can_assign": can_assign,
        "agents": _agents(actor) if can_assign else [],
        "teams": _teams(actor) if can_assign else [],
        "priorities": Priority.choices,
        "available": availability_of(actor),
        # The same filters as the sales lists (sales/_custom_filters.html).
        "custom_filter_rows": sales.custom_filter_rows(request.GET, fields),
        "custom_filter_used": bool(custom),
        "custom_filter_error": custom_error,
        # The ticket custom fields the member chose to show as columns (``cols``).
        **sales.custom_columns(request, fields),
    }
    return render(request, "service/inbox.html", context)


@requires(WORK_TICKETS)
@require_http_methods(["GET", "HEAD", "POST"])
def ticket_new(request: WorkspaceRequest) -> HttpResponse:
    actor = request.membership
    initial: dict[str, Any] = {"priority": Priority.NORMAL, "type": TicketType.QUESTION}
    contact = None
    raw_contact = request.POST.get("contact") or request.GET.get("contact")
    if raw_contact and str(raw_contact).isdigit():
        contact = contact_get(actor=actor, contact_id=int(raw_contact))
        initial["contact"] = contact.pk
    form = TicketForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            ticket = services.ticket_create(
                actor=actor,
                subject=data["subject"],
                description=data["description"],
                priority=data["priority"],
                ticket_type=data["type"],
                channel=data["channel"],
                contact_id=contact.pk if contact is not None else None,
                tags=data["tags"],
                custom_fields=sales.posted_custom(request, CUSTOM_ENTITY),
                complete_custom=True,
            )
        except ServiceError as error:
            form.add_service_error(sales.labelled(request, CUSTOM_ENTITY, error))
        else:
            return redirect("service:ticket_detail", ticket.pk)
    status = 400 if request.method == "POST" else 200
    context = {
        "form": form,
        "contact": contact,
        "custom_rows": sales.new_custom_rows(request, CUSTOM_ENTITY),
    }
    return render(request, "service/ticket_new.html", context, status=status)


def _detail(
    request: WorkspaceRequest,
    ticket: Ticket,
    *,
    reply_form: ReplyForm | None = None,
    fields_form: TicketFieldsForm | None = None,
    new_messages: list[TicketMessage] | None = None,
    status: int = 200,
) -> HttpResponse:
    actor = request.membership
    now = timezone.now()
    can_assign = allows(actor, ASSIGN_TICKETS)
    conversation = list(selectors.ticket_messages(ticket=ticket))
    last_seen = conversation[-1].pk if conversation else 0
    can_work = allows(actor, WORK_TICKETS, ticket) and ticket.status != Status.CLOSED
    context = {
        "ticket": ticket,
        "conversation": conversation,
        "new_messages": {m.pk for m in new_messages or []},
        "sla": sla.state(ticket, now=now),
        "reply_form": reply_form or ReplyForm(initial={"kind": "reply", "seen": last_seen}),
        "fields_form": fields_form
        or TicketFieldsForm(
            initial={
                "status": ticket.status,
                "priority": ticket.priority,
                "type": ticket.type,
                "tags": ", ".join(ticket.tags),
            }
        ),
        "can_work": can_work,
        "can_assign": can_assign,
        "agents": _agents(actor) if can_assign else [],
        "is_open": ticket.status in OPEN_STATUSES,
        "macros": macro_choices() if allows(actor, WORK_TICKETS) else [],
        "last_seen": last_seen,
        "merged_into": ticket.merged_into_id,
        # Required fields still empty: the ticket cannot be solved or closed yet (ADR 0058).
        "missing_fields": selectors.ticket_missing_fields(ticket) if ticket.is_open else [],
        # The custom fields, shown by the sales partial (ADR 0050).
        "custom_rows": sales.custom_rows(actor, CUSTOM_ENTITY, ticket),
        "custom_url": "service:ticket_custom",
        "can_edit": can_work,
        "record": ticket,
    }
    return render(request, "service/ticket_detail.html", context, status=status)


@requires(VIEW_TICKETS)
@require_safe
def ticket_detail(request: WorkspaceRequest, ticket_id: int) -> HttpResponse:
    return _detail(request, selectors.ticket_get(actor=request.membership, ticket_id=ticket_id))


@requires(WORK_TICKETS)
@require_POST
def ticket_reply(request: WorkspaceRequest, ticket_id: int) -> HttpResponse:
    actor = request.membership
    ticket = selectors.ticket_get(actor=actor, ticket_id=ticket_id, capability=WORK_TICKETS)
    form = ReplyForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.ticket_reply(
                actor=actor,
                ticket=ticket,
                body=data["body"],
                public=data["kind"] == "reply",
                status=data["status"],
                seen_message_id=data["seen"],
            )
        except services.NewerMessages as error:
            # The text stays in the form; sent again, it answers the new message too.
            posted = request.POST.copy()
            posted["seen"] = str(max(m.pk for m in error.messages))
            form = ReplyForm(posted)
            form.is_valid()
            form.add_service_error(error)
            return _detail(
                request, ticket, reply_form=form, new_messages=error.messages, status=409
            )
        except ServiceError as error:
            form.add_service_error(error)
        else:
            messages.success(
                request, _("Reply sent.") if data["kind"] == "reply" else _("Note added.")
            )
            return redirect("service:ticket_detail", ticket.pk)
    return _detail(request, ticket, reply_form=form, status=400)


@requires(WORK_TICKETS)
@require_POST
def ticket_fields(request: WorkspaceRequest, ticket_id: int) -> HttpResponse:
    actor = request.membership
    ticket = selectors.ticket_get(actor=actor, ticket_id=ticket_id, capability=WORK_TICKETS)
    form = TicketFieldsForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            # Both changes or neither.
            with transaction.atomic():
                ticket = services.ticket_update(
                    actor=actor,
                    ticket=ticket,
                    changes={
                        "priority": data["priority"],
                        "type": data["type"],
                        "tags": data["tags"],
                    },
                )
                services.ticket_change_status(actor=actor, ticket=ticket, status=data["status"])
        except ServiceError as error:
            form.add_service_error(error)
        else:
            messages.success(request, _("Ticket saved."))
            return redirect("service:ticket_detail", ticket.pk)
    ticket = selectors.ticket_get(actor=actor, ticket_id=ticket_id)
    return _detail(request, ticket, fields_form=form, status=400)


@requires(WORK_TICKETS)
@require_POST
def ticket_custom(request: WorkspaceRequest, ticket_id: int) -> HttpResponse:
    """The ticket's custom fields, as the form on its page posted them."""
    actor = request.membership
    ticket = selectors.ticket_get(actor=actor, ticket_id=ticket_id, capability=WORK_TICKETS)
    try:
        services.ticket_update(
            actor=actor,
            ticket=ticket,
            changes={"custom_fields": sales.posted_custom(request, CUSTOM_ENTITY)},
        )
    except ServiceError as error:
        messages.error(request, sales.labelled(request, CUSTOM_ENTITY, error).message)
        return redirect("service:ticket_detail", ticket.pk)
    messages.success(request, _("Ticket saved."))
    return redirect("service:ticket_detail", ticket.pk)


@requires(WORK_TICKETS)
@require_POST
def ticket_assign(request: WorkspaceRequest, ticket_id: int) -> HttpResponse:
    actor = request.membership
    ticket = selectors.ticket_get(actor=actor, ticket_id=ticket_id, capability=WORK_TICKETS)
    raw = request.POST.get("assignee", "")
    assignee: Any = actor.user_id if raw == "me" else (raw or None)
    if "assignee" not in request.POST:
        messages.error(request, _("Choose whom to give the ticket to."))
        return redirect("service:ticket_detail", ticket.pk)
    try:
        services.ticket_assign(actor=actor, ticket=ticket, assignee_id=assignee)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Ticket assigned."))
    return redirect("service:ticket_detail", ticket.pk)


@requires(WORK_TICKETS)
@require_POST
def tickets_bulk(request: WorkspaceRequest) -> HttpResponse:
    actor = request.membership
    next_url = request.POST.get("next", "")
    if not next_url.startswith("/service/") or next_url.startswith("//"):
        next_url = reverse("service:inbox")
    ids = request.POST.getlist("ids")
    action = request.POST.get("action", "")
    kwargs: dict[str, Any] = {}
    if action == "status":
        kwargs["status"] = request.POST.get("status", "")
    elif action == "assign":
        raw = request.POST.get("assignee", "")
        kwargs["assignee_id"] = actor.user_id if raw == "me" else (raw or None)
    elif action == "team":
        kwargs["team_id"] = request.POST.get("team") or None
    elif action == "priority":
        kwargs["priority"] = request.POST.get("priority", "")
    elif action == "add_tags":
        kwargs["add_tags"] = request.POST.get("tags", "")
    elif action == "remove_tags":
        kwargs["remove_tags"] = request.POST.get("tags", "")
    try:
        if not kwargs:
            raise ServiceError(_("Choose what to change."), field="action")
        count = services.tickets_bulk(actor=actor, ticket_ids=ids, **kwargs)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("%(count)d tickets changed.") % {"count": count})
    return redirect(next_url)


# --- SLA settings ----------------------------------------------------------------------------


def _minute(text: str) -> int:
    hours, _sep, minutes = text.strip().partition(":")
    if not hours.isdigit() or not minutes.isdigit() or len(minutes) != 2:
        raise ValueError(text)
    value = int(hours) * 60 + int(minutes)
    if int(minutes) >= 60 or value > 1440:
        raise ValueError(text)
    return value


def _parse_openings(request: WorkspaceRequest) -> list[list[int]]:
    openings = []
    for day, label in WEEKDAYS:
        for span in request.POST.get(f"day_{day}", "").split(","):
            if not span.strip():
                continue
            start, _sep, end = span.partition("-")
            try:
                openings.append([int(day), _minute(start), _minute(end)])
            except ValueError as exc:
                raise ServiceError(
                    _("Write the hours of %(day)s as 09:00-17:00, separated by commas.")
                    % {"day": label},
                    field="openings",
                ) from exc
    return openings


def _parse_holidays(text: str) -> list[list[str]]:
    holidays = []
    for line in text.splitlines():
        if line.strip():
            day, _sep, name = line.strip().partition(" ")
            holidays.append([day, name.strip()])
    return holidays


def _agents_and_managers() -> list[Membership]:
    tenant = connection.tenant  # type: ignore[attr-defined]
    return list(
        member_list(tenant=tenant).filter(status=Membership.Status.ACTIVE).select_related("user")
    )


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _sla_context(hours: BusinessHours | None, posted: Any = None) -> dict[str, Any]:
    policy = selectors.sla_policy_default()
    by_day: dict[int, list[str]] = {}
    for day, start, end in hours.openings if hours else sla.DEFAULT_OPENINGS:
        by_day.setdefault(int(day), []).append(f"{_hhmm(start)}-{_hhmm(end)}")
    targets = {t.priority: t for t in policy.targets.all()} if policy else {}
    rows = []
    for value, label in Priority.choices:
        target = targets.get(value)
        default = sla.DEFAULT_TARGETS[Priority(value)]
        rows.append(
            {
                "value": value,
                "label": label,
                "first": posted.get(f"{value}_first_response")
                if posted
                else (target.first_response_minutes if target else default[0]),
                "resolution": posted.get(f"{value}_resolution")
                if posted
                else (target.resolution_minutes if target else default[1]),
                "next": posted.get(f"{value}_next_response", "")
                if posted
                else (target.next_response_minutes or "" if target else ""),
            }
        )
    return {
        "time_zone": posted.get("time_zone") if posted else (hours.time_zone if hours else ""),
        "time_zones": time_zone_names(),
        "days": [
            {
                "value": day,
                "label": label,
                "text": posted.get(f"day_{day}", "")
                if posted
                else ", ".join(by_day.get(int(day), [])),
            }
            for day, label in WEEKDAYS
        ],
        "holidays": posted.get("holidays", "")
        if posted
        else "\n".join(
            f"{h.date.isoformat()} {h.name}".strip()
            for h in (hours.holidays.all() if hours else [])
        ),
        "targets": rows,
        "escalations": list(
            SlaEscalation.objects.filter(policy__is_default=True).select_related("user", "team")
        ),
        "escalation_targets": SlaEscalation.Target.choices,
        "escalation_actions": SlaEscalation.Action.choices,
        "automation_paused": automation_paused_here(),
        "members": _agents_and_managers(),
        "teams": list(Team.objects.filter(tenant_id=connection.tenant.pk).order_by("name")),  # type: ignore[attr-defined]
    }


@requires(MANAGE_SLA)
@require_http_methods(["GET", "HEAD", "POST"])
def sla_settings(request: WorkspaceRequest) -> HttpResponse:
    actor = request.membership
    hours = selectors.business_hours_default()
    if request.method != "POST":
        return render(request, "service/sla.html", _sla_context(hours))
    error: ServiceError | None = None
    try:
        if request.POST.get("section") == "targets":
            services.sla_targets_update(
                actor=actor,
                targets={
                    p: (
                        request.POST.get(f"{p}_first_response"),
                        request.POST.get(f"{p}_resolution"),
                        request.POST.get(f"{p}_next_response", ""),
                    )
                    for p in Priority.values
                },
            )
        elif request.POST.get("section") == "hours":
            services.business_hours_update(
                actor=actor,
                time_zone=request.POST.get("time_zone", ""),
                openings=_parse_openings(request),
                holidays=_parse_holidays(request.POST.get("holidays", "")),
            )
        else:
            raise ServiceError(_("Choose what to save."), field="section")
    except ServiceError as exc:
        error = exc
    if error is None:
        messages.success(request, _("SLA settings saved."))
        return redirect("service:sla")
    context = {**_sla_context(hours, request.POST), "error": error}
    return render(request, "service/sla.html", context, status=400)


# --- satisfaction ----------------------------------------------------------------------------


@requires(VIEW_TICKETS)
@require_safe
def csat_results(request: WorkspaceRequest) -> HttpResponse:
    """Ratings per agent and per team over the last ``days`` days (30 by default)."""
    raw = request.GET.get("days", "30")
    days = int(raw) if raw.isdigit() and 1 <= int(raw) <= 3660 else 30
    since = timezone.now() - datetime.timedelta(days=days)
    results = selectors.csat_results(actor=request.membership, since=since)
    return render(
        request, "service/csat.html", {**results, "days": days, "periods": (7, 30, 90, 365)}
    )


# --- knowledge base --------------------------------------------------------------------------

ARTICLE_PAGE = 30


@requires(VIEW_ARTICLES)
@require_safe
def articles(request: WorkspaceRequest) -> HttpResponse:
    actor = request.membership
    q = request.GET.get("q", "")
    language = request.GET.get("language", "")
    language = language if language in article_services.LANGUAGES else ""
    page = keyset_page(
        selectors.article_list(actor=actor, q=q, language=language).select_related("category"),
        order=("-updated_at", "-id"),
        after=request.GET.get("after", ""),
        size=ARTICLE_PAGE,
    )
    return render(
        request,
        "service/articles.html",
        {
            "page": page,
            "q": q,
            "language": language,
            "languages": settings.LANGUAGES,
            "categories": ArticleCategory.objects.all(),
            "can_manage": allows(actor, MANAGE_ARTICLES),
        },
    )


def _article_form(
    request: WorkspaceRequest,
    *,
    article: Article | None,
    translation_of: Article | None,
    values: dict[str, Any],
    error: ServiceError | None = None,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "service/article_form.html",
        {
            "article": article,
            "translation_of": translation_of,
            "translations": selectors.article_translations(article=article) if article else [],
            "values": values,
            "error": error,
            "languages": settings.LANGUAGES,
            "categories": ArticleCategory.objects.all(),
            "states": Article.State.choices,
            "visibilities": Article.Visibility.choices,
            "can_manage": allows(request.membership, MANAGE_ARTICLES),
        },
        status=status,
    )


ARTICLE_FIELDS = ("title", "body", "language", "state", "visibility", "category")


@requires(MANAGE_ARTICLES)
@require_http_methods(["GET", "HEAD", "POST"])
def article_new(request: WorkspaceRequest) -> HttpResponse:
    actor = request.membership
    raw = request.GET.get("translate") or request.POST.get("translate")
    translation_of = (
        selectors.article_get(actor=actor, article_id=int(raw))
        if raw and str(raw).isdigit()
        else None
    )
    if request.method != "POST":
        values: dict[str, Any] = {
            "language": request.LANGUAGE_CODE,
            "state": "draft",
            "visibility": "internal",
        }
        if translation_of is not None:
            values.update(
                visibility=translation_of.visibility,
                category=translation_of.category_id or "",
            )
        return _article_form(request, article=None, translation_of=translation_of, values=values)
    values = {name: request.POST.get(name, "") for name in ARTICLE_FIELDS}
    try:
        article = article_services.article_save(
            actor=actor, translation_of=translation_of, changes=values
        )
    except ServiceError as error:
        return _article_form(
            request,
            article=None,
            translation_of=translation_of,
            values=values,
            error=error,
            status=400,
        )
    messages.success(request, _("Article saved."))
    return redirect("service:article", article.pk)


@requires(VIEW_ARTICLES)
@require_safe
def article(request: WorkspaceRequest, article_id: int) -> HttpResponse:
    found = selectors.article_get(actor=request.membership, article_id=article_id)
    values = {name: getattr(found, name) for name in ARTICLE_FIELDS if name != "category"}
    values["category"] = found.category_id or ""
    return _article_form(request, article=found, translation_of=None, values=values)


@requires(MANAGE_ARTICLES)
@require_POST
def article_edit(request: WorkspaceRequest, article_id: int) -> HttpResponse:
    actor = request.membership
    found = selectors.article_get(actor=actor, article_id=article_id)
    values = {name: request.POST.get(name, "") for name in ARTICLE_FIELDS}
    try:
        article_services.article_save(actor=actor, article=found, changes=values)
    except ServiceError as error:
        return _article_form(
            request, article=found, translation_of=None, values=values, error=error, status=400
        )
    messages.success(request, _("Article saved."))
    return redirect("service:article", found.pk)


@requires(MANAGE_ARTICLES)
@require_POST
def article_category_new(request: WorkspaceRequest) -> HttpResponse:
    try:
        article_services.article_category_create(
            actor=request.membership, name=request.POST.get("name", "")
        )
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Category added."))
    return redirect("service:articles")


@requires(VIEW_ARTICLES)
@require_safe
def article_suggest(request: WorkspaceRequest) -> HttpResponse:
    """Articles matching what an agent is writing (an HTMX fragment under the reply form)."""
    text = " ".join(request.GET.get(name, "") for name in ("subject", "body", "q"))
    found = selectors.article_suggestions(
        text=text, articles=selectors.article_list(actor=request.membership)
    )
    return render(
        request,
        "service/_article_suggestions.html",
        {"suggestions": found, "url_name": "service:article"},
    )


@requires(MANAGE_SLA)
@require_POST
def sla_escalation_add(request: WorkspaceRequest) -> HttpResponse:
    """Add an escalation to the default policy, or to the policy named by ``policy`` (its
    page shows the form, ADR 0061)."""
    from crm_modules.service import views_sla_policies

    post = request.POST
    policy = views_sla_policies.posted_policy(post.get("policy"))
    try:
        services.sla_escalation_add(
            actor=request.membership,
            target=post.get("target", ""),
            action=post.get("action", ""),
            user_id=post.get("user") or None,
            team_id=post.get("team") or None,
            policy_id=policy.pk if policy is not None else None,
        )
    except ServiceError as error:
        if policy is not None:
            return views_sla_policies.policy_page(request, policy, escalation_error=error)
        hours = selectors.business_hours_default()
        context = {**_sla_context(hours), "error": error, "escalation_error": error}
        return render(request, "service/sla.html", context, status=400)
    messages.success(request, _("Escalation added."))
    if policy is not None:
        return redirect("service:sla_policy", policy_id=policy.pk)
    return redirect("service:sla")


@requires(MANAGE_SLA)
@require_POST
def sla_escalation_delete(request: WorkspaceRequest, escalation_id: int) -> HttpResponse:
    escalation = SlaEscalation.objects.select_related("policy").filter(pk=escalation_id).first()
    if escalation is None:
        raise Http404("No such escalation")
    services.sla_escalation_delete(actor=request.membership, escalation_id=escalation_id)
    messages.success(request, _("Escalation removed."))
    if not escalation.policy.is_default and escalation.policy.retired_at is None:
        return redirect("service:sla_policy", policy_id=escalation.policy_id)
    return redirect("service:sla")
