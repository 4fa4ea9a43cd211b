"""Live-event topics: a workspace-wide channel-layer group per topic, besides the per-user group.

A module registers a topic with the capability needed to hear it (``register_topic``) and
publishes to it after commit (``publish``). Every open page of a member who may hear a topic is
subscribed to it by the socket consumer; the browser re-emits each event as a DOM event on
``<body>`` (``rapport:<event>``), so an HTMX fragment refreshes itself with
``hx-trigger="rapport:deal.moved from:body"``. Group names carry the schema (D6).

An event about owned records names their owners (``publish(..., owners=...)``): a member whose
scope for the topic's capability is narrower than the whole workspace (a Sales rep when the
workspace restricts record visibility) hears it only if one of those owners is within reach,
as ``allows`` would grant the record itself. The socket learns the member's reach when it
opens and again at each ping.

A bulk change runs inside ``coalesced()``: the record events its per-record services publish
are gathered instead of sent, and once the change has committed ONE summary per (topic,
event) goes out, ``{"ids": [...], "count": N}`` naming only the records whose savepoints
committed. A restricted member hears the summary only if one of its records is within reach,
and then only the ids of those records (``frame_for``) (ADR 0066). The sender merges a burst
published outside ``coalesced()`` into the same summaries when the sockets fall behind
(ADR 0067).

The live listeners hear of a commit once per (workspace, topic), however many events it
published there (ADR 0067).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils.functional import Promise

from tenants import commit_batch, live_sender
from tenants.capabilities import Capability, Scope
from tenants.models import Membership, Tenant
from tenants.permissions import allows, scope_of, team_user_ids

# Channel-layer group names allow ASCII letters, digits, hyphens, underscores and periods.
_TOPIC_NAME = re.compile(r"^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*$")


@dataclass(frozen=True)
class Topic:
    name: str
    label: str | Promise
    capability: Capability


_REGISTRY: dict[str, Topic] = {}

# Called after commit with (tenant, topic name), once per commit that published to the topic,
# before its first event is sent: a module keeping derived data (reporting's card cache)
# learns of changes it does not own without each publisher knowing it (ADR 0067).
Listener = Callable[[Tenant, str], None]
_LISTENERS: list[Listener] = []


def register_listener(listener: Listener) -> None:
    if listener not in _LISTENERS:
        _LISTENERS.append(listener)


def register_topic(name: str, *, label: str | Promise, capability: Capability) -> Topic:
    if not _TOPIC_NAME.match(name):
        raise ValueError(f"Topic name {name!r} must be lower-case dotted words")
    if name in _REGISTRY:
        raise ValueError(f"Topic {name} is already registered")
    topic = Topic(name=name, label=label, capability=capability)
    _REGISTRY[name] = topic
    return topic


def unregister_topic(name: str) -> None:
    _REGISTRY.pop(name, None)


def get_topic(name: str) -> Topic:
    return _REGISTRY[name]


def all_topics() -> list[Topic]:
    return list(_REGISTRY.values())


def topic_group(*, schema_name: str, topic: str) -> str:
    return f"{schema_name}.topic.{topic}"


def topics_for(membership: Membership) -> list[Topic]:
    """The topics a member's open pages listen to."""
    return [topic for topic in _REGISTRY.values() if allows(membership, topic.capability)]


def reach_for(membership: Membership) -> dict[str, frozenset[int] | None]:
    """For each topic the member hears: the owners whose records' events reach them, or None
    where their scope is the whole workspace."""
    reach: dict[str, frozenset[int] | None] = {}
    team: frozenset[int] | None = None
    for topic in topics_for(membership):
        capability = topic.capability
        scope = scope_of(membership, capability) if capability.is_record_scoped else Scope.ALL
        if scope is Scope.ALL:
            reach[topic.name] = None
        elif scope is Scope.OWN:
            reach[topic.name] = frozenset({membership.user_id})
        else:
            if team is None:
                team = frozenset(team_user_ids(membership))
            reach[topic.name] = team
    return reach


def reaches(message: dict[str, Any], reach: dict[str, frozenset[int] | None]) -> bool:
    """Whether a topic event may go to a socket of the given reach."""
    if "owners" not in message:
        return True
    within = reach.get(message.get("topic", ""))
    return within is None or not within.isdisjoint(message["owners"])


def frame_for(
    message: dict[str, Any], reach: dict[str, frozenset[int] | None]
) -> dict[str, Any] | None:
    """The frame a socket of the given reach gets for a topic event, or None if it gets none.
    A summary of a bulk change is narrowed to the records within reach: a restricted member
    learns neither the ids nor the number of records out of their sight."""
    if not reaches(message, reach):
        return None
    payload: dict[str, Any] = message["payload"]
    within = reach.get(message.get("topic", ""))
    owned = message.get("owned")
    if within is not None and owned:
        hidden = {record for record, owners in owned if within.isdisjoint(owners)}
        if hidden:
            ids = [record for record in payload["ids"] if record not in hidden]
            if not ids:
                return None
            payload = {**payload, "ids": ids, "count": len(ids)}
    frame = {"event": message["event"], "payload": payload}
    if "topic" in message:
        frame["topic"] = message["topic"]
    return frame


@dataclass
class _Summary:
    """The committed records of one (workspace, topic, event) within a ``coalesced`` block."""

    tenant: Tenant
    topic: Topic
    records: live_sender.RecordSummary


@dataclass
class _Collector:
    summaries: dict[tuple[str, str, str], _Summary] = field(default_factory=dict)

    def add(
        self, tenant: Tenant, topic: Topic, event: str, ids: list[int], owners: list[int] | None
    ) -> None:
        key = (tenant.schema_name, topic.name, event)
        if key not in self.summaries:
            records = live_sender.RecordSummary(topic=topic.name, event=event)
            self.summaries[key] = _Summary(tenant=tenant, topic=topic, records=records)
        self.summaries[key].records.add(ids, owners)

    def flush(self, batch: commit_batch.CommitBatch) -> None:
        summaries, self.summaries = list(self.summaries.values()), {}
        for summary in summaries:
            message = summary.records.message()
            _deliver(batch, summary.tenant, summary.topic, message)


_COLLECTOR: ContextVar[_Collector | None] = ContextVar("live_collector", default=None)


@contextmanager
def coalesced() -> Iterator[None]:
    """Within the block, record events are gathered; after the commit
    that holds the block, one summary per (topic, event) is sent naming every record whose
    event committed, in order. Each gathered event keeps its own ``on_commit`` callback, which
    only adds its records to the summary, so a savepoint rolled back takes its records out of
    it; the summary's own callback is registered when the block ends, after all of theirs and
    in a savepoint that encloses theirs, so it runs last, or is dropped with them. Events that
    name no record (no ``id`` or ``ids`` in the payload) are sent as usual. A block within
    another gathers into the outer one."""
    if _COLLECTOR.get() is not None:
        yield
        return
    collector = _Collector()
    token = _COLLECTOR.set(collector)
    try:
        yield
    finally:
        _COLLECTOR.reset(token)
        # Also after an error: what committed before it (outside any atomic block) is told.
        batch = commit_batch.current()
        transaction.on_commit(lambda: collector.flush(batch))


def _deliver(
    batch: commit_batch.CommitBatch, tenant: Tenant, topic: Topic, message: dict[str, Any]
) -> None:
    # Listeners first, in the committing thread, once per (workspace, topic) of the commit:
    # a page loaded right after the commit must not be served from a cache the change made
    # stale, and the first event of the commit to be delivered comes after all of its
    # changes are committed (ADR 0067). Then the event is queued.
    batch.once(("live", tenant.schema_name, topic.name), lambda: _tell(tenant, topic.name))
    live_sender.send(topic_group(schema_name=tenant.schema_name, topic=topic.name), message)


def _tell(tenant: Tenant, topic: str) -> None:
    for listener in list(_LISTENERS):
        listener(tenant, topic)


def publish(
    *,
    tenant: Tenant,
    topic: Topic,
    event: str,
    payload: dict[str, Any],
    owners: Iterable[int | None] | None = None,
) -> None:
    """Send ``event`` to every page listening to ``topic`` in this workspace, after commit.
    ``owners``: the owners of the records the event is about (see the module's docstring).
    Within ``coalesced()`` a record event joins the block's summary instead."""
    owner_ids = None if owners is None else sorted({o for o in owners if o is not None})
    collector = _COLLECTOR.get()
    ids = live_sender.record_ids(payload)
    if collector is not None and ids is not None:
        transaction.on_commit(lambda: collector.add(tenant, topic, event, ids, owner_ids))
        return
    message: dict[str, Any] = {
        "type": "notify",
        "event": event,
        "payload": payload,
        "topic": topic.name,
    }
    if owner_ids is not None:
        message["owners"] = owner_ids
    batch = commit_batch.current()
    transaction.on_commit(lambda: _deliver(batch, tenant, topic, message))
