"""The dashboard's first paint and its card cache: the page is a shell that computes no chart;
each card is its own endpoint whose drawn numbers are kept per viewer under the workspace's
schema until a live event (or a dashboard announcement) makes them stale."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from crm_modules.reporting.card_cache import GENERATION_KEY, card_key, generation
from crm_modules.reporting.services import dashboard_announce
from crm_modules.sales.models import Deal
from crm_modules.sales.services import deal_move_stage
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.sales.conftest import fresh

pytestmark = pytest.mark.django_db


def _client(workspace: Workspace, role: str) -> Client:
    return workspace_client(workspace.members[role].user, workspace.tenant)


def _funnel(client: Client) -> list[float]:
    html = client.get("/reporting/chart/?key=pipeline").content.decode()
    match = re.search(r'<script id="figure-pipeline" type="application/json">(.*?)</script>', html)
    assert match
    x: list[float] = json.loads(match.group(1))["data"][0]["x"]
    return x


def test_the_shell_runs_no_chart_query(seeded: dict[str, Any], alpha: Workspace) -> None:
    client = _client(alpha, Role.OWNER)
    client.get("/reporting/")  # warm the session
    with CaptureQueriesContext(connection) as shell:
        response = client.get("/reporting/")
    assert response.status_code == 200
    sql = " ".join(q["sql"] for q in shell.captured_queries)
    assert "sales_deal" not in sql
    assert "activities_activityday" not in sql
    html = response.content.decode()
    assert html.count('hx-trigger="load"') == 11
    assert 'aria-busy="true"' in html


def test_a_card_is_computed_once_then_kept_until_a_live_event(
    seeded: dict[str, Any],
    alpha: Workspace,
    django_capture_on_commit_callbacks: Any,
) -> None:
    client = _client(alpha, Role.OWNER)
    assert _funnel(client) == [150.0, 200.0]
    with CaptureQueriesContext(connection) as again:
        assert _funnel(client) == [150.0, 200.0]
    assert not [q for q in again.captured_queries if "sales_deal" in q["sql"]]

    # A change that announces nothing is not seen until the cache expires or an event comes.
    connection.set_tenant(alpha.tenant)  # type: ignore[attr-defined]
    Deal.objects.filter(pk=seeded["deals"][0].pk).update(amount=140)
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    assert _funnel(client) == [150.0, 200.0]

    # A deal moved through the service publishes deal.moved after commit: every card is stale.
    connection.set_tenant(alpha.tenant)  # type: ignore[attr-defined]
    owner = fresh(alpha.owner)
    deal = Deal.objects.get(pk=seeded["deals"][3].pk)
    with django_capture_on_commit_callbacks(execute=True):
        deal_move_stage(actor=owner, deal=deal, stage=seeded["stages"]["Proposal"])
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    assert _funnel(client) == [140.0, 250.0]


def test_each_viewer_has_their_own_card(seeded: dict[str, Any], alpha: Workspace) -> None:
    assert _funnel(_client(alpha, Role.OWNER)) == [150.0, 200.0]
    # Not the owner's cached card: the rep's own reach.
    assert _funnel(_client(alpha, Role.SALES_REP)) == [100.0, 200.0]


def test_keys_are_per_workspace_and_a_bump_stays_in_its_workspace(
    alpha: Workspace, bravo: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    with schema_context(alpha.tenant.schema_name):
        alpha_token = generation()
        key = card_key(alpha.owner, "pipeline")
        assert cache.make_key(key).startswith(f"{alpha.tenant.schema_name}:")
    with schema_context(bravo.tenant.schema_name):
        bravo_token = generation()
        assert cache.make_key(key).startswith(f"{bravo.tenant.schema_name}:")
    assert alpha_token != bravo_token
    with django_capture_on_commit_callbacks(execute=True):
        dashboard_announce(tenant=alpha.tenant, event="quota.changed", payload={})
    with schema_context(alpha.tenant.schema_name):
        assert cache.get(GENERATION_KEY) not in (None, alpha_token)
    with schema_context(bravo.tenant.schema_name):
        assert cache.get(GENERATION_KEY) == bravo_token
