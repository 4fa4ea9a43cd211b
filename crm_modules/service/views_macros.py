"""Macro pages (list, write, change, delete) and what an agent does with one on a ticket:
insert its text into the reply box (an HTMX swap) or apply it whole. Also merging a ticket
into another and splitting a message off into a new ticket."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from crm_modules.service import selectors
from crm_modules.service.models import Macro, Priority, Status
from crm_modules.service.module import MANAGE_MACROS, WORK_TICKETS
from crm_modules.service.services import macros as macro_services
from crm_modules.service.services import merge
from crm_modules.service.services.tickets import NewerMessages
from crm_platform.errors import ServiceError
from tenants.access import requires
from tenants.http import WorkspaceRequest
from tenants.models import Membership, Team
from tenants.permissions import allows


def _macro(macro_id: Any) -> Macro:
    try:
        number = int(macro_id)
    except (TypeError, ValueError):
        raise Http404("No such macro") from None
    macro = Macro.objects.filter(pk=number).first()
    if macro is None:
        raise Http404("No such macro")
    return macro


def macro_choices() -> list[Macro]:
    return list(Macro.objects.order_by("name", "id")[:200])


@requires(WORK_TICKETS)
@require_safe
def macro_list(request: WorkspaceRequest) -> HttpResponse:
    return render(
        request,
        "service/macros.html",
        {
            "macros": macro_choices(),
            "can_manage": allows(request.membership, MANAGE_MACROS),
            "placeholders": list(macro_services.PLACEHOLDERS),
        },
    )


def _form_context(actor: Membership, macro: Macro | None, posted: Any = None) -> dict[str, Any]:
    from crm_modules.service.views import _agents

    def value(name: str, default: Any) -> Any:
        return posted.get(name, "") if posted is not None else default

    return {
        "macro": macro,
        "values": {
            "name": value("name", macro.name if macro else ""),
            "body": value("body", macro.body if macro else ""),
            "public": (posted.get("public") == "on")
            if posted is not None
            else (macro.public if macro else True),
            "status": value("status", macro.status if macro else ""),
            "priority": value("priority", macro.priority if macro else ""),
            "assignee": value("assignee", str(macro.assignee_id or "") if macro else ""),
            "team": value("team", str(macro.team_id or "") if macro else ""),
            "add_tags": value("add_tags", ", ".join(macro.add_tags) if macro else ""),
        },
        "statuses": Status.choices,
        "priorities": Priority.choices,
        "agents": _agents(actor),
        "teams": list(Team.objects.filter(tenant_id=actor.tenant_id).order_by("name")),
        "placeholders": list(macro_services.PLACEHOLDERS),
    }


def _macro_form(request: WorkspaceRequest, macro: Macro | None) -> HttpResponse:
    actor = request.membership
    if request.method != "POST":
        return render(request, "service/macro_form.html", _form_context(actor, macro))
    post = request.POST
    try:
        macro_services.macro_save(
            actor=actor,
            macro=macro,
            name=post.get("name", ""),
            body=post.get("body", ""),
            public=post.get("public") == "on",
            status=post.get("status", ""),
            priority=post.get("priority", ""),
            assignee_id=post.get("assignee") or None,
            team_id=post.get("team") or None,
            add_tags=post.get("add_tags", ""),
        )
    except ServiceError as error:
        context = {**_form_context(actor, macro, post), "error": error}
        return render(request, "service/macro_form.html", context, status=400)
    messages.success(request, _("Macro saved."))
    return redirect("service:macros")


@requires(MANAGE_MACROS)
@require_http_methods(["GET", "HEAD", "POST"])
def macro_new(request: WorkspaceRequest) -> HttpResponse:
    return _macro_form(request, None)


@requires(MANAGE_MACROS)
@require_http_methods(["GET", "HEAD", "POST"])
def macro_edit(request: WorkspaceRequest, macro_id: int) -> HttpResponse:
    return _macro_form(request, _macro(macro_id))


@requires(MANAGE_MACROS)
@require_POST
def macro_delete(request: WorkspaceRequest, macro_id: int) -> HttpResponse:
    macro_services.macro_delete(actor=request.membership, macro=_macro(macro_id))
    messages.success(request, _("Macro deleted."))
    return redirect("service:macros")


@requires(WORK_TICKETS)
@require_safe
def macro_preview(request: WorkspaceRequest, ticket_id: int) -> HttpResponse:
    """The macro's text filled in for this ticket, for the reply box (HTMX swaps it in)."""
    actor = request.membership
    ticket = selectors.ticket_get(actor=actor, ticket_id=ticket_id, capability=WORK_TICKETS)
    raw = request.GET.get("macro", "")
    if not raw:
        return HttpResponse(_("Choose a macro."), status=400, content_type="text/plain")
    macro = _macro(raw)
    text = macro_services.render(macro.body, ticket=ticket, agent=actor)
    return render(request, "service/_reply_body.html", {"text": text})


@requires(WORK_TICKETS)
@require_POST
def macro_apply(request: WorkspaceRequest, ticket_id: int) -> HttpResponse:
    actor = request.membership
    ticket = selectors.ticket_get(actor=actor, ticket_id=ticket_id, capability=WORK_TICKETS)
    raw = request.POST.get("macro", "")
    if not raw:
        messages.error(request, _("Choose a macro."))
        return redirect("service:ticket_detail", ticket.pk)
    macro = _macro(raw)
    try:
        macro_services.macro_apply(
            actor=actor, ticket=ticket, macro=macro, seen_message_id=request.POST.get("seen")
        )
    except NewerMessages as error:
        messages.error(request, error.message)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Macro applied."))
    return redirect("service:ticket_detail", ticket.pk)


@requires(WORK_TICKETS)
@require_POST
def ticket_merge(request: WorkspaceRequest, ticket_id: int) -> HttpResponse:
    actor = request.membership
    ticket = selectors.ticket_get(actor=actor, ticket_id=ticket_id, capability=WORK_TICKETS)
    raw = request.POST.get("into", "").strip().lstrip("#")
    if not raw:
        messages.error(request, _("Give the number of the ticket to merge into."))
        return redirect("service:ticket_detail", ticket.pk)
    try:
        survivor = merge.ticket_merge(actor=actor, ticket=ticket, into_id=raw)
    except ServiceError as error:
        messages.error(request, error.message)
        return redirect("service:ticket_detail", ticket.pk)
    messages.success(request, _("Tickets merged."))
    return redirect("service:ticket_detail", survivor.pk)


@requires(WORK_TICKETS)
@require_POST
def ticket_split(request: WorkspaceRequest, ticket_id: int) -> HttpResponse:
    actor = request.membership
    ticket = selectors.ticket_get(actor=actor, ticket_id=ticket_id, capability=WORK_TICKETS)
    if not request.POST.get("message"):
        messages.error(request, _("Choose a message of this ticket."))
        return redirect("service:ticket_detail", ticket.pk)
    try:
        new = merge.ticket_split(actor=actor, ticket=ticket, message_id=request.POST["message"])
    except ServiceError as error:
        messages.error(request, error.message)
        return redirect("service:ticket_detail", ticket.pk)
    messages.success(request, _("The message is now ticket #%(number)s.") % {"number": new.pk})
    return redirect("service:ticket_detail", new.pk)
