"""The open pipeline by stage reads the stage totals the deal table's triggers keep (ADR 0074):
the same numbers as summing the deals, narrowed to the viewer's reach, without reading the
deals, open deals in other currencies converted at the latest rate; the deals are read when
the totals cannot answer (a date filter, a sum over closed deals in another currency)."""

from __future__ import annotations

import datetime
import json
import re
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm_modules.reporting import compiler
from crm_modules.reporting.compiler import Result, run
from crm_modules.reporting.dashboard import default_chart
from crm_modules.reporting.definition import check_definition
from crm_modules.reporting.models import ExchangeRate
from tenants.models import Membership, Team
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.sales.conftest import fresh
from tests.sales.factories import DealFactory

pytestmark = pytest.mark.django_db

_CHART = default_chart("pipeline")
assert _CHART is not None
assert _CHART.definition is not None
PIPELINE: dict[str, Any] = dict(_CHART.definition)
BY_STAGE_AND_OWNER = {
    "source": "deals",
    "filters": [{"field": "status", "op": "in", "value": ["open"]}],
    "group_by": [{"field": "stage"}, {"field": "owner"}],
    "measures": [{"agg": "count"}, {"agg": "sum", "field": "amount"}],
    "chart": "stacked_bar",
}


@pytest.fixture
def team(seeded: dict[str, Any], in_alpha: Workspace) -> dict[str, Any]:
    """The Manager and the Sales rep in one team, each with open deals; the Owner outside
    it, with open deals of their own."""
    group = Team.objects.create(tenant=in_alpha.tenant, name="Bangkok")
    for role in (Role.MANAGER, Role.SALES_REP):
        Membership.objects.filter(pk=in_alpha.members[role].pk).update(team=group)
    manager = in_alpha.members[Role.MANAGER].user
    stages = seeded["stages"]
    for stage, amount in (("New", "30.25"), ("Proposal", "12.50"), ("Won", "5")):
        DealFactory.create(
            owner=manager,
            pipeline=seeded["pipeline"],
            stage=stages[stage],
            amount=Decimal(amount),
            status="won" if stage == "Won" else "open",
        )
    # An open deal nobody owns: the Owner sees it, a team does not.
    DealFactory.create(
        owner=None, pipeline=seeded["pipeline"], stage=stages["New"], amount=Decimal("9")
    )
    return seeded


def _table(result: Result) -> list[tuple[Any, ...]]:
    return [(*row.keys, *row.labels, *row.values) for row in result.rows]


def _from_deals(raw: dict[str, Any], member: Any) -> list[tuple[Any, ...]]:
    """The same definition summed over the deal table, as before the totals."""
    definition = check_definition(raw)
    return _table(compiler._run(definition, member, compiler.filtered_records(definition, member)))


def _tables(queries: CaptureQueriesContext) -> tuple[bool, bool]:
    """Whether the queries read the deal table, and the stage totals."""
    sql = [q["sql"] for q in queries.captured_queries]
    return (
        any('"sales_deal"' in s for s in sql),
        any('"sales_dealstagetotal"' in s for s in sql),
    )


@pytest.mark.parametrize("raw", [PIPELINE, BY_STAGE_AND_OWNER], ids=["pipeline", "by-owner"])
@pytest.mark.parametrize("role", [Role.SALES_REP, Role.MANAGER, Role.OWNER])
def test_the_chart_reads_the_totals_and_shows_the_numbers_of_the_deals(
    team: dict[str, Any], in_alpha: Workspace, role: str, raw: dict[str, Any]
) -> None:
    member = fresh(in_alpha.members[role])
    with CaptureQueriesContext(connection) as queries:
        result = run(check_definition(raw), member)
    assert _tables(queries) == (False, True)
    assert result.messages == []
    assert result.currency == "USD"
    assert _table(result) == _from_deals(raw, member)


def test_each_viewer_sees_the_sums_of_their_reach(
    team: dict[str, Any], in_alpha: Workspace
) -> None:
    def rows(role: str) -> list[tuple[Any, ...]]:
        result = run(check_definition(PIPELINE), fresh(in_alpha.members[role]))
        return [(*row.labels, *row.values) for row in result.rows]

    # The rep: their own open deals; the manager: theirs and their team's; the owner: all.
    assert rows(Role.SALES_REP) == [
        ("New", Decimal("100.00"), 1),
        ("Proposal", Decimal("200.00"), 1),
    ]
    assert rows(Role.MANAGER) == [
        ("New", Decimal("130.25"), 2),
        ("Proposal", Decimal("212.50"), 2),
    ]
    assert rows(Role.OWNER) == [
        ("New", Decimal("189.25"), 4),
        ("Proposal", Decimal("212.50"), 2),
    ]


def test_the_dashboard_card_reads_no_deal(team: dict[str, Any], in_alpha: Workspace) -> None:
    client = workspace_client(in_alpha.members[Role.SALES_REP].user, in_alpha.tenant)
    client.get("/reporting/")  # the session, outside the count
    with CaptureQueriesContext(connection) as queries:
        html = client.get("/reporting/chart/?key=pipeline").content.decode()
    assert _tables(queries) == (False, True)
    match = re.search(r'<script id="figure-pipeline" type="application/json">(.*?)</script>', html)
    assert match
    assert json.loads(match.group(1))["data"][0]["x"] == [100.0, 200.0]


def test_a_date_filter_or_another_measure_reads_the_deals(
    team: dict[str, Any], in_alpha: Workspace
) -> None:
    member = fresh(in_alpha.members[Role.MANAGER])
    soon = (timezone.now() + datetime.timedelta(days=400)).date().isoformat()
    for raw in (
        {
            **PIPELINE,
            "filters": [
                *PIPELINE["filters"],
                {"field": "closed_at", "op": "is_empty", "value": True},
            ],
        },
        {**PIPELINE, "filters": [{"field": "expected_close_date", "op": "before", "value": soon}]},
        {**PIPELINE, "measures": [{"agg": "avg", "field": "amount"}]},
        {**PIPELINE, "group_by": [{"field": "pipeline"}]},
    ):
        with CaptureQueriesContext(connection) as queries:
            result = run(check_definition(raw), member)
        assert _tables(queries)[0], raw
        assert _table(result) == _from_deals(raw, member)


def test_open_deals_in_another_currency_are_converted_from_the_totals(
    team: dict[str, Any], in_alpha: Workspace
) -> None:
    """An open deal takes the latest rate, so its stage's EUR sum converts as a whole: the
    same figure as converting deal by deal, without reading a deal."""
    today = timezone.now().date()
    ExchangeRate.objects.create(
        base="USD", currency="EUR", rate=Decimal("1.2"), valid_from=today - datetime.timedelta(9)
    )
    # The latest rate is the one the open deals take, not the older one.
    ExchangeRate.objects.create(
        base="USD", currency="EUR", rate=Decimal("1.15"), valid_from=today - datetime.timedelta(1)
    )
    for amount in ("10", "7.33"):
        DealFactory.create(
            owner=team["rep"],
            pipeline=team["pipeline"],
            stage=team["stages"]["New"],
            amount=Decimal(amount),
            currency="EUR",
        )
    rep = fresh(in_alpha.members[Role.SALES_REP])
    with CaptureQueriesContext(connection) as queries:
        result = run(check_definition(PIPELINE), rep)
    assert _tables(queries) == (False, True)
    assert result.messages == []
    assert [(*row.labels, *row.values) for row in result.rows] == [
        ("New", Decimal("119.9295"), 3),
        ("Proposal", Decimal("200.00"), 1),
    ]
    assert _table(result) == _from_deals(PIPELINE, rep)
    for role in (Role.MANAGER, Role.OWNER):
        member = fresh(in_alpha.members[role])
        assert _table(run(check_definition(BY_STAGE_AND_OWNER), member)) == _from_deals(
            BY_STAGE_AND_OWNER, member
        )


def test_a_currency_without_a_rate_is_left_out_and_named(
    team: dict[str, Any], in_alpha: Workspace
) -> None:
    DealFactory.create(
        owner=team["rep"],
        pipeline=team["pipeline"],
        stage=team["stages"]["New"],
        amount=Decimal("10"),
        currency="THB",
    )
    rep = fresh(in_alpha.members[Role.SALES_REP])
    with CaptureQueriesContext(connection) as queries:
        result = run(check_definition(PIPELINE), rep)
    assert _tables(queries) == (False, True)
    assert _table(result) == _from_deals(PIPELINE, rep)
    assert result.rows[0].values == (Decimal("100.00"), 2)
    assert len(result.messages) == 1
    assert "THB" in str(result.messages[0])


def test_closed_deals_in_another_currency_are_converted_from_the_deals(
    team: dict[str, Any], in_alpha: Workspace
) -> None:
    """A won deal takes the rate of its closing day: a sum over won deals in another currency
    reads the deals; counting alone still reads the totals."""
    today = timezone.now().date()
    ExchangeRate.objects.create(
        base="USD", currency="EUR", rate=Decimal("1.2"), valid_from=today - datetime.timedelta(9)
    )
    DealFactory.create(
        owner=team["rep"],
        pipeline=team["pipeline"],
        stage=team["stages"]["Won"],
        amount=Decimal("10"),
        currency="EUR",
        status="won",
    )
    rep = fresh(in_alpha.members[Role.SALES_REP])
    won = {**PIPELINE, "filters": [{"field": "status", "op": "in", "value": ["won"]}]}
    with CaptureQueriesContext(connection) as queries:
        result = run(check_definition(won), rep)
    assert _tables(queries)[0]
    assert _table(result) == _from_deals(won, rep)
    counts = {**won, "measures": [{"agg": "count"}]}
    with CaptureQueriesContext(connection) as queries:
        result = run(check_definition(counts), rep)
    assert _tables(queries) == (False, True)
    assert _table(result) == _from_deals(counts, rep)
    # The open pipeline has no EUR deal: it still reads the totals alone.
    with CaptureQueriesContext(connection) as queries:
        run(check_definition(PIPELINE), rep)
    assert _tables(queries) == (False, True)
