"""Adoption for admins: per member and week, how often they signed in, how many activities
they logged and how many records they created — read from the audit log (sign-ins, every
registered ``*.created`` action) and the per-day activity rollup, three grouped queries
whatever the size of the workspace."""

from __future__ import annotations

import datetime
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, DateTimeField, Sum
from django.db.models.functions import Trunc

from crm_modules.activities.api import entry_types
from crm_modules.reporting.registry import get_source
from tenants.audit.actions import all_actions
from tenants.audit.models import AuditEvent
from tenants.models import Membership

WEEKS = 8
SIGNED_IN = "member.signed_in"


@dataclass
class WeekUse:
    sign_ins: int = 0
    activities: int = 0
    created: int = 0


@dataclass
class MemberUse:
    member: Membership
    weeks: list[WeekUse] = field(default_factory=list)

    @property
    def total(self) -> WeekUse:
        return WeekUse(
            sign_ins=sum(w.sign_ins for w in self.weeks),
            activities=sum(w.activities for w in self.weeks),
            created=sum(w.created for w in self.weeks),
        )


def adoption_weeks(today: datetime.date) -> list[datetime.date]:
    """The Mondays of the last ``WEEKS`` weeks, oldest first, this week last."""
    monday = today - datetime.timedelta(days=today.weekday())
    return [monday - datetime.timedelta(weeks=WEEKS - 1 - n) for n in range(WEEKS)]


def adoption(
    *, actor: Membership, weeks: list[datetime.date], zone: zoneinfo.ZoneInfo
) -> list[MemberUse]:
    """Every member of the workspace (active or not) with their use per week."""
    start = datetime.datetime.combine(weeks[0], datetime.time.min, tzinfo=zone)
    index = {week: i for i, week in enumerate(weeks)}
    counts: dict[int, list[WeekUse]] = defaultdict(lambda: [WeekUse() for _ in weeks])
    week = Trunc("created_at", "week", output_field=DateTimeField(), tzinfo=zone)
    created = [a.code for a in all_actions() if a.code.endswith(".created")]
    events = (
        AuditEvent.objects.filter(created_at__gte=start, actor_id__isnull=False)
        .filter(action__in=[SIGNED_IN, *created])
        .annotate(week=week)
        .values("actor_id", "action", "week")
        .annotate(n=Count("id"))
    )
    for row in events:
        i = index.get(row["week"].date())
        actor_id = row["actor_id"]
        if i is None or actor_id is None:
            continue
        use = counts[actor_id][i]
        if row["action"] == SIGNED_IN:
            use.sign_ins += row["n"]
        else:
            use.created += row["n"]
    days = get_source("activity_days")
    if days is not None:
        logged = (
            days.model._default_manager.filter(
                day__gte=weeks[0],
                author_id__isnull=False,
                # What members log themselves, not the entries the system writes.
                kind__in=[entry.code for entry in entry_types(manual=True)],
            )
            .annotate(week=Trunc("day", "week"))
            .values("author_id", "week")
            .annotate(n=Sum("count"))
        )
        for row in logged:
            i = index.get(row["week"])
            if i is not None:
                counts[row["author_id"]][i].activities += row["n"] or 0
    members = Membership.objects.filter(tenant_id=actor.tenant_id).select_related("user")
    rows = [MemberUse(member=m, weeks=counts[m.user_id]) for m in members]
    return sorted(rows, key=lambda r: (str(r.member.user).casefold(), r.member.pk))


@dataclass
class ModuleWeek:
    members: set[int] = field(default_factory=set)
    actions: int = 0


@dataclass
class ModuleUse:
    """How one module was used week by week: the members who did something in it and how
    many things they did (audit-logged actions plus timeline entries they wrote)."""

    module: str
    weeks: list[ModuleWeek] = field(default_factory=list)

    @property
    def members(self) -> int:
        return len(set().union(*(w.members for w in self.weeks)))

    @property
    def actions(self) -> int:
        return sum(w.actions for w in self.weeks)


def module_use(*, weeks: list[datetime.date], zone: zoneinfo.ZoneInfo) -> list[ModuleUse]:
    """Per module, week by week: active members and their actions. Modules are named by what
    they registered — each audit action's module (``register_action``) and each timeline entry
    type's (``register_entry_type``) — so a new module shows here without a change. Sign-ins
    are left out (the members' table counts them); two grouped queries."""
    start = datetime.datetime.combine(weeks[0], datetime.time.min, tzinfo=zone)
    index = {week: i for i, week in enumerate(weeks)}
    by_action = {a.code: str(a.module) for a in all_actions() if a.code != SIGNED_IN}
    by_entry = {e.code: str(e.module) for e in entry_types() if e.module is not None}
    found: dict[str, list[ModuleWeek]] = defaultdict(lambda: [ModuleWeek() for _ in weeks])
    week = Trunc("created_at", "week", output_field=DateTimeField(), tzinfo=zone)
    events = (
        AuditEvent.objects.filter(
            created_at__gte=start, actor_id__isnull=False, action__in=list(by_action)
        )
        .annotate(week=week)
        .values("actor_id", "action", "week")
        .annotate(n=Count("id"))
    )
    for row in events:
        i = index.get(row["week"].date())
        if i is None or row["actor_id"] is None:
            continue
        used = found[by_action[row["action"]]][i]
        used.members.add(row["actor_id"])
        used.actions += row["n"]
    days = get_source("activity_days")
    if days is not None and by_entry:
        logged = (
            days.model._default_manager.filter(
                day__gte=weeks[0], author_id__isnull=False, kind__in=list(by_entry)
            )
            .annotate(week=Trunc("day", "week"))
            .values("author_id", "kind", "week")
            .annotate(n=Sum("count"))
        )
        for row in logged:
            i = index.get(row["week"])
            if i is None or not row["n"]:
                continue
            used = found[by_entry[row["kind"]]][i]
            used.members.add(row["author_id"])
            used.actions += row["n"]
    rows = [ModuleUse(module=name, weeks=used) for name, used in found.items()]
    return sorted(rows, key=lambda r: (-r.actions, r.module.casefold()))
