"""Definitions are validated before anything runs: each problem names the part at fault."""

from __future__ import annotations

import json
from typing import Any

import pytest

from crm_modules.reporting.definition import MAX_IN_VALUES, ReportError, check_definition
from tests.conftest import Workspace

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _in_workspace(in_alpha: Workspace) -> None:
    """Custom fields are read from the workspace's schema."""


def _error(raw: Any) -> ReportError:
    with pytest.raises(ReportError) as caught:
        check_definition(raw)
    return caught.value


def _deals(**parts: Any) -> dict[str, Any]:
    return {"source": "deals", **parts}


def test_a_valid_definition_is_normalised() -> None:
    definition = check_definition(
        _deals(
            filters=[{"field": "amount", "op": "gte", "value": "10"}],
            group_by=[{"field": "closed_at"}],
            measures=[{"agg": "sum", "field": "amount"}],
        )
    )
    assert definition.data == {
        "source": "deals",
        "filters": [{"field": "amount", "op": "gte", "value": "10"}],
        "group_by": [{"field": "closed_at", "bucket": "day"}],
        "measures": [{"agg": "sum", "field": "amount"}],
        "chart": "bar",
        "title": "",
    }


def test_no_measure_means_a_count() -> None:
    assert check_definition({"source": "leads"}).data["measures"] == [{"agg": "count"}]


@pytest.mark.parametrize(
    ("raw", "field", "words"),
    [
        ("{not json", "definition", "not valid JSON"),
        ([], "definition", "must be an object"),
        ({"source": "deals", "sql": "drop"}, "definition", "unknown keys: sql"),
        ({"source": "invoices"}, "source", "no data source “invoices”"),
        (
            _deals(filters=[{"field": "password", "op": "eq", "value": 1}]),
            "filters[0].field",
            "no field “password”",
        ),
        (
            _deals(filters=[{"field": "custom.gone", "op": "eq", "value": 1}]),
            "filters[0].field",
            "may have been deleted",
        ),
        (
            _deals(filters=[{"field": "amount", "op": "contains", "value": "1"}]),
            "filters[0].op",
            "does not apply",
        ),
        (
            _deals(filters=[{"field": "amount", "op": "gt", "value": "lots"}]),
            "filters[0].value",
            "needs a number",
        ),
        (
            _deals(filters=[{"field": "amount", "op": "gt", "value": "1e400"}]),
            "filters[0].value",
            "sensible size",
        ),
        (
            _deals(filters=[{"field": "status", "op": "eq", "value": "maybe"}]),
            "filters[0].value",
            "must be one of",
        ),
        (
            _deals(
                filters=[{"field": "stage", "op": "in", "value": list(range(1, MAX_IN_VALUES + 2))}]
            ),
            "filters[0].value",
            "at most 100 values",
        ),
        (
            _deals(filters=[{"field": "name", "op": "eq", "value": {"a": {"b": [1]}}}]),
            "filters[0].value",
            "not a nested one",
        ),
        (
            _deals(
                filters=[
                    {"field": "closed_at", "op": "between", "value": ["1000-01-01", "2000-01-01"]}
                ]
            ),
            "filters[0].value[0]",
            "between 1900 and 2200",
        ),
        (
            _deals(
                filters=[
                    {"field": "closed_at", "op": "between", "value": ["2026-02-01", "2026-01-01"]}
                ]
            ),
            "filters[0].value",
            "must not exceed",
        ),
        (
            _deals(filters=[{"field": "closed_at", "op": "relative", "value": "last_century"}]),
            "filters[0].value",
            "Choose a period",
        ),
        (_deals(filters=[{"field": "amount", "op": "gt"}]), "filters[0].value", "needs a value"),
        (
            _deals(filters=[{"field": "amount", "op": "gt", "value": 1}] * 21),
            "filters",
            "at most 20",
        ),
        (_deals(group_by=[{"field": "amount"}]), "group_by[0].field", "cannot group by"),
        (
            _deals(group_by=[{"field": "closed_at", "bucket": "decade"}]),
            "group_by[0].bucket",
            "day, week, month, quarter, year",
        ),
        (_deals(group_by=[{"field": "stage"}] * 3), "group_by", "at most 2"),
        (_deals(measures=[{"agg": "sum", "field": "name"}]), "measures[0].field", "does not apply"),
        (
            _deals(measures=[{"agg": "median", "field": "amount"}]),
            "measures[0].agg",
            "Choose a measure",
        ),
        (_deals(measures=[{"measure": "profit"}]), "measures[0].measure", "no measure “profit”"),
        (_deals(measures=[{"agg": "count"}] * 3), "measures", "at most 2"),
        (_deals(chart="pie"), "chart", "exactly one grouping"),
        (_deals(chart="hologram"), "chart", "Choose a chart type"),
    ],
)
def test_bad_definitions_name_the_part_and_the_problem(raw: Any, field: str, words: str) -> None:
    error = _error(raw)
    assert error.field == field
    assert words in error.message


def test_a_definition_too_long_is_refused_before_parsing() -> None:
    error = _error(json.dumps(_deals(title="x" * 30_000)))
    assert (error.field, error.message) == ("definition", "The report definition is too long.")
