"""The dashboard socket over the real Redis channel layer: changes that affect the dashboard
reach it as one coalesced refresh naming the charts to fetch again.

The socket middleware and consumer read the database from other threads, so these tests use
the committed ``world`` and make their changes from other threads too (committed at once),
removing what they add."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connection
from django_tenants.utils import schema_context

from crm_modules.reporting import consumers
from crm_modules.reporting.consumers import COALESCE_SECONDS
from crm_modules.reporting.dashboard import DEFAULT_CHARTS
from crm_modules.reporting.models import Quota, Report
from crm_modules.reporting.services import dashboard_group, quota_set
from crm_modules.sales.models import Deal, Pipeline
from crm_modules.sales.services import deal_create
from crm_platform.asgi import application
from tenants.audit.models import AuditEvent
from tenants.live import topic_group
from tenants.models import Membership, UserSession
from tenants.roles import Role
from tests.conftest import World, workspace_client
from tests.sales.factories import PipelineFactory

pytestmark = pytest.mark.django_db
T = TypeVar("T")
PATH = "/ws/reporting/dashboard/"
TIMEOUT = 5
DEAL_CHARTS = [
    "activities",
    "forecast",
    "forecast-accuracy",
    "lead-sources",
    "pipeline",
    "sales-cycle",
    "win-rate",
    "won-revenue",
]


def _in_own_thread(work: Callable[[], T]) -> T:
    def run() -> T:
        try:
            return work()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(run).result()


@pytest.fixture
def committed(world: World) -> Iterator[World]:
    schema = world.alpha.tenant.schema_name

    def snapshot() -> tuple[set[str], int, int, int]:
        with schema_context(schema):
            return (
                set(UserSession.objects.values_list("session_key", flat=True)),
                AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0,
                Deal.objects.order_by("-id").values_list("id", flat=True).first() or 0,
                Pipeline.objects.order_by("-id").values_list("id", flat=True).first() or 0,
            )

    sessions, event, deal, pipeline = _in_own_thread(snapshot)

    def clean_up() -> None:
        UserSession.objects.exclude(session_key__in=sessions).delete()
        with schema_context(schema):
            AuditEvent.objects.filter(id__gt=event).delete()
            Deal.objects.filter(id__gt=deal).delete()
            Pipeline.objects.filter(id__gt=pipeline).delete()
            Report.objects.all().delete()
            Quota.objects.all().delete()

    try:
        yield world
    finally:
        _in_own_thread(clean_up)


@database_sync_to_async
def _session(membership: Membership) -> str:
    client = workspace_client(membership.user, membership.tenant)
    return str(client.cookies[settings.SESSION_COOKIE_NAME].value)


async def _headers(world: World, role: str = Role.MANAGER) -> list[tuple[bytes, bytes]]:
    host = world.alpha.host
    return [
        (b"host", host.encode()),
        (b"origin", f"http://{host}".encode()),
        (
            b"cookie",
            f"{settings.SESSION_COOKIE_NAME}={await _session(world.alpha.members[role])}".encode(),
        ),
    ]


async def _open(world: World, role: str) -> WebsocketCommunicator:
    socket = WebsocketCommunicator(application, PATH, headers=await _headers(world, role))
    connected, _ = await socket.connect(timeout=TIMEOUT)
    assert connected
    return socket


async def test_hello_names_the_dashboards_charts(committed: World) -> None:
    socket = await _open(committed, Role.SALES_REP)
    hello = await socket.receive_json_from(timeout=TIMEOUT)
    assert hello == {"event": "hello", "payload": {"charts": sorted(c.key for c in DEFAULT_CHARTS)}}
    await socket.disconnect()


async def test_a_burst_of_changes_is_one_refresh_of_the_affected_charts(
    committed: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A window wide enough that the whole burst surely lands in it on a loaded machine.
    monkeypatch.setattr(consumers, "COALESCE_SECONDS", 3.0)
    socket = await _open(committed, Role.MANAGER)
    await socket.receive_json_from(timeout=TIMEOUT)
    layer = get_channel_layer()
    schema = committed.alpha.tenant.schema_name
    for n in range(50):
        await layer.group_send(
            topic_group(schema_name=schema, topic="deals"),
            {"type": "notify", "event": "deal.moved", "payload": {"id": n}, "topic": "deals"},
        )
    await layer.group_send(
        topic_group(schema_name=schema, topic="tasks"),
        {"type": "notify", "event": "task.completed", "payload": {"id": 1}, "topic": "tasks"},
    )
    # A document upload touches no chart.
    await layer.group_send(
        topic_group(schema_name=schema, topic="documents"),
        {
            "type": "notify",
            "event": "document.uploaded",
            "payload": {"id": 1},
            "topic": "documents",
        },
    )
    refresh = await socket.receive_json_from(timeout=TIMEOUT * 2)
    assert refresh == {
        "event": "dashboard.refresh",
        "payload": {"charts": sorted([*DEAL_CHARTS, "overdue-tasks"]), "seq": 1},
    }
    # Nothing else was queued: the burst was one refresh.
    assert await socket.receive_nothing(timeout=COALESCE_SECONDS * 2)
    await socket.disconnect()


async def test_a_deal_created_through_the_service_refreshes_the_funnel(committed: World) -> None:
    socket = await _open(committed, Role.OWNER)
    await socket.receive_json_from(timeout=TIMEOUT)
    owner = committed.alpha.owner
    schema = committed.alpha.tenant.schema_name

    def create() -> None:
        with schema_context(schema):
            actor = Membership.objects.select_related("tenant", "user").get(pk=owner.pk)
            pipeline = PipelineFactory.create()
            deal_create(
                actor=actor, name="Live", stage=pipeline.stages.get(position=0).pk, amount="5"
            )

    await sync_to_async(_in_own_thread)(lambda: create())
    refresh = await socket.receive_json_from(timeout=TIMEOUT)
    assert refresh["event"] == "dashboard.refresh"
    assert "pipeline" in refresh["payload"]["charts"]
    await socket.disconnect()


async def test_a_quota_set_by_a_manager_refreshes_only_the_forecast(committed: World) -> None:
    socket = await _open(committed, Role.SALES_REP)
    await socket.receive_json_from(timeout=TIMEOUT)
    owner = committed.alpha.owner
    rep = committed.alpha.members[Role.SALES_REP]
    schema = committed.alpha.tenant.schema_name

    def set_quota() -> None:
        with schema_context(schema):
            actor = Membership.objects.select_related("tenant", "user").get(pk=owner.pk)
            quota_set(actor=actor, owner=rep.user_id, month="2026-05", amount="100")

    await sync_to_async(_in_own_thread)(set_quota)
    refresh = await socket.receive_json_from(timeout=TIMEOUT)
    assert refresh == {"event": "dashboard.refresh", "payload": {"charts": ["forecast"], "seq": 1}}
    await socket.disconnect()


async def test_recomputed_customer_values_refresh_the_customer_charts(
    committed: World,
) -> None:
    socket = await _open(committed, Role.MANAGER)
    await socket.receive_json_from(timeout=TIMEOUT)
    await get_channel_layer().group_send(
        dashboard_group(schema_name=committed.alpha.tenant.schema_name),
        {"type": "notify", "event": "customer_values.updated", "payload": {}},
    )
    refresh = await socket.receive_json_from(timeout=TIMEOUT)
    assert refresh == {
        "event": "dashboard.refresh",
        "payload": {"charts": ["cohorts", "top-customers"], "seq": 1},
    }
    await socket.disconnect()


async def test_an_import_finishing_refreshes_the_charts_of_imported_records_once(
    committed: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    schema = committed.alpha.tenant.schema_name
    owner = committed.alpha.owner

    def pin() -> int:
        with schema_context(schema):
            return Report.objects.create(
                name="Contacts by source",
                definition={"source": "contacts", "group_by": [{"field": "source"}]},
                owner=owner.user,
                pinned=True,
            ).pk

    report = await sync_to_async(_in_own_thread)(pin)
    # A window wide enough that both events surely land in it on a loaded machine.
    monkeypatch.setattr(consumers, "COALESCE_SECONDS", 3.0)
    socket = await _open(committed, Role.OWNER)  # the report's author: it is on their dashboard
    await socket.receive_json_from(timeout=TIMEOUT)
    layer = get_channel_layer()
    for event in ("import.finished", "import.undone"):
        await layer.group_send(
            dashboard_group(schema_name=schema), {"type": "notify", "event": event, "payload": {}}
        )
    refresh = await socket.receive_json_from(timeout=TIMEOUT * 2)
    assert refresh == {
        "event": "dashboard.refresh",
        "payload": {
            "charts": sorted(
                [
                    "forecast",
                    "forecast-accuracy",
                    "lead-sources",
                    "pipeline",
                    f"report-{report}",
                    "sales-cycle",
                    "win-rate",
                    "won-revenue",
                ]
            ),
            "seq": 1,
        },
    }
    assert await socket.receive_nothing(timeout=COALESCE_SECONDS * 2)
    await socket.disconnect()


async def test_pinning_a_report_reaches_open_dashboards(committed: World) -> None:
    socket = await _open(committed, Role.READ_ONLY)
    await socket.receive_json_from(timeout=TIMEOUT)
    await get_channel_layer().group_send(
        dashboard_group(schema_name=committed.alpha.tenant.schema_name),
        {"type": "notify", "event": "dashboard.layout", "payload": {"report": 1}},
    )
    assert await socket.receive_json_from(timeout=TIMEOUT) == {
        "event": "dashboard.layout",
        "payload": {},
    }
    await socket.disconnect()


async def test_a_role_without_reports_cannot_open_the_dashboard_socket(committed: World) -> None:
    host = committed.alpha.host
    key = await _session(committed.alpha.members[Role.SUPPORT_AGENT])
    headers = [
        (b"host", host.encode()),
        (b"origin", f"http://{host}".encode()),
        (b"cookie", f"{settings.SESSION_COOKIE_NAME}={key}".encode()),
    ]
    socket = WebsocketCommunicator(application, PATH, headers=headers)
    assert await socket.connect(timeout=TIMEOUT) == (False, 4403)


def test_layer_is_redis() -> None:
    assert settings.CHANNEL_LAYERS["default"]["BACKEND"] == "channels_redis.core.RedisChannelLayer"


class _ClosingOutput(asyncio.Queue[dict[str, Any]]):
    """The server's side of a socket the browser has closed: once ``closed``, every send is
    refused with an OSError, as an ASGI server refuses a send on a closed connection."""

    closed = False

    async def put(self, item: dict[str, Any]) -> None:
        if self.closed:
            raise OSError("the client has disconnected")
        await super().put(item)


async def test_a_refresh_due_on_a_socket_the_browser_closed_is_dropped_quietly(
    committed: World,
) -> None:
    loop = asyncio.get_running_loop()
    errors: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    try:
        socket = WebsocketCommunicator(application, PATH, headers=await _headers(committed))
        output = _ClosingOutput()
        socket._output_queue = output
        connected, _ = await socket.connect(timeout=TIMEOUT)
        assert connected
        await socket.receive_json_from(timeout=TIMEOUT)
        output.closed = True
        await get_channel_layer().group_send(
            topic_group(schema_name=committed.alpha.tenant.schema_name, topic="deals"),
            {"type": "notify", "event": "deal.moved", "payload": {"id": 1}, "topic": "deals"},
        )
        await asyncio.sleep(COALESCE_SECONDS * 4)
        gc.collect()
        assert errors == []
        output.closed = False
        await socket.disconnect()
    finally:
        loop.set_exception_handler(previous)
