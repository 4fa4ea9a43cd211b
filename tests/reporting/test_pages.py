"""The dashboard, drill-through, builder and saved reports as members use them."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client

from crm_modules.reporting.models import Report
from tenants.audit.models import AuditEvent
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client

pytestmark = pytest.mark.django_db


def _client(workspace: Workspace, role: str) -> Client:
    return workspace_client(workspace.members[role].user, workspace.tenant)


def _figure(html: str, key: str) -> dict[str, Any]:
    match = re.search(
        rf'<script id="figure-{key}" type="application/json">(.*?)</script>', html, re.S
    )
    assert match, key
    figure: dict[str, Any] = json.loads(match.group(1))
    return figure


def _dashboard(client: Client) -> str:
    """The dashboard as a browser ends up with it: the shell, then every card it loads."""
    shell = client.get("/reporting/")
    assert shell.status_code == 200
    html = shell.content.decode()
    parts = [html]
    for url in re.findall(r'hx-get="([^"]+)" hx-trigger="load"', html):
        card = client.get(url.replace("&amp;", "&"))
        assert card.status_code == 200, url
        parts.append(card.content.decode())
    return "".join(parts)


def test_dashboard_shows_the_default_charts_with_navigation(
    seeded: dict[str, Any], alpha: Workspace
) -> None:
    client = _client(alpha, Role.OWNER)
    shell = client.get("/reporting/").content.decode()
    # The shell names every card and computes none of them.
    assert 'id="figure-pipeline"' not in shell
    assert 'hx-get="/reporting/chart/?key=pipeline" hx-trigger="load"' in shell
    html = _dashboard(client)
    for key in (
        "pipeline",
        "won-revenue",
        "win-rate",
        "activities",
        "overdue-tasks",
        "lead-sources",
    ):
        assert f'data-testid="chart-{key}"' in html
    assert 'href="/reporting/"' in html  # the navigation entry
    assert "vendor/plotly/plotly.min.js" in html
    funnel = _figure(html, "pipeline")["data"][0]
    assert (funnel["type"], funnel["y"], funnel["x"]) == (
        "funnel",
        ["New", "Proposal"],
        [150.0, 200.0],
    )


def test_a_rep_sees_only_their_own_numbers(seeded: dict[str, Any], alpha: Workspace) -> None:
    html = _dashboard(_client(alpha, Role.SALES_REP))
    assert _figure(html, "pipeline")["data"][0]["x"] == [100.0, 200.0]
    overdue = _figure(html, "overdue-tasks")["data"][0]
    assert overdue["x"] == [seeded["rep"].full_name]
    assert overdue["y"] == [1.0]


def test_roles_without_reports_are_refused_and_see_no_link(alpha: Workspace) -> None:
    client = _client(alpha, Role.SUPPORT_AGENT)
    assert client.get("/reporting/").status_code == 403
    assert 'href="/reporting/"' not in client.get("/").content.decode()


def _drill(html: str, key: str, index: int) -> str:
    url: str = _figure(html, key)["data"][0]["customdata"][index]
    return url


def test_each_bar_drills_through_to_the_records_the_viewer_may_see(
    seeded: dict[str, Any], alpha: Workspace
) -> None:
    owner_html = _dashboard(_client(alpha, Role.OWNER))
    new_stage = _drill(owner_html, "pipeline", 0)
    assert new_stage.startswith("/reporting/drill/?d=")
    deals = seeded["deals"]
    page = _client(alpha, Role.OWNER).get(new_stage).content.decode()
    assert f'href="/sales/deals/{deals[0].pk}/"' in page
    assert f'href="/sales/deals/{deals[3].pk}/"' in page
    assert f'href="/sales/deals/{deals[1].pk}/"' not in page  # another stage
    # The same link opened by the rep lists only the rep's deal.
    rep_page = _client(alpha, Role.SALES_REP).get(new_stage).content.decode()
    assert f'href="/sales/deals/{deals[0].pk}/"' in rep_page
    assert f'href="/sales/deals/{deals[3].pk}/"' not in rep_page


def test_a_drill_link_cannot_reach_outside_the_allow_list(alpha: Workspace) -> None:
    bad = json.dumps(
        {"source": "deals", "filters": [{"field": "owner__password", "op": "eq", "value": "x"}]}
    )
    response = _client(alpha, Role.OWNER).get("/reporting/drill/", {"d": bad})
    assert response.status_code == 400
    assert "Deals have no field “owner__password”" in response.content.decode()


def _builder_params(**extra: str) -> dict[str, str]:
    return {
        "source": "deals",
        "f0_field": "status",
        "f0_op": "eq",
        "f0_value": "open",
        "g0_field": "stage",
        "m0": "sum:amount",
        "m1": "count",
        "chart": "bar",
        **extra,
    }


def test_builder_previews_saves_shares_pins_and_exports(
    seeded: dict[str, Any], alpha: Workspace
) -> None:
    manager = _client(alpha, Role.MANAGER)
    owner = _client(alpha, Role.OWNER)
    assert owner.get("/reporting/builder/").status_code == 200
    preview = owner.get("/reporting/builder/preview/", _builder_params())
    assert preview.status_code == 200
    assert _figure(preview.content.decode(), "preview")["data"][0]["y"] == [150.0, 200.0]

    bad = owner.get("/reporting/builder/preview/", _builder_params(f0_op="contains"))
    assert bad.status_code == 400
    assert "does not apply to status" in bad.content.decode()

    response = owner.post("/reporting/reports/new/", _builder_params(name="=Open pipeline"))
    assert response.status_code == 302
    report = Report.objects.get()
    assert response["Location"] == f"/reporting/reports/{report.pk}/"
    assert report.definition["measures"] == [{"agg": "sum", "field": "amount"}, {"agg": "count"}]
    # Not shared yet: the manager cannot open it.
    assert manager.get(f"/reporting/reports/{report.pk}/").status_code == 404

    assert (
        owner.post(
            f"/reporting/reports/{report.pk}/share/", {"roles": ["manager", "sales_rep"]}
        ).status_code
        == 302
    )
    assert owner.post(f"/reporting/reports/{report.pk}/pin/", {"pinned": "1"}).status_code == 302
    report.refresh_from_db()
    assert (report.shared_with, report.pinned) == (["manager", "sales_rep"], True)
    # Shared with the rep's role, run with the rep's reach: only the rep's deals count.
    rep_html = _dashboard(_client(alpha, Role.SALES_REP))
    assert _figure(rep_html, f"report-{report.pk}")["data"][0]["y"] == [100.0, 200.0]

    export = owner.get(f"/reporting/reports/{report.pk}/export.csv")
    assert export.status_code == 200
    assert export.content.decode() == (
        "\ufeffstage,Sum of amount (USD),Count\r\nNew,150.00,2\r\nProposal,200.00,1\r\n"
    )
    assert list(
        AuditEvent.objects.filter(action__startswith="report.")
        .order_by("id")
        .values_list("action", flat=True)
    ) == ["report.saved", "report.shared", "report.pinned", "report.exported"]


def test_saving_without_a_name_changes_nothing(in_alpha: Workspace) -> None:
    response = _client(in_alpha, Role.SALES_REP).post("/reporting/reports/new/", _builder_params())
    assert response.status_code == 400
    assert "Give the report a name." in response.content.decode()
    assert not Report.objects.exists()


def test_sharing_with_an_unknown_role_is_refused(in_alpha: Workspace) -> None:
    report = Report.objects.create(
        name="R", definition={"source": "deals"}, owner=in_alpha.owner.user
    )
    response = _client(in_alpha, Role.OWNER).post(
        f"/reporting/reports/{report.pk}/share/", {"roles": ["emperor"]}
    )
    assert response.status_code == 400
    assert response.content.decode() == "Unknown role: emperor."
    report.refresh_from_db()
    assert report.shared_with == []


def test_api_query_runs_as_the_caller(seeded: dict[str, Any], alpha: Workspace) -> None:
    body = {
        "definition": {
            "source": "deals",
            "filters": [{"field": "status", "op": "eq", "value": "open"}],
            "group_by": [{"field": "stage"}],
        }
    }
    stages = seeded["stages"]
    for role, rows in (
        (Role.OWNER, [[stages["New"].pk, 2], [stages["Proposal"].pk, 1]]),
        (Role.SALES_REP, [[stages["New"].pk, 1], [stages["Proposal"].pk, 1]]),
    ):
        response = _client(alpha, role).post(
            "/api/v1/reporting/query/", body, content_type="application/json"
        )
        assert response.status_code == 200
        assert response.json() == {
            "columns": ["stage", "Count"],
            "rows": rows,
            "truncated": False,
            "messages": [],
        }
    refused = _client(alpha, Role.SUPPORT_AGENT).post(
        "/api/v1/reporting/query/", body, content_type="application/json"
    )
    assert refused.status_code == 403


def test_api_query_names_the_bad_part(alpha: Workspace) -> None:
    body = {"definition": {"source": "deals", "group_by": [{"field": "amount"}]}}
    response = _client(alpha, Role.OWNER).post(
        "/api/v1/reporting/query/", body, content_type="application/json"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["message"] == "Reports cannot group by amount."
