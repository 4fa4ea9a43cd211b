"""The dashboard's card cache: each card's drawn numbers, per viewer, until the workspace's
records change.

A card is what one member sees (their scope, role and language), so the key names the member,
their role and the language, and the cache's key function prefixes it with the workspace's
schema (D6). Every key also carries the workspace's *generation*, a token replaced once per
commit that publishes a live event in the workspace (any topic), and whenever the dashboards
are told of a change (quotas, imports, customer values): a changed record makes every card of
the workspace miss once, then the first viewer fills it again. Every audited change does the same
(``tenants.audit.services.register_audit_listener``: a time zone or a role changed, a stage's
probability edited, a custom field deleted), except the few that change no number; and the key
carries the workspace's date, so "last 12 months" moves on at midnight. What is neither
published nor audited (a manager's team edited) is bounded by ``CARD_SECONDS``.
"""

from __future__ import annotations

import secrets
import zoneinfo
from collections.abc import Callable

from django.core.cache import cache
from django.utils import timezone
from django.utils.translation import get_language
from django_tenants.utils import schema_context

from crm_modules.reporting.cards import ChartView
from tenants import commit_batch
from tenants.models import Membership, Tenant

CARD_SECONDS = 300
GENERATION_KEY = "reporting.cards.generation"


def generation() -> str:
    """The current schema's generation token, made on first use."""
    token = cache.get(GENERATION_KEY)
    if token is None:
        token = secrets.token_hex(6)
        if not cache.add(GENERATION_KEY, token, timeout=None):
            token = cache.get(GENERATION_KEY) or token
    return str(token)


def generation_bump(*, tenant: Tenant) -> None:
    """Make every cached card of the workspace stale (a new token, never a reused one)."""
    with schema_context(tenant.schema_name):
        cache.set(GENERATION_KEY, secrets.token_hex(6), timeout=None)


def _workspace_day(member: Membership) -> str:
    try:
        zone = zoneinfo.ZoneInfo(member.tenant.time_zone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    return timezone.now().astimezone(zone).date().isoformat()


def card_key(member: Membership, chart_key: str) -> str:
    return ".".join(
        (
            "reporting.card",
            generation(),
            # A new day in the workspace moves relative periods ("last 12 months") on.
            _workspace_day(member),
            str(member.pk),
            str(member.role),
            get_language() or "",
            chart_key,
        )
    )


def cached_card(member: Membership, chart_key: str, build: Callable[[], ChartView]) -> ChartView:
    """The member's card from the cache, or built and kept."""
    key = card_key(member, chart_key)
    view = cache.get(key)
    if isinstance(view, ChartView):
        return view
    view = build()
    cache.set(key, view, timeout=CARD_SECONDS)
    return view


def _bump_once(tenant: Tenant) -> None:
    # Called back after a commit: one new generation per workspace per commit, however many
    # events and audited changes it holds (ADR 0067). The first callback of the commit runs
    # after all of its changes are committed, so the cards it makes stale cover them all.
    batch = commit_batch.running()
    if batch is None:
        generation_bump(tenant=tenant)
    else:
        batch.once(("reporting.cards", tenant.schema_name), lambda: generation_bump(tenant=tenant))


def on_live_event(tenant: Tenant, topic: str) -> None:
    _bump_once(tenant)


# Audited actions that change nothing a card shows: every other audited change (a time zone,
# a role, a pipeline's stages, a custom field deleted, a member deactivated) makes the cards
# stale at once instead of up to ``CARD_SECONDS`` later.
QUIET_ACTIONS = frozenset(
    {
        "member.signed_in",
        "report.exported",
        "records.exported",
        "members.exported",
        "report.scheduled",
        "report.schedule_paused",
        "report.schedule_deleted",
        "invitation.created",
        "invitation.resent",
        "invitation.revoked",
    }
)


def on_audited_change(tenant: Tenant, action: str) -> None:
    if action not in QUIET_ACTIONS:
        _bump_once(tenant)
