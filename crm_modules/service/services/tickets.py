"""Ticket writes: open, reply, note, change status, assign, change fields, bulk.

Each checks the actor's capability, validates every field before touching a row, then locks the
ticket, checks again under the lock (check, lock, check), writes, puts the event on the shared
timeline of the ticket's contact and company, records an audit row where the change is one an
admin may need to trace, and publishes the change after commit.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_modules.activities import api as timeline
from crm_modules.sales import api as sales
from crm_modules.sales.api import Company, Contact
from crm_modules.service import selectors, sla
from crm_modules.service.models import (
    DONE_STATUSES,
    Priority,
    Status,
    Ticket,
    TicketChannel,
    TicketMessage,
    TicketType,
)
from crm_modules.service.module import (
    ASSIGN_TICKETS,
    ENTRY_NOTE,
    ENTRY_REPLY,
    ENTRY_STATUS,
    ENTRY_TICKET,
    TICKET_ASSIGNED,
    TICKET_CREATED,
    TICKET_SOLVED_EVENT,
    TICKET_STATUS,
    TICKET_UPDATED,
    TICKETS_TOPIC,
    VIEW_TICKETS,
    WORK_TICKETS,
)
from crm_modules.service.services import outbound, routing
from crm_modules.service.services.csat import csat_survey_open
from crm_modules.service.services.sla_alerts import sla_alarm
from crm_platform.errors import ServiceError
from crm_platform.validation import check_text
from tenants import live
from tenants.audit.services import audit_record
from tenants.models import Membership, Team
from tenants.modules import record_event
from tenants.permissions import allows, require

MAX_BODY = 100_000
MAX_BULK = 200
# Fields ``ticket_update`` changes.
EDITABLE = (
    "subject",
    "description",
    "priority",
    "type",
    "tags",
    "contact",
    "company",
    "custom_fields",
)
# The custom fields of tickets are defined and checked by sales (ADR 0050).
CUSTOM_ENTITY = "ticket"


# --- checks ---------------------------------------------------------------------------------


def check_choice(value: Any, choices: Any, *, field: str) -> str:
    if value not in choices.values:
        raise ServiceError(_("Choose a value from the list."), field=field)
    return str(value)


def check_body(raw: Any, *, field: str, required: bool) -> str:
    if not isinstance(raw, str):
        raise ServiceError(_("Write the text of the message."), field=field)
    text = raw.replace("\r\n", "\n").replace("\x00", "").strip()
    if required and not text:
        raise ServiceError(_("Write the text of the message."), field=field, code="required")
    if len(text) > MAX_BODY:
        raise ServiceError(
            _("The text can be at most %(max)d characters.") % {"max": MAX_BODY}, field=field
        )
    return text


def check_tags(raw: Any, *, field: str = "tags") -> list[str]:
    if raw is None or raw == "":
        return []
    if isinstance(raw, str):
        raw = raw.split(",")
    if not isinstance(raw, list | tuple):
        raise ServiceError(_("Tags must be a list of words."), field=field)
    tags: list[str] = []
    for item in raw:
        if not isinstance(item, str):
            raise ServiceError(_("Tags must be a list of words."), field=field)
        tag = " ".join(item.split())
        if len(tag) > 50:
            raise ServiceError(_("A tag can be at most 50 characters."), field=field)
        if tag and tag not in tags:
            tags.append(tag)
    if len(tags) > 20:
        raise ServiceError(_("A ticket can have at most 20 tags."), field=field)
    return tags


def check_language(raw: Any) -> str:
    """A language tag such as ``ru`` or ``zh-hans`` (lower case), or empty."""
    if raw in (None, ""):
        return ""
    text = str(raw).strip().casefold().replace("_", "-")
    parts = text.split("-")
    if len(text) > 10 or not all(part.isascii() and part.isalpha() for part in parts):
        raise ServiceError(_("Give a language code such as “ru” or “zh-hans”."), field="language")
    return text


def _contact(contact_id: Any) -> Contact | None:
    if contact_id in (None, ""):
        return None
    contact = Contact.objects.filter(pk=_id(contact_id, "contact")).first()
    if contact is None:
        raise ServiceError(_("Choose a contact of this workspace."), field="contact")
    return contact


def _company(company_id: Any) -> Company | None:
    if company_id in (None, ""):
        return None
    company = Company.objects.filter(pk=_id(company_id, "company")).first()
    if company is None:
        raise ServiceError(_("Choose a company of this workspace."), field="company")
    return company


def _id(value: Any, field: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number <= 0 or isinstance(value, bool):
        raise ServiceError(_("Choose a value from the list."), field=field)
    return number


def check_assignee(actor: Membership, assignee_id: Any) -> int | None:
    """The user id of an active member who may work tickets; taking a ticket for oneself needs
    only ``WORK_TICKETS``, giving it to someone else ``ASSIGN_TICKETS``."""
    if assignee_id in (None, ""):
        return None
    user_id = _id(assignee_id, "assignee")
    if user_id != actor.user_id:
        require(actor, ASSIGN_TICKETS)
    member = (
        Membership.objects.select_related("tenant")
        .filter(tenant_id=actor.tenant_id, user_id=user_id)
        .first()
    )
    if member is None or not allows(member, WORK_TICKETS, reading=True):
        raise ServiceError(_("Choose a member who works tickets."), field="assignee")
    return user_id


def check_team(actor: Membership, team_id: Any) -> int | None:
    if team_id in (None, ""):
        return None
    number = _id(team_id, "team")
    if not Team.objects.filter(tenant_id=actor.tenant_id, pk=number).exists():
        raise ServiceError(_("Choose a team of this workspace."), field="team")
    return number


def check_required_filled(ticket: Ticket, status: str) -> None:
    """A ticket is solved or closed by a member only with its required custom fields filled
    (ADR 0058): a ticket from email, the portal or a split starts without them, and the
    member who finishes it is the one who knows their values. Asked under the ticket's lock,
    whatever the path — the page, bulk changes, macros, the API."""
    if status not in DONE_STATUSES or ticket.status in DONE_STATUSES:
        return
    missing = selectors.ticket_missing_fields(ticket)
    if missing:
        raise ServiceError(
            _(
                "Fill in the required fields of ticket #%(number)s before setting it to "
                "“%(status)s”: %(fields)s."
            )
            % {
                "number": ticket.pk,
                "status": Status(status).label,
                "fields": ", ".join(str(field.label) for field in missing),
            },
            field=f"custom_fields.{missing[0].code}",
            code="required_fields",
        )


# --- writes ---------------------------------------------------------------------------------


def _concerns(ticket: Ticket) -> list[Any]:
    return [r for r in (ticket, ticket.contact, ticket.company) if r is not None]


def _publish(actor: Membership, event: str, ticket: Ticket) -> None:
    live.publish(
        tenant=actor.tenant,
        topic=TICKETS_TOPIC,
        event=event,
        payload={"id": ticket.pk, "status": ticket.status},
    )


def ticket_create(
    *,
    actor: Membership,
    subject: str,
    description: str = "",
    priority: str = Priority.NORMAL,
    ticket_type: str = TicketType.QUESTION,
    channel: str = TicketChannel.AGENT,
    contact_id: Any = None,
    company_id: Any = None,
    assignee_id: Any = None,
    team_id: Any = None,
    tags: Any = None,
    language: str = "",
    custom_fields: Any = None,
    complete_custom: bool = False,
    now: datetime.datetime | None = None,
) -> Ticket:
    """Open a ticket. Without an assignee it is routed (ADR 0037): a team from the routing
    rules when none is given, then an agent of the team with room, or the team's queue.
    ``custom_fields``: values of the workspace's ticket custom fields, by code;
    ``complete_custom``: an agent filled the form, so every required one is asked (ADR 0053)."""
    require(actor, WORK_TICKETS)
    subject = check_text(subject, field="subject", max_length=200, label=_("Subject"))
    language = check_language(language)
    description = check_body(description, field="description", required=False)
    priority = check_choice(priority, Priority, field="priority")
    ticket_type = check_choice(ticket_type, TicketType, field="type")
    channel = check_choice(channel, TicketChannel, field="channel")
    tags = check_tags(tags)
    contact = _contact(contact_id)
    company = _company(company_id)
    if company is None and contact is not None and contact.company_id is not None:
        company = contact.company
    assignee = check_assignee(actor, assignee_id)
    team = check_team(actor, team_id)
    custom = sales.check_custom_values(
        actor=actor,
        entity=CUSTOM_ENTITY,
        values=custom_fields or {},
        complete=complete_custom,
        new_record=True,
    )
    when = now or timezone.now()
    with transaction.atomic():
        ticket = Ticket(
            subject=subject,
            description=description,
            priority=priority,
            type=ticket_type,
            channel=channel,
            contact=contact,
            company=company,
            assignee_id=assignee,
            team_id=team,
            tags=tags,
            created_by=actor.user,
            created_at=when,
            updated_at=when,
            status=Status.OPEN if assignee else Status.NEW,
            language=language,
            custom=custom,
        )
        ticket.sla_policy = sla.policy_for(ticket, time_zone=actor.tenant.time_zone)
        sla.recompute(ticket, sla.clock_for(ticket))
        ticket.save()
        if assignee is None:
            routing.route_ticket(tenant=actor.tenant, ticket=ticket, now=when)
        sla_alarm(ticket)
        timeline.activity_log(
            kind=ENTRY_TICKET.code,
            author=actor.user,
            concerns=_concerns(ticket),
            subject=subject,
            body=description,
            channel=channel,
            direction="inbound",
            occurred_at=when,
            data={"ticket": ticket.pk},
        )
        audit_record(tenant=actor.tenant, actor=actor.user, action=TICKET_CREATED, target=ticket)
        _publish(actor, "ticket.created", ticket)
    return ticket


def _locked(actor: Membership, ticket: Ticket) -> Ticket:
    """The ticket locked for update, with the permission asked again under the lock."""
    locked = (
        Ticket.objects.select_for_update(of=("self",))
        .select_related("contact", "company")
        .get(pk=ticket.pk)
    )
    require(actor, WORK_TICKETS, locked)
    return locked


class NewerMessages(ServiceError):
    """A public reply stopped because the customer wrote again after the last message the
    agent saw; ``messages`` are the customer's messages the agent has not seen."""

    def __init__(self, messages: list[TicketMessage]):
        super().__init__(
            _(
                "The customer wrote again while you were writing. Read the new message, then "
                "send your reply again."
            ),
            field="body",
            code="newer_message",
        )
        self.messages = messages


def _seen(raw: Any) -> int | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, int) and not isinstance(raw, bool):
        number = raw
    elif isinstance(raw, str) and raw.strip().isdigit():
        number = int(raw)
    else:
        number = -1
    if number < 0:
        raise ServiceError(_("Reload the ticket and write your reply again."), field="seen")
    return number


# A chain of merges is followed at most this far (a merged ticket's survivor merged again).
MAX_HOPS = 20


def ticket_survivor(ticket: Ticket) -> Ticket:
    """The ticket that carries on ``ticket``: itself unless it was merged into another."""
    current = ticket
    for _hop in range(MAX_HOPS):
        if current.merged_into_id is None:
            return current
        current = Ticket.objects.select_related("contact", "company").get(pk=current.merged_into_id)
    return current


def ticket_reply(
    *,
    actor: Membership,
    ticket: Ticket,
    body: str,
    public: bool = True,
    status: str = "",
    seen_message_id: Any = None,
    now: datetime.datetime | None = None,
) -> TicketMessage:
    """A public reply to the customer (fulfils the first-response target) or an internal note;
    ``status`` optionally moves the ticket in the same step ("reply and set pending").

    ``seen_message_id`` is the last message the agent saw when writing (0: none). A public
    reply is stopped with ``NewerMessages`` when a customer message newer than that arrived
    meanwhile, so nobody answers a question the customer has already changed.

    Members ``@mentioned`` in an internal note (the kit's picker writes ``@<email>``) must be
    able to see the ticket; they are told after the note is stored (architecture: Mentions)."""
    require(actor, WORK_TICKETS, ticket)
    text = check_body(body, field="body", required=True)
    seen = _seen(seen_message_id)
    mentioned = (
        []
        if public
        else sales.mentioned_members(actor=actor, record=ticket, text=text, capability=VIEW_TICKETS)
    )
    # A reply to a merged ticket lands on the ticket that carries it on.
    ticket = ticket_survivor(ticket)
    if status:
        check_choice(status, Status, field="status")
    when = now or timezone.now()
    with transaction.atomic():
        locked = _locked(actor, ticket)
        if locked.merged_into_id is not None:
            # Merged while the reply was written.
            locked = _locked(actor, ticket_survivor(locked))
        if locked.status == Status.CLOSED:
            raise ServiceError(
                _("This ticket is closed; open a new ticket to write to the customer again."),
                field="body",
                code="closed",
            )
        target = status or (Status.OPEN if public and locked.status == Status.NEW else "")
        check_required_filled(locked, target)
        if public and seen is not None:
            # Under the ticket's lock: a customer message written after this check waits for
            # the reply to commit, and is then newer than the reply.
            newer = list(
                TicketMessage.objects.filter(
                    ticket=locked, direction=TicketMessage.Direction.INBOUND, pk__gt=seen
                ).order_by("created_at", "id")
            )
            if newer:
                raise NewerMessages(newer)
        message = TicketMessage.objects.create(
            ticket=locked,
            kind=TicketMessage.Kind.REPLY if public else TicketMessage.Kind.NOTE,
            direction=(
                TicketMessage.Direction.OUTBOUND if public else TicketMessage.Direction.INTERNAL
            ),
            body=text,
            author=actor.user,
            created_at=when,
        )
        fields = ["updated_at"]
        if public:
            sla.on_public_reply(locked, now=when)
            sla.business_times(locked, sla.clock_for(locked))
            fields += sla.TIMER_FIELDS
        if target and target != locked.status:
            fields += _move(locked, target, when)
        locked.updated_at = when
        locked.save(update_fields=sorted(set(fields)))
        sla_alarm(locked)
        if public:
            outbound.email_queue(
                tenant=actor.tenant,
                ticket=locked,
                body=text,
                automatic=False,
                message=message,
                now=when,
            )
        timeline.activity_log(
            kind=(ENTRY_REPLY if public else ENTRY_NOTE).code,
            author=actor.user,
            concerns=_concerns(locked),
            subject=locked.subject,
            body=text,
            channel=locked.channel if public else "",
            direction="outbound" if public else "",
            occurred_at=when,
            data={
                "ticket": locked.pk,
                "message": message.pk,
                **({"mentions": [m.user_id for m in mentioned]} if mentioned else {}),
            },
        )
        _publish(actor, "ticket.replied" if public else "ticket.noted", locked)
        if mentioned:
            sales.mentions_notify(
                actor=actor,
                record=locked,
                members=mentioned,
                url_path=reverse("service:ticket_detail", args=[locked.pk]),
            )
    return message


def _move(ticket: Ticket, status: str, when: datetime.datetime) -> list[str]:
    """Set the status with its timers and stamps; returns the fields changed. Solving a
    ticket (again, after a reopening) asks the customer for a rating."""
    solving = status == Status.SOLVED and ticket.status not in DONE_STATUSES
    timer = sla.clock_for(ticket)
    sla.on_status(ticket, new_status=status, timer=timer, now=when)
    if solving:
        csat_survey_open(ticket=ticket, now=when)
        if ticket.contact_id is not None:
            record_event(
                TICKET_SOLVED_EVENT.code,
                contact_ids=[ticket.contact_id],
                occurrence=f"ticket:{ticket.pk}:{when.isoformat()}",
                data={"ticket": ticket.pk},
            )
    if status == Status.SOLVED:
        ticket.solved_at = ticket.solved_at or when
    elif status not in DONE_STATUSES:
        ticket.solved_at = None
    ticket.closed_at = when if status == Status.CLOSED else None
    sla.business_times(ticket, timer)
    return list(sla.TIMER_FIELDS)


def ticket_change_status(
    *, actor: Membership, ticket: Ticket, status: str, now: datetime.datetime | None = None
) -> Ticket:
    require(actor, WORK_TICKETS, ticket)
    status = check_choice(status, Status, field="status")
    when = now or timezone.now()
    with transaction.atomic():
        locked = _locked(actor, ticket)
        if locked.status == status:
            return locked
        if locked.status == Status.CLOSED:
            raise ServiceError(
                _("A closed ticket stays closed; open a new ticket instead."), field="status"
            )
        check_required_filled(locked, status)
        before = locked.status
        fields = _move(locked, status, when)
        if status in DONE_STATUSES:
            locked.queued_at = None
            fields.append("queued_at")
        locked.updated_at = when
        locked.save(update_fields=[*fields, "updated_at"])
        sla_alarm(locked)
        if status in DONE_STATUSES and before not in DONE_STATUSES:
            _room_freed(actor.tenant, locked.assignee_id)
        timeline.activity_log(
            kind=ENTRY_STATUS.code,
            author=actor.user,
            concerns=_concerns(locked),
            subject=locked.subject,
            body=f"{Status(before).label} → {Status(status).label}",
            occurred_at=when,
            data={"ticket": locked.pk, "from": before, "to": status},
        )
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=TICKET_STATUS,
            target=locked,
            data={"from": before, "to": status},
        )
        _publish(actor, "ticket.updated", locked)
    return locked


_UNSET = object()


def ticket_assign(
    *,
    actor: Membership,
    ticket: Ticket,
    assignee_id: Any = _UNSET,
    team_id: Any = _UNSET,
    now: datetime.datetime | None = None,
) -> Ticket:
    """Give the ticket to a member (``None``: nobody) and/or a team. Taking it for oneself
    needs ``WORK_TICKETS``; anything else ``ASSIGN_TICKETS``."""
    require(actor, WORK_TICKETS, ticket)
    changes: dict[str, int | None] = {}
    if assignee_id is not _UNSET:
        if assignee_id in (None, ""):
            require(actor, ASSIGN_TICKETS)
        changes["assignee_id"] = check_assignee(actor, assignee_id)
    if team_id is not _UNSET:
        require(actor, ASSIGN_TICKETS)
        changes["team_id"] = check_team(actor, team_id)
    when = now or timezone.now()
    with transaction.atomic():
        locked = _locked(actor, ticket)
        before = {name: getattr(locked, name) for name in changes}
        if before == changes:
            return locked
        # Someone else's ticket is not taken over without the right to assign.
        if locked.assignee_id not in (None, actor.user_id) and "assignee_id" in changes:
            require(actor, ASSIGN_TICKETS)
        for name, value in changes.items():
            setattr(locked, name, value)
        fields = [*changes, "updated_at"]
        if "team_id" in changes and sla.policy_reselect(locked, time_zone=actor.tenant.time_zone):
            fields += ["sla_policy", *sla.TIMER_FIELDS]
        if locked.status == Status.NEW and locked.assignee_id is not None:
            fields += _move(locked, Status.OPEN, when)
        if locked.assignee_id is not None and locked.queued_at is not None:
            # A manual assignment takes the ticket out of the queue.
            locked.queued_at = None
            fields.append("queued_at")
        locked.updated_at = when
        locked.save(update_fields=sorted(set(fields)))
        if (
            locked.assignee_id is None
            and changes.get("team_id", before.get("team_id")) is not None
            and "team_id" in changes
            and locked.status not in DONE_STATUSES
        ):
            # Sent to another team without an agent: the team's routing takes it from here.
            locked.queued_at = None
            routing.route_ticket(tenant=actor.tenant, ticket=locked, now=when)
        sla_alarm(locked)
        previous = before.get("assignee_id")
        if previous is not None and previous != locked.assignee_id and locked.is_open:
            _room_freed(actor.tenant, previous)
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=TICKET_ASSIGNED,
            target=locked,
            data={"from": before, "to": changes},
        )
        _publish(actor, "ticket.updated", locked)
    return locked


def _room_freed(tenant: Any, user_id: int | None) -> None:
    """An agent has one open ticket fewer: their team's queue may go on."""
    if user_id is None:
        return
    team_id = (
        Membership.objects.filter(tenant_id=tenant.pk, user_id=user_id)
        .values_list("team_id", flat=True)
        .first()
    )
    if team_id is not None:
        routing.routing_drain(tenant=tenant, team_id=team_id)


def ticket_update(
    *,
    actor: Membership,
    ticket: Ticket,
    changes: dict[str, Any],
    now: datetime.datetime | None = None,
) -> Ticket:
    require(actor, WORK_TICKETS, ticket)
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ServiceError(_("This field cannot be changed here."), field=sorted(unknown)[0])
    clean: dict[str, Any] = {}
    if "subject" in changes:
        clean["subject"] = check_text(
            changes["subject"], field="subject", max_length=200, label=_("Subject")
        )
    if "description" in changes:
        clean["description"] = check_body(
            changes["description"], field="description", required=False
        )
    if "priority" in changes:
        clean["priority"] = check_choice(changes["priority"], Priority, field="priority")
    if "type" in changes:
        clean["type"] = check_choice(changes["type"], TicketType, field="type")
    if "tags" in changes:
        clean["tags"] = check_tags(changes["tags"])
    if "contact" in changes:
        clean["contact"] = _contact(changes["contact"])
    if "company" in changes:
        clean["company"] = _company(changes["company"])
    when = now or timezone.now()
    with transaction.atomic():
        locked = _locked(actor, ticket)
        if changes.get("custom_fields") is not None:
            # Applied to the values under the lock, so a concurrent change of another field
            # is kept; a field deleted meanwhile is refused.
            clean["custom"] = sales.check_custom_values(
                actor=actor,
                entity=CUSTOM_ENTITY,
                values=changes["custom_fields"],
                current=locked.custom,
            )
        changed = [name for name, value in clean.items() if getattr(locked, name) != value]
        if not changed:
            return locked
        for name in changed:
            setattr(locked, name, clean[name])
        fields = [*changed, "updated_at"]
        if "priority" in changed:
            sla.recompute(locked, sla.clock_for(locked))
            fields += sla.TIMER_FIELDS
        if {"type", "contact", "company"} & set(changed) and sla.policy_reselect(
            locked, time_zone=actor.tenant.time_zone
        ):
            # The policy is chosen by these (ADR 0060).
            fields += ["sla_policy", *sla.TIMER_FIELDS]
        locked.updated_at = when
        locked.save(update_fields=sorted(set(fields)))
        sla_alarm(locked)
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=TICKET_UPDATED,
            target=locked,
            data={"fields": changed},
        )
        _publish(actor, "ticket.updated", locked)
    return locked


def tickets_bulk(
    *,
    actor: Membership,
    ticket_ids: list[Any],
    status: str = "",
    assignee_id: Any = _UNSET,
    team_id: Any = _UNSET,
    priority: str = "",
    add_tags: Any = None,
    remove_tags: Any = None,
) -> int:
    """Change the status, assignee, team, priority and/or tags of up to ``MAX_BULK``
    tickets, all or none. Returns how many were changed."""
    require(actor, WORK_TICKETS)
    ids = sorted({_id(value, "tickets") for value in ticket_ids})
    if not ids:
        raise ServiceError(_("Choose at least one ticket."), field="tickets")
    if len(ids) > MAX_BULK:
        raise ServiceError(
            _("Choose at most %(max)d tickets at once.") % {"max": MAX_BULK}, field="tickets"
        )
    adding = check_tags(add_tags, field="tags") if add_tags is not None else []
    removing = check_tags(remove_tags, field="tags") if remove_tags is not None else []
    if (add_tags is not None and not adding) or (remove_tags is not None and not removing):
        raise ServiceError(_("Write the tags to add or remove."), field="tags")
    if (
        not status
        and not priority
        and assignee_id is _UNSET
        and team_id is _UNSET
        and not adding
        and not removing
    ):
        raise ServiceError(_("Choose what to change."), field="action")
    if status:
        check_choice(status, Status, field="status")
    if priority:
        check_choice(priority, Priority, field="priority")
    if assignee_id is not _UNSET:
        require(actor, ASSIGN_TICKETS)
        check_assignee(actor, assignee_id)
    if team_id is not _UNSET:
        require(actor, ASSIGN_TICKETS)
        check_team(actor, team_id)
    with transaction.atomic():
        # Locked in id order, so two bulk changes never deadlock each other.
        tickets = list(Ticket.objects.select_for_update().filter(pk__in=ids).order_by("pk"))
        if len(tickets) != len(ids):
            raise ServiceError(_("Some of the chosen tickets no longer exist."), field="tickets")
        if status in DONE_STATUSES:
            # Every ticket that cannot be finished is named at once, not the first one only.
            required = selectors.required_ticket_fields()
            lacking = [
                (t, selectors.ticket_missing_fields(t, required))
                for t in tickets
                if t.status not in DONE_STATUSES
            ]
            lacking = [(t, missing) for t, missing in lacking if missing]
            if lacking:
                names = list(dict.fromkeys(str(f.label) for _t, fs in lacking for f in fs))
                raise ServiceError(
                    _(
                        "Fill in the required fields of these tickets before setting them to "
                        "“%(status)s”: %(tickets)s (%(fields)s)."
                    )
                    % {
                        "status": Status(status).label,
                        "tickets": ", ".join(f"#{t.pk}" for t, _fs in lacking),
                        "fields": ", ".join(names),
                    },
                    field="tickets",
                    code="required_fields",
                )
        # Open pages hear one ``ticket.updated`` naming every ticket, not one per ticket.
        with live.coalesced():
            _bulk_each(
                actor=actor,
                tickets=tickets,
                status=status,
                assignee_id=assignee_id,
                team_id=team_id,
                priority=priority,
                adding=adding,
                removing=removing,
            )
    return len(tickets)


def _bulk_each(
    *,
    actor: Membership,
    tickets: list[Ticket],
    status: str,
    assignee_id: Any,
    team_id: Any,
    priority: str,
    adding: list[str],
    removing: list[str],
) -> None:
    for ticket in tickets:
        changes: dict[str, Any] = {}
        if priority:
            changes["priority"] = priority
        if adding or removing:
            tags = [t for t in ticket.tags if t not in removing]
            changes["tags"] = [*tags, *(t for t in adding if t not in tags)]
        if changes:
            ticket = ticket_update(actor=actor, ticket=ticket, changes=changes)
        assign: dict[str, Any] = {}
        if assignee_id is not _UNSET:
            assign["assignee_id"] = assignee_id
        if team_id is not _UNSET:
            assign["team_id"] = team_id
        if assign:
            ticket = ticket_assign(actor=actor, ticket=ticket, **assign)
        if status:
            ticket_change_status(actor=actor, ticket=ticket, status=status)
