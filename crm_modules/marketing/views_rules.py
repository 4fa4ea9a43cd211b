"""The contact rules: a page of marketing (for every role that sets them) whose forms are also a
panel of the workspace settings page (for the Owner and Admins, who reach that page). Each form
saves and returns to the contact-rules page with a message naming what was wrong, if
anything."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from crm_modules.marketing import contact_rules
from crm_modules.marketing.models import PressureSettings, Suppression, Topic
from crm_modules.marketing.module import MANAGE_CONTACT_RULES
from crm_modules.marketing.pressure import CHANNELS
from crm_platform.errors import ServiceError
from tenants.access import requires
from tenants.http import WorkspaceRequest


class RulesForm(forms.Form):
    cap_messages = forms.IntegerField(label=gettext_lazy("Messages"), min_value=0)
    cap_days = forms.IntegerField(label=gettext_lazy("Days"), min_value=1)
    cap_scope = forms.ChoiceField(
        label=gettext_lazy("Counted over"), choices=PressureSettings.Scope.choices
    )
    quiet_start = forms.TimeField(label=gettext_lazy("Quiet from"))
    quiet_end = forms.TimeField(label=gettext_lazy("Quiet until"))


class TopicForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100, strip=False)
    description = forms.CharField(
        label=gettext_lazy("Description"), max_length=300, required=False, strip=False
    )


class SuppressionForm(forms.Form):
    channel = forms.ChoiceField(label=gettext_lazy("Channel"), choices=[(c, c) for c in CHANNELS])
    address = forms.CharField(label=gettext_lazy("Address"), max_length=254)
    note = forms.CharField(label=gettext_lazy("Note"), max_length=200, required=False)


def _form_errors(request: WorkspaceRequest, form: forms.Form) -> None:
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else ""
        for error in errors:
            messages.error(request, f"{label}: {error}" if label else str(error))


def _back() -> HttpResponse:
    return redirect("marketing:contact_rules")


@requires(MANAGE_CONTACT_RULES)
@require_http_methods(["GET", "HEAD", "POST"])
def rules(request: WorkspaceRequest) -> HttpResponse:
    if request.method != "POST":
        panel = contact_rules.rules_panel(actor=request.membership)
        return render(request, "marketing/contact_rules.html", {"panel": panel})
    form = RulesForm(request.POST)
    if not form.is_valid():
        _form_errors(request, form)
        return _back()
    try:
        contact_rules.pressure_settings_update(actor=request.membership, **form.cleaned_data)
    except ServiceError as error:
        form.add_error(error.field if error.field in form.fields else None, error.message)
        _form_errors(request, form)
    else:
        messages.success(request, _("Contact rules saved."))
    return _back()


@requires(MANAGE_CONTACT_RULES)
@require_POST
def topic_new(request: WorkspaceRequest) -> HttpResponse:
    form = TopicForm(request.POST)
    if not form.is_valid():
        _form_errors(request, form)
        return _back()
    try:
        topic = contact_rules.topic_create(actor=request.membership, **form.cleaned_data)
    except ServiceError as error:
        form.add_error(error.field if error.field in form.fields else None, error.message)
        _form_errors(request, form)
    else:
        messages.success(request, _("Topic %(name)s added.") % {"name": topic.name})
    return _back()


@requires(MANAGE_CONTACT_RULES)
@require_POST
def topic_delete(request: WorkspaceRequest, topic_id: int) -> HttpResponse:
    topic = Topic.objects.filter(pk=topic_id).first()
    if topic is None:
        raise Http404
    contact_rules.topic_delete(actor=request.membership, topic=topic)
    messages.success(request, _("Topic %(name)s removed.") % {"name": topic.name})
    return _back()


@requires(MANAGE_CONTACT_RULES)
@require_POST
def suppression_new(request: WorkspaceRequest) -> HttpResponse:
    form = SuppressionForm(request.POST)
    if not form.is_valid():
        _form_errors(request, form)
        return _back()
    try:
        contact_rules.suppression_add(
            actor=request.membership, reason=Suppression.Reason.MANUAL, **form.cleaned_data
        )
    except ServiceError as error:
        form.add_error(error.field if error.field in form.fields else None, error.message)
        _form_errors(request, form)
    else:
        messages.success(request, _("The address is suppressed: no marketing goes to it."))
    return _back()
