"""Pages where marketers build forms and see what they brought in: the forms list, a new form,
a form's page (embed snippet, hosted link, submissions by keyset page) and its edit page."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_safe

from crm_modules.marketing.capture import selectors, services
from crm_modules.marketing.capture.definition import MAX_FIELDS, target_choices
from crm_modules.marketing.models_capture import Form
from crm_modules.marketing.module import MANAGE_FORMS, VIEW_FORMS
from crm_modules.sales.api import CREATE_RECORDS, Channel
from crm_platform.errors import ServiceError
from tenants.access import requires
from tenants.http import WorkspaceRequest
from tenants.models import Membership
from tenants.permissions import allows

ROWS = 8


def _owner_choices(actor: Membership) -> list[tuple[str, str]]:
    members = (
        Membership.objects.filter(tenant=actor.tenant, status=Membership.Status.ACTIVE)
        .select_related("user", "tenant")
        .order_by("user__email")
    )
    return [
        (str(m.user_id), m.user.get_full_name() or m.user.email)
        for m in members
        if allows(m, CREATE_RECORDS)
    ]


class FormBuilder(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200)
    topic = forms.CharField(label=gettext_lazy("Topic"), max_length=100, required=False)
    lead_owner = forms.ChoiceField(label=gettext_lazy("Leads go to"))
    consent_channels = forms.MultipleChoiceField(
        label=gettext_lazy("Ask for consent on"),
        choices=Channel.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    success_message = forms.CharField(
        label=gettext_lazy("Thank-you message"), max_length=500, required=False
    )
    allowed_origins = forms.CharField(
        label=gettext_lazy("Sites that may embed it"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy("One per line, such as https://example.com. Empty: any site."),
    )
    is_active = forms.BooleanField(label=gettext_lazy("Taking answers"), required=False)

    def __init__(self, *args: Any, actor: Membership, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        owner_field = cast(forms.ChoiceField, self.fields["lead_owner"])
        owner_field.choices = _owner_choices(actor)
        targets = [("", "—"), *target_choices()]
        for i in range(ROWS):
            self.fields[f"field_{i}_target"] = forms.ChoiceField(
                label=gettext_lazy("Field %(n)d") % {"n": i + 1}, choices=targets, required=False
            )
            self.fields[f"field_{i}_label"] = forms.CharField(
                label=gettext_lazy("Label"), max_length=100, required=False
            )
            self.fields[f"field_{i}_required"] = forms.BooleanField(
                label=gettext_lazy("Required"), required=False
            )

    def rows(self) -> list[tuple[Any, Any, Any]]:
        return [
            (self[f"field_{i}_target"], self[f"field_{i}_label"], self[f"field_{i}_required"])
            for i in range(ROWS)
        ]

    def values(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "topic": data["topic"],
            "lead_owner": data["lead_owner"],
            "consent_channels": data["consent_channels"],
            "success_message": data["success_message"],
            "allowed_origins": data["allowed_origins"],
            "is_active": data["is_active"],
            "fields": [
                {
                    "target": data[f"field_{i}_target"],
                    "label": data[f"field_{i}_label"],
                    "required": data[f"field_{i}_required"],
                }
                for i in range(ROWS)
                if data[f"field_{i}_target"]
            ],
        }


def _initial(form: Form | None) -> dict[str, Any]:
    if form is None:
        return {
            "is_active": True,
            "field_0_target": "first_name",
            "field_0_label": gettext_lazy("First name"),
            "field_1_target": "email",
            "field_1_label": gettext_lazy("Email"),
            "field_1_required": True,
        }
    initial: dict[str, Any] = {
        "name": form.name,
        "topic": form.topic,
        "lead_owner": str(form.lead_owner_id or ""),
        "consent_channels": form.consent_channels,
        "success_message": form.success_message,
        "allowed_origins": "\n".join(form.allowed_origins),
        "is_active": form.is_active,
    }
    for i, item in enumerate(form.fields[:ROWS]):
        initial[f"field_{i}_target"] = item["target"]
        initial[f"field_{i}_label"] = item["label"]
        initial[f"field_{i}_required"] = item["required"]
    return initial


def _error_target(builder: FormBuilder, field: str | None) -> str | None:
    if field and field.startswith("fields["):
        index = int(field[len("fields[") : field.index("]")])
        part = field.rsplit(".", 1)[-1] if "." in field else "target"
        return f"field_{index}_{part}" if f"field_{index}_{part}" in builder.fields else None
    return field if field in builder.fields else None


def _builder(request: WorkspaceRequest, form: Form | None) -> HttpResponse:
    actor = request.membership
    builder = FormBuilder(actor=actor, initial=_initial(form))
    status = 200
    if request.method == "POST":
        builder = FormBuilder(request.POST, actor=actor)
        if builder.is_valid():
            try:
                if form is None:
                    saved = services.form_create(actor=actor, values=builder.values())
                else:
                    saved = services.form_update(actor=actor, form=form, values=builder.values())
            except ServiceError as exc:
                builder.add_error(_error_target(builder, exc.field), exc.message)
            else:
                return redirect("marketing:form_detail", form_id=saved.pk)
        status = 400
    context = {"builder": builder, "edited": form, "max_fields": MAX_FIELDS}
    return render(request, "marketing/form_builder.html", context, status=status)


@requires(VIEW_FORMS)
@require_safe
def form_list(request: WorkspaceRequest) -> HttpResponse:
    actor = request.membership
    context = {
        "forms": list(selectors.form_list(actor=actor)[:200]),
        "can_manage": allows(actor, MANAGE_FORMS),
    }
    return render(request, "marketing/forms.html", context)


@requires(MANAGE_FORMS)
@require_http_methods(["GET", "HEAD", "POST"])
def form_new(request: WorkspaceRequest) -> HttpResponse:
    return _builder(request, None)


@requires(MANAGE_FORMS)
@require_http_methods(["GET", "HEAD", "POST"])
def form_edit(request: WorkspaceRequest, form_id: int) -> HttpResponse:
    form = selectors.form_get(actor=request.membership, form_id=form_id)
    return _builder(request, form)


@requires(VIEW_FORMS)
@require_safe
def form_detail(request: WorkspaceRequest, form_id: int) -> HttpResponse:
    actor = request.membership
    form = selectors.form_get(actor=actor, form_id=form_id)
    page = selectors.submissions_page(actor=actor, form=form, after=request.GET.get("after", ""))
    hosted = request.build_absolute_uri(reverse("marketing:form_page", args=[form.public_id]))
    script = request.build_absolute_uri("/static/marketing/form-embed.js")
    snippet = f'<script src="{script}" data-rapport-form="{form.public_id}" async></script>'
    context = {
        "form": form,
        "page": page,
        "hosted_url": hosted,
        "snippet": snippet,
        "can_manage": allows(actor, MANAGE_FORMS),
    }
    return render(request, "marketing/form_detail.html", context)
