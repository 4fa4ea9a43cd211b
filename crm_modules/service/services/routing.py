"""Routing (ADR 0037): which team a new ticket goes to, and which of the team's agents.

Rules are tried in order; the first whose conditions (channel, keywords, customer tier,
language) all hold sends the ticket to its team and says which skills the agent needs. Inside
the team, the ticket goes to an available agent with those skills and room under their cap on
open tickets — the next one after the last given (round-robin) or the one with the fewest open
tickets (least busy). When nobody has room the ticket waits in the team's queue; the queue is
handed out oldest first whenever room frees up (a ticket solved, closed or given to someone
else; an agent back from away; a higher cap).

Every decision for a team runs under a transaction-scoped advisory lock on (workspace, team),
so two tickets routed at the same moment never both take an agent's last free place.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_modules.service import sla
from crm_modules.service.models import (
    OPEN_STATUSES,
    AgentProfile,
    RoutingRule,
    Status,
    TeamRouting,
    Ticket,
    TicketChannel,
)
from crm_modules.service.module import (
    MANAGE_ROUTING,
    TICKET_ASSIGNED,
    TICKETS_TOPIC,
    WORK_TICKETS,
)
from crm_modules.service.plan import automation_runs
from crm_platform.errors import ServiceError
from crm_platform.validation import check_text
from tenants import live
from tenants.audit.services import audit_record
from tenants.models import Membership, Team, Tenant
from tenants.permissions import require

# How many queued tickets one hand-out looks at (each needs an agent with room and skills).
DRAIN_BATCH = 100
MAX_WORDS = 50
MAX_CAP = 1000


# --- checks -----------------------------------------------------------------------------------


def check_words(raw: Any, *, field: str, max_length: int = 100, lower: bool = True) -> list[str]:
    """A list of short words from a list or a comma-separated text, trimmed, without repeats."""
    if raw is None or raw == "":
        return []
    if isinstance(raw, str):
        raw = raw.split(",")
    if not isinstance(raw, list | tuple):
        raise ServiceError(_("Write a list of words separated by commas."), field=field)
    words: list[str] = []
    for item in raw:
        if not isinstance(item, str):
            raise ServiceError(_("Write a list of words separated by commas."), field=field)
        word = " ".join(item.split())
        if lower:
            word = word.casefold()
        if len(word) > max_length:
            raise ServiceError(
                _("Each entry can be at most %(max)d characters.") % {"max": max_length},
                field=field,
            )
        if word and word not in words:
            words.append(word)
    if len(words) > MAX_WORDS:
        raise ServiceError(_("Give at most %(max)d entries.") % {"max": MAX_WORDS}, field=field)
    return words


def _team(tenant: Tenant, team_id: Any, *, field: str = "team") -> int:
    try:
        number = int(team_id)
    except (TypeError, ValueError):
        number = 0
    if number <= 0 or not Team.objects.filter(tenant_id=tenant.pk, pk=number).exists():
        raise ServiceError(_("Choose a team of this workspace."), field=field)
    return number


# --- settings ---------------------------------------------------------------------------------


def routing_rule_save(
    *,
    actor: Membership,
    rule: RoutingRule | None = None,
    name: Any,
    team_id: Any,
    channels: Any = None,
    keywords: Any = None,
    tiers: Any = None,
    languages: Any = None,
    skills: Any = None,
    position: Any = None,
    is_active: bool = True,
) -> RoutingRule:
    require(actor, MANAGE_ROUTING)
    name = check_text(name, field="name", max_length=100, label=_("Name"))
    team = _team(actor.tenant, team_id)
    channel_list = check_words(channels, field="channels")
    for channel in channel_list:
        if channel not in TicketChannel.values:
            raise ServiceError(
                _("“%(value)s” is not a channel.") % {"value": channel}, field="channels"
            )
    keyword_list = check_words(keywords, field="keywords")
    tier_list = check_words(tiers, field="tiers", max_length=50)
    language_list = check_words(languages, field="languages", max_length=10)
    skill_list = check_words(skills, field="skills", max_length=50)
    if position in (None, ""):
        place = None
    else:
        try:
            place = int(position)
        except (TypeError, ValueError):
            place = -1
        if place < 0 or place > 100_000:
            raise ServiceError(_("Give a whole number from 0."), field="position")
    with transaction.atomic():
        if rule is None:
            rule = RoutingRule()
            if place is None:
                last = RoutingRule.objects.order_by("-position").values_list("position").first()
                place = (last[0] + 1) if last else 0
        else:
            rule = RoutingRule.objects.select_for_update().get(pk=rule.pk)
        rule.name = name
        rule.team_id = team
        rule.channels = channel_list
        rule.keywords = keyword_list
        rule.tiers = tier_list
        rule.languages = language_list
        rule.skills = skill_list
        rule.is_active = bool(is_active)
        if place is not None:
            rule.position = place
        rule.save()
    return rule


def routing_rule_delete(*, actor: Membership, rule: RoutingRule) -> None:
    require(actor, MANAGE_ROUTING)
    RoutingRule.objects.filter(pk=rule.pk).delete()


def team_routing_set(*, actor: Membership, team_id: Any, method: Any) -> TeamRouting:
    require(actor, MANAGE_ROUTING)
    team = _team(actor.tenant, team_id)
    if method not in TeamRouting.Method.values:
        raise ServiceError(_("Choose a value from the list."), field="method")
    with transaction.atomic():
        setting, _created = TeamRouting.objects.select_for_update().get_or_create(
            team_id=team, defaults={"method": method}
        )
        if setting.method != method:
            setting.method = method
            setting.save(update_fields=["method"])
        routing_drain(tenant=actor.tenant, team_id=team)
    return setting


def _agent_member(actor: Membership, user_id: Any) -> Membership:
    try:
        number = int(user_id)
    except (TypeError, ValueError):
        number = 0
    member = Membership.objects.filter(
        tenant_id=actor.tenant_id, user_id=number, status=Membership.Status.ACTIVE
    ).first()
    if member is None or member.role not in WORK_TICKETS.roles:
        raise ServiceError(_("Choose a member who works tickets."), field="agent")
    return member


def agent_settings_set(
    *, actor: Membership, user_id: Any, skills: Any, max_open: Any
) -> AgentProfile:
    """An agent's skills and cap on open tickets; a higher cap hands out queued tickets."""
    require(actor, MANAGE_ROUTING)
    member = _agent_member(actor, user_id)
    skill_list = check_words(skills, field="skills", max_length=50)
    try:
        cap = int(max_open)
    except (TypeError, ValueError):
        cap = -1
    if cap < 0 or cap > MAX_CAP:
        raise ServiceError(
            _("Give a whole number from 0 to %(max)d.") % {"max": MAX_CAP}, field="max_open"
        )
    with transaction.atomic():
        profile = _profile_locked(member.user_id)
        profile.skills = skill_list
        profile.max_open = cap
        profile.changed_at = timezone.now()
        profile.save(update_fields=["skills", "max_open", "changed_at"])
        if member.team_id is not None:
            routing_drain(tenant=actor.tenant, team_id=member.team_id)
    return profile


def _profile_locked(user_id: int) -> AgentProfile:
    AgentProfile.objects.get_or_create(user_id=user_id)
    return AgentProfile.objects.select_for_update().get(user_id=user_id)


def agent_availability_set(
    *, actor: Membership, available: bool, user_id: Any = None
) -> AgentProfile:
    """An agent says they are available (given tickets) or away. Setting another member's
    availability needs the right to manage routing. Coming back hands out queued tickets."""
    require(actor, WORK_TICKETS)
    member = actor
    if user_id not in (None, "") and str(user_id) != str(actor.user_id):
        require(actor, MANAGE_ROUTING)
        member = _agent_member(actor, user_id)
    with transaction.atomic():
        profile = _profile_locked(member.user_id)
        if profile.available != bool(available):
            profile.available = bool(available)
            profile.changed_at = timezone.now()
            profile.save(update_fields=["available", "changed_at"])
            if profile.available and member.team_id is not None:
                routing_drain(tenant=actor.tenant, team_id=member.team_id)
    live.publish(
        tenant=actor.tenant,
        topic=TICKETS_TOPIC,
        event="agent.availability",
        payload={"user": member.user_id, "available": profile.available},
    )
    return profile


# --- decisions --------------------------------------------------------------------------------


def customer_tier(ticket: Ticket) -> str:
    """The customer's tier: the ``tier`` custom field of the contact, else of its company
    (the SLA policies read the same, ADR 0060; an archived field's or a removed option's
    value does not count, ADR 0068)."""
    return sla.customer_tier(ticket)


def customer_language(ticket: Ticket) -> str:
    """The language routing rules match: the contact's preferred language, else the language
    set on the ticket."""
    contact = ticket.contact if ticket.contact_id is not None else None
    return ((contact.language if contact is not None else "") or ticket.language or "").casefold()


def rule_matches(
    rule: RoutingRule, ticket: Ticket, *, tier: str, language: str | None = None
) -> bool:
    if rule.channels and ticket.channel not in rule.channels:
        return False
    spoken = customer_language(ticket) if language is None else language
    if rule.languages and spoken not in rule.languages:
        return False
    if rule.tiers and tier not in rule.tiers:
        return False
    if rule.keywords:
        text = f"{ticket.subject}\n{ticket.description}".casefold()
        if not any(word in text for word in rule.keywords):
            return False
    return True


def rule_for(ticket: Ticket) -> RoutingRule | None:
    rules = list(RoutingRule.objects.filter(is_active=True).order_by("position", "id"))
    # The tier is read only when a rule asks for one (it costs the fields' query).
    tier = customer_tier(ticket) if any(rule.tiers for rule in rules) else ""
    language = customer_language(ticket)
    for rule in rules:
        if rule_matches(rule, ticket, tier=tier, language=language):
            return rule
    return None


def _lock_team(team_id: int) -> None:
    schema = connection.schema_name  # type: ignore[attr-defined]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtext(%s), %s)", [f"{schema}:service.route", team_id]
        )


def _open_counts(caps: list[tuple[int, int]]) -> dict[int, int]:
    """Each agent's open tickets, counted only up to the agent's cap: a full agent costs as
    much as one with room, however many tickets they hold. One query (``ticket_mine``)."""
    table = Ticket._meta.db_table
    statuses = [s.value for s in OPEN_STATUSES]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.id, (SELECT count(*) FROM (SELECT 1 FROM "  # noqa: S608 - our table name
            f"{table} t WHERE t.assignee_id = a.id AND t.status = ANY(%s) LIMIT a.cap) s)"
            " FROM unnest(%s::bigint[], %s::int[]) AS a(id, cap)",
            [statuses, [user for user, _cap in caps], [cap for _user, cap in caps]],
        )
        return {int(user): int(count) for user, count in cursor.fetchall()}


@dataclass
class Agent:
    user_id: int
    skills: frozenset[str]
    room: int  # open tickets the agent can still take
    open_count: int


def team_agents(*, tenant: Tenant, team_id: int) -> list[Agent]:
    """The team's members who work tickets, are available and have room, with their room.
    Three queries, whatever the size of the team and however many tickets it holds."""
    user_ids = list(
        Membership.objects.filter(
            tenant_id=tenant.pk,
            team_id=team_id,
            status=Membership.Status.ACTIVE,
            role__in=sorted(WORK_TICKETS.roles),
        ).values_list("user_id", flat=True)
    )
    profiles = list(AgentProfile.objects.filter(user_id__in=user_ids, available=True))
    if not profiles:
        return []
    counts = _open_counts([(p.user_id, p.max_open) for p in profiles])
    agents = []
    for profile in sorted(profiles, key=lambda p: p.user_id):
        open_count = counts.get(profile.user_id, 0)
        if open_count < profile.max_open:
            agents.append(
                Agent(
                    user_id=profile.user_id,
                    skills=frozenset(profile.skills),
                    room=profile.max_open - open_count,
                    open_count=open_count,
                )
            )
    return agents


def choose_agent(
    agents: list[Agent], *, skills: list[str], method: str, last: int | None
) -> Agent | None:
    fit = [a for a in agents if a.room > 0 and a.skills.issuperset(skills)]
    if not fit:
        return None
    if method == TeamRouting.Method.LEAST_BUSY:
        return min(fit, key=lambda a: (a.open_count, a.user_id))
    # Round-robin: the first agent after the last one given a ticket, in a fixed order.
    after = [a for a in fit if last is not None and a.user_id > last]
    return after[0] if after else fit[0]


def _give(
    *, tenant: Tenant, ticket: Ticket, agent: Agent, setting: TeamRouting, when: datetime.datetime
) -> None:
    ticket.assignee_id = agent.user_id
    ticket.queued_at = None
    fields = ["assignee_id", "queued_at", "updated_at"]
    if ticket.status == Status.NEW:
        sla.on_status(ticket, new_status=Status.OPEN, timer=sla.clock_for(ticket), now=when)
        fields += sla.TIMER_FIELDS
    ticket.updated_at = when
    ticket.save(update_fields=sorted(set(fields)))
    agent.room -= 1
    agent.open_count += 1
    setting.last_user_id = agent.user_id
    audit_record(
        tenant=tenant,
        actor=None,
        action=TICKET_ASSIGNED,
        target=ticket,
        data={"routed": True, "to": {"assignee_id": agent.user_id, "team_id": ticket.team_id}},
    )
    live.publish(
        tenant=tenant,
        topic=TICKETS_TOPIC,
        event="ticket.updated",
        payload={"id": ticket.pk, "status": ticket.status},
    )


def _setting(team_id: int) -> TeamRouting:
    setting, _created = TeamRouting.objects.get_or_create(team_id=team_id)
    return setting


def route_ticket(*, tenant: Tenant, ticket: Ticket, now: datetime.datetime | None = None) -> None:
    """Route a ticket just written in the current transaction (the caller holds its row): a
    team from the rules when it has none, then an agent of the team, or the team's queue."""
    when = now or timezone.now()
    if ticket.team_id is None:
        # Rules are paused while the plan leaves automation out (ADR 0081).
        rule = rule_for(ticket) if automation_runs(tenant) else None
        if rule is None:
            return
        ticket.team_id = rule.team_id
        ticket.skills = list(rule.skills)
        fields = ["team", "skills"]
        if sla.policy_reselect(ticket, time_zone=tenant.time_zone):
            fields += ["sla_policy", *sla.TIMER_FIELDS]
        ticket.save(update_fields=sorted(set(fields)))
    if ticket.assignee_id is not None or ticket.status not in OPEN_STATUSES:
        return
    team_id = ticket.team_id
    assert team_id is not None  # noqa: S101 - set just above
    _lock_team(team_id)
    setting = _setting(team_id)
    if setting.method == TeamRouting.Method.MANUAL:
        return
    agent = choose_agent(
        team_agents(tenant=tenant, team_id=team_id),
        skills=ticket.skills,
        method=setting.method,
        last=setting.last_user_id,
    )
    if agent is None:
        ticket.queued_at = ticket.queued_at or when
        ticket.save(update_fields=["queued_at"])
        return
    _give(tenant=tenant, ticket=ticket, agent=agent, setting=setting, when=when)
    setting.save(update_fields=["last_user"])


def routing_drain(*, tenant: Tenant, team_id: int, now: datetime.datetime | None = None) -> int:
    """Hand the team's queued tickets, oldest first, to agents with room. Tickets another
    transaction holds are left for the next hand-out. Returns how many were given."""
    when = now or timezone.now()
    with transaction.atomic():
        _lock_team(team_id)
        setting = _setting(team_id)
        if setting.method == TeamRouting.Method.MANUAL:
            return 0
        agents = team_agents(tenant=tenant, team_id=team_id)
        if not agents:
            return 0
        queued = list(
            Ticket.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(team_id=team_id, queued_at__isnull=False)
            .order_by("queued_at", "id")[:DRAIN_BATCH]
        )
        given = 0
        # A queue handed out at once is one ``ticket.updated`` for open pages, not one per ticket.
        with live.coalesced():
            for ticket in queued:
                if ticket.assignee_id is not None or ticket.status not in OPEN_STATUSES:
                    ticket.queued_at = None
                    ticket.save(update_fields=["queued_at"])
                    continue
                agent = choose_agent(
                    agents, skills=ticket.skills, method=setting.method, last=setting.last_user_id
                )
                if agent is None:
                    if not any(a.room > 0 for a in agents):
                        break
                    continue
                _give(tenant=tenant, ticket=ticket, agent=agent, setting=setting, when=when)
                given += 1
        if given:
            setting.save(update_fields=["last_user"])
    return given


def route_decision(ticket: Ticket, *, tenant: Tenant) -> tuple[int | None, int | None]:
    """(team, agent) the rules and the team's method would choose for ``ticket`` now, without
    writing anything: what the benchmark times."""
    team_id = ticket.team_id
    skills = ticket.skills
    if team_id is None:
        rule = rule_for(ticket) if automation_runs(tenant) else None
        if rule is None:
            return None, None
        team_id, skills = rule.team_id, list(rule.skills)
    setting = TeamRouting.objects.filter(team_id=team_id).first()
    method = setting.method if setting else TeamRouting.Method.ROUND_ROBIN
    if method == TeamRouting.Method.MANUAL:
        return team_id, None
    agent = choose_agent(
        team_agents(tenant=tenant, team_id=team_id),
        skills=skills,
        method=method,
        last=setting.last_user_id if setting else None,
    )
    return team_id, agent.user_id if agent else None
