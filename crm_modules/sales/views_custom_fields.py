"""The custom fields page of the workspace settings: the fields of each record type, a form
that defines one, its edit page, archive and restore. The page asks the services the API uses
(``custom_field_create``, ``custom_field_update``, ``custom_field_archive``), so both refuse
the same things with the same messages."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from crm_modules.sales import selectors, services
from crm_modules.sales.models import CustomField
from crm_modules.sales.module import MANAGE_CUSTOM_FIELDS
from crm_modules.sales.services.custom_fields import SELECTS
from crm_platform.errors import ServiceError
from tenants.access import requires
from tenants.forms import ServiceForm
from tenants.http import WorkspaceRequest

ENTITIES = CustomField.Entity


def _options(raw: str) -> list[str]:
    """One option a line, as the form shows them."""
    return [line.strip() for line in raw.splitlines() if line.strip()]


def _default(raw: str, kind: str) -> Any:
    """The default as typed: one option a line for a multi select; empty for none."""
    if kind == CustomField.Type.MULTI_SELECT:
        return _options(raw) or None
    return raw.strip() or None


def _default_text(field: CustomField) -> str:
    """A field's stored default as the form shows it."""
    value = field.default_value
    if value is None:
        return ""
    if isinstance(value, list):
        return "\n".join(str(item) for item in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _default_field() -> forms.CharField:
    return forms.CharField(
        label=gettext_lazy("Default value"),
        required=False,
        max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy(
            "Given to new records that leave the field out: imports, the API, converted leads, "
            "tickets from email and customers' forms; forms show it filled in. A date as "
            "YYYY-MM-DD, yes or no, one option a line for a multi select. Empty for none."
        ),
    )


class CustomFieldNewForm(ServiceForm):
    label = forms.CharField(label=gettext_lazy("Label"), required=False, max_length=100)
    code = forms.CharField(
        label=gettext_lazy("Code"),
        required=False,
        max_length=50,
        help_text=gettext_lazy(
            "The field's name in the API, imports and filters: lower-case letters, digits and "
            "underscores. It cannot be changed later."
        ),
    )
    type = forms.ChoiceField(label=gettext_lazy("Type"), choices=CustomField.Type.choices)
    options = forms.CharField(
        label=gettext_lazy("Options"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=gettext_lazy("For a select: one option a line."),
    )
    help_text = forms.CharField(
        label=gettext_lazy("Help"),
        required=False,
        max_length=300,
        help_text=gettext_lazy("Shown under the field on forms."),
    )
    required = forms.BooleanField(
        label=gettext_lazy("Required"),
        required=False,
        help_text=gettext_lazy("New records entered by hand or through the API must fill it."),
    )
    customer_visible = forms.BooleanField(
        label=gettext_lazy("Customers fill it"),
        required=False,
        help_text=gettext_lazy(
            "Asked on the customer portal's new-request form and on the web form."
        ),
    )
    default_value = _default_field()

    def __init__(self, *args: Any, entity: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if entity != ENTITIES.TICKET:
            del self.fields["customer_visible"]


class CustomFieldEditForm(ServiceForm):
    label = forms.CharField(label=gettext_lazy("Label"), required=False, max_length=100)
    options = forms.CharField(
        label=gettext_lazy("Options"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=gettext_lazy(
            "One option a line. Records keep a value whose option you remove; it is no longer "
            "offered."
        ),
    )
    help_text = forms.CharField(
        label=gettext_lazy("Help"),
        required=False,
        max_length=300,
        help_text=gettext_lazy("Shown under the field on forms."),
    )
    required = forms.BooleanField(
        label=gettext_lazy("Required"),
        required=False,
        help_text=gettext_lazy("New records entered by hand or through the API must fill it."),
    )
    position = forms.CharField(
        label=gettext_lazy("Order"),
        required=False,
        max_length=6,
        widget=forms.TextInput(attrs={"inputmode": "numeric"}),
        help_text=gettext_lazy("Fields with a smaller number come first."),
    )
    customer_visible = forms.BooleanField(
        label=gettext_lazy("Customers fill it"),
        required=False,
        help_text=gettext_lazy(
            "Asked on the customer portal's new-request form and on the web form."
        ),
    )
    default_value = _default_field()

    def __init__(self, *args: Any, field: CustomField, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if field.type not in SELECTS:
            del self.fields["options"]
        if field.type == CustomField.Type.MEMBER:
            del self.fields["default_value"]
        if field.entity != ENTITIES.TICKET or field.type == CustomField.Type.MEMBER:
            del self.fields["customer_visible"]


def _entity(raw: Any) -> str:
    return raw if raw in ENTITIES.values else ENTITIES.CONTACT


@requires(MANAGE_CUSTOM_FIELDS)
@require_http_methods(["GET", "HEAD", "POST"])
def custom_field_admin(request: WorkspaceRequest) -> HttpResponse:
    """The fields of one record type (``?entity=``), archived ones last, and the form that
    defines a new one."""
    entity = _entity(request.POST.get("entity") or request.GET.get("entity"))
    form = CustomFieldNewForm(request.POST or None, entity=entity)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            field = services.custom_field_create(
                actor=request.membership,
                entity=entity,
                code=data["code"],
                label=data["label"],
                type=data["type"],
                options=_options(data["options"]),
                help_text=data["help_text"],
                required=data["required"],
                customer_visible=data.get("customer_visible", False),
                default_value=_default(data["default_value"], data["type"]),
            )
        except ServiceError as error:
            form.add_service_error(error)
        else:
            messages.success(request, _("Field “%(label)s” created.") % {"label": field.label})
            return redirect(f"{reverse('sales:custom_fields')}?entity={entity}")
    fields = list(
        selectors.custom_field_list(actor=request.membership, entity=entity, include_archived=True)
    )
    context = {
        "form": form,
        "entity": entity,
        "entity_label": ENTITIES(entity).label,
        "entities": ENTITIES.choices,
        "active": [f for f in fields if f.archived_at is None],
        "archived": [f for f in fields if f.archived_at is not None],
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "sales/custom_fields.html", context, status=status)


@requires(MANAGE_CUSTOM_FIELDS)
@require_http_methods(["GET", "HEAD", "POST"])
def custom_field_edit(request: WorkspaceRequest, field_id: int) -> HttpResponse:
    field = selectors.custom_field_get(actor=request.membership, field_id=field_id)
    initial = {
        "label": field.label,
        "options": "\n".join(field.options or []),
        "help_text": field.help_text,
        "required": field.required,
        "position": field.position,
        "customer_visible": field.customer_visible,
        "default_value": _default_text(field),
    }
    form = CustomFieldEditForm(request.POST or None, initial=initial, field=field)
    if request.method == "POST" and form.is_valid():
        changes = dict(form.cleaned_data)
        if "options" in changes:
            changes["options"] = _options(changes["options"])
        if "default_value" in changes:
            changes["default_value"] = _default(changes["default_value"], field.type)
        try:
            services.custom_field_update(actor=request.membership, field=field, changes=changes)
        except ServiceError as error:
            form.add_service_error(error)
        else:
            messages.success(request, _("Field saved."))
            return redirect(f"{reverse('sales:custom_fields')}?entity={field.entity}")
    context = {
        "form": form,
        "field": field,
        "entity_label": ENTITIES(field.entity).label,
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "sales/custom_field_edit.html", context, status=status)


@requires(MANAGE_CUSTOM_FIELDS)
@require_POST
def custom_field_archive(request: WorkspaceRequest, field_id: int) -> HttpResponse:
    """``archived=1`` archives the field, ``archived=0`` restores it."""
    field = selectors.custom_field_get(actor=request.membership, field_id=field_id)
    archived = request.POST.get("archived") != "0"
    services.custom_field_archive(actor=request.membership, field=field, archived=archived)
    if archived:
        messages.success(request, _("Field “%(label)s” archived.") % {"label": field.label})
    else:
        messages.success(request, _("Field “%(label)s” restored.") % {"label": field.label})
    return redirect(f"{reverse('sales:custom_fields')}?entity={field.entity}")
