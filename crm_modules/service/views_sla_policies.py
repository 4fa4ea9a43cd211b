"""SLA policies chosen by rules (ADR 0060): the list in the order they are tried, a form for a
new one, a page per policy to change it, moving and deleting. Owner and Admin, as the rest of
the SLA settings."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db import connection
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from crm_modules.service import sla
from crm_modules.service.forms import WEEKDAYS
from crm_modules.service.models import (
    Priority,
    SlaEscalation,
    SlaPolicy,
    TicketChannel,
    TicketType,
)
from crm_modules.service.module import MANAGE_SLA
from crm_modules.service.plan import automation_paused_here
from crm_modules.service.services import sla_policies
from crm_modules.service.views import _hhmm, _parse_holidays, _parse_openings
from crm_platform.errors import ServiceError
from crm_platform.locales import time_zone_names
from tenants.access import requires
from tenants.http import WorkspaceRequest
from tenants.models import Team


def _policy(policy_id: int) -> SlaPolicy:
    policy = (
        SlaPolicy.objects.select_related("hours")
        .filter(pk=policy_id, is_default=False, retired_at__isnull=True)
        .first()
    )
    if policy is None:
        raise Http404("No such policy")
    return policy


def posted_policy(raw: Any) -> SlaPolicy | None:
    """The policy a posted ``policy`` names (404 when it names none of this workspace's live
    policies chosen by rules); None when empty: the default policy."""
    if raw in (None, ""):
        return None
    try:
        number = int(raw)
    except (TypeError, ValueError) as exc:
        raise Http404("No such policy") from exc
    return _policy(number)


def _escalations(policy: SlaPolicy) -> dict[str, Any]:
    from crm_modules.service.views import _agents_and_managers

    return {
        "escalations": list(
            SlaEscalation.objects.filter(policy=policy).select_related("user", "team")
        ),
        "escalation_policy": policy,
        "escalation_targets": SlaEscalation.Target.choices,
        "escalation_actions": SlaEscalation.Action.choices,
        "automation_paused": automation_paused_here(),
        "members": _agents_and_managers(),
    }


def policy_page(
    request: WorkspaceRequest, policy: SlaPolicy, *, escalation_error: ServiceError
) -> HttpResponse:
    """The policy's page answering a refused escalation, the error next to its form."""
    context = {
        **_context(_form(policy)),
        **_escalations(policy),
        "escalation_error": escalation_error,
    }
    return render(request, "service/sla_policy.html", context, status=400)


def _teams() -> list[Team]:
    tenant_id = connection.tenant.pk  # type: ignore[attr-defined]
    return list(Team.objects.filter(tenant_id=tenant_id).order_by("name", "id"))


def _form(policy: SlaPolicy | None, posted: Any = None) -> dict[str, Any]:
    """The values of the policy form: posted ones after an error, else the policy's, else a
    new policy's (office hours in the workspace's time zone, the default targets)."""
    targets = {t.priority: t for t in policy.targets.all()} if policy else {}
    by_day: dict[int, list[str]] = {}
    openings = policy.hours.openings if policy else sla.DEFAULT_OPENINGS
    for day, start, end in openings:
        by_day.setdefault(int(day), []).append(f"{_hhmm(start)}-{_hhmm(end)}")
    rows = []
    for value, label in Priority.choices:
        target = targets.get(value)
        first, resolution = sla.DEFAULT_TARGETS[Priority(value)]
        if target is not None:
            first, resolution = target.first_response_minutes, target.resolution_minutes
        following = target.next_response_minutes if target else None
        rows.append(
            {
                "value": value,
                "label": label,
                "first": posted.get(f"{value}_first_response") if posted else first,
                "next": posted.get(f"{value}_next_response") if posted else (following or ""),
                "resolution": posted.get(f"{value}_resolution") if posted else resolution,
            }
        )
    tenant_zone = connection.tenant.time_zone or "UTC"  # type: ignore[attr-defined]
    holidays = (
        "\n".join(f"{h.date.isoformat()} {h.name}".strip() for h in policy.hours.holidays.all())
        if policy
        else ""
    )
    return {
        "policy": policy,
        "name": posted.get("name", "") if posted else (policy.name if policy else ""),
        "time_zone": posted.get("time_zone") if posted else (
            policy.hours.time_zone if policy else tenant_zone
        ),
        "days": [
            {
                "value": day,
                "label": label,
                "text": posted.get(f"day_{day}", "")
                if posted
                else ", ".join(by_day.get(int(day), [])),
            }
            for day, label in WEEKDAYS
        ],
        "holidays": posted.get("holidays", "") if posted else holidays,
        "targets": rows,
        "tiers": posted.get("tiers", "") if posted else ", ".join(policy.tiers if policy else []),
        "team_ids": [int(t) for t in posted.getlist("teams") if t.isdigit()]
        if posted
        else (policy.team_ids if policy else []),
        "chosen_channels": posted.getlist("channels") if posted else (
            policy.channels if policy else []
        ),
        "chosen_types": posted.getlist("types") if posted else (policy.types if policy else []),
    }  # fmt: skip


def _context(form: dict[str, Any], error: ServiceError | None = None) -> dict[str, Any]:
    teams = _teams()
    names = {t.pk: t.name for t in teams}
    policies = list(
        SlaPolicy.objects.filter(is_default=False, retired_at__isnull=True)
        .select_related("hours")
        .order_by("position", "id")
    )
    return {
        "policies": [
            {"policy": p, "teams": [names.get(t, f"#{t}") for t in p.team_ids]} for p in policies
        ],
        "default": SlaPolicy.objects.filter(is_default=True).first(),
        "form": form,
        "teams": teams,
        "channels": TicketChannel.choices,
        "types": TicketType.choices,
        "time_zones": time_zone_names(),
        "error": error,
    }


def _save(request: WorkspaceRequest, policy: SlaPolicy | None) -> SlaPolicy:
    post = request.POST
    return sla_policies.sla_policy_save(
        actor=request.membership,
        policy=policy,
        name=post.get("name", ""),
        time_zone=post.get("time_zone", ""),
        openings=_parse_openings(request),
        holidays=_parse_holidays(post.get("holidays", "")),
        targets={
            p: (
                post.get(f"{p}_first_response"),
                post.get(f"{p}_resolution"),
                post.get(f"{p}_next_response", ""),
            )
            for p in Priority.values
        },
        tiers=post.get("tiers", ""),
        teams=post.getlist("teams"),
        channels=post.getlist("channels"),
        types=post.getlist("types"),
    )


@requires(MANAGE_SLA)
@require_http_methods(["GET", "HEAD", "POST"])
def sla_policies_page(request: WorkspaceRequest) -> HttpResponse:
    if request.method != "POST":
        return render(request, "service/sla_policies.html", _context(_form(None)))
    try:
        _save(request, None)
    except ServiceError as error:
        context = _context(_form(None, request.POST), error)
        return render(request, "service/sla_policies.html", context, status=400)
    messages.success(request, _("Policy saved."))
    return redirect("service:sla_policies")


@requires(MANAGE_SLA)
@require_http_methods(["GET", "HEAD", "POST"])
def sla_policy(request: WorkspaceRequest, policy_id: int) -> HttpResponse:
    policy = _policy(policy_id)
    if request.method != "POST":
        context = {**_context(_form(policy)), **_escalations(policy)}
        return render(request, "service/sla_policy.html", context)
    try:
        _save(request, policy)
    except ServiceError as error:
        context = {**_context(_form(policy, request.POST), error), **_escalations(policy)}
        return render(request, "service/sla_policy.html", context, status=400)
    messages.success(request, _("Policy saved."))
    return redirect("service:sla_policies")


@requires(MANAGE_SLA)
@require_POST
def sla_policy_move(request: WorkspaceRequest, policy_id: int) -> HttpResponse:
    policy = _policy(policy_id)
    sla_policies.sla_policy_move(
        actor=request.membership, policy_id=policy.pk, up=request.POST.get("direction") == "up"
    )
    return redirect("service:sla_policies")


@requires(MANAGE_SLA)
@require_POST
def sla_policy_delete(request: WorkspaceRequest, policy_id: int) -> HttpResponse:
    policy = _policy(policy_id)
    sla_policies.sla_policy_delete(actor=request.membership, policy_id=policy.pk)
    messages.success(
        request, _("Policy deleted. Its open tickets get the policy chosen for them shortly.")
    )
    return redirect("service:sla_policies")
