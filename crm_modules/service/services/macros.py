"""Macros and canned responses (ADR 0037): a reply text with placeholders and a set of changes
(status, priority, assignee, team, tags) applied to a ticket in one step.

Placeholders are ``{{ object.field }}`` or ``{{ object.field | fallback }}`` with the fields of
``PLACEHOLDERS``; the fallback is written when the value is empty (a contact without a first
name). A placeholder that names no known field, or a ``{{`` never closed, is refused when the
macro is saved, naming it, so a broken macro never reaches a customer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from crm_modules.service.models import Macro, Priority, Status, Ticket, TicketMessage
from crm_modules.service.module import MACRO_CHANGED, MANAGE_MACROS, WORK_TICKETS
from crm_modules.service.services.tickets import (
    check_assignee,
    check_body,
    check_choice,
    check_tags,
    check_team,
    ticket_assign,
    ticket_change_status,
    ticket_reply,
    ticket_update,
)
from crm_platform.errors import ServiceError
from crm_platform.validation import check_text
from tenants.audit.services import audit_record
from tenants.models import Membership
from tenants.permissions import require

_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.S)
_NAME = re.compile(r"^([a-z]+)\.([a-z_]+)$")


def _contact(field: str) -> Callable[[Ticket, Membership], str]:
    def read(ticket: Ticket, agent: Membership) -> str:
        contact = ticket.contact
        if contact is None:
            return ""
        if field == "full_name":
            return " ".join(p for p in (contact.first_name, contact.last_name) if p)
        return str(getattr(contact, field) or "")

    return read


def _agent_first_name(ticket: Ticket, agent: Membership) -> str:
    name = agent.user.full_name or ""
    return name.split()[0] if name.split() else ""


# object.field → how to read it from the ticket and the agent applying the macro.
PLACEHOLDERS: dict[str, Callable[[Ticket, Membership], str]] = {
    "ticket.number": lambda t, a: str(t.pk),
    "ticket.subject": lambda t, a: t.subject,
    "ticket.status": lambda t, a: str(Status(t.status).label),
    "ticket.priority": lambda t, a: str(Priority(t.priority).label),
    "contact.first_name": _contact("first_name"),
    "contact.last_name": _contact("last_name"),
    "contact.full_name": _contact("full_name"),
    "contact.email": _contact("primary_email"),
    "contact.phone": _contact("primary_phone"),
    "contact.job_title": _contact("job_title"),
    "company.name": lambda t, a: t.company.name if t.company is not None else "",
    "agent.name": lambda t, a: a.user.full_name or "",
    "agent.first_name": _agent_first_name,
    "agent.email": lambda t, a: a.user.email,
}


def _parse(inner: str) -> tuple[str, str]:
    name, _sep, fallback = inner.partition("|")
    return name.strip(), fallback.strip()


def check_template(text: str, *, field: str = "body") -> str:
    """The text with every placeholder checked; raises naming the first broken one."""
    for match in _PLACEHOLDER.finditer(text):
        name, _fallback = _parse(match.group(1))
        if name not in PLACEHOLDERS:
            raise ServiceError(
                _("“%(placeholder)s” is not a placeholder. Use one of: %(known)s.")
                % {"placeholder": match.group(0), "known": ", ".join(PLACEHOLDERS)},
                field=field,
                code="placeholder",
            )
    rest = _PLACEHOLDER.sub("", text)
    if "{{" in rest or "}}" in rest:
        raise ServiceError(
            _("A placeholder is not closed: write it as {{ contact.first_name }}."),
            field=field,
            code="placeholder",
        )
    return text


def render(text: str, *, ticket: Ticket, agent: Membership) -> str:
    def fill(match: re.Match[str]) -> str:
        name, fallback = _parse(match.group(1))
        value = PLACEHOLDERS[name](ticket, agent).strip()
        return value or fallback

    return _PLACEHOLDER.sub(fill, text)


def macro_save(
    *,
    actor: Membership,
    macro: Macro | None = None,
    name: Any,
    body: Any = "",
    public: bool = True,
    status: Any = "",
    priority: Any = "",
    assignee_id: Any = None,
    team_id: Any = None,
    add_tags: Any = None,
) -> Macro:
    require(actor, MANAGE_MACROS)
    name = check_text(name, field="name", max_length=100, label=_("Name"))
    text = check_template(check_body(body or "", field="body", required=False))
    status = check_choice(status, Status, field="status") if status else ""
    priority = check_choice(priority, Priority, field="priority") if priority else ""
    assignee = check_assignee(actor, assignee_id)
    team = check_team(actor, team_id)
    tags = check_tags(add_tags, field="add_tags")
    if not (text or status or priority or assignee or team or tags):
        raise ServiceError(
            _("A macro must write a reply or change something on the ticket."), field="body"
        )
    with transaction.atomic():
        if macro is None:
            macro = Macro(created_by=actor.user)
        else:
            macro = Macro.objects.select_for_update().get(pk=macro.pk)
        macro.name = name
        macro.body = text
        macro.public = bool(public)
        macro.status = status
        macro.priority = priority
        macro.assignee_id = assignee
        macro.team_id = team
        macro.add_tags = tags
        macro.save()
        audit_record(
            tenant=actor.tenant, actor=actor.user, action=MACRO_CHANGED, target=macro,
            data={"name": name},
        )  # fmt: skip
    return macro


def macro_delete(*, actor: Membership, macro: Macro) -> None:
    require(actor, MANAGE_MACROS)
    with transaction.atomic():
        Macro.objects.filter(pk=macro.pk).delete()
        audit_record(
            tenant=actor.tenant, actor=actor.user, action=MACRO_CHANGED, target=macro,
            data={"deleted": True},
        )  # fmt: skip


def macro_apply(
    *,
    actor: Membership,
    ticket: Ticket,
    macro: Macro,
    seen_message_id: Any = None,
) -> TicketMessage | None:
    """Apply ``macro`` to ``ticket``: its changes and its reply, all or nothing. The reply goes
    through the reply guard like one written by hand. Returns the reply written, if any."""
    require(actor, WORK_TICKETS, ticket)
    with transaction.atomic():
        current = Ticket.objects.select_related("contact", "company").get(pk=ticket.pk)
        changes: dict[str, Any] = {}
        if macro.priority:
            changes["priority"] = macro.priority
        if macro.add_tags:
            changes["tags"] = [*current.tags, *(t for t in macro.add_tags if t not in current.tags)]
        if changes:
            current = ticket_update(actor=actor, ticket=current, changes=changes)
        assign: dict[str, Any] = {}
        if macro.assignee_id is not None:
            assign["assignee_id"] = macro.assignee_id
        if macro.team_id is not None:
            assign["team_id"] = macro.team_id
        if assign:
            current = ticket_assign(actor=actor, ticket=current, **assign)
        message = None
        if macro.body:
            text = render(macro.body, ticket=current, agent=actor)
            message = ticket_reply(
                actor=actor,
                ticket=current,
                body=text,
                public=macro.public,
                status=macro.status,
                seen_message_id=seen_message_id,
            )
        elif macro.status and macro.status != current.status:
            ticket_change_status(actor=actor, ticket=current, status=macro.status)
    return message
