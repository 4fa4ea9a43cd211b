"""The live sender: events leave after commit through one queue per process, every one of a
transaction's events arrives, in order, and a rolled-back savepoint's events never leave; a
burst larger than the layer holds is merged into summaries instead of losing its tail."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.db import transaction

from tenants import live_sender
from tenants.live import frame_for, publish, topic_group
from tenants.live_sender import RecordSummary
from tenants.roles import Role
from tests.conftest import World
from tests.kit_module.module import NOTES_TOPIC
from tests.tenants.test_module_kit import _socket

pytestmark = pytest.mark.django_db

# A message that never comes fails the test instead of leaving it waiting for ever.
RECEIVE_TIMEOUT = 30.0


async def receive(layer: Any, channel: str) -> dict[str, Any]:
    """The next message on ``channel``, within ``RECEIVE_TIMEOUT``."""
    message: dict[str, Any] = await asyncio.wait_for(layer.receive(channel), RECEIVE_TIMEOUT)
    return message


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
            got = [await receive(layer, channel) for _ in range(40)]
            assert [(m["group"], m["n"]) for m in got] == [(group, n) for n in range(40)]
        for channel in channels[group]:
            await layer.group_discard(group, channel)


async def test_a_group_nobody_listens_to_costs_nothing_and_drains(world: World) -> None:
    group = topic_group(schema_name=world.alpha.tenant.schema_name, topic="nobody")
    await database_sync_to_async(live_sender.send)(group, {"type": "notify", "n": 1})
    assert await database_sync_to_async(live_sender.drain)(10.0)


def _ids(frame: dict[str, Any]) -> list[int]:
    payload = frame["payload"]
    if "id" in payload:
        return [payload["id"]]
    assert payload["count"] == len(payload["ids"])
    ids: list[int] = payload["ids"]
    return ids


async def _heard_until(socket: WebsocketCommunicator, expected: set[int]) -> list[int]:
    """The records the socket's frames name, in order, read until all of ``expected`` came."""
    heard: list[int] = []
    while not expected <= set(heard):
        frame = await socket.receive_json_from(timeout=10)
        assert frame["event"] == "note.renamed"
        heard.extend(_ids(frame))
    assert await socket.receive_nothing(timeout=0.5)
    return heard


async def test_a_burst_past_the_layers_capacity_reaches_every_socket_whole_and_within_reach(
    world: World, settings: Any
) -> None:
    """6,000 record events of one transaction, published one by one (no ``coalesced()``):
    more than a receiving process's queue holds (5,000). Past the merge backlog the sender
    merges them into summaries, so every socket hears of every record it may see, in order,
    and the restricted rep of their own records only."""
    settings.LIVE_MERGE_BACKLOG = 200
    tenant = world.alpha.tenant
    rep_user = world.alpha.members[Role.SALES_REP].user_id
    owner_user = world.alpha.owner.user_id
    records = list(range(1, 6001))
    reps = [record for record in records if record % 10 == 0]
    rep_records = set(reps)
    owner = await _socket(world, Role.OWNER)
    rep = await _socket(world, Role.SALES_REP)

    def burst() -> None:
        with transaction.atomic():
            for record in records:
                publish(
                    tenant=tenant,
                    topic=NOTES_TOPIC,
                    event="note.renamed",
                    payload={"id": record},
                    owners=[rep_user if record in rep_records else owner_user],
                )

    await database_sync_to_async(burst)()
    assert await database_sync_to_async(live_sender.drain)(30.0)

    assert await _heard_until(owner, set(records)) == records
    assert await _heard_until(rep, set(reps)) == reps
    await owner.disconnect()
    await rep.disconnect()


def test_merged_record_events_keep_each_records_owners_and_the_first_ones_place() -> None:
    def event(name: str, record: int, owners: list[int] | None) -> dict[str, Any]:
        message = {"type": "notify", "event": name, "payload": {"id": record}, "topic": "notes"}
        return message if owners is None else {**message, "owners": owners}

    summary = RecordSummary(topic="notes", event="note.renamed")
    summary.add([5], [12])
    merged = live_sender.merge_record_events(
        [
            event("note.renamed", 1, [10]),
            {"type": "notify", "event": "note.counted", "payload": {"n": 2}, "topic": "notes"},
            event("note.deleted", 9, [10]),
            event("note.renamed", 2, [11]),
            event("note.renamed", 3, None),
            summary.message(),
        ]
    )
    assert merged == [
        {
            "type": "notify",
            "event": "note.renamed",
            "payload": {"ids": [1, 2, 3, 5], "count": 4},
            "topic": "notes",
            "owned": [[1, [10]], [2, [11]], [5, [12]]],
        },
        {"type": "notify", "event": "note.counted", "payload": {"n": 2}, "topic": "notes"},
        # Met once: left as published.
        event("note.deleted", 9, [10]),
    ]
    assert frame_for(merged[0], {"notes": frozenset({11})}) == {
        "event": "note.renamed",
        "payload": {"ids": [2, 3], "count": 2},
        "topic": "notes",
    }
    assert frame_for(merged[2], {"notes": frozenset({11})}) is None


async def test_a_full_queue_holds_the_groups_messages_in_order_until_it_has_room(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A receiving queue of 3: the 4th message is held, and so are the later ones of the
    group, even once the queue has room, so that they arrive after it; sent again, the held
    messages arrive whole and in order (ADR 0074)."""
    layer = get_channel_layer()
    monkeypatch.setattr(layer, "capacity", 3)
    channel = f"held.{uuid.uuid4().hex}"
    group = f"held-{uuid.uuid4().hex}"
    await layer.group_add(group, channel)
    holds: live_sender.Holds = {}
    scores = live_sender._Scores()
    ticks = [{"type": "notify", "event": "tick", "payload": {"n": n}} for n in range(6)]
    try:
        await live_sender.group_send_many(layer, group, ticks[:4], scores, holds)
        assert [len(held.messages) for held in holds.values()] == [1]
        received = [await receive(layer, channel) for _ in range(3)]
        await live_sender.group_send_many(layer, group, ticks[4:], scores, holds)
        assert [len(held.messages) for held in holds.values()] == [3]

        await live_sender.send_held(layer, holds, scores)
        assert holds == {}
        received += [await receive(layer, channel) for _ in range(3)]
        assert [message["payload"]["n"] for message in received] == [0, 1, 2, 3, 4, 5]
    finally:
        await layer.group_discard(group, channel)


async def test_a_process_leaving_waits_for_what_a_full_queue_holds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``flush`` (what runs at exit) returns only once the held messages went out too: with
    nobody reading the full queue it gives up and says so; once the reader makes room it
    returns True and every message has arrived, in order."""
    layer = get_channel_layer()
    monkeypatch.setattr(layer, "capacity", 3)
    channel = f"held.{uuid.uuid4().hex}"
    group = f"held-{uuid.uuid4().hex}"
    await layer.group_add(group, channel)
    sender = live_sender.LiveSender()
    try:
        for n in range(5):
            sender.submit(group, {"type": "notify", "event": "tick", "payload": {"n": n}})
        # Everything was handled: three sent, two held for the full queue.
        assert await sync_to_async(sender.drain)(10.0)
        assert not await sync_to_async(sender.flush)(0.2)

        leaving = asyncio.ensure_future(sync_to_async(sender.flush)(30.0))
        received = [await receive(layer, channel) for _ in range(5)]
        assert await leaving
        assert [message["payload"]["n"] for message in received] == [0, 1, 2, 3, 4]
    finally:
        await layer.group_discard(group, channel)


def test_held_messages_are_sent_merged_and_without_repeats() -> None:
    def moved(record: int, owner: int) -> dict[str, Any]:
        return {
            "type": "notify",
            "event": "deal.moved",
            "payload": {"id": record},
            "topic": "deals",
            "owners": [owner],
        }

    finished = {"type": "notify", "event": "import.finished", "payload": {}, "topic": "deals"}
    notice = {"type": "notify", "event": "export.ready", "payload": {"text": "Готово"}}
    assert live_sender.compact(
        [moved(1, 7), finished, moved(2, 8), dict(finished), notice, {**notice, "n": 2}]
    ) == [
        {
            "type": "notify",
            "event": "deal.moved",
            "payload": {"ids": [1, 2], "count": 2},
            "topic": "deals",
            "owners": [7, 8],
            "owned": [[1, [7]], [2, [8]]],
        },
        finished,
        notice,
        {**notice, "n": 2},
    ]
