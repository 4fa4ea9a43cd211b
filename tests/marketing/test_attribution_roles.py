"""Who sees the attribution report, in every channel (ADR 0063): the marketing page and its
API, a saved attribution report (list, page, chart card, the dashboard it is pinned to), the
report query API and the compiler. A Marketer reads marketing's reports — and only those:
the sales pipeline's saved reports and default charts stay out of their reach."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from crm_modules.marketing import attribution_services as svc
from crm_modules.marketing.models_capture import Touchpoint
from crm_modules.reporting.compiler import run
from crm_modules.reporting.consumers import chart_events
from crm_modules.reporting.definition import check_definition
from crm_modules.reporting.layouts import dashboard_cards
from crm_modules.reporting.models import Report
from crm_modules.reporting.selectors import report_list
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.marketing.conftest import fresh
from tests.sales.factories import ContactFactory, DealFactory

pytestmark = pytest.mark.usefixtures("in_alpha")

T0 = datetime.datetime(2026, 3, 1, 9, tzinfo=datetime.UTC)
TOTAL = {
    "source": "attribution",
    "filters": [{"field": "model", "op": "eq", "value": "first_touch"}],
    "measures": [{"agg": "sum", "field": "credit"}],
    "chart": "number",
}

# Per role: the marketing attribution page and its API; the saved attribution report's page
# (404: not among the reports the role may open; 403: no report viewing at all); the report
# query API; and the first-touch revenue the role's reports add up (None: nothing).
EXPECTED: dict[str, tuple[int, int, int, int, Decimal | None]] = {
    Role.OWNER: (200, 200, 200, 200, Decimal("1000.00")),
    Role.ADMIN: (200, 200, 200, 200, Decimal("1000.00")),
    # A Manager's reports reach their team's records; the deal's owner is in no team of theirs.
    Role.MANAGER: (200, 200, 200, 200, None),
    Role.SALES_REP: (403, 403, 404, 403, None),
    Role.SUPPORT_AGENT: (403, 403, 403, 403, None),
    Role.MARKETER: (200, 200, 200, 200, Decimal("1000.00")),
    Role.READ_ONLY: (200, 200, 200, 200, Decimal("1000.00")),
}


@pytest.fixture
def attributed(alpha: Workspace) -> Report:
    contact = ContactFactory.create(lifecycle_stage="customer")
    Touchpoint.objects.create(
        kind="form_fill",
        contact=contact,
        utm_campaign="spring",
        utm_source="newsletter",
        utm_medium="email",
        occurred_at=T0,
    )
    deal = DealFactory.create(amount=Decimal("1000.00"), currency="USD", owner=alpha.owner.user)
    deal.contacts.add(contact)
    deal.status = "won"
    deal.closed_at = T0 + datetime.timedelta(days=3)
    deal.save(update_fields=["status", "closed_at"])
    svc.credits_rebuild()
    return Report.objects.create(
        name="Revenue by campaign",
        definition=TOTAL,
        owner=alpha.owner.user,
        shared_with=list(Role.values),
        pinned=True,
    )


def test_the_matrix_names_every_role() -> None:
    assert set(EXPECTED) == set(Role.values)


@pytest.mark.parametrize("role", Role.values)
def test_each_role_sees_the_attribution_report_as_its_role_allows(
    alpha: Workspace, attributed: Report, role: str
) -> None:
    page, api, saved, query, total = EXPECTED[role]
    member = fresh(alpha.members[role])
    client = workspace_client(member.user, alpha.tenant)

    assert client.get("/marketing/attribution/?model=first_touch").status_code == page
    assert client.get("/api/v1/marketing/attribution/?model=first_touch").status_code == api
    assert client.get(f"/reporting/reports/{attributed.pk}/").status_code == saved
    chart = client.get(f"/reporting/reports/{attributed.pk}/chart/")
    assert chart.status_code == saved
    response = client.post(
        "/api/v1/reporting/query/", {"definition": TOTAL}, content_type="application/json"
    )
    assert response.status_code == query

    listed = attributed in report_list(actor=member)
    assert listed == (saved == 200)
    pinned = f"report-{attributed.pk}" in {card.key for card in dashboard_cards(actor=member)}
    assert pinned == (saved == 200)
    result = run(check_definition(TOTAL), member)
    figure = result.rows[0].values[0] if result.rows else None
    if total is None:
        assert figure in (None, 0)
    else:
        assert Decimal(str(figure)).quantize(Decimal("0.01")) == total
        assert "1,000" in chart.content.decode() or "1000" in chart.content.decode()


def test_a_marketer_reads_marketing_reports_only(alpha: Workspace, attributed: Report) -> None:
    """The Marketer's report viewing stops at marketing's sources: a deals report shared with
    every role, the sales default charts and a deals query are out of reach."""
    marketer = fresh(alpha.members[Role.MARKETER])
    client = workspace_client(marketer.user, alpha.tenant)
    deals = Report.objects.create(
        name="Pipeline",
        definition={"source": "deals", "measures": [{"agg": "count"}], "chart": "number"},
        owner=alpha.owner.user,
        shared_with=list(Role.values),
        pinned=True,
    )
    assert list(report_list(actor=marketer)) == [attributed]
    assert client.get(f"/reporting/reports/{deals.pk}/").status_code == 404
    assert client.get("/reporting/chart/?key=pipeline").status_code == 404
    assert [card.key for card in dashboard_cards(actor=marketer)] == [f"report-{attributed.pk}"]
    # The dashboard socket refreshes only those cards.
    assert set(chart_events(marketer)) == {f"report-{attributed.pk}"}
    page = client.get("/reporting/")
    assert page.status_code == 200
    assert "Revenue by campaign" in page.content.decode()
    assert "Open pipeline by stage" not in page.content.decode()
    refused = client.post(
        "/api/v1/reporting/query/",
        {"definition": {"source": "deals", "measures": [{"agg": "count"}]}},
        content_type="application/json",
    )
    assert refused.status_code == 403
    assert run(check_definition({"source": "deals"}), marketer).rows[0].values[0] == 0
    # The owner still sees both.
    assert set(report_list(actor=fresh(alpha.owner))) == {attributed, deals}
