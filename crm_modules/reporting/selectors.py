"""Reads of saved reports, narrowed to what the acting member may open: their own, and those
shared with their role. Getters raise Http404 for anything else."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404

from crm_modules.reporting.models import Report
from crm_modules.reporting.module import VIEW_REPORTS
from tenants.models import Membership
from tenants.permissions import allows


def report_list(*, actor: Membership) -> QuerySet[Report]:
    if not allows(actor, VIEW_REPORTS, reading=True):
        return Report.objects.none()
    return Report.objects.filter(
        Q(owner_id=actor.user_id) | Q(shared_with__contains=[actor.role])
    ).order_by("-id")


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
