"""Live events leave the request: after commit, ``publish`` hands each event to the process's
sender thread, which sends whatever has gathered, one Redis round trip per group (ADR 0065).

Sent one by one from the committing thread, each event cost a hop into an event loop
(``async_to_sync``) and four Redis round trips: about 13 ms on the shared 2-core machine, so a
bulk edit of 500 deals held its response some 7 s after its commit, and a burst of 10,000 took
over two minutes. Now the committing thread only queues the event (the work of an
``on_commit`` callback, so Django's savepoint rules still decide which events exist at all),
and the sender, on its own event loop, takes everything queued and pipelines it per group.

Order: the events of one group arrive in the order they were queued (each gets a strictly
increasing score in the receivers' sorted sets); different groups are sent side by side. A
merged summary stands where the first event it names stood.
Delivery is as best-effort as the channel layer itself: a socket that misses an event catches
up when it reconnects; at exit the process gives the sender a few seconds to send what is
queued and what is held (``flush``), and logs what it had to leave.

A burst the sockets cannot keep up with is merged (ADR 0067): when a group's backlog (what a
round holds for it, plus the most messages one of its receiving processes has not read yet)
passes ``LIVE_MERGE_BACKLOG``, the round's record events of one event name become one summary
in the form of a bulk change's (ADR 0066), so the layer's capacity never drops the tail.

A receiving process's queue is one per process, shared by all of its sockets, whatever their
workspace or topic; several processes (web, Celery workers) send to it side by side, each
checking the backlog on its own, and events that name no record are never merged. So a queue
can still be full when a message arrives, and the layer would drop it: the one event that
tells a socket its page changed, behind another group's flood, and no later event to make up
for it (ADR 0074). The sender sees which queue had no room (the send script says so per
queue) and holds the message for that queue instead, with every later message of the same
group for it, so their order stays; every ``RETRY_SECONDS`` it sends what it holds, merged
(record events into summaries, identical messages once), as far as the queue has room,
smallest hold first so one flood cannot keep a single event waiting. A hold whose queue has
taken nothing for the layer's expiry is given up: its receiver has read nothing for that long
and is gone.

Only the Redis layer goes through the sender. Any other layer (the in-memory layer of a
workspace run without Redis) is bound to the server's event loop and keeps the direct send.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
import os
import queue
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels_redis.core import RedisChannelLayer
from django.conf import settings

logger = logging.getLogger(__name__)

# At most this many events per round of the sender: a huge burst goes out in slices, so one
# pipeline never holds more than this many messages.
BATCH = 2_000
DRAIN_SECONDS = 5.0
# A group's backlog past this many messages has its record events merged (the layer's capacity
# per receiving process is 5,000; a round adds at most one summary per event name to it).
MERGE_BACKLOG = 1_000

# Held messages are sent again this often while a receiving process's queue is full.
RETRY_SECONDS = 0.05

# Each receiving process's sorted set gets the message with a score; the layer pops the lowest
# first. Same algorithm as the layer's own group send, for many messages in one pipeline, with
# the cleaning of expired messages done in the script rather than in a round trip of its own.
# Returns, per key, 1 where the queue had no room (the message was not added), else 0.
_SEND_MANY = """
local current_time = tonumber(ARGV[#ARGV - 1])
local expiry = tonumber(ARGV[#ARGV])
local full = {}
for i=1,#KEYS do
    redis.call('ZREMRANGEBYSCORE', KEYS[i], 0, current_time - expiry)
    if redis.call('ZCOUNT', KEYS[i], '-inf', '+inf') < tonumber(ARGV[i + #KEYS]) then
        redis.call('ZADD', KEYS[i], current_time, ARGV[i])
        redis.call('EXPIRE', KEYS[i], expiry)
        full[i] = 0
    else
        full[i] = 1
    end
end
return full
"""
# Held messages to one receiving process's queue, in order, as far as it has room: ARGV is the
# capacity, the expiry, the time, then a score and a message each. Returns how many it added.
_SEND_HELD = """
local capacity = tonumber(ARGV[1])
local expiry = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, tonumber(ARGV[3]) - expiry)
local count = redis.call('ZCOUNT', KEYS[1], '-inf', '+inf')
local added = 0
for i=4,#ARGV,2 do
    if count >= capacity then
        break
    end
    redis.call('ZADD', KEYS[1], ARGV[i], ARGV[i + 1])
    count = count + 1
    added = added + 1
end
if added > 0 then
    redis.call('EXPIRE', KEYS[1], expiry)
end
return added
"""


def record_ids(payload: Any) -> list[int] | None:
    """The records a payload names (``id`` or ``ids``), or None if it names none."""
    if not isinstance(payload, dict):
        return None
    if isinstance(payload.get("id"), int):
        return [payload["id"]]
    ids = payload.get("ids")
    if isinstance(ids, list | tuple) and ids and all(isinstance(i, int) for i in ids):
        return list(ids)
    return None


@dataclass
class RecordSummary:
    """Many record events of one (topic, event) as one message, ``{"ids": [...], "count":
    N}`` (ADR 0066): ``owners`` is the union of the records' owners (who may hear it at all),
    ``owned`` each record's owners (so ``tenants.live.frame_for`` narrows it to the records
    within a socket's reach). A record named without owners is heard by everyone."""

    topic: str
    event: str
    ids: dict[int, None] = field(default_factory=dict)  # in the order they were added
    owners: dict[int, set[int]] = field(default_factory=dict)
    everyone: set[int] = field(default_factory=set)

    def add(self, ids: list[int], owners: list[int] | None) -> None:
        for record in ids:
            self.ids[record] = None
            if owners is None:
                self.everyone.add(record)
            else:
                self.owners.setdefault(record, set()).update(owners)

    def add_message(self, message: dict[str, Any], ids: list[int]) -> None:
        """Add a record event as published (``owners``) or a summary (``owned``)."""
        owned = dict(message.get("owned") or ())
        for record in ids:
            if record in owned:
                self.add([record], list(owned[record]))
            elif "owned" in message:  # a summary's record without owners
                self.add([record], None)
            else:
                self.add([record], message.get("owners"))

    def message(self) -> dict[str, Any]:
        ids = list(self.ids)
        message: dict[str, Any] = {
            "type": "notify",
            "event": self.event,
            "payload": {"ids": ids, "count": len(ids)},
            "topic": self.topic,
        }
        scoped = [record for record in ids if record not in self.everyone]
        if len(scoped) == len(ids):
            message["owners"] = sorted(set().union(*self.owners.values()))
        if scoped:
            # Read by ``frame_for`` only: a socket never passes owners on to the browser.
            message["owned"] = [[record, sorted(self.owners[record])] for record in scoped]
        return message


def _record_event(message: dict[str, Any]) -> list[int] | None:
    if message.get("type") != "notify" or "topic" not in message:
        return None
    return record_ids(message.get("payload"))


def merge_record_events(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages with the record events of each (topic, event) merged into one summary,
    which takes the place of the first of them: every merged event had committed before the
    sender took it, so a page that reads on the summary sees all of them. Other messages keep
    their order; an event name met once keeps its message as published."""
    merged: list[dict[str, Any] | tuple[str, str]] = []
    summaries: dict[tuple[str, str], tuple[RecordSummary, list[dict[str, Any]]]] = {}
    for message in messages:
        ids = _record_event(message)
        if ids is None:
            merged.append(message)
            continue
        key = (message["topic"], message["event"])
        if key not in summaries:
            summaries[key] = (RecordSummary(topic=key[0], event=key[1]), [])
            merged.append(key)
        summary, originals = summaries[key]
        summary.add_message(message, ids)
        originals.append(message)
    result: list[dict[str, Any]] = []
    for item in merged:
        if isinstance(item, tuple):
            summary, originals = summaries[item]
            result.append(originals[0] if len(originals) == 1 else summary.message())
        else:
            result.append(item)
    return result


def _mergeable(messages: list[dict[str, Any]]) -> bool:
    seen: set[tuple[str, str]] = set()
    for message in messages:
        if _record_event(message) is not None:
            key = (message["topic"], message["event"])
            if key in seen:
                return True
            seen.add(key)
    return False


def merge_backlog() -> int:
    return int(getattr(settings, "LIVE_MERGE_BACKLOG", MERGE_BACKLOG))


async def _unread(layer: RedisChannelLayer, channel_names: list[str]) -> int:
    """The most messages one of the receiving processes has not read yet."""
    per_host: dict[int, set[str]] = defaultdict(set)
    for channel in channel_names:
        name = layer.non_local_name(channel) if "!" in channel else channel
        per_host[layer.consistent_hash(name)].add(layer.prefix + name)
    most = 0
    for index, keys in per_host.items():
        pipe = layer.connection(index).pipeline(transaction=False)
        for channel_key in keys:
            pipe.zcard(channel_key)
        most = max([most, *await pipe.execute()])
    return most


@dataclass
class Held:
    """The messages of one group a receiving process's queue had no room for, in order, and
    the channels of that process they are for."""

    index: int  # the layer's connection for the queue
    # When the queue last took some of them (or the first was held).
    since: float
    channels: dict[str, None] = field(default_factory=dict)
    messages: list[dict[str, Any]] = field(default_factory=list)

    def add(self, message: dict[str, Any], channels: list[str]) -> None:
        self.channels.update(dict.fromkeys(channels))
        self.messages.append(message)


# (group, queue key) → what is held for it.
Holds = dict[tuple[str, str], Held]


def compact(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Held messages as few as they can be without losing any: record events merged into
    summaries (``merge_record_events``), and a message identical to a later one left out."""
    merged = merge_record_events(messages) if _mergeable(messages) else list(messages)
    last: dict[str, int] = {}
    for position, message in enumerate(merged):
        last[json.dumps(message, sort_keys=True, default=str)] = position
    kept = set(last.values())
    return [message for position, message in enumerate(merged) if position in kept]


async def send_held(layer: RedisChannelLayer, holds: Holds, scores: _Scores) -> None:
    """Send what is held, smallest hold first, each as far as its queue has room."""
    now = time.time()
    for (group, key), held in sorted(holds.items(), key=lambda item: len(item[1].messages)):
        if now - held.since > layer.expiry:
            logger.warning("%s held live messages of group %s given up", len(held.messages), group)
            del holds[(group, key)]
            continue
        held.messages = compact(held.messages)
        channels = list(held.channels)
        capacity = layer.get_capacity(channels[0])
        args: list[Any] = [capacity, int(layer.expiry), int(now)]
        # No more than the queue could take, however much is held.
        for message in held.messages[:capacity]:
            args += [scores.next(), layer.serialize({**message, "__asgi_channel__": channels})]
        added = int(await layer.connection(held.index).eval(_SEND_HELD, 1, key, *args))
        del held.messages[:added]
        if added:
            held.since = now
        if not held.messages:
            del holds[(group, key)]


class _Scores:
    """Strictly increasing scores near the clock, so one group's messages keep their order."""

    def __init__(self) -> None:
        self.last = 0.0

    def next(self) -> float:
        self.last = max(time.time(), self.last + 1e-5)
        return self.last


async def group_send_many(
    layer: RedisChannelLayer,
    group: str,
    messages: list[dict[str, Any]],
    scores: _Scores,
    holds: Holds | None = None,
) -> None:
    """``layer.group_send`` for several messages to one group: the group's members are read
    once, and every message to every receiving process goes in one pipeline per Redis host.
    Past the merge backlog, the record events are merged first (see the module's docstring).
    With ``holds``, a message a queue had no room for is held there, and so is every message
    for a queue that already holds some of the group's."""
    key = layer._group_key(group)
    connection = layer.connection(layer.consistent_hash(group))
    now = int(time.time())
    await connection.zremrangebyscore(key, min=0, max=now - layer.group_expiry)
    channel_names = [name.decode("utf8") for name in await connection.zrange(key, 0, -1)]
    if not channel_names:
        return
    merge_at = merge_backlog()
    if _mergeable(messages) and (
        len(messages) > merge_at or len(messages) + await _unread(layer, channel_names) > merge_at
    ):
        messages = merge_record_events(messages)
    channels_of: dict[str, list[str]] = defaultdict(list)
    for channel in channel_names:
        name = layer.non_local_name(channel) if "!" in channel else channel
        channels_of[layer.prefix + name].append(channel)
    per_host: dict[int, list[tuple[list[str], list[Any], dict[str, Any]]]] = defaultdict(list)
    for message in messages:
        by_host, payloads, capacities = layer._map_channel_keys_to_connection(
            channel_names, message
        )
        score = scores.next()
        for index, all_keys in by_host.items():
            keys = []
            for key in all_keys:
                if holds is not None and (group, key) in holds:
                    holds[(group, key)].add(message, channels_of[key])
                else:
                    keys.append(key)
            if keys:
                args = [payloads[k] for k in keys] + [capacities[k] for k in keys]
                per_host[index].append((keys, [*args, score, int(layer.expiry)], message))
    for index, calls in per_host.items():
        pipe = layer.connection(index).pipeline(transaction=False)
        for keys, args, _message in calls:
            pipe.eval(_SEND_MANY, len(keys), *keys, *args)
        over = 0
        for (keys, _args, message), full in zip(calls, await pipe.execute(), strict=True):
            for key, no_room in zip(keys, full, strict=True):
                if not no_room:
                    continue
                over += 1
                if holds is not None:
                    held = holds.setdefault((group, key), Held(index=index, since=time.time()))
                    held.add(message, channels_of[key])
        if over:
            logger.info("%s messages over capacity in group %s", over, group)


_Item = tuple[str, dict[str, Any]]


class LiveSender:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid = 0
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._unsent = 0
        self._idle = threading.Condition(self._lock)
        self._scores = _Scores()
        # Only the sender thread reads and writes it.
        self._holds: Holds = {}

    def submit(self, group: str, message: dict[str, Any]) -> None:
        with self._lock:
            if self._pid != os.getpid():
                # First use in this process (or a fork of one that had a sender): start afresh.
                self._pid = os.getpid()
                self._queue = queue.SimpleQueue()
                self._unsent = 0
                self._holds = {}
                threading.Thread(target=self._run, name="live-sender", daemon=True).start()
            self._unsent += 1
            self._queue.put((group, message))

    def drain(self, timeout: float = DRAIN_SECONDS) -> bool:
        """Wait until every queued event has been sent, held for a full queue, or failed;
        False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._unsent == 0, timeout=timeout)

    def flush(self, timeout: float = DRAIN_SECONDS) -> bool:
        """Wait until every queued event has been sent and nothing is held for a full queue
        any more (what a process does before it leaves); False on timeout, with what is still
        held logged."""
        with self._idle:
            done = self._idle.wait_for(
                lambda: self._unsent == 0 and not self._holds, timeout=timeout
            )
            if not done:
                held = sum(len(held.messages) for held in list(self._holds.values()))
                logger.warning(
                    "live events left unsent at exit", extra={"queued": self._unsent, "held": held}
                )
            return done

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        events = self._queue
        while True:
            try:
                # While something is held, wake up to send it again even if nothing comes.
                batch = [events.get(timeout=RETRY_SECONDS if self._holds else None)]
            except queue.Empty:
                batch = []
            while len(batch) < BATCH:
                try:
                    batch.append(events.get_nowait())
                except queue.Empty:
                    break
            try:
                loop.run_until_complete(self._send(batch))
            except Exception:
                logger.exception("live events could not be sent", extra={"count": len(batch)})
            with self._idle:
                self._unsent -= len(batch)
                self._idle.notify_all()

    async def _send(self, batch: list[_Item]) -> None:
        layer = get_channel_layer()
        if not isinstance(layer, RedisChannelLayer):  # only the Redis layer is ever queued
            raise TypeError(f"live events queued for {type(layer).__name__}")
        if self._holds:
            # Before the new messages: held ones are older, and a queue's hold keeps its order.
            try:
                await send_held(layer, self._holds, self._scores)
            except Exception:
                logger.exception("held live events could not be sent")
        by_group: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for group, message in batch:
            by_group[group].append(message)
        results = await asyncio.gather(
            *(group_send_many(layer, g, m, self._scores, self._holds) for g, m in by_group.items()),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException):
                logger.error("live events to a group could not be sent", exc_info=result)


_SENDER = LiveSender()
atexit.register(_SENDER.flush)


def send(group: str, message: dict[str, Any]) -> None:
    """Send ``message`` to ``group`` without waiting for Redis (see the module's docstring)."""
    layer = get_channel_layer()
    if isinstance(layer, RedisChannelLayer):
        _SENDER.submit(group, message)
    elif layer is not None:
        async_to_sync(layer.group_send)(group, message)


def drain(timeout: float = DRAIN_SECONDS) -> bool:
    return _SENDER.drain(timeout)
