"""Coalesced live events: within ``live.coalesced()`` the record events of a bulk change are
gathered, and after the commit one summary per (topic, event) goes out naming the records
whose savepoints committed, narrowed for each socket to the records within its reach.

The socket tests go through the real Redis channel layer and the live sender, as
tests/tenants/test_live_sender.py does."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.db import transaction

from tenants import live, live_sender
from tenants.live import coalesced, frame_for, publish
from tenants.live_sender import RecordSummary
from tenants.models import Tenant
from tenants.roles import Role
from tests.conftest import World
from tests.kit_module.module import NOTES_TOPIC
from tests.tenants.test_module_kit import _socket

pytestmark = pytest.mark.django_db


def _note(tenant: Tenant, event: str, record: int, owner: int | None) -> None:
    publish(tenant=tenant, topic=NOTES_TOPIC, event=event, payload={"id": record}, owners=[owner])


async def test_a_bulk_change_is_one_summary_per_event_naming_only_what_committed(
    world: World,
) -> None:
    tenant = world.alpha.tenant
    rep_user = world.alpha.members[Role.SALES_REP].user_id
    owner_user = world.alpha.owner.user_id
    owner = await _socket(world, Role.OWNER)
    rep = await _socket(world, Role.SALES_REP)

    def bulk() -> None:
        with transaction.atomic(), coalesced():
            for record in range(1, 51):
                try:
                    with transaction.atomic():
                        # Records 1-5 are the rep's, the others the owner's.
                        _note(
                            tenant, "note.renamed", record, rep_user if record <= 5 else owner_user
                        )
                        if record in (3, 20):
                            raise RuntimeError("this record's change is rolled back")
                except RuntimeError:
                    pass
            _note(tenant, "note.deleted", 60, owner_user)
            # An event that names no record is not gathered: it leaves as it was published.
            publish(tenant=tenant, topic=NOTES_TOPIC, event="note.counted", payload={"n": 2})

    await database_sync_to_async(bulk)()
    assert await database_sync_to_async(live_sender.drain)(10.0)

    committed = [record for record in range(1, 51) if record not in (3, 20)]
    assert [await owner.receive_json_from(timeout=10) for _ in range(3)] == [
        {"event": "note.counted", "payload": {"n": 2}, "topic": "notes"},
        {
            "event": "note.renamed",
            "payload": {"ids": committed, "count": 48},
            "topic": "notes",
        },
        {"event": "note.deleted", "payload": {"ids": [60], "count": 1}, "topic": "notes"},
    ]
    assert await owner.receive_nothing(timeout=0.5)
    # The rep (own notes only) hears of their own records only, and of nothing else.
    assert [await rep.receive_json_from(timeout=10) for _ in range(2)] == [
        {"event": "note.counted", "payload": {"n": 2}, "topic": "notes"},
        {
            "event": "note.renamed",
            "payload": {"ids": [1, 2, 4, 5], "count": 4},
            "topic": "notes",
        },
    ]
    assert await rep.receive_nothing(timeout=0.5)
    await owner.disconnect()
    await rep.disconnect()


async def test_a_rolled_back_bulk_change_sends_nothing(world: World) -> None:
    tenant = world.alpha.tenant
    owner = await _socket(world, Role.OWNER)

    def bulk() -> None:
        try:
            with transaction.atomic(), coalesced():
                for record in range(1, 11):
                    _note(tenant, "note.renamed", record, world.alpha.owner.user_id)
                raise RuntimeError("the whole change is rolled back")
        except RuntimeError:
            pass

    await database_sync_to_async(bulk)()
    assert await database_sync_to_async(live_sender.drain)(10.0)
    assert await owner.receive_nothing(timeout=0.5)
    await owner.disconnect()


@contextmanager
def heard_live_messages() -> Iterator[list[dict[str, Any]]]:
    """Every topic event handed to the live sender within the block (after its commit), as
    handed; each still goes on to the real sender."""
    heard: list[dict[str, Any]] = []
    send = live_sender.send

    def recording(group: str, message: dict[str, Any]) -> None:
        if "topic" in message:
            heard.append(message)
        send(group, message)

    live_sender.send = recording
    try:
        yield heard
    finally:
        live_sender.send = send


@contextmanager
def heard_live_events() -> Iterator[list[tuple[str, str]]]:
    """The (topic, event) of every topic event handed to the live sender within the block,
    filled in when the block ends."""
    events: list[tuple[str, str]] = []
    with heard_live_messages() as messages:
        try:
            yield events
        finally:
            events.extend((message["topic"], message["event"]) for message in messages)


@contextmanager
def told_listeners() -> Iterator[list[str]]:
    """The topics the live listeners (reporting's card cache) are told of within the block."""
    told: list[str] = []

    def listener(tenant: Tenant, topic: str) -> None:
        told.append(topic)

    live.register_listener(listener)
    try:
        yield told
    finally:
        live._LISTENERS.remove(listener)


def test_one_summary_per_event_and_the_listeners_once_per_topic_after_the_commit(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    with (
        heard_live_events() as heard,
        told_listeners() as told,
        django_capture_on_commit_callbacks(execute=True),
    ):
        with coalesced():
            # A block within a block gathers into the outer one.
            with coalesced():
                _note(world.alpha.tenant, "note.renamed", 1, None)
            _note(world.alpha.tenant, "note.renamed", 2, None)
            _note(world.alpha.tenant, "note.renamed", 1, None)
            _note(world.alpha.tenant, "note.deleted", 3, None)
        assert (heard, told) == ([], [])  # nothing runs before the commit
    assert heard == [("notes", "note.renamed"), ("notes", "note.deleted")]
    # Once for the commit's two summaries on the notes topic (ADR 0067).
    assert told == ["notes"]


def test_a_summary_is_narrowed_to_the_records_a_socket_may_hear() -> None:
    message = RecordSummary(topic="notes", event="note.renamed")
    message.add([1], [10])
    message.add([2], [11])
    message.add([3], [])  # a record without an owner
    message.add([1], [12])  # the same record again, given to someone else
    sent = message.message()
    assert sent["payload"] == {"ids": [1, 2, 3], "count": 3}
    assert sent["owners"] == [10, 11, 12]

    everyone: dict[str, frozenset[int] | None] = {"notes": None}
    assert frame_for(sent, everyone) == {
        "event": "note.renamed",
        "payload": {"ids": [1, 2, 3], "count": 3},
        "topic": "notes",
    }
    assert frame_for(sent, {"notes": frozenset({11})}) == {
        "event": "note.renamed",
        "payload": {"ids": [2], "count": 1},
        "topic": "notes",
    }
    assert frame_for(sent, {"notes": frozenset({12, 10})})["payload"] == {  # type: ignore[index]
        "ids": [1],
        "count": 1,
    }
    assert frame_for(sent, {"notes": frozenset({99})}) is None


def test_records_published_without_owners_reach_everyone_in_a_summary() -> None:
    summary = RecordSummary(topic="notes", event="note.renamed")
    summary.add([1], None)
    summary.add([2], [10])
    sent = summary.message()
    assert "owners" not in sent
    assert frame_for(sent, {"notes": frozenset({99})}) == {
        "event": "note.renamed",
        "payload": {"ids": [1], "count": 1},
        "topic": "notes",
    }
