"""The per-day activity rollup is kept by increments on every write and always equals a full
recomputation from the timeline; the dashboard's activity chart reads it."""

from __future__ import annotations

import datetime
import zoneinfo
from collections import Counter

import pytest
from django.db import connection

from crm_modules.activities import api as timeline
from crm_modules.activities.models import Activity, ActivityDay
from crm_modules.reporting.compiler import run
from crm_modules.reporting.dashboard import default_chart
from crm_modules.reporting.definition import check_definition
from tenants.models import Tenant
from tenants.roles import Role
from tests.conftest import Workspace
from tests.sales.conftest import fresh
from tests.sales.factories import DealFactory

pytestmark = pytest.mark.django_db
UTC = datetime.UTC


def _rollup() -> dict[tuple[datetime.date, int | None, str], int]:
    return {
        (row.day, row.author_id, row.kind): row.count
        for row in ActivityDay.objects.exclude(count=0)
    }


def _recount(zone: str) -> dict[tuple[datetime.date, int | None, str], int]:
    tz = zoneinfo.ZoneInfo(zone)
    return dict(
        Counter(
            (a.occurred_at.astimezone(tz).date(), a.author_id, a.kind)
            for a in Activity.objects.all()
        )
    )


def test_rollup_follows_writes_and_deletions_and_equals_a_recount(in_alpha: Workspace) -> None:
    Tenant.objects.filter(pk=in_alpha.tenant.pk).update(time_zone="Asia/Bangkok")
    # The connection's workspace as a request would carry it: read afresh.
    connection.set_tenant(Tenant.objects.get(pk=in_alpha.tenant.pk))  # type: ignore[attr-defined]
    rep, owner = in_alpha.members[Role.SALES_REP].user, in_alpha.owner.user
    kept, dropped = DealFactory.create(), DealFactory.create()
    # 20:00 UTC on 1 March is 03:00 on 2 March in Bangkok.
    for when, author, kind, deal in [
        (datetime.datetime(2026, 3, 1, 20, 0, tzinfo=UTC), rep, "call", kept),
        (datetime.datetime(2026, 3, 1, 21, 0, tzinfo=UTC), rep, "call", kept),
        (datetime.datetime(2026, 3, 1, 10, 0, tzinfo=UTC), rep, "call", dropped),
        (datetime.datetime(2026, 3, 1, 10, 0, tzinfo=UTC), owner, "email", dropped),
        (datetime.datetime(2026, 3, 3, 10, 0, tzinfo=UTC), None, "note", kept),
    ]:
        timeline.activity_log(
            kind=kind, author=author, concerns=[deal], subject="s", occurred_at=when
        )

    assert _rollup() == {
        (datetime.date(2026, 3, 2), rep.pk, "call"): 2,
        (datetime.date(2026, 3, 1), rep.pk, "call"): 1,
        (datetime.date(2026, 3, 1), owner.pk, "email"): 1,
        (datetime.date(2026, 3, 3), None, "note"): 1,
    }
    timeline.timeline_delete_for(dropped)
    assert (
        _rollup()
        == _recount("Asia/Bangkok")
        == {
            (datetime.date(2026, 3, 2), rep.pk, "call"): 2,
            (datetime.date(2026, 3, 3), None, "note"): 1,
        }
    )
    incremental = _rollup()
    assert timeline.activity_days_rebuild() == 2
    assert _rollup() == incremental


def test_the_activity_chart_counts_what_the_timeline_holds(in_alpha: Workspace) -> None:
    rep = in_alpha.members[Role.SALES_REP].user
    deal = DealFactory.create()
    now = datetime.datetime.now(UTC)
    for kind in ("call", "call", "meeting", "stage_change"):
        timeline.activity_log(kind=kind, author=rep, concerns=[deal], subject="s", occurred_at=now)
    chart = default_chart("activities")
    assert chart is not None
    result = run(check_definition(chart.definition), fresh(in_alpha.owner))
    assert [(row.labels[1], row.values[0]) for row in result.rows] == [(rep.full_name, 3)]
    # The drill-through of that bar opens the three activities themselves.
    from crm_modules.reporting.compiler import drill_filters, filtered_records

    definition = check_definition(chart.definition)
    drill = check_definition(
        {"source": "activities", "filters": drill_filters(definition, list(result.rows[0].keys))},
        drill=True,
    )
    assert filtered_records(drill, fresh(in_alpha.owner)).count() == 3


def test_many_records_timelines_go_at_once_keeping_what_another_record_still_shows(
    in_alpha: Workspace,
) -> None:
    rep = in_alpha.members[Role.SALES_REP].user
    kept, first, second = DealFactory.create(), DealFactory.create(), DealFactory.create()
    when = datetime.datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    both = timeline.activity_log(
        kind="call", author=rep, concerns=[first, second], subject="both", occurred_at=when
    )
    shared = timeline.activity_log(
        kind="call", author=rep, concerns=[first, kept], subject="shared", occurred_at=when
    )
    own = timeline.activity_log(
        kind="email", author=rep, concerns=[second], subject="own", occurred_at=when
    )

    timeline.timeline_delete_for_many("sales.deal", [first.pk, second.pk])

    # Linked to the removed deals only: gone, and counted off the rollup once each.
    assert not Activity.objects.filter(pk__in=[both.pk, own.pk]).exists()
    assert [a.pk for a in timeline.timeline(kept)] == [shared.pk]
    assert timeline.timeline(first) == []
    assert timeline.timeline(second) == []
    assert _rollup() == _recount("UTC") == {(datetime.date(2026, 3, 1), rep.pk, "call"): 1}
