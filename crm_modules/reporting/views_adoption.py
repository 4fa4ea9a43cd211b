"""The adoption page for admins: each member's sign-ins, activities and created records per
week over the last eight weeks."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from crm_modules.reporting.adoption import WeekUse, adoption, adoption_weeks
from crm_modules.reporting.compiler import workspace_zone
from crm_modules.reporting.module import VIEW_ADOPTION
from tenants.access import requires
from tenants.http import WorkspaceRequest


@requires(VIEW_ADOPTION)
@require_safe
def adoption_page(request: WorkspaceRequest) -> HttpResponse:
    zone = workspace_zone(request.membership)
    weeks = adoption_weeks(timezone.now().astimezone(zone).date())
    rows = adoption(actor=request.membership, weeks=weeks, zone=zone)
    columns = [
        _("Member"),
        _("Last eight weeks"),
        *(_("Week of %(day)s") % {"day": w} for w in weeks),
    ]

    def cell(use: WeekUse) -> str:
        return f"{use.sign_ins} · {use.activities} · {use.created}"

    table = [
        {
            "pk": row.member.pk,
            "inactive": not row.member.is_active,
            "cells": [str(row.member.user), cell(row.total), *(cell(w) for w in row.weeks)],
        }
        for row in rows
    ]
    return render(request, "reporting/adoption.html", {"columns": columns, "rows": table})
