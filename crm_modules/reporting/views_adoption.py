"""The adoption page for admins: each member's sign-ins, activities and created records per
week over the last eight weeks, and which modules are used: per module and week, the members
active in it and their actions (a chart and the same numbers as a table)."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from crm_modules.reporting import charts
from crm_modules.reporting.adoption import (
    ModuleUse,
    ModuleWeek,
    WeekUse,
    adoption,
    adoption_weeks,
    module_use,
)
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
    return render(
        request,
        "reporting/adoption.html",
        {
            "columns": columns,
            "rows": table,
            **_modules_context(weeks, module_use(weeks=weeks, zone=zone)),
        },
    )


def _modules_context(weeks: list[Any], used: list[ModuleUse]) -> dict[str, Any]:
    members_label = _("Active members")
    spec = charts.ChartSpec(
        chart="line",
        measure_labels=(members_label,),
        units=("number",),
        group_labels=(_("Week"), _("Module")),
    )
    rows = [
        charts.ChartRow(
            labels=(str(week), use.module),
            values=(len(use.weeks[i].members),),
        )
        for use in used
        for i, week in enumerate(weeks)
    ]
    columns = [
        _("Module"),
        _("Members, last eight weeks"),
        _("Actions, last eight weeks"),
        *(_("Week of %(day)s") % {"day": w} for w in weeks),
    ]

    def cell(week: ModuleWeek) -> str:
        return f"{len(week.members)} · {week.actions}"

    table = [
        [use.module, str(use.members), str(use.actions), *(cell(w) for w in use.weeks)]
        for use in used
    ]
    return {
        "module_figure": charts.line(spec, rows),
        "module_columns": columns,
        "module_rows": table,
    }
