"""Live events leave the request: after commit, ``publish`` hands each event to the process's
sender thread, which sends whatever has gathered, one Redis round trip per group (ADR 0065).

Sent one by one from the committing thread, each event cost a hop into an event loop
(``async_to_sync``) and four Redis round trips: about 13 ms on the shared 2-core machine, so a
bulk edit of 500 deals held its response some 7 s after its commit, and a burst of 10,000 took
over two minutes. Now the committing thread only queues the event (the work of an
``on_commit`` callback, so Django's savepoint rules still decide which events exist at all),
and the sender, on its own event loop, takes everything queued and pipelines it per group.

Order: the events of one group arrive in the order they were queued (each gets a strictly
increasing score in the receivers' sorted sets); different groups are sent side by side.
Delivery is as best-effort as the channel layer itself: a socket that misses an event catches
up when it reconnects; at exit the process gives the sender a few seconds to drain.

Only the Redis layer goes through the sender. Any other layer (the in-memory layer of a
workspace run without Redis) is bound to the server's event loop and keeps the direct send.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import queue
import threading
import time
from collections import defaultdict
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels_redis.core import RedisChannelLayer

logger = logging.getLogger(__name__)

# At most this many events per round of the sender: a huge burst goes out in slices, so one
# pipeline never holds more than this many messages.
BATCH = 2_000
DRAIN_SECONDS = 5.0

# Each receiving process's sorted set gets the message with a score; the layer pops the lowest
# first. Same algorithm as the layer's own group send, for many messages in one pipeline, with
# the cleaning of expired messages done in the script rather than in a round trip of its own.
_SEND_MANY = """
local current_time = tonumber(ARGV[#ARGV - 1])
local expiry = tonumber(ARGV[#ARGV])
local over_capacity = 0
for i=1,#KEYS do
    redis.call('ZREMRANGEBYSCORE', KEYS[i], 0, current_time - expiry)
    if redis.call('ZCOUNT', KEYS[i], '-inf', '+inf') < tonumber(ARGV[i + #KEYS]) then
        redis.call('ZADD', KEYS[i], current_time, ARGV[i])
        redis.call('EXPIRE', KEYS[i], expiry)
    else
        over_capacity = over_capacity + 1
    end
end
return over_capacity
"""


class _Scores:
    """Strictly increasing scores near the clock, so one group's messages keep their order."""

    def __init__(self) -> None:
        self.last = 0.0

    def next(self) -> float:
        self.last = max(time.time(), self.last + 1e-5)
        return self.last


async def group_send_many(
    layer: RedisChannelLayer, group: str, messages: list[dict[str, Any]], scores: _Scores
) -> None:
    """``layer.group_send`` for several messages to one group: the group's members are read
    once, and every message to every receiving process goes in one pipeline per Redis host."""
    key = layer._group_key(group)
    connection = layer.connection(layer.consistent_hash(group))
    now = int(time.time())
    await connection.zremrangebyscore(key, min=0, max=now - layer.group_expiry)
    channel_names = [name.decode("utf8") for name in await connection.zrange(key, 0, -1)]
    if not channel_names:
        return
    per_host: dict[int, list[tuple[list[bytes], list[Any]]]] = defaultdict(list)
    for message in messages:
        by_host, payloads, capacities = layer._map_channel_keys_to_connection(
            channel_names, message
        )
        score = scores.next()
        for index, keys in by_host.items():
            args = [payloads[k] for k in keys] + [capacities[k] for k in keys]
            per_host[index].append((keys, [*args, score, int(layer.expiry)]))
    for index, calls in per_host.items():
        pipe = layer.connection(index).pipeline(transaction=False)
        for keys, args in calls:
            pipe.eval(_SEND_MANY, len(keys), *keys, *args)
        over = sum(await pipe.execute())
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

    def submit(self, group: str, message: dict[str, Any]) -> None:
        with self._lock:
            if self._pid != os.getpid():
                # First use in this process (or a fork of one that had a sender): start afresh.
                self._pid = os.getpid()
                self._queue = queue.SimpleQueue()
                self._unsent = 0
                threading.Thread(target=self._run, name="live-sender", daemon=True).start()
            self._unsent += 1
            self._queue.put((group, message))

    def drain(self, timeout: float = DRAIN_SECONDS) -> bool:
        """Wait until every queued event has been sent (or failed); False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._unsent == 0, timeout=timeout)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        events = self._queue
        while True:
            batch = [events.get()]
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
        by_group: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for group, message in batch:
            by_group[group].append(message)
        results = await asyncio.gather(
            *(group_send_many(layer, g, m, self._scores) for g, m in by_group.items()),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException):
                logger.error("live events to a group could not be sent", exc_info=result)


_SENDER = LiveSender()
atexit.register(_SENDER.drain)


def send(group: str, message: dict[str, Any]) -> None:
    """Send ``message`` to ``group`` without waiting for Redis (see the module's docstring)."""
    layer = get_channel_layer()
    if isinstance(layer, RedisChannelLayer):
        _SENDER.submit(group, message)
    elif layer is not None:
        async_to_sync(layer.group_send)(group, message)


def drain(timeout: float = DRAIN_SECONDS) -> bool:
    return _SENDER.drain(timeout)
