"""Reads scoped to what the caller may see; getters raise 404 for anything outside the
workspace (DESIGN rule 4)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from django.db.models import (
    Case,
    Count,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone

from tenants.models import Invitation, Membership, Tenant, User


def member_list(*, tenant: Tenant, search: str = "") -> QuerySet[Membership]:
    members = Membership.objects.filter(tenant=tenant)
    if search:
        members = members.filter(
            Q(user__full_name__icontains=search) | Q(user__email__icontains=search)
        )
    return members.select_related("user").order_by("status", "user__full_name", "user__email")


def member_suggestions(*, tenant: Tenant, search: str, limit: int) -> list[Membership]:
    """Active members to @mention: those whose name or email starts with ``search`` first,
    then those containing it, by name."""
    members = Membership.objects.filter(tenant=tenant, status=Membership.Status.ACTIVE)
    if search:
        members = members.filter(
            Q(user__full_name__icontains=search) | Q(user__email__icontains=search)
        )
        starts = Q(user__full_name__istartswith=search) | Q(user__email__istartswith=search)
        members = members.annotate(
            first=Case(When(starts, then=Value(0)), default=Value(1), output_field=IntegerField())
        ).order_by("first", "user__full_name", "user__email")
    else:
        members = members.order_by("user__full_name", "user__email")
    return list(members.select_related("user")[:limit])


def member_get(*, tenant: Tenant, member_id: int) -> Membership:
    member = Membership.objects.filter(tenant=tenant, pk=member_id).select_related("user").first()
    if member is None:
        raise Http404("No such member")
    return member


def invitation_pending_list(*, tenant: Tenant) -> QuerySet[Invitation]:
    return (
        Invitation.objects.filter(tenant=tenant, status=Invitation.Status.PENDING)
        .select_related("invited_by")
        .order_by("-sent_at")
    )


def invitation_get(*, tenant: Tenant, invitation_id: int) -> Invitation:
    invitation = Invitation.objects.filter(tenant=tenant, pk=invitation_id).first()
    if invitation is None:
        raise Http404("No such invitation")
    return invitation


def workspace_list_for_user(*, user: User) -> QuerySet[Membership]:
    """The user's active seats in live workspaces, for the switcher."""
    return (
        Membership.objects.filter(
            user=user,
            status=Membership.Status.ACTIVE,
            tenant__state__in=[Tenant.State.ACTIVE, Tenant.State.SUSPENDED],
        )
        .select_related("tenant")
        .order_by("tenant__name")
    )


def workspace_membership(*, user: User, slug: str) -> Membership:
    membership = (
        workspace_list_for_user(user=user)
        .filter(tenant__slug=slug)
        .select_related("tenant")
        .first()
    )
    if membership is None:
        raise Http404("No such workspace")
    return membership


def trial_days_left(tenant: Tenant, *, now: datetime | None = None) -> int | None:
    """Whole days left, rounded up: a trial that started a second ago has 14 days left, not
    13, and one ending in an hour still has 1. Counted from instants, so the viewer's time
    zone cannot shift it."""
    if tenant.trial_ends_at is None:
        return None
    remaining = tenant.trial_ends_at - (now or timezone.now())
    if remaining <= timedelta(0):
        return 0
    return math.ceil(remaining / timedelta(days=1))


def _seats_taken() -> Any:
    """Seats taken, as an expression over a Tenant queryset: active members plus pending,
    unexpired invitations. Counted in subqueries, not joins, so that members and invitations
    do not multiply each other."""

    def count(rows: QuerySet[Any]) -> Coalesce:
        counted = rows.order_by().values("tenant").annotate(n=Count("pk")).values("n")
        return Coalesce(Subquery(counted), 0)

    members = Membership.objects.filter(tenant=OuterRef("pk"), status=Membership.Status.ACTIVE)
    invitations = Invitation.objects.filter(
        tenant=OuterRef("pk"), status=Invitation.Status.PENDING, expires_at__gt=timezone.now()
    )
    return count(members) + count(invitations)


def tenant_list_with_seats() -> QuerySet[Tenant]:
    """Live workspaces, each annotated with ``seats_taken`` in one query (platform admin)."""
    tenants: QuerySet[Tenant] = Tenant.objects.exclude(state=Tenant.State.SPARE).annotate(
        seats_taken=_seats_taken()
    )
    return tenants


def seats_used(*, tenant: Tenant) -> int:
    return int(
        Tenant.objects.filter(pk=tenant.pk)
        .annotate(seats_taken=_seats_taken())
        .values_list("seats_taken", flat=True)
        .get()
    )


def seats_used_summary(*, tenant: Tenant) -> dict[str, int]:
    used = seats_used(tenant=tenant)
    return {"used": used, "limit": tenant.seat_limit, "free": max(0, tenant.seat_limit - used)}


def workspace_slug_taken(*, slug: str) -> bool:
    return Tenant.objects.filter(slug=slug).exists()
