"""The live sender: events leave after commit through one queue per process, every one of a
transaction's events arrives, in order, and a rolled-back savepoint's events never leave."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.db import transaction

from tenants import live_sender
from tenants.live import publish, topic_group
from tenants.roles import Role
from tests.conftest import World
from tests.kit_module.module import NOTES_TOPIC
from tests.tenants.test_module_kit import _socket

pytestmark = pytest.mark.django_db


async def test_a_burst_arrives_whole_and_in_order_without_the_rolled_back_savepoint(
    world: World,
) -> None:
    rep = await _socket(world, Role.SALES_REP)

    def edit_many() -> None:
        with transaction.atomic():
            for n in range(300):
                publish(
                    tenant=world.alpha.tenant,
                    topic=NOTES_TOPIC,
                    event="note.renamed",
                    payload={"n": n},
                )
                if n == 150:
                    try:
                        with transaction.atomic():
                            publish(
                                tenant=world.alpha.tenant,
                                topic=NOTES_TOPIC,
                                event="note.renamed",
                                payload={"n": "undone"},
                            )
                            raise RuntimeError("the savepoint is rolled back")
                    except RuntimeError:
                        pass

    await database_sync_to_async(edit_many)()

    received = [(await rep.receive_json_from(timeout=10))["payload"]["n"] for _ in range(300)]
    assert received == list(range(300))
    assert await rep.receive_nothing(timeout=0.5)
    await rep.disconnect()


async def test_many_groups_at_once_each_get_their_own_messages_in_order(world: World) -> None:
    layer = get_channel_layer()
    assert layer is not None
    schema = world.alpha.tenant.schema_name
    groups = [topic_group(schema_name=schema, topic=f"bench-{g}") for g in range(5)]
    channels = {}
    for group in groups:
        channels[group] = [await layer.new_channel(), await layer.new_channel()]
        for channel in channels[group]:
            await layer.group_add(group, channel)

    def send_all() -> None:
        for n in range(40):
            for group in groups:
                live_sender.send(group, {"type": "notify", "group": group, "n": n})

    await database_sync_to_async(send_all)()
    assert await database_sync_to_async(live_sender.drain)(10.0)
    for group in groups:
        for channel in channels[group]:
            got = [await layer.receive(channel) for _ in range(40)]
            assert [(m["group"], m["n"]) for m in got] == [(group, n) for n in range(40)]
        for channel in channels[group]:
            await layer.group_discard(group, channel)


async def test_a_group_nobody_listens_to_costs_nothing_and_drains(world: World) -> None:
    group = topic_group(schema_name=world.alpha.tenant.schema_name, topic="nobody")
    await database_sync_to_async(live_sender.send)(group, {"type": "notify", "n": 1})
    assert await database_sync_to_async(live_sender.drain)(10.0)
