"""The dashboard's first paint and its card cache: the page is a shell that computes no chart;
each card is its own endpoint whose drawn numbers are kept per viewer under the workspace's
schema until a live event (or a dashboard announcement) makes them stale."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_redis import get_redis_connection
from django_tenants.utils import schema_context

from crm_modules.reporting.card_cache import GENERATION_KEY, card_key, generation
from crm_modules.reporting.services import dashboard_announce
from crm_modules.sales.models import Deal
from crm_modules.sales.module import DEALS_TOPIC, TASKS_TOPIC
from crm_modules.sales.services import deal_move_stage, deal_update
from tenants.live import publish
from tenants.models import Tenant
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


@contextmanager
def generation_writes(tenant: Tenant) -> Iterator[list[str]]:
    """The commands that wrote the workspace's generation key within the block, as the real
    Redis server saw them (MONITOR, ended by a marker command read back)."""
    with schema_context(tenant.schema_name):
        key = cache.make_key(GENERATION_KEY)
    client = get_redis_connection("default")
    db = client.connection_pool.connection_kwargs.get("db", 0)
    writes: list[str] = []
    with client.monitor() as monitor:
        yield writes
        marker = f"test.marker.{secrets.token_hex(8)}"
        client.get(marker)
        while True:
            seen = monitor.next_command()
            command: str = seen["command"]
            if marker in command:
                break
            if int(seen["db"]) == db and command.split(" ")[:2] == ["SET", key]:
                writes.append(command)


def test_a_commit_of_many_events_makes_the_cards_stale_once_and_at_once(
    seeded: dict[str, Any],
    alpha: Workspace,
    django_capture_on_commit_callbacks: Any,
) -> None:
    client = _client(alpha, Role.OWNER)
    assert _funnel(client) == [150.0, 200.0]

    connection.set_tenant(alpha.tenant)  # type: ignore[attr-defined]
    owner = fresh(alpha.owner)
    with (
        generation_writes(alpha.tenant) as writes,
        django_capture_on_commit_callbacks(execute=True),
        transaction.atomic(),
    ):
        # Two audited service changes and 40 more events on two topics, in one transaction.
        deal_update(
            actor=owner,
            deal=Deal.objects.get(pk=seeded["deals"][0].pk),
            changes={"amount": Decimal("140")},
        )
        deal_move_stage(
            actor=owner,
            deal=Deal.objects.get(pk=seeded["deals"][3].pk),
            stage=seeded["stages"]["Proposal"],
        )
        for n in range(20):
            for topic, event in ((DEALS_TOPIC, "deal.updated"), (TASKS_TOPIC, "task.updated")):
                publish(tenant=alpha.tenant, topic=topic, event=event, payload={"id": n})
    assert len(writes) == 1
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    # The page loaded right after the commit draws the new numbers.
    assert _funnel(client) == [140.0, 250.0]

    # The next commit is a change of its own: the cards are stale again.
    with (
        generation_writes(alpha.tenant) as writes,
        django_capture_on_commit_callbacks(execute=True),
    ):
        publish(tenant=alpha.tenant, topic=DEALS_TOPIC, event="deal.updated", payload={"id": 1})
    assert len(writes) == 1
