"""Floods from several processes: a dashboard still hears the change that follows them.

A receiving process's queue (the channel layer's capacity) is shared by every socket of the
process. When web and worker processes flood it — here three senders, each a process's own,
with events that name no record — it is full when the change a dashboard must hear is sent,
and the layer would drop it: the dashboard would show the old numbers until the next change.
The sender holds what a full queue refuses and sends it once the queue has room (ADR 0074).

Real Redis channel layer and real consumers; the queue is made small (40) so a few hundred
messages fill it. The test's event loop is held while the floods and the change are sent, so
nothing reads the queue meanwhile, as when a receiving process falls behind."""

from __future__ import annotations

import json
import re

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django_tenants.utils import schema_context

from crm_modules.sales.services import deal_create
from tenants import live_sender
from tenants.live import topic_group
from tenants.models import Membership
from tenants.roles import Role
from tests.conftest import World, workspace_client
from tests.reporting.test_live import TIMEOUT, _in_own_thread, _open, committed  # noqa: F401
from tests.sales.factories import PipelineFactory

pytestmark = pytest.mark.django_db
CAPACITY = 40
FLOOD = 200


def _flood(sender: live_sender.LiveSender, group: str, n: int) -> None:
    for i in range(FLOOD):
        sender.submit(
            group,
            {"type": "notify", "event": "import.progress", "payload": {"done": i, "of": n}},
        )


def _funnel(world: World) -> list[float]:
    client = workspace_client(world.alpha.owner.user, world.alpha.tenant)
    html = client.get("/reporting/chart/?key=pipeline").content.decode()
    match = re.search(r'<script id="figure-pipeline" type="application/json">(.*?)</script>', html)
    assert match
    x: list[float] = json.loads(match.group(1))["data"][0]["x"]
    return x


async def test_a_change_after_floods_from_several_processes_reaches_the_dashboard(
    committed: World,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    layer = get_channel_layer()
    monkeypatch.setattr(layer, "capacity", CAPACITY)
    schema = committed.alpha.tenant.schema_name
    socket = await _open(committed, Role.OWNER)
    await socket.receive_json_from(timeout=TIMEOUT)
    # A page of this process that hears another group: what the floods go to.
    other = await layer.new_channel()
    flood_group = f"{schema}.topic.imports-elsewhere"
    await layer.group_add(flood_group, other)
    deals_group = topic_group(schema_name=schema, topic="deals")
    senders = [live_sender.LiveSender() for _ in range(3)]
    owner = committed.alpha.owner

    def change() -> None:
        with schema_context(schema):
            actor = Membership.objects.select_related("tenant", "user").get(pk=owner.pk)
            pipeline = PipelineFactory.create()
            deal_create(
                actor=actor, name="Après", stage=pipeline.stages.get(position=0).pk, amount="777"
            )

    try:
        for n, sender in enumerate(senders):
            _flood(sender, flood_group, n)
            # Each process's burst ends with an event of the dashboard's that names no record.
            sender.submit(
                deals_group,
                {
                    "type": "notify",
                    "event": "import.finished",
                    "payload": {"job": n},
                    "topic": "deals",
                },
            )
        # Blocking on purpose: the event loop, and so the queue's reader, waits meanwhile.
        for sender in senders:
            assert sender.drain(30.0)
        _in_own_thread(change)
        assert live_sender.drain(30.0)
        process = layer.non_local_name(other)
        queued = await layer.connection(layer.consistent_hash(process)).zcard(
            layer.prefix + process
        )
        # The queue was full when the change was sent: the layer alone would have dropped it.
        assert queued == CAPACITY

        charts: set[str] = set()
        while "pipeline" not in charts:
            frame = await socket.receive_json_from(timeout=TIMEOUT * 2)
            assert frame["event"] == "dashboard.refresh"
            charts |= set(frame["payload"]["charts"])
        # The refresh came after the change committed: the funnel the page fetches shows it.
        assert 777.0 in await sync_to_async(_in_own_thread)(lambda: _funnel(committed))
    finally:
        await layer.group_discard(flood_group, other)
        await socket.disconnect()
