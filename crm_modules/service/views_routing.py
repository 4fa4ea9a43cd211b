"""Routing pages: the rules, each team's method, the agents' skills, caps and availability; an
agent's own available/away switch (a page form or an HTMX swap)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from crm_modules.service.models import AgentProfile, RoutingRule, TeamRouting, TicketChannel
from crm_modules.service.module import MANAGE_ROUTING, WORK_TICKETS
from crm_modules.service.plan import automation_paused_here
from crm_modules.service.services import routing
from crm_platform.errors import ServiceError
from tenants.access import requires
from tenants.http import WorkspaceRequest
from tenants.models import Membership, Team
from tenants.permissions import allows


def _rule(rule_id: int) -> RoutingRule:
    rule = RoutingRule.objects.filter(pk=rule_id).first()
    if rule is None:
        raise Http404("No such rule")
    return rule


def _context(actor: Membership, error: ServiceError | None = None) -> dict[str, Any]:
    teams = list(Team.objects.filter(tenant_id=actor.tenant_id).order_by("name", "id"))
    methods = {s.team_id: s.method for s in TeamRouting.objects.all()}
    members = [
        m
        for m in Membership.objects.filter(
            tenant_id=actor.tenant_id, status=Membership.Status.ACTIVE
        )
        .select_related("user", "team")
        .order_by("user__full_name", "id")
        if m.role in WORK_TICKETS.roles
    ]
    profiles = {
        p.user_id: p for p in AgentProfile.objects.filter(user_id__in=[m.user_id for m in members])
    }
    return {
        "rules": list(RoutingRule.objects.order_by("position", "id")),
        "teams": [
            {"team": t, "method": methods.get(t.pk, TeamRouting.Method.ROUND_ROBIN)} for t in teams
        ],
        "team_names": {t.pk: t.name for t in teams},
        "methods": TeamRouting.Method.choices,
        "channels": TicketChannel.choices,
        "agents": [{"member": m, "profile": profiles.get(m.user_id)} for m in members],
        "error": error,
        "automation_paused": automation_paused_here(),
    }


@requires(MANAGE_ROUTING)
@require_safe
def routing_settings(request: WorkspaceRequest) -> HttpResponse:
    return render(request, "service/routing.html", _context(request.membership))


def _saved(request: WorkspaceRequest, work: Any, done: str) -> HttpResponse:
    try:
        work()
    except ServiceError as error:
        context = _context(request.membership, error)
        return render(request, "service/routing.html", context, status=400)
    messages.success(request, done)
    return redirect("service:routing")


def _rule_values(request: WorkspaceRequest) -> dict[str, Any]:
    post = request.POST
    return {
        "name": post.get("name", ""),
        "team_id": post.get("team"),
        "channels": post.getlist("channels"),
        "keywords": post.get("keywords", ""),
        "tiers": post.get("tiers", ""),
        "languages": post.get("languages", ""),
        "skills": post.get("skills", ""),
        "position": post.get("position", ""),
        "is_active": post.get("is_active") == "on" or "name" not in post,
    }


@requires(MANAGE_ROUTING)
@require_POST
def routing_rule_create(request: WorkspaceRequest) -> HttpResponse:
    values = _rule_values(request)
    return _saved(
        request,
        lambda: routing.routing_rule_save(actor=request.membership, **values),
        _("Rule saved."),
    )


@requires(MANAGE_ROUTING)
@require_POST
def routing_rule_update(request: WorkspaceRequest, routing_rule_id: int) -> HttpResponse:
    rule = _rule(routing_rule_id)
    values = _rule_values(request)
    return _saved(
        request,
        lambda: routing.routing_rule_save(actor=request.membership, rule=rule, **values),
        _("Rule saved."),
    )


@requires(MANAGE_ROUTING)
@require_POST
def routing_rule_delete(request: WorkspaceRequest, routing_rule_id: int) -> HttpResponse:
    rule = _rule(routing_rule_id)
    return _saved(
        request,
        lambda: routing.routing_rule_delete(actor=request.membership, rule=rule),
        _("Rule deleted."),
    )


@requires(MANAGE_ROUTING)
@require_POST
def routing_team(request: WorkspaceRequest) -> HttpResponse:
    return _saved(
        request,
        lambda: routing.team_routing_set(
            actor=request.membership,
            team_id=request.POST.get("team"),
            method=request.POST.get("method"),
        ),
        _("Team routing saved."),
    )


@requires(MANAGE_ROUTING)
@require_POST
def routing_agent(request: WorkspaceRequest) -> HttpResponse:
    def save() -> None:
        actor = request.membership
        routing.agent_settings_set(
            actor=actor,
            user_id=request.POST.get("agent"),
            skills=request.POST.get("skills", ""),
            max_open=request.POST.get("max_open"),
        )
        if "available" in request.POST:
            routing.agent_availability_set(
                actor=actor,
                user_id=request.POST.get("agent"),
                available=request.POST.get("available") == "on",
            )

    return _saved(request, save, _("Agent saved."))


@requires(WORK_TICKETS)
@require_POST
def availability(request: WorkspaceRequest) -> HttpResponse:
    """The member's own available/away switch; HTMX swaps the switch in place."""
    actor = request.membership
    raw = request.POST.get("available", "")
    if raw not in ("on", "off"):
        if request.headers.get("HX-Request"):
            return HttpResponse(_("Choose available or away."), status=400)
        messages.error(request, _("Choose available or away."))
        return redirect("service:inbox")
    profile = routing.agent_availability_set(actor=actor, available=raw == "on")
    if request.headers.get("HX-Request"):
        return render(
            request,
            "service/_availability.html",
            {"available": profile.available, "can_work": True},
        )
    messages.success(request, _("You are available.") if profile.available else _("You are away."))
    return redirect("service:inbox")


def availability_of(actor: Membership) -> bool | None:
    """The member's availability for the inbox switch (None: cannot take tickets)."""
    if not allows(actor, WORK_TICKETS):
        return None
    profile = AgentProfile.objects.filter(user_id=actor.user_id).first()
    return profile.available if profile is not None else False
