"""``crm_platform.bulk.rows_update``: some fields of many rows written by one statement per
batch, each value as its column stores it, other fields and other rows untouched."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm_modules.sales.models import Deal
from crm_platform import bulk
from tests.conftest import Workspace
from tests.sales.factories import DealFactory, PipelineFactory


@pytest.fixture
def in_alpha(alpha: Workspace) -> Workspace:
    connection.set_tenant(alpha.tenant)  # type: ignore[attr-defined]
    return alpha


pytestmark = pytest.mark.usefixtures("in_alpha")


def _updates(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if q["sql"].startswith("UPDATE")]


WHEN = datetime.datetime(2026, 3, 29, 1, 30, tzinfo=datetime.UTC)


def test_the_named_fields_of_every_row_are_written_in_one_statement() -> None:
    pipeline = PipelineFactory.create()
    deals = [DealFactory.create(pipeline=pipeline, name=f"Deal {n}") for n in range(3)]
    untouched = DealFactory.create(pipeline=pipeline, name="Untouched")
    values: list[dict[str, Any]] = [
        {"amount": Decimal("12.34"), "closed_at": WHEN, "custom": {"tier": "Золото"}},
        {"amount": Decimal("0.00"), "closed_at": None, "custom": {}},
        {"amount": Decimal("9999999999999999.99"), "closed_at": WHEN, "custom": {"n": [1, "二"]}},
    ]
    names = [deal.name for deal in deals]
    for deal, changes in zip(deals, values, strict=True):
        for name, value in changes.items():
            setattr(deal, name, value)
        deal.name = "not written"

    with CaptureQueriesContext(connection) as queries:
        bulk.rows_update(Deal, deals, ["amount", "closed_at", "custom"])

    assert len(_updates(queries)) == 1
    for deal, name, changes in zip(deals, names, values, strict=True):
        stored = Deal.objects.values("name", "amount", "closed_at", "custom").get(pk=deal.pk)
        assert stored == {**changes, "name": name}
    assert Deal.objects.get(pk=untouched.pk).amount == Decimal("1000.00")


def test_rows_past_the_parameter_limit_go_in_several_statements(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pipeline = PipelineFactory.create()
    deals = [DealFactory.create(pipeline=pipeline) for _ in range(5)]
    for n, deal in enumerate(deals):
        deal.amount = Decimal(n)
    # Two columns (the key and the amount) per row: four parameters make two rows a statement.
    monkeypatch.setattr(bulk, "MAX_PARAMETERS", 4)

    with CaptureQueriesContext(connection) as queries:
        bulk.rows_update(Deal, deals, ["amount"])

    assert len(_updates(queries)) == 3
    stored = dict(Deal.objects.filter(pk__in=[d.pk for d in deals]).values_list("pk", "amount"))
    assert stored == {deal.pk: Decimal(n) for n, deal in enumerate(deals)}


def test_no_rows_write_nothing() -> None:
    with CaptureQueriesContext(connection) as queries:
        bulk.rows_update(Deal, [], ["amount"])
    assert _updates(queries) == []
