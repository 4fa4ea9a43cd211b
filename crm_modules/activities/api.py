"""The timeline facade (D18): the only part of this module other modules import.

Entry types are a registry (``register_entry_type``) so later modules add theirs (tickets,
campaigns, documents) without editing this file. ``activity_log`` writes one activity linked to
every record it concerns; ``timeline`` reads a record's history, newest first, by keyset.
"""

from __future__ import annotations

import datetime
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm_modules.activities.models import Activity, ActivityDay, ActivityLink
from crm_modules.activities.module import LOG_ACTIVITY
from crm_platform.errors import ServiceError
from tenants.models import User
from tenants.modules import (
    CONTACT_EVENTS,
    CONTACT_MET,
    CONTACT_REPLIED,
    RecordEvent,
    record_events,
)

__all__ = [
    "CALL",
    "COMPANY_CHANGE",
    "CONVERSION",
    "EMAIL",
    "LOG_ACTIVITY",
    "MEETING",
    "MESSAGE",
    "NOTE",
    "OWNER_CHANGE",
    "STAGE_CHANGE",
    "TASK_DONE",
    "Activity",
    "ActivityInput",
    "EntryType",
    "activities_delete",
    "activities_existing",
    "activities_log_many",
    "activity_days_rebuild",
    "activity_links",
    "activity_log",
    "activity_recent_exists",
    "entry_type",
    "entry_types",
    "link_key",
    "register_entry_type",
    "timeline",
    "timeline_delete_for",
    "timeline_delete_for_many",
    "timeline_move",
    "timeline_move_back",
    "timeline_share",
]


@dataclass(frozen=True)
class EntryType:
    code: str
    label: str | Promise
    # Whether a member logs it by hand (a call) or only the system writes it (a stage change).
    manual: bool = False
    # The contact event (tenants.modules.CONTACT_EVENTS) an entry of this type about a contact
    # announces: always, or only when it is inbound (a message from the contact).
    contact_event: str = ""
    inbound_contact_event: str = ""
    # The module a member uses when their entry of this type is written (adoption's "which
    # modules are used"); None: the entry says nothing of that (the audit log already does).
    module: str | Promise | None = None


_TYPES: dict[str, EntryType] = {}
# What members log by hand (calls, notes) counts as using the activities module.
ACTIVITIES_MODULE = gettext_lazy("Activities")


def register_entry_type(
    code: str,
    *,
    label: str | Promise,
    manual: bool = False,
    contact_event: str = "",
    inbound_contact_event: str = "",
    module: str | Promise | None = None,
) -> EntryType:
    if code in _TYPES:
        raise ValueError(f"Timeline entry type {code} is already registered")
    for event in (contact_event, inbound_contact_event):
        if event and event not in CONTACT_EVENTS:
            raise ValueError(f"Unknown contact event {event!r}")
    if module is None and manual:
        module = ACTIVITIES_MODULE
    entry = EntryType(
        code=code,
        label=label,
        manual=manual,
        contact_event=contact_event,
        inbound_contact_event=inbound_contact_event,
        module=module,
    )
    _TYPES[code] = entry
    return entry


def entry_types(*, manual: bool | None = None) -> list[EntryType]:
    return [t for t in _TYPES.values() if manual is None or t.manual is manual]


def entry_type(code: str) -> EntryType | None:
    return _TYPES.get(code)


NOTE = register_entry_type("note", label=gettext_lazy("Note"), manual=True)
CALL = register_entry_type("call", label=gettext_lazy("Call"), manual=True)
MEETING = register_entry_type(
    "meeting", label=gettext_lazy("Meeting"), manual=True, contact_event=CONTACT_MET
)
EMAIL = register_entry_type(
    "email", label=gettext_lazy("Email"), manual=True, inbound_contact_event=CONTACT_REPLIED
)
MESSAGE = register_entry_type(
    "message", label=gettext_lazy("Message"), manual=True, inbound_contact_event=CONTACT_REPLIED
)
TASK_DONE = register_entry_type("task_done", label=gettext_lazy("Task completed"))
STAGE_CHANGE = register_entry_type("stage_change", label=gettext_lazy("Stage changed"))
OWNER_CHANGE = register_entry_type("owner_change", label=gettext_lazy("Owner changed"))
CONVERSION = register_entry_type("conversion", label=gettext_lazy("Lead converted"))
COMPANY_CHANGE = register_entry_type("company_change", label=gettext_lazy("Company changed"))


def link_key(record: models.Model) -> tuple[str, int]:
    """How a record is named in links: its model label and id."""
    return record._meta.label_lower, int(record.pk)


def activity_log(
    *,
    kind: str,
    author: User | None,
    concerns: Iterable[models.Model | tuple[str, int]],
    subject: str = "",
    body: str = "",
    channel: str = "",
    direction: str = "",
    outcome: str = "",
    occurred_at: datetime.datetime | None = None,
    data: dict[str, Any] | None = None,
) -> Activity:
    """Write one entry linked to each record in ``concerns``. The caller has checked that the
    author may log on those records (``LOG_ACTIVITY`` and the record's own capability)."""
    if kind not in _TYPES:
        raise ServiceError(_("Choose a type of activity from the list."), field="kind")
    if len(subject) > 200:
        raise ServiceError(_("The subject can be at most 200 characters."), field="subject")
    if direction not in Activity.Direction.values:
        raise ServiceError(_("Choose inbound or outbound."), field="direction")
    when = occurred_at or timezone.now()
    if timezone.is_naive(when):
        raise ServiceError(_("Give the time with its time zone."), field="occurred_at")
    keys = {item if isinstance(item, tuple) else link_key(item) for item in concerns}
    if not keys:
        raise ServiceError(_("An activity must concern at least one record."), field="concerns")
    with transaction.atomic():
        activity = Activity.objects.create(
            kind=kind,
            subject=subject,
            body=body,
            channel=channel,
            direction=direction,
            outcome=outcome,
            occurred_at=when,
            author=author,
            data=data or {},
        )
        ActivityLink.objects.bulk_create(
            ActivityLink(
                activity=activity, target_type=target_type, target_id=target_id, occurred_at=when
            )
            for target_type, target_id in sorted(keys)
        )
        _days_add([(kind, author.pk if author is not None else None, when, 1)])
        _announce_contact_events([(activity.pk, kind, direction, tuple(keys))])
    return activity


@dataclass(frozen=True)
class ActivityInput:
    """One entry for ``activities_log_many``; ``concerns`` as ``link_key`` gives them."""

    kind: str
    concerns: tuple[tuple[str, int], ...]
    occurred_at: datetime.datetime
    subject: str = ""
    body: str = ""
    channel: str = ""
    direction: str = ""
    outcome: str = ""
    author_id: int | None = None


def activity_check(entry: ActivityInput) -> None:
    """What ``activity_log`` refuses, checked before anything of a batch is written."""
    if entry.kind not in _TYPES:
        raise ServiceError(_("Choose a type of activity from the list."), field="kind")
    if len(entry.subject) > 200:
        raise ServiceError(_("The subject can be at most 200 characters."), field="subject")
    if len(entry.body) > 20_000:
        raise ServiceError(_("The details can be at most 20000 characters."), field="body")
    if entry.direction not in Activity.Direction.values:
        raise ServiceError(_("Choose inbound or outbound."), field="direction")
    if timezone.is_naive(entry.occurred_at):
        raise ServiceError(_("Give the time with its time zone."), field="occurred_at")
    if not entry.concerns:
        raise ServiceError(_("An activity must concern at least one record."), field="concerns")


def activities_log_many(entries: Sequence[ActivityInput]) -> list[int]:
    """Write many entries at once (imports): one insert for the activities, one for their
    links, one update of the daily rollup. The caller has checked the author's rights."""
    for entry in entries:
        activity_check(entry)
    if not entries:
        return []
    now = timezone.now()
    with transaction.atomic():
        activities = Activity.objects.bulk_create(
            Activity(
                kind=entry.kind,
                subject=entry.subject,
                body=entry.body,
                channel=entry.channel,
                direction=entry.direction,
                outcome=entry.outcome[:100],
                occurred_at=entry.occurred_at,
                author_id=entry.author_id,
                created_at=now,
            )
            for entry in entries
        )
        ActivityLink.objects.bulk_create(
            ActivityLink(
                activity=activity,
                target_type=target_type,
                target_id=target_id,
                occurred_at=entry.occurred_at,
            )
            for activity, entry in zip(activities, entries, strict=True)
            for target_type, target_id in sorted(set(entry.concerns))
        )
        _days_add_many([(e.kind, e.author_id, e.occurred_at, 1) for e in entries])
        _announce_contact_events(
            [
                (activity.pk, e.kind, e.direction, e.concerns)
                for activity, e in zip(activities, entries, strict=True)
            ]
        )
    return [int(activity.pk) for activity in activities]


_CONTACT = "sales.contact"


def _announce_contact_events(
    entries: Sequence[tuple[int, str, str, Collection[tuple[str, int]]]],
) -> None:
    """The contact events the entries' types declare (a reply, a meeting, a ticket), announced
    together for the whole batch; each entry is its own occurrence."""
    events: list[RecordEvent] = []
    for pk, kind, direction, concerns in entries:
        entry = _TYPES[kind]
        event = entry.contact_event or (
            entry.inbound_contact_event if direction == Activity.Direction.INBOUND else ""
        )
        if event:
            events.extend(
                RecordEvent(event, target_id, f"activity:{pk}", {"entry": kind})
                for target_type, target_id in sorted(set(concerns))
                if target_type == _CONTACT
            )
    record_events(events)


def activities_delete(ids: Collection[int]) -> int:
    """Remove entries (an undone import's); the daily rollup follows."""
    with transaction.atomic():
        found = Activity.objects.filter(pk__in=list(ids))
        _days_add_many(
            [
                (kind, author, when, -1)
                for kind, author, when in found.values_list("kind", "author_id", "occurred_at")
            ]
        )
        count = len(found.values_list("pk", flat=True))
        found.delete()
    return count


def activities_existing(
    keys: Collection[tuple[str, datetime.datetime, str, str, int]],
) -> set[tuple[str, datetime.datetime, str, str, int]]:
    """Which of (kind, occurred_at, subject, target type, target id) the timeline already
    holds: an import of the same file twice finds its entries. One query."""
    if not keys:
        return set()
    condition = models.Q(pk__in=[])
    for _kind, when, _subject, target_type, target_id in keys:
        condition |= models.Q(target_type=target_type, target_id=target_id, occurred_at=when)
    found = ActivityLink.objects.filter(condition).values_list(
        "activity__kind", "occurred_at", "activity__subject", "target_type", "target_id"
    )
    return {row for row in found if row in keys}


def timeline(
    record: models.Model, *, limit: int = 20, before: tuple[datetime.datetime, int] | None = None
) -> list[Activity]:
    """A record's history, newest first; ``before`` is the (occurred_at, id) of the last entry
    of the previous page (keyset). One query."""
    target_type, target_id = link_key(record)
    links = ActivityLink.objects.filter(target_type=target_type, target_id=target_id)
    if before is not None:
        when, activity_id = before
        links = links.filter(
            models.Q(occurred_at__lt=when) | models.Q(occurred_at=when, activity_id__lt=activity_id)
        )
    ids = links.order_by("-occurred_at", "-activity_id").values("activity_id")[:limit]
    return list(Activity.objects.filter(pk__in=ids).order_by("-occurred_at", "-id"))


# "Recent" on a member's home page: entries of the last RECENT_DAYS on the records they own.
RECENT_DAYS = 90
# Up to this many records, their own newest entries are read (one index probe each); past it,
# the workspace's newest entries are walked until enough fall on those records.
RECENT_BY_RECORD_MAX = 2_000


def timeline_recent(
    sources: Iterable[tuple[type[models.Model], models.QuerySet[Any]]], *, limit: int = 10
) -> list[tuple[Activity, str, int]]:
    """The newest entries of the last ``RECENT_DAYS`` on any of the records of ``sources``
    (each a model and a queryset of its ids), each with the record it was found through.
    Three queries (one when there is no record), whose cost does not grow with the timeline:
    the records' ids, then either each record's newest entries by the timeline index (a few
    records) or a walk down the newest entries that stops after ``limit`` matches (many)."""
    since = timezone.now() - datetime.timedelta(days=RECENT_DAYS)
    labelled = [(model._meta.label_lower, ids) for model, ids in sources]
    owned = _owned_ids(labelled)
    if not owned:
        return []
    if len(owned) <= RECENT_BY_RECORD_MAX:
        found = _recent_by_record(owned, since=since, limit=limit)
    else:
        found = _recent_by_walk(labelled, since=since, limit=limit)
    entries = Activity.objects.in_bulk([activity_id for activity_id, _t, _i in found])
    return [(entries[a], t, i) for a, t, i in found if a in entries]


def _owned_ids(sources: list[tuple[str, models.QuerySet[Any]]]) -> list[tuple[str, int]]:
    """(target type, id) of the sources' records, at most one past RECENT_BY_RECORD_MAX per
    source: one query."""
    parts = [
        ids.values_list(models.Value(label, output_field=models.CharField()), "id")[
            : RECENT_BY_RECORD_MAX + 1
        ]
        for label, ids in sources
    ]
    if not parts:
        return []
    union = parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]
    return [(str(label), int(pk)) for label, pk in union]


def _recent_by_record(
    owned: list[tuple[str, int]], *, since: datetime.datetime, limit: int
) -> list[tuple[int, str, int]]:
    """Each record's newest entries by the timeline index, merged: one query."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT l.activity_id, l.target_type, l.target_id
            FROM unnest(%s::text[], %s::bigint[]) AS r(target_type, target_id)
            CROSS JOIN LATERAL (
                SELECT activity_id, target_type, target_id, occurred_at
                FROM activities_activitylink
                WHERE target_type = r.target_type AND target_id = r.target_id
                    AND occurred_at >= %s
                ORDER BY occurred_at DESC, activity_id DESC
                LIMIT %s
            ) l
            ORDER BY l.occurred_at DESC, l.activity_id DESC
            LIMIT %s
            """,
            [[t for t, _i in owned], [i for _t, i in owned], since, limit, limit * 3],
        )
        rows = cursor.fetchall()
    seen: set[int] = set()
    found = []
    for activity_id, target_type, target_id in rows:
        if activity_id not in seen:
            seen.add(activity_id)
            found.append((activity_id, target_type, target_id))
    return found[:limit]


def _recent_by_walk(
    sources: list[tuple[str, models.QuerySet[Any]]], *, since: datetime.datetime, limit: int
) -> list[tuple[int, str, int]]:
    """The workspace's newest entries, walked by the ``activity_recent`` index until ``limit``
    fall on the sources' records (each entry checked by the link index): one query."""
    on_sources = models.Q(pk__in=[])
    for label, ids in sources:
        on_sources |= models.Q(target_type=label, target_id__in=ids)
    link = ActivityLink.objects.filter(on_sources, activity_id=models.OuterRef("pk")).order_by(
        "target_type", "target_id"
    )
    rows = (
        Activity.objects.filter(occurred_at__gte=since)
        .annotate(
            found_type=models.Subquery(link.values("target_type")[:1]),
            found_id=models.Subquery(link.values("target_id")[:1]),
        )
        .filter(found_type__isnull=False)
        .order_by("-occurred_at", "-id")
        .values_list("id", "found_type", "found_id")[:limit]
    )
    return [(int(a), str(t), int(i)) for a, t, i in rows]


def timeline_delete_for(record: models.Model) -> None:
    """Forget a deleted record's links; activities linked to nothing else go too."""
    target_type, target_id = link_key(record)
    timeline_delete_for_many(target_type, [target_id])


def timeline_delete_for_many(target_type: str, ids: Collection[int]) -> None:
    """``timeline_delete_for`` for many records of one model (``target_type``, its
    ``link_key`` label) at once, in a fixed number of queries (an undone import's records)."""
    if not ids:
        return
    links = ActivityLink.objects.filter(target_type=target_type, target_id__in=list(ids))
    activity_ids = list(links.values_list("activity_id", flat=True).distinct())
    links.delete()
    orphans = Activity.objects.filter(pk__in=activity_ids, links__isnull=True)
    _days_add_many(
        [(k, a, when, -1) for k, a, when in orphans.values_list("kind", "author_id", "occurred_at")]
    )
    orphans.delete()


def timeline_share(*, source: models.Model, target: models.Model) -> int:
    """Show a record's whole history on another record too (a converted lead's history on its
    contact, company and deal); the source keeps it. Returns the number of entries shared."""
    source_type, source_id = link_key(source)
    target_type, target_id = link_key(target)
    already = ActivityLink.objects.filter(target_type=target_type, target_id=target_id)
    rows = [
        ActivityLink(
            activity_id=activity_id,
            target_type=target_type,
            target_id=target_id,
            occurred_at=occurred_at,
        )
        for activity_id, occurred_at in ActivityLink.objects.filter(
            target_type=source_type, target_id=source_id
        )
        .exclude(activity_id__in=already.values("activity_id"))
        .values_list("activity_id", "occurred_at")
    ]
    ActivityLink.objects.bulk_create(rows)
    return len(rows)


# --- the per-day rollup reports read (ActivityDay) --------------------------------------------

_DAYS = ActivityDay._meta.db_table
_ACTIVITIES = Activity._meta.db_table


def _workspace_zone() -> str:
    """The time zone of the workspace whose schema the connection is on."""
    zone = getattr(getattr(connection, "tenant", None), "time_zone", None)
    if zone:
        return str(zone)
    from tenants.models import Tenant

    found = (
        Tenant.objects.filter(schema_name=connection.schema_name)  # type: ignore[attr-defined]
        .values_list("time_zone", flat=True)
        .first()
    )
    return found or "UTC"


def _days_add(changes: list[tuple[str, int | None, datetime.datetime, int]]) -> None:
    """Add ``delta`` to the day of each (kind, author, when): one upsert per change, so two
    writers never overwrite each other's counts."""
    if not changes:
        return
    zone = _workspace_zone()
    with connection.cursor() as cursor:
        for kind, author_id, when, delta in changes:
            # Table names are the models' own, never input.
            cursor.execute(
                f"INSERT INTO {_DAYS} (day, author_id, kind, count)"  # noqa: S608
                " VALUES ((%s AT TIME ZONE %s)::date, %s, %s, %s)"
                " ON CONFLICT (day, author_id, kind)"
                f" DO UPDATE SET count = {_DAYS}.count + EXCLUDED.count",
                [when, zone, author_id, kind, delta],
            )


def _days_add_many(changes: list[tuple[str, int | None, datetime.datetime, int]]) -> None:
    """``_days_add`` for a whole batch in one statement: the changes summed per day first."""
    if not changes:
        return
    kinds, authors, whens, deltas = (list(column) for column in zip(*changes, strict=True))
    with connection.cursor() as cursor:
        # Table names are the models' own, never input.
        cursor.execute(
            f"INSERT INTO {_DAYS} (day, author_id, kind, count)"  # noqa: S608
            " SELECT (w AT TIME ZONE %s)::date, a, k, sum(d)"
            " FROM unnest(%s::text[], %s::bigint[], %s::timestamptz[], %s::int[]) AS t(k, a, w, d)"
            " GROUP BY 1, 2, 3"
            " ON CONFLICT (day, author_id, kind)"
            f" DO UPDATE SET count = {_DAYS}.count + EXCLUDED.count",
            [_workspace_zone(), kinds, authors, whens, deltas],
        )


def activity_days_rebuild() -> int:
    """Recompute the rollup from the timeline; returns the number of day rows."""
    zone = _workspace_zone()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {_DAYS}")  # noqa: S608
        cursor.execute(
            f"INSERT INTO {_DAYS} (day, author_id, kind, count)"  # noqa: S608
            f" SELECT (occurred_at AT TIME ZONE %s)::date, author_id, kind, count(*)"
            f" FROM {_ACTIVITIES} GROUP BY 1, 2, 3",
            [zone],
        )
        return int(cursor.rowcount)


def timeline_move(*, source: models.Model, target: models.Model) -> dict[str, Any]:
    """Move a record's history to another record of the same kind (a merge). An entry already
    on the target loses only its link to the source. Returns what ``timeline_move_back``
    needs to undo it."""
    source_type, source_id = link_key(source)
    target_type, target_id = link_key(target)
    links = ActivityLink.objects.filter(target_type=source_type, target_id=source_id)
    on_target = ActivityLink.objects.filter(target_type=target_type, target_id=target_id)
    shared = links.filter(activity_id__in=on_target.values("activity_id"))
    dropped = [
        [activity_id, occurred_at.isoformat()]
        for activity_id, occurred_at in shared.values_list("activity_id", "occurred_at")
    ]
    shared.delete()
    moved = list(links.values_list("pk", flat=True))
    links.update(target_type=target_type, target_id=target_id)
    return {"type": source_type, "id": source_id, "moved": moved, "dropped": dropped}


def timeline_move_back(moved: dict[str, Any]) -> None:
    """Undo ``timeline_move`` from what it returned."""
    ActivityLink.objects.filter(pk__in=moved["moved"]).update(
        target_type=moved["type"], target_id=moved["id"]
    )
    ActivityLink.objects.bulk_create(
        [
            ActivityLink(
                activity_id=activity_id,
                target_type=moved["type"],
                target_id=moved["id"],
                occurred_at=datetime.datetime.fromisoformat(occurred_at),
            )
            for activity_id, occurred_at in moved["dropped"]
            if Activity.objects.filter(pk=activity_id).exists()
        ],
        ignore_conflicts=True,
    )


def activity_recent_exists(
    *,
    target_type: str,
    since: datetime.datetime,
    kind: str = "",
    direction: str = "",
) -> models.Exists:
    """A condition for a query of records of ``target_type`` ("sales.contact"): the record has
    an entry (of ``kind``, in ``direction``, when given) that occurred at ``since`` or later.
    Served by the timeline index (target, occurred_at)."""
    links = ActivityLink.objects.filter(
        target_type=target_type, target_id=models.OuterRef("pk"), occurred_at__gte=since
    )
    if kind:
        links = links.filter(activity__kind=kind)
    if direction:
        links = links.filter(activity__direction=direction)
    return models.Exists(links)


def activity_links(
    *, target_type: str, kind: str = "", since: datetime.datetime | None = None
) -> models.QuerySet[ActivityLink]:
    """The timeline links of records of ``target_type`` ("sales.contact"), of entries of
    ``kind`` and that occurred at ``since`` or later when given, for conditions on those
    records: correlate on ``target_id`` (``EXISTS``) or group by it (counts); ``occurred_at``
    is the entry's moment. Served by the timeline index (target, occurred_at)."""
    links = ActivityLink.objects.filter(target_type=target_type)
    if kind:
        links = links.filter(activity__kind=kind)
    if since is not None:
        links = links.filter(occurred_at__gte=since)
    return links
