"""Customer values: RFM scores and segments and lifetime value from won deals, recomputed in
one statement per kind; the "top customers" chart, the report source and the facade."""

from __future__ import annotations

import datetime
import json
import re
from decimal import Decimal
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from crm_modules.reporting import api, tasks
from crm_modules.reporting.models import CustomerValue
from crm_modules.reporting.services.customer_values import customer_values_recompute
from crm_modules.sales.models import Deal
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.sales.conftest import in_alpha  # noqa: F401
from tests.sales.factories import CompanyFactory, ContactFactory, DealFactory

pytestmark = pytest.mark.django_db
NOW = datetime.datetime(2026, 6, 1, 12, 0, tzinfo=datetime.UTC)
DAY = datetime.timedelta(days=1)


def _won(contact: Any, amount: str, days_ago: float, company: Any = None) -> Deal:
    deal = DealFactory.create(
        owner=contact.owner,
        status="won",
        amount=Decimal(amount),
        closed_at=NOW - days_ago * DAY,
        company=company,
    )
    deal.contacts.add(contact)
    return deal


@pytest.fixture
def customers(in_alpha: Workspace) -> dict[str, Any]:  # noqa: F811
    """Lena (the rep's): 1,000 two years ago and 2,000 73 days ago, both for Globex (the
    Owner's). Ivo (the Owner's): 500, 800 days ago. Mai (the rep's): 100, 36.5 days ago. Zoe:
    only an open deal."""
    rep, owner = in_alpha.members[Role.SALES_REP].user, in_alpha.owner.user
    globex = CompanyFactory.create(name="Globex", owner=owner)
    people = {
        "lena": ContactFactory.create(first_name="Лена", last_name="Орлова", owner=rep),
        "ivo": ContactFactory.create(first_name="Ivo", last_name="Rossi", owner=owner),
        "mai": ContactFactory.create(first_name="ใหม่", last_name="", owner=rep),
        "zoe": ContactFactory.create(first_name="Zoe", owner=owner),
    }
    deals = {
        "lena-old": _won(people["lena"], "1000", 730.5, globex),
        "lena-new": _won(people["lena"], "2000", 73, globex),
        "ivo": _won(people["ivo"], "500", 800),
        "mai": _won(people["mai"], "100", 36.5),
    }
    DealFactory.create(owner=owner, amount=Decimal("999")).contacts.add(people["zoe"])
    return {"people": people, "deals": deals, "globex": globex, "rep": rep}


def _rows(kind: str) -> dict[int, tuple[Any, ...]]:
    return {
        value.record_id: (
            value.name,
            value.won_deals,
            value.revenue,
            value.predicted_value,
            value.lifetime_value,
            (value.recency_score, value.frequency_score, value.monetary_score),
            value.segment,
        )
        for value in CustomerValue.objects.filter(kind=kind)
    }


def test_recompute_scores_every_customer_and_projects_lifetime_value(
    customers: dict[str, Any],
) -> None:
    assert customer_values_recompute(now=NOW) == {"contact": 3, "company": 1}
    people = customers["people"]
    # Projection: revenue per year since the first win (at least one year), fading to nothing
    # two years after the last win. Lena: 3,000 over 2 years, times (1 - 73/730): 1,350.
    assert _rows("contact") == {
        people["lena"].pk: (
            "Лена Орлова",
            2,
            Decimal("3000.00"),
            Decimal("1350.00"),
            Decimal("4350.00"),
            (2, 3, 3),
            "at_risk",
        ),
        people["ivo"].pk: (
            "Ivo Rossi",
            1,
            Decimal("500.00"),
            Decimal("0.00"),
            Decimal("500.00"),
            (1, 1, 2),
            "lost",
        ),
        people["mai"].pk: (
            "ใหม่",
            1,
            Decimal("100.00"),
            Decimal("95.00"),
            Decimal("195.00"),
            (3, 2, 1),
            "needs_attention",
        ),
    }
    assert _rows("company") == {
        customers["globex"].pk: (
            "Globex",
            2,
            Decimal("3000.00"),
            Decimal("1350.00"),
            Decimal("4350.00"),
            (1, 1, 1),
            "lost",
        )
    }
    lena = CustomerValue.objects.get(kind="contact", record_id=people["lena"].pk)
    assert (lena.first_won_at, lena.last_won_at, lena.owner_id, lena.computed_at) == (
        NOW - 730.5 * DAY,
        NOW - 73 * DAY,
        customers["rep"].pk,
        NOW,
    )


def test_recompute_again_equals_a_fresh_computation_and_drops_former_customers(
    customers: dict[str, Any],
) -> None:
    customer_values_recompute(now=NOW)
    Deal.objects.filter(pk=customers["deals"]["ivo"].pk).update(status="lost")
    Deal.objects.filter(pk=customers["deals"]["mai"].pk).update(amount=Decimal("300"))
    later = NOW + DAY
    customer_values_recompute(now=later)
    again = {kind: _rows(kind) for kind in ("contact", "company")}
    CustomerValue.objects.all().delete()
    customer_values_recompute(now=later)
    assert {kind: _rows(kind) for kind in ("contact", "company")} == again
    assert customers["people"]["ivo"].pk not in again["contact"]
    assert again["contact"][customers["people"]["mai"].pk][2] == Decimal("300.00")


def test_the_recompute_is_one_statement_per_kind_however_many_customers(
    customers: dict[str, Any],
) -> None:
    with CaptureQueriesContext(connection) as small:
        customer_values_recompute(now=NOW)
    for n in range(30):
        _won(ContactFactory.create(owner=customers["rep"]), str(10 + n), n)
    with CaptureQueriesContext(connection) as larger:
        customer_values_recompute(now=NOW)
    assert len(larger.captured_queries) == len(small.captured_queries)
    assert CustomerValue.objects.filter(kind="contact").count() == 33


def test_a_workspaces_recompute_never_touches_another_workspace(
    customers: dict[str, Any], bravo: Workspace
) -> None:
    with schema_context(bravo.tenant.schema_name):
        theirs = ContactFactory.create(first_name="Bravo")
        _won(theirs, "77", 1)
    tasks.customer_values_recompute_task()  # in alpha, where the test runs
    assert CustomerValue.objects.filter(kind="contact").count() == 3
    assert not CustomerValue.objects.filter(name="Bravo Person").exists()
    with schema_context(bravo.tenant.schema_name):
        assert not CustomerValue.objects.exists()


def test_the_task_tells_open_dashboards_after_commit(
    customers: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        assert tasks.customer_values_recompute_task() == 4
    assert len(callbacks) == 1


def test_the_facade_gives_segments_to_other_modules(customers: dict[str, Any]) -> None:
    customer_values_recompute(now=NOW)
    people = customers["people"]
    assert api.customer_segment(kind="contact", record_id=people["lena"].pk) == "at_risk"
    assert api.customer_segment(kind="contact", record_id=people["zoe"].pk) is None
    assert list(api.customers_in_segment(kind="contact", segment=api.RFM_SEGMENTS.LOST)) == [
        people["ivo"].pk
    ]


# --- the chart, the report source ----------------------------------------------------------


def _client(workspace: Workspace, role: str) -> Client:
    return workspace_client(workspace.members[role].user, workspace.tenant)


def _figure(client: Client) -> dict[str, Any]:
    html = client.get("/reporting/chart/?key=top-customers").content.decode()
    match = re.search(
        r'<script id="figure-top-customers" type="application/json">(.*?)</script>', html, re.S
    )
    assert match, html
    figure: dict[str, Any] = json.loads(match.group(1))
    return figure


def test_top_customers_shows_companies_or_the_reps_own_contacts(
    customers: dict[str, Any], alpha: Workspace
) -> None:
    customer_values_recompute(now=NOW)
    so_far, predicted = _figure(_client(alpha, Role.OWNER))["data"]
    assert (so_far["x"], so_far["y"], predicted["y"]) == (["Globex"], [3000.0], [1350.0])
    assert so_far["customdata"] == [f"/sales/companies/{customers['globex'].pk}/"]
    people = customers["people"]
    so_far, predicted = _figure(_client(alpha, Role.SALES_REP))["data"]
    assert so_far["x"] == ["Лена Орлова", "ใหม่"]
    assert (so_far["y"], predicted["y"]) == ([3000.0, 100.0], [1350.0, 95.0])
    assert predicted["customdata"] == [
        f"/sales/contacts/{people['lena'].pk}/",
        f"/sales/contacts/{people['mai'].pk}/",
    ]


def test_top_customers_costs_the_same_queries_for_any_number_of_customers(
    customers: dict[str, Any], alpha: Workspace
) -> None:
    customer_values_recompute(now=NOW)
    client = _client(alpha, Role.MANAGER)
    client.get("/reporting/")

    def count() -> int:
        cache.clear()  # the chart computed, not its cached card
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/reporting/chart/?key=top-customers").status_code == 200
        return len(queries.captured_queries)

    before = count()
    for n in range(15):
        _won(ContactFactory.create(owner=alpha.members[Role.MANAGER].user), "5", n)
    customer_values_recompute(now=NOW)
    assert count() == before


def test_segments_are_a_report_source_within_each_roles_reach(
    customers: dict[str, Any], alpha: Workspace
) -> None:
    customer_values_recompute(now=NOW)
    body = {
        "definition": {
            "source": "customers",
            "filters": [{"field": "kind", "op": "eq", "value": "contact"}],
            "group_by": [{"field": "segment"}],
            "measures": [{"agg": "count"}, {"agg": "sum", "field": "lifetime_value"}],
        }
    }

    def rows(role: str) -> list[list[Any]]:
        response = _client(alpha, role).post(
            "/api/v1/reporting/query/", body, content_type="application/json"
        )
        assert response.status_code == 200
        result: list[list[Any]] = response.json()["rows"]
        return result

    assert rows(Role.OWNER) == [
        ["at_risk", 1, "4350.00"],
        ["lost", 1, "500.00"],
        ["needs_attention", 1, "195.00"],
    ]
    assert rows(Role.SALES_REP) == [["at_risk", 1, "4350.00"], ["needs_attention", 1, "195.00"]]
