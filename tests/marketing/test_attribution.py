"""Closed-loop attribution on real records: form fills → leads → qualified → won deals →
revenue per campaign under each named model, costs and ROI; the page and its chart by role;
the report data source."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from crm_modules.marketing import attribution_services as svc
from crm_modules.marketing.models_capture import AttributionCredit, CampaignCost, Touchpoint
from crm_modules.reporting.api import get_source
from crm_modules.reporting.compiler import run
from crm_modules.reporting.definition import check_definition
from crm_modules.reporting.models import ExchangeRate
from crm_platform.errors import PermissionDenied, ServiceError
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.marketing.conftest import fresh
from tests.sales.factories import ContactFactory, DealFactory

pytestmark = pytest.mark.usefixtures("in_alpha")

T0 = datetime.datetime(2026, 3, 1, 9, tzinfo=datetime.UTC)
DAY = datetime.timedelta(days=1)


def _touch(contact, campaign: str, source: str, days: int) -> Touchpoint:
    return Touchpoint.objects.create(
        kind="form_fill",
        contact=contact,
        utm_campaign=campaign,
        utm_source=source,
        utm_medium="email",
        occurred_at=T0 + datetime.timedelta(days=days),
    )


def _won_deal(contact, amount: str, days: int, currency: str = "USD"):
    deal = DealFactory.create(amount=Decimal(amount), currency=currency)
    deal.contacts.add(contact)
    deal.status = "won"
    deal.closed_at = T0 + datetime.timedelta(days=days)
    deal.save(update_fields=["status", "closed_at"])
    return deal


@pytest.fixture
def journey(alpha: Workspace):
    contact = ContactFactory.create(lifecycle_stage="customer")
    _touch(contact, "spring", "newsletter", 0)
    _touch(contact, "webinar", "linkedin", 2)
    _touch(contact, "spring", "newsletter", 4)
    # After the win: not part of this deal's path.
    _touch(contact, "late", "ads", 30)
    deal = _won_deal(contact, "1000.00", 10)
    other = ContactFactory.create(lifecycle_stage="lead")
    _touch(other, "webinar", "linkedin", 1)
    return deal


def test_credits_per_model_sum_to_the_deal_and_name_their_model(alpha: Workspace, journey) -> None:
    assert svc.credits_rebuild() == 1 + 1 + 3 + 3
    by_model = {}
    for model in ("first_touch", "last_touch", "linear", "u_shaped"):
        rows = AttributionCredit.objects.filter(model=model).order_by("touchpoint__occurred_at")
        by_model[model] = [(r.utm_campaign, r.credit) for r in rows]
        assert sum(r.credit for r in rows) == Decimal("1000.00")
    assert by_model["first_touch"] == [("spring", Decimal("1000.00"))]
    assert by_model["last_touch"] == [("spring", Decimal("1000.00"))]
    assert by_model["linear"] == [
        ("spring", Decimal("333.34")),
        ("webinar", Decimal("333.33")),
        ("spring", Decimal("333.33")),
    ]
    assert by_model["u_shaped"] == [
        ("spring", Decimal("400.00")),
        ("webinar", Decimal("200.00")),
        ("spring", Decimal("400.00")),
    ]
    # Rebuilding is idempotent.
    svc.credits_rebuild()
    assert AttributionCredit.objects.count() == 8


def test_the_report_per_campaign_with_cost_and_roi(alpha: Workspace, journey) -> None:
    svc.credits_rebuild()
    marketer = fresh(alpha.members[Role.MARKETER])
    svc.campaign_cost_set(actor=marketer, campaign="webinar", amount="100.00")
    report = svc.attribution_report(actor=marketer, model="u_shaped", dimension="campaign")
    assert report.model_label == "U-shaped"
    rows = {row.key: row for row in report.rows}
    assert (rows["spring"].form_fills, rows["spring"].people, rows["spring"].qualified) == (2, 1, 1)
    assert (rows["spring"].deals, rows["spring"].revenue, rows["spring"].roi) == (
        1,
        Decimal("800.00"),
        None,
    )
    webinar = rows["webinar"]
    assert (webinar.form_fills, webinar.people, webinar.qualified) == (2, 2, 1)
    assert (webinar.revenue, webinar.cost, webinar.roi) == (
        Decimal("200.00"),
        Decimal("100.00"),
        Decimal("1.0000"),
    )
    assert rows["late"].revenue == Decimal("0.00")
    by_source = svc.attribution_report(actor=marketer, model="first_touch", dimension="source")
    assert {r.key: r.revenue for r in by_source.rows}["newsletter"] == Decimal("1000.00")


def test_revenue_won_in_other_currencies_is_converted_into_the_workspace_currency(
    alpha: Workspace,
) -> None:
    """A USD workspace: a EUR deal counts at the EUR rate of the day it was won, a THB deal
    without a rate is left out and named — in the report, its page, ROI and the data source."""
    assert alpha.tenant.currency == "USD"
    usd, eur, thb = (ContactFactory.create(lifecycle_stage="customer") for _ in range(3))
    for contact in (usd, eur, thb):
        _touch(contact, "spring", "newsletter", 0)
    _won_deal(usd, "1000.00", 10)
    _won_deal(eur, "500.00", 10, currency="EUR")
    _won_deal(thb, "9999.00", 10, currency="THB")
    ExchangeRate.objects.create(
        base="USD", currency="EUR", rate=Decimal("1.1"), valid_from=T0.date() - DAY * 100
    )
    # A later rate does not move revenue already won.
    ExchangeRate.objects.create(
        base="USD", currency="EUR", rate=Decimal("1.3"), valid_from=T0.date() + DAY * 20
    )
    # A rate into another base (the workspace's former currency) is never used.
    ExchangeRate.objects.create(
        base="EUR", currency="THB", rate=Decimal("0.026"), valid_from=T0.date() - DAY * 100
    )
    svc.credits_rebuild()
    marketer = fresh(alpha.members[Role.MARKETER])
    svc.campaign_cost_set(actor=marketer, campaign="spring", amount="1000.00")

    report = svc.attribution_report(actor=marketer, model="linear", dimension="campaign")

    [spring] = report.rows
    assert spring.revenue == Decimal("1550.00")
    assert spring.deals == 3
    assert spring.roi == Decimal("0.5500")
    assert report.unconverted == ["THB"]
    client = workspace_client(alpha.members[Role.MARKETER].user, alpha.tenant)
    page = client.get("/marketing/attribution/?model=linear&by=campaign").content.decode()
    assert "Amounts in THB are left out: they have no exchange rate into USD." in page
    result = run(
        check_definition(
            {
                "source": "attribution",
                "filters": [{"field": "model", "op": "eq", "value": "first_touch"}],
                "measures": [{"agg": "sum", "field": "credit"}],
                "chart": "number",
            }
        ),
        fresh(alpha.owner),
    )
    assert Decimal(str(result.rows[0].values[0])).quantize(Decimal("0.01")) == Decimal("1550.00")
    assert any("THB" in message for message in result.messages)


def test_bad_costs_and_models_are_refused(alpha: Workspace) -> None:
    marketer = fresh(alpha.members[Role.MARKETER])
    for campaign, amount, field in (
        ("", "1", "campaign"),
        ("x", "abc", "amount"),
        ("x", "-1", "amount"),
        ("x", "1.001", "amount"),
    ):
        with pytest.raises(ServiceError) as caught:
            svc.campaign_cost_set(actor=marketer, campaign=campaign, amount=amount)
        assert caught.value.field == field
    assert not CampaignCost.objects.exists()
    with pytest.raises(ServiceError) as bad:
        svc.attribution_report(actor=marketer, model="w_shaped", dimension="campaign")
    assert bad.value.field == "model"
    with pytest.raises(PermissionDenied):
        svc.campaign_cost_set(actor=fresh(alpha.members[Role.SALES_REP]), campaign="x", amount="1")


def test_the_page_shows_the_named_model_and_a_plotly_chart(alpha: Workspace, journey) -> None:
    svc.credits_rebuild()
    client = workspace_client(alpha.members[Role.READ_ONLY].user, alpha.tenant)
    response = client.get("/marketing/attribution/?model=linear&by=campaign")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Model: Linear" in body
    assert 'id="figure-attribution"' in body
    assert "plotly.min.js" in body
    assert client.get("/marketing/attribution/?model=nope").status_code == 400
    rep = workspace_client(alpha.members[Role.SALES_REP].user, alpha.tenant)
    assert rep.get("/marketing/attribution/").status_code == 403
    # Read-only may look, not enter costs.
    assert (
        client.post("/marketing/attribution/costs/", {"campaign": "x", "amount": "1"}).status_code
        == 403
    )
    assert not CampaignCost.objects.exists()


def test_attribution_is_a_report_data_source() -> None:
    source = get_source("attribution")
    assert source is not None
    assert {f.code for f in source.fields} == {
        "model",
        "campaign",
        "source",
        "medium",
        "credit",
        "won_at",
    }
    assert timezone.now()


def test_a_form_lead_converted_and_won_credits_its_campaign(alpha: Workspace) -> None:
    from crm_modules.marketing.capture import services as form_services
    from crm_modules.marketing.capture.submit import clean_touch, form_submit
    from crm_modules.sales.models import Deal, Lead
    from crm_modules.sales.services import lead_convert
    from tests.sales.factories import PipelineFactory

    rep = fresh(alpha.members[Role.SALES_REP])
    form = form_services.form_create(
        actor=fresh(alpha.members[Role.MARKETER]),
        values={
            "name": "Demo",
            "fields": [{"target": "email", "label": "Email", "required": True}],
            "lead_owner": rep.user_id,
        },
    )
    form_submit(
        form=form,
        answers={"email": "new@example.com"},
        touch=clean_touch({"utm_campaign": "autumn", "utm_source": "ads", "utm_medium": "cpc"}),
        consents=[],
    )
    lead = Lead.objects.get()
    stage = PipelineFactory.create().stages.order_by("position").first()
    assert stage is not None
    conversion = lead_convert(
        actor=rep, lead=lead, deal_name="Big", deal_stage=stage.pk, deal_amount="250.00"
    )
    # The contact it became knows where it came from.
    conversion.contact.refresh_from_db()
    assert conversion.contact.first_touch["utm_campaign"] == "autumn"
    assert conversion.contact.utm_campaign == "autumn"
    assert conversion.deal is not None
    Deal.objects.filter(pk=conversion.deal.pk).update(status="won", closed_at=timezone.now())
    svc.credits_rebuild(deal_ids=[conversion.deal.pk])
    credit = AttributionCredit.objects.get(model="last_touch")
    assert (credit.utm_campaign, credit.credit, credit.owner_id) == (
        "autumn",
        Decimal("250.00"),
        rep.user_id,
    )
    report = svc.attribution_report(
        actor=fresh(alpha.members[Role.MANAGER]), model="last_touch", dimension="campaign"
    )
    (row,) = report.rows
    assert (row.key, row.form_fills, row.people, row.qualified, row.deals, row.revenue) == (
        "autumn",
        1,
        1,
        1,
        1,
        Decimal("250.00"),
    )


def test_costs_in_several_currencies_are_converted_into_one_total(alpha: Workspace) -> None:
    """A USD workspace with costs entered in EUR and USD: each is converted at the rate of the
    day it was entered, so cost, cost per lead and ROI — per campaign and in total — are in
    USD; a cost in a currency without a rate is left out and named."""
    assert alpha.tenant.currency == "USD"
    spring, webinar = (ContactFactory.create(lifecycle_stage="customer") for _ in range(2))
    _touch(spring, "spring", "newsletter", 0)
    _touch(webinar, "webinar", "linkedin", 0)
    _won_deal(spring, "1000.00", 10)
    _won_deal(webinar, "500.00", 10, currency="EUR")
    ExchangeRate.objects.create(
        base="USD", currency="EUR", rate=Decimal("1.1"), valid_from=T0.date() - DAY * 100
    )
    svc.credits_rebuild()
    marketer = fresh(alpha.members[Role.MARKETER])
    cost = svc.campaign_cost_set(
        actor=marketer, campaign="spring", amount="400.00", currency=" eur "
    )
    assert (cost.amount, cost.currency) == (Decimal("400.00"), "EUR")
    client = workspace_client(alpha.members[Role.MARKETER].user, alpha.tenant)
    response = client.post(
        "/marketing/attribution/costs/", {"campaign": "webinar", "amount": "110", "currency": ""}
    )
    assert response.status_code == 302
    assert CampaignCost.objects.get(utm_campaign="webinar").currency == "USD"
    svc.campaign_cost_set(actor=marketer, campaign="ads", amount="1000.00", currency="THB")

    report = svc.attribution_report(actor=marketer, model="first_touch", dimension="campaign")

    rows = {row.key: row for row in report.rows}
    assert (rows["spring"].revenue, rows["spring"].cost) == (Decimal("1000.00"), Decimal("440.00"))
    assert (rows["spring"].cost_per_lead, rows["spring"].roi) == (
        Decimal("440.00"),
        Decimal("1.2727"),
    )
    assert (rows["webinar"].revenue, rows["webinar"].cost) == (Decimal("550.00"), Decimal("110.00"))
    assert (rows["webinar"].cost_per_lead, rows["webinar"].roi) == (
        Decimal("110.00"),
        Decimal("4.0000"),
    )
    assert (rows["ads"].cost, rows["ads"].roi) == (None, None)
    assert report.unconverted == ["THB"]
    totals = report.totals
    assert totals is not None
    assert (totals.revenue, totals.cost, totals.cost_per_lead, totals.roi) == (
        Decimal("1550.00"),
        Decimal("550.00"),
        Decimal("275.00"),
        Decimal("1.8182"),
    )

    api = client.get("/api/v1/marketing/attribution/?model=first_touch&by=campaign").json()
    assert api["currency"] == "USD"
    assert api["totals"]["cost"] == "550.00"
    assert api["totals"]["roi"] == "1.8182"
    assert {r["key"]: r["cost"] for r in api["rows"]} == {
        "spring": "440.00",
        "webinar": "110.00",
        "ads": None,
    }
    assert api["unconverted"] == ["THB"]
    page = client.get("/marketing/attribution/?model=first_touch&by=campaign")
    body = page.content.decode()
    assert 'data-testid="total-cost">550.00<' in body
    assert "Amounts in THB are left out: they have no exchange rate into USD." in body

    with pytest.raises(ServiceError) as bad:
        svc.campaign_cost_set(actor=marketer, campaign="spring", amount="1", currency="EURO")
    assert bad.value.field == "currency"
    assert CampaignCost.objects.get(utm_campaign="spring").amount == Decimal("400.00")
