"""Arranging dashboards: a member their own (up, down, add, remove, back to shared), Owners,
Admins and Managers the shared one (adding a report pins it); every other attempt refused on
the server with nothing changed."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from crm_modules.reporting.dashboard import DEFAULT_CHARTS
from crm_modules.reporting.models import DashboardLayout, Report
from tenants.audit.models import AuditEvent
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client

pytestmark = pytest.mark.django_db
DEFAULT_KEYS = [chart.key for chart in DEFAULT_CHARTS]
URL = "/reporting/layout/change/"


def _client(workspace: Workspace, role: str) -> Client:
    return workspace_client(workspace.members[role].user, workspace.tenant)


def _order(client: Client) -> list[str]:
    html = client.get("/reporting/").content.decode()
    return re.findall(r'data-chart-key="([^"]+)"', html)


def _report(alpha: Workspace, role: str, name: str, **kw: Any) -> Report:
    return Report.objects.create(
        name=name,
        definition={"source": "deals", "measures": [{"agg": "count"}], "chart": "number"},
        owner=alpha.members[role].user,
        **kw,
    )


def test_a_member_arranges_their_own_dashboard(in_alpha: Workspace) -> None:
    rep = _client(in_alpha, Role.SALES_REP)
    assert _order(rep) == DEFAULT_KEYS
    assert rep.post(URL, {"action": "down", "card": "pipeline"}).status_code == 302
    assert rep.post(URL, {"action": "remove", "card": "cohorts"}).status_code == 302
    own = _report(in_alpha, Role.SALES_REP, "Mine")
    assert rep.post(URL, {"action": "add", "card": f"report-{own.pk}"}).status_code == 302
    assert rep.post(URL, {"action": "up", "card": "won-revenue"}).status_code == 302  # top: no-op
    expected = ["won-revenue", "pipeline", *DEFAULT_KEYS[2:]]
    expected.remove("cohorts")
    assert _order(rep) == [*expected, f"report-{own.pk}"]
    # Nobody else's dashboard moved, and the report stays unpinned.
    assert _order(_client(in_alpha, Role.MANAGER)) == DEFAULT_KEYS
    own.refresh_from_db()
    assert own.pinned is False
    assert DashboardLayout.objects.get().owner_id == in_alpha.members[Role.SALES_REP].user.pk
    assert AuditEvent.objects.filter(action="dashboard.arranged").count() == 4

    # Back to the shared dashboard.
    assert rep.post(URL, {"action": "reset"}).status_code == 302
    assert _order(rep) == DEFAULT_KEYS
    assert not DashboardLayout.objects.exists()


def test_the_editor_answers_htmx_with_itself(in_alpha: Workspace) -> None:
    rep = _client(in_alpha, Role.READ_ONLY)
    response = rep.post(URL, {"action": "down", "card": "pipeline"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.startswith('<section class="card narrow" id="layout-editor"')
    assert re.findall(r'data-card="([^"]+)"', html)[:2] == ["won-revenue", "pipeline"]
    page = rep.get("/reporting/layout/").content.decode()
    assert 'data-testid="reset-layout"' in page
    assert 'data-testid="shared-layout-link"' not in page  # may not arrange the shared one


def test_bad_changes_are_named_and_change_nothing(in_alpha: Workspace) -> None:
    rep = _client(in_alpha, Role.SALES_REP)
    others = _report(in_alpha, Role.OWNER, "Owner's own")
    cases = [
        ({"action": "add", "card": "nope"}, "There is no such card."),
        # Another member's report, not shared with the rep's role.
        ({"action": "add", "card": f"report-{others.pk}"}, "There is no such card."),
        ({"action": "add", "card": "pipeline"}, "This card is already on the dashboard."),
        ({"action": "remove", "card": "report-999999"}, "This card is not on the dashboard."),
        ({"action": "explode", "card": "pipeline"}, "Choose a valid change of the layout."),
        ({"action": "up"}, "Choose a card."),
    ]
    for data, message in cases:
        response = rep.post(URL, data)
        assert response.status_code == 400, data
        assert message in response.content.decode()
    assert not DashboardLayout.objects.exists()
    assert not AuditEvent.objects.filter(action="dashboard.arranged").exists()


@pytest.mark.parametrize("role", [Role.SALES_REP, Role.READ_ONLY])
def test_only_share_roles_arrange_the_shared_dashboard(in_alpha: Workspace, role: str) -> None:
    client = _client(in_alpha, role)
    assert client.get("/reporting/layout/?shared=1").status_code == 403
    response = client.post(URL, {"action": "down", "card": "pipeline", "shared": "1"})
    assert response.status_code == 403
    assert not DashboardLayout.objects.exists()


def test_roles_without_reports_cannot_arrange_anything(in_alpha: Workspace) -> None:
    agent = _client(in_alpha, Role.SUPPORT_AGENT)
    assert agent.get("/reporting/layout/").status_code == 403
    assert agent.post(URL, {"action": "down", "card": "pipeline"}).status_code == 403
    assert not DashboardLayout.objects.exists()


def test_a_manager_arranges_the_shared_dashboard_for_everyone(in_alpha: Workspace) -> None:
    manager = _client(in_alpha, Role.MANAGER)
    shared = _report(in_alpha, Role.MANAGER, "Team pipeline", shared_with=["sales_rep"])
    data = {"shared": "1"}
    assert (
        manager.post(URL, {**data, "action": "add", "card": f"report-{shared.pk}"}).status_code
        == 302
    )
    shared.refresh_from_db()
    assert shared.pinned is True  # on the shared dashboard means pinned
    assert (
        manager.post(URL, {**data, "action": "up", "card": f"report-{shared.pk}"}).status_code
        == 302
    )
    assert manager.post(URL, {**data, "action": "remove", "card": "activities"}).status_code == 302
    expected = [k for k in DEFAULT_KEYS if k != "activities"]
    expected.insert(len(expected) - 1, f"report-{shared.pk}")
    # The rep (shared with their role) sees the new order; the admin sees it without the report.
    assert _order(_client(in_alpha, Role.SALES_REP)) == expected
    assert _order(_client(in_alpha, Role.ADMIN)) == [
        k for k in expected if not k.startswith("report-")
    ]

    assert (
        manager.post(URL, {**data, "action": "remove", "card": f"report-{shared.pk}"}).status_code
        == 302
    )
    shared.refresh_from_db()
    assert shared.pinned is False
    assert f"report-{shared.pk}" not in _order(_client(in_alpha, Role.SALES_REP))
    layout = DashboardLayout.objects.get()
    assert layout.owner_id is None


API = "/api/v1/reporting/dashboard/"


def test_the_api_reads_and_arranges_the_callers_dashboard(in_alpha: Workspace) -> None:
    rep = _client(in_alpha, Role.SALES_REP)
    cards = rep.get(API).json()
    assert [c["key"] for c in cards] == DEFAULT_KEYS
    assert cards[0]["url"] == "/reporting/chart/?key=pipeline"
    response = rep.post(
        API, {"action": "down", "card": "pipeline"}, content_type="application/json"
    )
    assert response.status_code == 200
    assert [c["key"] for c in response.json()][:2] == ["won-revenue", "pipeline"]
    assert [c["key"] for c in rep.get(API).json()][:2] == ["won-revenue", "pipeline"]
    # The shared dashboard did not move.
    assert [c["key"] for c in rep.get(API, {"shared": "1"}).json()] == DEFAULT_KEYS

    bad = rep.post(API, {"action": "add", "card": "nope"}, content_type="application/json")
    assert bad.status_code == 400
    assert bad.json()["error"]["message"] == "There is no such card."
    refused = rep.post(
        API,
        {"action": "down", "card": "pipeline", "shared": True},
        content_type="application/json",
    )
    assert refused.status_code == 403
    assert list(DashboardLayout.objects.values_list("owner_id", flat=True)) == [
        in_alpha.members[Role.SALES_REP].user.pk
    ]

    manager = _client(in_alpha, Role.MANAGER)
    shared = manager.post(
        API,
        {"action": "remove", "card": "cohorts", "shared": True},
        content_type="application/json",
    )
    assert shared.status_code == 200
    assert "cohorts" not in [c["key"] for c in manager.get(API).json()]
    # The rep keeps their own arrangement.
    assert "cohorts" in [c["key"] for c in rep.get(API).json()]
