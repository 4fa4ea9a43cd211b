"""Per-workspace alarms for periodic sweeps.

A sweep such as "remind assignees of tasks due soon" runs every minute. Entering every
workspace schema to find out whether it has anything due costs a few milliseconds each, which
at 10,000 workspaces is most of a worker's minute. Instead, whatever makes work for a sweep
(a task with a due time) sets the workspace's alarm for that kind to the earliest time it is
needed, in the same transaction; the sweep reads the alarms that are due, visits only those
workspaces, and after each visit resets the alarm to the next time that workspace needs it.
"""

from __future__ import annotations

import datetime

from django.db import connection, transaction

from tenants.models import Tenant, WorkspaceAlarm


def alarm_at(*, kind: str, at: datetime.datetime | None, schema_name: str | None = None) -> None:
    """The sweep ``kind`` must visit this workspace (the connection's, unless named) by
    ``at``; an earlier alarm already set stays."""
    if at is None:
        return
    schema = schema_name or connection.schema_name  # type: ignore[attr-defined]
    table = WorkspaceAlarm._meta.db_table
    with connection.cursor() as cursor:
        # The table is in the public schema, on every workspace's search path.
        cursor.execute(
            f"INSERT INTO public.{table} (schema_name, kind, due_at, version)"  # noqa: S608
            " VALUES (%s, %s, %s, 0)"
            " ON CONFLICT (kind, schema_name) DO UPDATE"
            f" SET due_at = LEAST({table}.due_at, EXCLUDED.due_at),"
            f" version = {table}.version + 1",
            [schema, kind, at],
        )


def alarms_due(*, kind: str, now: datetime.datetime) -> list[tuple[Tenant, int]]:
    """The live workspaces whose alarm of ``kind`` is due, each with the alarm's version (for
    ``alarm_reset``), earliest first. Alarms of workspaces that no longer exist are dropped."""
    due = list(
        WorkspaceAlarm.objects.filter(kind=kind, due_at__lte=now)
        .order_by("due_at")
        .values_list("schema_name", "version")
    )
    if not due:
        return []
    tenants = {
        tenant.schema_name: tenant
        for tenant in Tenant.objects.filter(
            schema_name__in=[schema for schema, _ in due], state=Tenant.State.ACTIVE
        )
    }
    gone = [schema for schema, _ in due if schema not in tenants]
    if gone:
        WorkspaceAlarm.objects.filter(kind=kind, schema_name__in=gone).delete()
    return [(tenants[schema], version) for schema, version in due if schema in tenants]


def alarm_reset(
    *, kind: str, schema_name: str, version: int, next_at: datetime.datetime | None
) -> bool:
    """After a visit: the workspace next needs the sweep at ``next_at`` (None: not until a
    writer says so). Does nothing, and answers False, if a writer set the alarm since it was
    read: that time stands and the next sweep looks again."""
    alarms = WorkspaceAlarm.objects.filter(kind=kind, schema_name=schema_name, version=version)
    with transaction.atomic():
        if next_at is None:
            deleted, _ = alarms.delete()
            return deleted > 0
        return alarms.update(due_at=next_at, version=version + 1) > 0
