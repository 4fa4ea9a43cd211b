"""Random definitions, sensible and not: each either runs — and so does the drill-through of
every row it returns — or is refused with a ReportError naming the part at fault. Never an
exception of any other kind (a 500)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_modules.reporting.cards import drill_url
from crm_modules.reporting.compiler import filtered_records, run
from crm_modules.reporting.definition import CHART_TYPES, ReportError, check_definition
from crm_modules.reporting.registry import DATE_BUCKETS, OPERATORS, RELATIVE_PERIODS, all_sources
from tests.conftest import Workspace
from tests.sales.conftest import fresh

pytestmark = pytest.mark.django_db

SOURCES = [s.code for s in all_sources()]
FIELDS = sorted({f.code for s in all_sources() for f in s.fields})
MEASURES = sorted({m.code for s in all_sources() for m in s.measures})
OPS = sorted({op for ops in OPERATORS.values() for op in ops})
JUNK = st.sampled_from(
    ["", "id; DROP TABLE x", "amount__gt", "owner__password", "custom.gone", "__class__"]
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(RELATIVE_PERIODS),
    st.sampled_from(
        ["2026-01-31", "1000-01-01", "9999-12-31", "2026-13-01", "open", "won", "1", "-5"]
    ),
)
values = st.one_of(
    scalars,
    st.lists(scalars, max_size=4),
    st.dictionaries(st.text(max_size=5), scalars, max_size=2),
    st.lists(st.lists(scalars, max_size=2), max_size=2),
)
field_names = st.one_of(st.sampled_from(FIELDS), JUNK, st.integers())
filters = st.fixed_dictionaries(
    {"field": field_names, "op": st.one_of(st.sampled_from(OPS), JUNK), "value": values}
)
groups = st.fixed_dictionaries(
    {"field": field_names},
    optional={"bucket": st.one_of(st.sampled_from((*DATE_BUCKETS, "value")), JUNK)},
)
measures = st.one_of(
    st.fixed_dictionaries(
        {"agg": st.sampled_from(["count", "sum", "avg", "min", "max", "distinct_count", "median"])},
        optional={"field": field_names},
    ),
    st.fixed_dictionaries({"measure": st.one_of(st.sampled_from(MEASURES), JUNK)}),
)
definitions = st.fixed_dictionaries(
    {"source": st.one_of(st.sampled_from(SOURCES), JUNK)},
    optional={
        "filters": st.lists(filters, max_size=4),
        "group_by": st.lists(groups, max_size=3),
        "measures": st.lists(measures, max_size=3),
        "chart": st.one_of(st.sampled_from(CHART_TYPES), JUNK),
        "nested": st.just({"and": [{"or": []}]}),
    },
)


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(raw=definitions)
def test_random_definitions_run_or_are_refused_clearly(
    raw: dict[str, Any], seeded: dict[str, Any], in_alpha: Workspace
) -> None:
    member = fresh(in_alpha.owner)
    try:
        definition = check_definition(raw)
    except ReportError as error:
        refused: ReportError | None = error
    else:
        refused = None
    if refused is not None:
        assert refused.field
        assert refused.message
        return
    result = run(definition, member)
    assert len(result.rows) <= 1000
    for row in result.rows[:3]:
        url = drill_url(definition, list(row.keys))
        drill = check_definition(parse_qs(urlsplit(url).query)["d"][0], drill=True)
        list(filtered_records(drill, member)[:5])
