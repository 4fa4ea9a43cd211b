"""The lead scoring page: rules with what each gives (and any problem), thresholds, and the
forms that add, remove and apply them."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from crm_modules.scoring import services
from crm_modules.scoring.forms import RuleForm, ThresholdForm
from crm_modules.scoring.models import ScoreThreshold, ScoringRule
from crm_modules.scoring.module import MANAGE_RULES, MANAGE_THRESHOLDS
from crm_platform.errors import ServiceError
from tenants.access import requires
from tenants.http import WorkspaceRequest


def _page(
    request: WorkspaceRequest,
    *,
    rule_form: RuleForm | None = None,
    threshold_form: ThresholdForm | None = None,
    status: int = 200,
) -> HttpResponse:
    rules = list(ScoringRule.objects.order_by("entity", "id"))
    context: dict[str, Any] = {
        "rules": [{"rule": rule, "problem": services.rule_problem(rule)} for rule in rules],
        "thresholds": list(ScoreThreshold.objects.all()),
        "rule_form": rule_form or RuleForm(),
        "threshold_form": threshold_form or ThresholdForm(),
        # On a plan without automation the thresholds are kept, shown paused (ADR 0078).
        "thresholds_paused": not services.thresholds_run(request.tenant),
    }
    return render(request, "scoring/rules.html", context, status=status)


@requires(MANAGE_RULES)
@require_safe
def rules(request: WorkspaceRequest) -> HttpResponse:
    return _page(request)


@requires(MANAGE_RULES)
@require_POST
def rule_new(request: WorkspaceRequest) -> HttpResponse:
    form = RuleForm(request.POST)
    if form.is_valid():
        try:
            services.rule_create(actor=request.membership, data=form.cleaned_data)
        except ServiceError as error:
            form.add_service_error(error)
        else:
            messages.success(request, _("Rule saved; scores are being computed again."))
            return redirect("scoring:rules")
    return _page(request, rule_form=form, status=400)


@requires(MANAGE_RULES)
@require_POST
def rule_delete(request: WorkspaceRequest, rule_id: int) -> HttpResponse:
    rule = ScoringRule.objects.filter(pk=rule_id).first()
    if rule is None:
        raise Http404("No such rule")
    services.rule_delete(actor=request.membership, rule=rule)
    messages.success(request, _("Rule deleted; scores are being computed again."))
    return redirect("scoring:rules")


@requires(MANAGE_THRESHOLDS)
@require_POST
def threshold_new(request: WorkspaceRequest) -> HttpResponse:
    form = ThresholdForm(request.POST)
    if form.is_valid():
        try:
            services.threshold_create(actor=request.membership, data=form.cleaned_data)
        except ServiceError as error:
            form.add_service_error(error)
        else:
            return redirect("scoring:rules")
    return _page(request, threshold_form=form, status=400)


@requires(MANAGE_THRESHOLDS)
@require_POST
def threshold_delete(request: WorkspaceRequest, threshold_id: int) -> HttpResponse:
    threshold = ScoreThreshold.objects.filter(pk=threshold_id).first()
    if threshold is None:
        raise Http404("No such threshold")
    services.threshold_delete(actor=request.membership, threshold=threshold)
    return redirect("scoring:rules")


@requires(MANAGE_RULES)
@require_POST
def recompute(request: WorkspaceRequest) -> HttpResponse:
    try:
        services.scores_recompute_now(
            actor=request.membership, entity=request.POST.get("entity", "")
        )
    except ServiceError as error:
        messages.error(request, error.message)
        return _page(request, status=400)
    messages.success(request, _("Scores are being computed again."))
    return redirect("scoring:rules")
