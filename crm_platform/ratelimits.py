"""Fixed-window rate limits in the shared cache.

``counters_allowed`` is the one counter: in a workspace's schema its keys are that workspace's
(the cache's key function prefixes them, D6), so visitor-facing forms count per workspace.
On top of it, the limits on actions that send mail to an address the actor typed (invitations,
signup) count in the public schema, so one recipient's count is the same from every workspace:
without them, anyone with a trial could use the platform to mail any address. Keys are
digests: the cache never holds the addresses themselves.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext as _
from django_tenants.utils import schema_context

from crm_platform.errors import ServiceError


class RateLimited(ServiceError):
    pass


@dataclass(frozen=True)
class Bucket:
    """One counter: ``scope`` names what is counted (actor, workspace, recipient), ``key``
    whose count it is."""

    scope: str
    key: str

    @property
    def cache_key(self) -> str:
        digest = hashlib.sha256(self.key.lower().encode()).hexdigest()[:32]
        return f"rl:mail:{self.scope}:{digest}"

    @property
    def limit(self) -> tuple[int, int]:
        count, seconds = settings.TYPED_ADDRESS_MAIL_LIMITS[self.scope]
        return int(count), int(seconds)


def counters_allowed(counters: Sequence[tuple[str, int, int]]) -> bool:
    """Count one event in every ``(cache key, limit, window seconds)`` counter if none is full;
    False, and nothing counted, if one is."""
    if any(int(cache.get(key) or 0) >= limit for key, limit, _seconds in counters):
        return False
    for key, _limit, seconds in counters:
        counter_increment(key, seconds)
    return True


def counter_increment(key: str, seconds: int) -> int:
    """Add one to the counter ``key`` (created for ``seconds``) and return its count. A
    counter that expired or was evicted between its creation and the increment starts again
    at one, rather than failing the request."""
    cache.add(key, 0, timeout=seconds)
    try:
        return int(cache.incr(key))
    except ValueError:
        cache.set(key, 1, timeout=seconds)
        return 1


def mail_allowed(buckets: list[Bucket]) -> bool:
    """Count one email in every bucket if none is full; False (and nothing counted) if one is."""
    with schema_context("public"):
        return counters_allowed([(bucket.cache_key, *bucket.limit) for bucket in buckets])


def check_typed_address_mail(*, actor_id: int, tenant_id: int, recipient: str) -> None:
    """Raise RateLimited (before anything is written) if the actor, the workspace or the
    recipient has had too many such emails lately; otherwise count this one."""
    buckets = [
        Bucket("actor", str(actor_id)),
        Bucket("workspace", str(tenant_id)),
        Bucket("recipient", recipient),
    ]
    if not mail_allowed(buckets):
        raise RateLimited(
            _("Too many invitation emails have been sent lately. Try again later."),
            field="email",
            code="rate_limited",
        )
