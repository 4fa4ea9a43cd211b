"""Event-trigger pages (ADR 0042): the rules list, the editor (a name and the rule's JSON,
checked by the same service the API uses) and a rule's run log, whose next pages load in place
with htmx."""

from __future__ import annotations

import json

from django import forms
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_safe

from crm_modules.marketing.models_triggers import TriggerRule
from crm_modules.marketing.module import MANAGE_TRIGGERS, VIEW_TRIGGERS
from crm_modules.marketing.triggers import selectors, services
from crm_modules.marketing.triggers.definition import (
    ACTION_TYPES,
    MAX_ACTIONS,
    THRESHOLD_ONLY_EVENTS,
    offered_threshold_fields,
)
from crm_modules.marketing.triggers.describe import rules_when
from crm_platform.errors import ServiceError
from tenants.access import requires
from tenants.http import WorkspaceRequest
from tenants.modules import record_event_kinds
from tenants.permissions import allows

EXAMPLE = {
    "when": {"threshold": {"field": "won_revenue", "crosses": 1000}},
    "delay_minutes": 0,
    "actions": [
        {"type": "add_tag", "tag": "Gold"},
        {"type": "send_email", "subject": "Welcome, {{ first_name }}", "body": "…"},
        {"type": "create_task", "title": "Call our new Gold customer", "due_in_days": 1},
    ],
}


class TriggerRuleForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=120, strip=False)
    active = forms.BooleanField(label=gettext_lazy("Active"), required=False, initial=True)
    definition = forms.CharField(
        label=gettext_lazy("Rule (JSON)"),
        widget=forms.Textarea(attrs={"rows": 14, "spellcheck": "false"}),
        help_text=gettext_lazy(
            "When something happens (or a value crosses a threshold), after an optional "
            "delay, do these actions."
        ),
    )


def _editor(request: WorkspaceRequest, rule: TriggerRule | None) -> HttpResponse:
    actor = request.membership
    status = 200
    if rule is None:
        form = TriggerRuleForm(
            initial={"definition": json.dumps(EXAMPLE, ensure_ascii=False, indent=2)}
        )
    else:
        form = TriggerRuleForm(
            initial={
                "name": rule.name,
                "active": rule.active,
                "definition": json.dumps(rule.definition, ensure_ascii=False, indent=2),
            }
        )
    if request.method == "POST":
        form = TriggerRuleForm(request.POST)
        if form.is_valid():
            try:
                definition = json.loads(form.cleaned_data["definition"])
            except ValueError:
                form.add_error("definition", _("The rule is not valid JSON."))
            else:
                try:
                    if rule is None:
                        rule = services.trigger_rule_create(
                            actor=actor,
                            name=form.cleaned_data["name"],
                            definition=definition,
                            active=form.cleaned_data["active"],
                        )
                    else:
                        rule = services.trigger_rule_update(
                            actor=actor,
                            rule=rule,
                            name=form.cleaned_data["name"],
                            definition=definition,
                            active=form.cleaned_data["active"],
                        )
                except ServiceError as exc:
                    target = exc.field if exc.field in form.fields else "definition"
                    form.add_error(target, exc.message)
                else:
                    return redirect("marketing:trigger_detail", trigger_id=rule.pk)
        status = 400
    context = {
        "form": form,
        "rule": rule,
        "events": [kind for kind in record_event_kinds() if kind.code not in THRESHOLD_ONLY_EVENTS],
        "action_types": ACTION_TYPES,
        "max_actions": MAX_ACTIONS,
        "number_fields": offered_threshold_fields(),
    }
    return render(request, "marketing/trigger_form.html", context, status=status)


@requires(VIEW_TRIGGERS)
@require_safe
def triggers(request: WorkspaceRequest) -> HttpResponse:
    actor = request.membership
    rules = list(selectors.trigger_rule_list(actor=actor)[:200])
    whens = rules_when(rules)
    context = {
        "rules": [(rule, whens[rule.pk]) for rule in rules],
        "can_manage": allows(actor, MANAGE_TRIGGERS),
    }
    return render(request, "marketing/triggers.html", context)


@requires(MANAGE_TRIGGERS)
@require_http_methods(["GET", "HEAD", "POST"])
def trigger_new(request: WorkspaceRequest) -> HttpResponse:
    return _editor(request, None)


@requires(MANAGE_TRIGGERS)
@require_http_methods(["GET", "HEAD", "POST"])
def trigger_edit(request: WorkspaceRequest, trigger_id: int) -> HttpResponse:
    rule = selectors.trigger_rule_get(actor=request.membership, rule_id=trigger_id)
    return _editor(request, rule)


@requires(VIEW_TRIGGERS)
@require_safe
def trigger_detail(request: WorkspaceRequest, trigger_id: int) -> HttpResponse:
    """The rule and its run log; ``?after=`` with htmx answers only the next rows."""
    actor = request.membership
    rule = selectors.trigger_rule_get(actor=actor, rule_id=trigger_id)
    page = selectors.trigger_runs_page(actor=actor, rule=rule, after=request.GET.get("after", ""))
    context = {
        "rule": rule,
        "when": rules_when([rule])[rule.pk],
        "page": page,
        "definition": json.dumps(rule.definition, ensure_ascii=False, indent=2),
        "can_manage": allows(actor, MANAGE_TRIGGERS),
    }
    if request.headers.get("HX-Request") and request.GET.get("after"):
        return render(request, "marketing/_trigger_runs.html", context)
    return render(request, "marketing/trigger_detail.html", context)
