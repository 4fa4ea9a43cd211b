"""Chart builders are pure: rows in, a Plotly figure out; every label escaped."""

from __future__ import annotations

import datetime
from decimal import Decimal

from crm_modules.reporting import charts
from crm_modules.reporting.charts import ChartRow, ChartSpec
from crm_modules.reporting.combined import forecast_months

HOSTILE = '<img src=x onerror="alert(1)">'
ESCAPED = "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;"


def _spec(
    chart: str, measures: tuple[str, ...] = ("Amount",), groups: tuple[str, ...] = ("Stage",)
) -> ChartSpec:
    return ChartSpec(
        chart=chart, measure_labels=measures, units=("money",) * len(measures), group_labels=groups
    )


ROWS = [
    ChartRow(labels=("New",), values=(Decimal("150.00"), 2), drill="/reporting/drill/?d=1"),
    ChartRow(labels=(HOSTILE,), values=(None, 1), drill="/reporting/drill/?d=2"),
]


def test_bar_has_one_trace_per_measure_with_drill_links() -> None:
    figure = charts.figure(_spec("bar", ("Amount", "Deals")), ROWS)
    assert [trace["name"] for trace in figure["data"]] == ["Amount", "Deals"]
    assert figure["data"][0] == {
        "type": "bar",
        "name": "Amount",
        "x": ["New", ESCAPED],
        "y": [150.0, 0.0],
        "customdata": ["/reporting/drill/?d=1", "/reporting/drill/?d=2"],
    }
    assert figure["layout"]["barmode"] == "group"


def test_every_label_is_escaped_in_every_chart_type() -> None:
    rows = [ChartRow(labels=(HOSTILE, HOSTILE), values=(1, 2), drill="/d")]
    for chart in ("bar", "stacked_bar", "line", "area", "pie", "funnel", "table"):
        text = repr(charts.figure(_spec(chart, (HOSTILE,), (HOSTILE, HOSTILE)), rows))
        assert "<img" not in text, chart
        assert ESCAPED in text, chart


def test_a_second_grouping_makes_one_series_per_value() -> None:
    rows = [
        ChartRow(labels=("2026-11-23", "Ann"), values=(2,), drill="/a"),
        ChartRow(labels=("2026-11-30", "Ann"), values=(1,), drill="/b"),
        ChartRow(labels=("2026-11-30", "Бо"), values=(4,), drill="/c"),
    ]
    figure = charts.figure(_spec("stacked_bar", ("Activities",), ("Week", "Author")), rows)
    assert figure["layout"]["barmode"] == "stack"
    assert [(t["name"], t["x"], t["y"], t["customdata"]) for t in figure["data"]] == [
        ("Ann", ["2026-11-23", "2026-11-30"], [2.0, 1.0], ["/a", "/b"]),
        ("Бо", ["2026-11-23", "2026-11-30"], [0.0, 4.0], ["", "/c"]),
    ]


def test_funnel_lists_stages_top_down_with_drill_links() -> None:
    figure = charts.funnel(_spec("funnel"), ROWS)
    trace = figure["data"][0]
    assert (trace["type"], trace["y"], trace["x"], trace["customdata"]) == (
        "funnel",
        ["New", ESCAPED],
        [150.0, 0.0],
        ["/reporting/drill/?d=1", "/reporting/drill/?d=2"],
    )


def test_pie_line_area_table_and_number() -> None:
    assert charts.figure(_spec("pie"), ROWS)["data"][0]["labels"] == ["New", ESCAPED]
    assert charts.figure(_spec("line"), ROWS)["data"][0]["mode"] == "lines+markers"
    assert charts.figure(_spec("area"), ROWS)["data"][0]["stackgroup"] == "one"
    table = charts.figure(_spec("table", ("Amount", "Deals")), ROWS)["data"][0]
    assert table["header"]["values"] == ["Stage", "Amount", "Deals"]
    assert table["cells"]["values"] == [["New", ESCAPED], ["150.00", "—"], ["2", "1"]]
    number = charts.figure(
        ChartSpec(chart="number", measure_labels=("Win rate",), units=("percent",)),
        [ChartRow(labels=(), values=(62.5,))],
    )["data"][0]
    assert (number["type"], number["value"], number["number"]) == (
        "indicator",
        62.5,
        {"suffix": "%"},
    )


def test_layout_fits_a_phone() -> None:
    layout = charts.figure(_spec("bar"), ROWS)["layout"]
    assert layout["autosize"] is True
    assert layout["legend"] == {"orientation": "h", "y": -0.2}
    assert layout["xaxis"]["automargin"] is True


def test_combined_stacks_bars_under_lines_and_escapes_every_label() -> None:
    figure = charts.combined(
        ["2026-03", "<b>April</b>"],
        [
            charts.Series("Won", (Decimal("700"), None), ("/d/1", "/d/2")),
            charts.Series("<i>Quota</i>", (1000, 800), ("/q/1", "/q/2"), kind="line"),
        ],
    )
    bars, line = figure["data"]
    assert bars == {
        "type": "bar",
        "name": "Won",
        "x": ["2026-03", "&lt;b&gt;April&lt;/b&gt;"],
        "y": [700.0, None],
        "customdata": ["/d/1", "/d/2"],
    }
    assert line == {
        "type": "scatter",
        "mode": "lines+markers",
        "name": "&lt;i&gt;Quota&lt;/i&gt;",
        "x": ["2026-03", "&lt;b&gt;April&lt;/b&gt;"],
        "y": [1000.0, 800.0],
        "customdata": ["/q/1", "/q/2"],
    }
    assert figure["layout"]["barmode"] == "stack"
    assert figure["layout"]["yaxis"]["separatethousands"] is True


def test_forecast_months_run_from_two_months_back_to_three_ahead() -> None:
    assert forecast_months(datetime.date(2026, 1, 31)) == [
        datetime.date(2025, 11, 1),
        datetime.date(2025, 12, 1),
        datetime.date(2026, 1, 1),
        datetime.date(2026, 2, 1),
        datetime.date(2026, 3, 1),
        datetime.date(2026, 4, 1),
    ]
