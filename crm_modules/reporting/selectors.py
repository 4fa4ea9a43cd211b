"""Reads of saved reports, narrowed to what the acting member may open: their own, and those
shared with their role; and of quotas, narrowed to the member's reach. Getters raise Http404
for anything else."""

from __future__ import annotations

import datetime
from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404

from crm_modules.reporting.models import Quota, Report, ReportSchedule
from crm_modules.reporting.module import BUILD_REPORTS, SET_QUOTAS, VIEW_REPORTS
from crm_modules.reporting.reach import readable_source_codes
from tenants.capabilities import Scope
from tenants.models import Membership
from tenants.permissions import allows, scope_filter, scope_of, team_user_ids


def report_list(*, actor: Membership) -> QuerySet[Report]:
    if not allows(actor, VIEW_REPORTS, reading=True):
        return Report.objects.none()
    reports = Report.objects.filter(
        Q(owner_id=actor.user_id) | Q(shared_with__contains=[actor.role])
    )
    # Only reports of the sources the actor's reports may read (a Marketer: marketing's).
    reports = reports.filter(definition__source__in=readable_source_codes(actor))
    return reports.order_by("-id")


def report_get(*, actor: Membership, report_id: Any) -> Report:
    try:
        report = report_list(actor=actor).filter(pk=int(report_id)).first()
    except (TypeError, ValueError):
        report = None
    if report is None:
        raise Http404("No such report")
    return report


def pinned_reports(*, actor: Membership) -> list[Report]:
    return list(report_list(actor=actor).filter(pinned=True).order_by("id")[:12])


def schedule_list(*, actor: Membership) -> QuerySet[ReportSchedule]:
    """The actor's own schedules of reports they may still open."""
    if not allows(actor, BUILD_REPORTS, reading=True):
        return ReportSchedule.objects.none()
    return (
        ReportSchedule.objects.filter(owner_id=actor.user_id, report__in=report_list(actor=actor))
        .select_related("report")
        .order_by("report_id", "id")
    )


def schedule_get(*, actor: Membership, schedule_id: Any) -> ReportSchedule:
    try:
        schedule = schedule_list(actor=actor).filter(pk=int(schedule_id)).first()
    except (TypeError, ValueError):
        schedule = None
    if schedule is None:
        raise Http404("No such schedule")
    return schedule


def schedule_recipients(*, actor: Membership, report: Report) -> list[Membership]:
    """The active members a schedule of ``report`` may be sent to: those who may open it."""
    from crm_modules.reporting.services.schedules import may_receive

    members = Membership.objects.filter(
        tenant_id=actor.tenant_id, status=Membership.Status.ACTIVE
    ).select_related("user", "tenant")
    return sorted(
        (m for m in members if may_receive(m, report)),
        key=lambda m: (m.user.full_name or m.user.email).casefold(),
    )


def quota_list(*, actor: Membership, start: datetime.date, end: datetime.date) -> QuerySet[Quota]:
    """Quotas of months in [start, end) the actor may see: a Sales rep their own, a Manager
    their team's, everyone else the workspace's."""
    quotas = scope_filter(Quota.objects.all(), actor, VIEW_REPORTS, owner_field="owner")
    return (
        quotas.filter(month__gte=start, month__lt=end)
        .select_related("owner")
        .order_by("month", "owner__full_name", "id")
    )


def quota_get(*, actor: Membership, quota_id: Any) -> Quota:
    """A quota the actor may change (Owner and Admin: any; a Manager: their team's)."""
    try:
        quota = Quota.objects.filter(pk=int(quota_id)).first()
    except (TypeError, ValueError):
        quota = None
    if quota is None or not allows(actor, SET_QUOTAS, quota):
        raise Http404("No such quota")
    return quota


def quota_members(*, actor: Membership) -> list[Membership]:
    """The active members whose quotas the actor may set, by name."""
    if not allows(actor, SET_QUOTAS, reading=True):
        return []
    members = Membership.objects.filter(
        tenant_id=actor.tenant_id, status=Membership.Status.ACTIVE
    ).select_related("user")
    if scope_of(actor, SET_QUOTAS) is not Scope.ALL:
        members = members.filter(user_id__in=team_user_ids(actor))
    return sorted(members, key=lambda m: (m.user.full_name or m.user.email).casefold())
