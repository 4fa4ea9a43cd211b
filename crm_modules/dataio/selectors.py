"""Reads of imports and exports, narrowed to what the member may reach; getters raise Http404
for anything else (the same answer as another workspace's id)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from crm_modules.dataio.models import ExportJob, ImportJob
from crm_modules.dataio.module import EXPORT_RECORDS, IMPORT_RECORDS
from tenants.models import Membership
from tenants.permissions import allows


def import_list(*, actor: Membership) -> QuerySet[ImportJob]:
    """Every import of the workspace: whoever may import sees what the others imported."""
    if not allows(actor, IMPORT_RECORDS, reading=True):
        return ImportJob.objects.none()
    return ImportJob.objects.order_by("-id")


def import_get(*, actor: Membership, import_id: Any) -> ImportJob:
    try:
        job = import_list(actor=actor).filter(pk=int(import_id)).first()
    except (TypeError, ValueError):
        job = None
    if job is None:
        raise Http404("No such import")
    return job


def export_list(*, actor: Membership) -> QuerySet[ExportJob]:
    """A member's own exports: a file of customer data is offered only to whom asked for it."""
    if not allows(actor, EXPORT_RECORDS):
        return ExportJob.objects.none()
    return ExportJob.objects.filter(created_by_id=actor.user_id).order_by("-id")


def export_get(*, actor: Membership, export_id: Any) -> ExportJob:
    try:
        job = export_list(actor=actor).filter(pk=int(export_id)).first()
    except (TypeError, ValueError):
        job = None
    if job is None:
        raise Http404("No such export")
    return job
