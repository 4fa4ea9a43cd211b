"""Money in several currencies (ADR 0047): deals in USD (the workspace's currency) and EUR are
never added up as they are. Sums and averages convert with the workspace's exchange rates — a
closed deal at the rate in effect on the day it closed, an open deal at the latest — every
money figure names the currency, and a currency without a rate is left out with a message."""

from __future__ import annotations

import datetime
import json
import re
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from crm_modules.reporting.cards import chart_view
from crm_modules.reporting.compiler import run, workspace_zone
from crm_modules.reporting.dashboard import default_chart
from crm_modules.reporting.definition import check_definition
from crm_modules.reporting.models import CustomerValue, ExchangeRate
from crm_modules.reporting.services import rate_delete, rate_set
from crm_modules.reporting.services.customer_values import customer_values_recompute
from crm_modules.sales.models import Deal
from crm_platform.errors import PermissionDenied, ServiceError
from tenants.audit.models import AuditEvent
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.sales.conftest import fresh, in_alpha  # noqa: F401
from tests.sales.factories import CompanyFactory, DealFactory, LeadFactory, PipelineFactory

pytestmark = pytest.mark.django_db
DAY = datetime.timedelta(days=1)


@pytest.fixture
def deals(in_alpha: Workspace) -> dict[str, Any]:  # noqa: F811
    """Won this month: 1000 USD and 1000 EUR (closed today) and 500 EUR (closed ten days
    ago, or today when the month began less than ten days ago); open: 200 USD and 100 EUR in
    the Proposal stage (50 %). EUR is worth 1.10 USD until yesterday and 1.20 USD from today."""
    owner = in_alpha.owner.user
    company = CompanyFactory.create(name="Euro Ltd")
    pipeline = PipelineFactory.create()
    stages = {s.name: s for s in pipeline.stages.all()}
    now = timezone.now()
    today = now.date()
    earlier = max(now - 10 * DAY, now.astimezone(workspace_zone(in_alpha.owner)).replace(day=1))
    rates_changed = today if earlier.date() == today else earlier.date() + DAY

    def deal(amount: str, currency: str, status: str, when: Any = None, **kw: Any) -> Deal:
        return DealFactory.create(
            owner=owner,
            pipeline=pipeline,
            stage=stages["Won" if status == "won" else "Proposal"],
            amount=Decimal(amount),
            currency=currency,
            status=status,
            closed_at=when,
            expected_close_date=today,
            company=company,
            **kw,
        )

    made = [
        deal("1000", "USD", "won", now),
        deal("1000", "EUR", "won", now),
        deal("500", "EUR", "won", earlier),
        deal("200", "USD", "open"),
        deal("100", "EUR", "open"),
    ]
    ExchangeRate.objects.create(
        base="USD", currency="EUR", rate=Decimal("1.1"), valid_from=today - 400 * DAY
    )
    ExchangeRate.objects.create(
        base="USD", currency="EUR", rate=Decimal("1.2"), valid_from=rates_changed
    )
    # Another base (the workspace's currency before a change) is never used.
    ExchangeRate.objects.create(
        base="GBP", currency="EUR", rate=Decimal("0.85"), valid_from=today - 400 * DAY
    )
    late_rate = Decimal("1.2") if earlier.date() >= rates_changed else Decimal("1.1")
    return {"deals": made, "today": today, "company": company, "late_rate": late_rate}


def _won_total(late_rate: Decimal) -> float:
    return float(Decimal("1000") + Decimal("1000") * Decimal("1.2") + Decimal("500") * late_rate)


def _run(member: Any, raw: dict[str, Any]) -> Any:
    return run(check_definition(raw), member)


def test_report_sums_and_averages_convert_into_the_workspace_currency(
    deals: dict[str, Any], alpha: Workspace
) -> None:
    owner = fresh(alpha.owner)
    result = _run(
        owner,
        {
            "source": "deals",
            "filters": [{"field": "status", "op": "eq", "value": "won"}],
            "measures": [{"agg": "sum", "field": "amount"}, {"agg": "avg", "field": "amount"}],
            "chart": "number",
        },
    )
    total = _won_total(deals["late_rate"])
    assert float(result.rows[0].values[0]) == pytest.approx(total)
    assert float(result.rows[0].values[1]) == pytest.approx(total / 3)
    assert result.measure_labels == ["Sum of amount (USD)", "Average amount (USD)"]
    assert result.messages == []


def test_grouping_by_currency_still_shows_each_in_the_workspace_currency(
    deals: dict[str, Any], alpha: Workspace
) -> None:
    result = _run(
        fresh(alpha.owner),
        {
            "source": "deals",
            "filters": [{"field": "status", "op": "eq", "value": "open"}],
            "group_by": [{"field": "currency"}],
            "measures": [{"agg": "sum", "field": "amount"}, {"agg": "count"}],
            "chart": "table",
        },
    )
    by_currency = {row.labels[0]: float(row.values[0]) for row in result.rows}
    # An open deal uses the latest rate.
    assert by_currency == {"USD": 200.0, "EUR": pytest.approx(120.0)}


def test_a_currency_without_a_rate_is_left_out_and_named(
    deals: dict[str, Any], alpha: Workspace
) -> None:
    DealFactory.create(
        owner=alpha.owner.user,
        amount=Decimal("999"),
        currency="THB",
        status="won",
        closed_at=timezone.now(),
    )
    result = _run(
        fresh(alpha.owner),
        {
            "source": "deals",
            "filters": [{"field": "status", "op": "eq", "value": "won"}],
            "measures": [{"agg": "sum", "field": "amount"}],
            "chart": "number",
        },
    )
    assert float(result.rows[0].values[0]) == pytest.approx(_won_total(deals["late_rate"]))
    assert result.messages == [
        "Amounts in THB are left out: they have no exchange rate into USD. "
        "An admin adds one under Exchange rates."
    ]


def test_revenue_by_lead_source_converts_and_names_missing_rates(
    deals: dict[str, Any], alpha: Workspace
) -> None:
    owner = alpha.owner.user
    euro_won = deals["deals"][1]
    LeadFactory.create(owner=owner, source="fair-ru", deal=euro_won)
    baht = DealFactory.create(
        owner=owner, amount=Decimal("5"), currency="THB", status="won", closed_at=timezone.now()
    )
    LeadFactory.create(owner=owner, source="fair-th", deal=baht)
    result = _run(
        fresh(alpha.owner),
        {
            "source": "leads",
            "filters": [{"field": "source", "op": "in", "value": ["fair-ru", "fair-th"]}],
            "group_by": [{"field": "source"}],
            "measures": [{"measure": "won_revenue"}],
            "chart": "bar",
        },
    )
    revenue = {row.labels[0]: row.values[0] for row in result.rows}
    assert float(revenue["fair-ru"]) == pytest.approx(1200.0)
    assert revenue["fair-th"] is None
    assert result.measure_labels == ["Won revenue (USD)"]
    assert result.messages[0].startswith("Amounts in THB are left out")


def test_dashboard_money_charts_convert_and_name_the_currency(
    deals: dict[str, Any], alpha: Workspace
) -> None:
    owner = fresh(alpha.owner)
    total = _won_total(deals["late_rate"])
    month = f"{deals['today']:%Y-%m}"

    won = default_chart("won-revenue").view(owner)  # type: ignore[union-attr]
    assert won.columns == ["closed", "Sum of amount (USD)"]
    assert {row[0]: float(row[1]) for row in won.rows}[month] == pytest.approx(total)
    assert won.figure["layout"]["yaxis"]["ticksuffix"] == " USD"  # type: ignore[index]

    funnel = default_chart("pipeline").view(owner)  # type: ignore[union-attr]
    assert funnel.columns[1:] == ["Sum of amount (USD)", "Count"]
    proposal = next(row for row in funnel.rows if row[0] == "Proposal")
    assert float(proposal[1]) == pytest.approx(320.0)

    size = default_chart("win-rate").view(owner)  # type: ignore[union-attr]
    assert size.columns[-1] == "Average won deal size (USD)"
    mine = next(row for row in size.rows if row[0] == str(alpha.owner.user.full_name))
    assert float(mine[-1]) == pytest.approx(total / 3)

    forecast = default_chart("forecast").view(owner)  # type: ignore[union-attr]
    assert forecast.columns[1:4] == ["Won (USD)", "Weighted pipeline (USD)", "Quota (USD)"]
    this_month = next(row for row in forecast.rows if row[0] == month)
    assert float(this_month[1]) == pytest.approx(total)
    assert float(this_month[2]) == pytest.approx(160.0)  # (200 + 100 * 1.2) * 50 %


def test_lifetime_value_and_cohorts_convert(deals: dict[str, Any], alpha: Workspace) -> None:
    customer_values_recompute()
    value = CustomerValue.objects.get(kind="company", record_id=deals["company"].pk)
    assert float(value.revenue) == pytest.approx(_won_total(deals["late_rate"]))
    owner = fresh(alpha.owner)
    top = default_chart("top-customers").view(owner)  # type: ignore[union-attr]
    assert top.columns[1:4] == [
        "Revenue so far (USD)",
        "Predicted next year (USD)",
        "Lifetime value (USD)",
    ]
    assert float(top.rows[0][1]) == pytest.approx(_won_total(deals["late_rate"]))
    cohorts = default_chart("cohorts").view(owner)  # type: ignore[union-attr]
    assert cohorts.error == ""


def test_the_card_page_shows_the_currency(deals: dict[str, Any], alpha: Workspace) -> None:
    client = workspace_client(alpha.owner.user, alpha.tenant)
    html = client.get("/reporting/chart/?key=won-revenue").content.decode()
    assert "Sum of amount (USD)" in html
    figure = re.search(
        r'<script id="figure-won-revenue" type="application/json">(.*?)</script>', html, re.S
    )
    assert figure
    assert json.loads(figure.group(1))["layout"]["yaxis"]["ticksuffix"] == " USD"


def test_chart_view_of_a_report_names_the_currency(deals: dict[str, Any], alpha: Workspace) -> None:
    view = chart_view(
        {
            "source": "deals",
            "group_by": [{"field": "status"}],
            "measures": [{"agg": "max", "field": "amount"}],
            "chart": "bar",
        },
        fresh(alpha.owner),
        key="preview",
        title="Preview",
    )
    assert view.columns == ["status", "Highest amount (USD)"]
    assert view.figure["data"][0]["name"] == "Highest amount (USD)"  # type: ignore[index]


# --- the rates themselves ------------------------------------------------------------------


def test_an_admin_sets_replaces_and_removes_a_rate(in_alpha: Workspace) -> None:  # noqa: F811
    admin = fresh(in_alpha.members[Role.ADMIN])
    rate = rate_set(actor=admin, currency=" eur ", rate="1,0850", valid_from="2026-01-01")
    assert (rate.base, rate.currency, rate.rate) == ("USD", "EUR", Decimal("1.085"))
    again = rate_set(actor=admin, currency="EUR", rate="1.09", valid_from="2026-01-01")
    assert again.pk == rate.pk
    assert ExchangeRate.objects.get().rate == Decimal("1.09")
    rate_delete(actor=admin, rate=again)
    assert not ExchangeRate.objects.exists()
    actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True))
    assert actions[-3:] == ["exchange_rate.set", "exchange_rate.set", "exchange_rate.deleted"]


@pytest.mark.parametrize(
    ("field", "values"),
    [
        ("currency", ["", "EU", "EURO", "ЕВР", "ยูโ", "欧元", "<b>", "USD", "1; DROP TABLE x"]),
        ("rate", ["", "0", "-1", "abc", "1e20", "NaN", "Infinity", "0.000000001", "ноль"]),
        ("valid_from", ["", "yesterday", "1000-01-01", "2026-13-01", "'; --", "二〇二六"]),
    ],
)
def test_bad_rates_are_refused_naming_the_field(
    in_alpha: Workspace,  # noqa: F811
    field: str,
    values: list[str],
) -> None:
    admin = fresh(in_alpha.members[Role.ADMIN])
    good = {"currency": "EUR", "rate": "1.1", "valid_from": "2026-01-01"}
    for value in values:
        with pytest.raises(ServiceError) as caught:
            rate_set(actor=admin, **{**good, field: value})
        assert caught.value.field == field, value
    assert not ExchangeRate.objects.exists()


def test_only_owners_and_admins_set_rates(in_alpha: Workspace) -> None:  # noqa: F811
    for role in (Role.MANAGER, Role.SALES_REP, Role.READ_ONLY):
        with pytest.raises(PermissionDenied):
            rate_set(
                actor=fresh(in_alpha.members[role]),
                currency="EUR",
                rate="1.1",
                valid_from="2026-01-01",
            )
        client = workspace_client(in_alpha.members[role].user, in_alpha.tenant)
        assert client.get("/reporting/rates/").status_code == 403
        response = client.post(
            "/reporting/rates/set/",
            {"currency": "EUR", "rate": "1.1", "valid_from": "2026-01-01"},
        )
        assert response.status_code == 403
    assert not ExchangeRate.objects.exists()


def test_the_rates_page_sets_a_rate_and_shows_errors_by_field(
    in_alpha: Workspace,  # noqa: F811
) -> None:
    client = workspace_client(in_alpha.members[Role.ADMIN].user, in_alpha.tenant)
    page = client.get("/reporting/rates/")
    assert page.status_code == 200
    assert "No exchange rates yet" in page.content.decode()
    bad = client.post(
        "/reporting/rates/set/",
        {"currency": "<script>x</script>", "rate": "1.1", "valid_from": "2026-01-01"},
    )
    assert bad.status_code == 400
    html = bad.content.decode()
    assert "Enter a three-letter currency code such as EUR." in html
    assert "<script>x</script>" not in html
    done = client.post(
        "/reporting/rates/set/", {"currency": "EUR", "rate": "1.1", "valid_from": "2026-01-01"}
    )
    assert done.status_code == 302
    listed = client.get("/reporting/rates/").content.decode()
    assert "1 EUR = 1.1 USD" in listed
    rate = ExchangeRate.objects.get()
    assert client.post(f"/reporting/rates/{rate.pk}/delete/").status_code == 302
    assert not ExchangeRate.objects.exists()
    assert client.post("/reporting/rates/999999/delete/").status_code == 404
