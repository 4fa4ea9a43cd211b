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
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils.functional import Promise

from tenants import live_sender
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

# Called after commit with (tenant, topic name, event) for every published event, before it is
# sent: a module keeping derived data (reporting's card cache) learns of changes it does not
# own without each publisher knowing it.
Listener = Callable[[Tenant, str, str], None]
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


def publish(
    *,
    tenant: Tenant,
    topic: Topic,
    event: str,
    payload: dict[str, Any],
    owners: Iterable[int | None] | None = None,
) -> None:
    """Send ``event`` to every page listening to ``topic`` in this workspace, after commit.
    ``owners``: the owners of the records the event is about (see the module's docstring)."""
    group = topic_group(schema_name=tenant.schema_name, topic=topic.name)
    message: dict[str, Any] = {
        "type": "notify",
        "event": event,
        "payload": payload,
        "topic": topic.name,
    }
    if owners is not None:
        message["owners"] = sorted({owner for owner in owners if owner is not None})

    def deliver() -> None:
        # Listeners first, in the committing thread: a page loaded right after the commit must
        # not be served from a cache the change made stale. Then the event is queued.
        for listener in _LISTENERS:
            listener(tenant, topic.name, event)
        live_sender.send(group, message)

    transaction.on_commit(deliver)
