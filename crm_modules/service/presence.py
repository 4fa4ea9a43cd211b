"""Who is looking at a ticket right now, and who is writing a reply (ADR 0037).

Kept in Redis, not the database: one sorted set per ticket under a key that starts with the
workspace's schema (D6), each member as ``<user id>:<viewing|replying>`` scored by the time the
entry lapses. An open ticket page renews its entry with a heartbeat every ``HEARTBEAT``
seconds; an entry not renewed within ``TTL`` seconds is gone (a closed laptop, a lost
network), and so is the key when nobody renews it.
"""

from __future__ import annotations

import time
from typing import Any

from django_redis import get_redis_connection

TTL = 45
HEARTBEAT = 15
STATES = ("viewing", "replying")


def presence_key(*, schema_name: str, ticket_id: int) -> str:
    return f"{schema_name}:service:presence:{ticket_id}"


def presence_group(*, schema_name: str, ticket_id: int) -> str:
    """The channel-layer group of the pages open on one ticket."""
    return f"{schema_name}.service.presence.{ticket_id}"


def _redis() -> Any:
    return get_redis_connection("default")


def presence_touch(
    *, schema_name: str, ticket_id: int, user_id: int, state: str, now: float | None = None
) -> None:
    """``user_id`` is on the ticket's page in ``state`` (renewed for ``TTL`` seconds)."""
    if state not in STATES:
        raise ValueError(state)
    moment = time.time() if now is None else now
    key = presence_key(schema_name=schema_name, ticket_id=ticket_id)
    others = [f"{user_id}:{other}" for other in STATES if other != state]
    pipe = _redis().pipeline()
    pipe.zrem(key, *others)
    pipe.zadd(key, {f"{user_id}:{state}": moment + TTL})
    pipe.zremrangebyscore(key, "-inf", moment)
    pipe.expire(key, TTL)
    pipe.execute()


def presence_leave(*, schema_name: str, ticket_id: int, user_id: int) -> None:
    key = presence_key(schema_name=schema_name, ticket_id=ticket_id)
    _redis().zrem(key, *(f"{user_id}:{state}" for state in STATES))


def presence_list(
    *, schema_name: str, ticket_id: int, now: float | None = None
) -> list[tuple[int, str]]:
    """(user id, state) of everyone on the ticket's page, by user id."""
    moment = time.time() if now is None else now
    key = presence_key(schema_name=schema_name, ticket_id=ticket_id)
    entries = _redis().zrangebyscore(key, moment, "+inf")
    people = []
    for raw in entries:
        user, _sep, state = (raw.decode() if isinstance(raw, bytes) else raw).partition(":")
        if user.isdigit() and state in STATES:
            people.append((int(user), state))
    return sorted(people)
