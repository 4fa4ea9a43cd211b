"""Forms collect input; the services validate it and name the field on error."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.urls import reverse, reverse_lazy
from django.utils.translation import get_language_info
from django.utils.translation import gettext_lazy as _

from crm_platform.errors import ServiceError
from crm_platform.locales import time_zone_names
from tenants.audit.selectors import audit_action_choices
from tenants.currencies import CURRENCY_CODES
from tenants.roles import Role
from tenants.slugs import check_workspace_slug


class AccessibleForm(forms.Form):
    """Ties each field's error and help text to its input for screen readers."""

    def full_clean(self) -> None:
        super().full_clean()
        for name, field in self.fields.items():
            described = []
            if field.help_text:
                described.append(f"id_{name}_help")
            if name in self.errors:
                described.append(f"id_{name}_error")
                field.widget.attrs["aria-invalid"] = "true"
            if described:
                field.widget.attrs["aria-describedby"] = " ".join(described)


class MentionTextarea(forms.Textarea):
    """A text area with the @mention picker (kit/mention_field.html describes it): static/js
    /mentions.js lists the workspace's members as "@" is typed and writes "@<email>"."""

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        widget_attrs = context["widget"]["attrs"]
        widget_attrs["data-mention"] = reverse("mention_suggestions")
        widget_attrs["aria-autocomplete"] = "list"
        widget_attrs["aria-expanded"] = "false"
        if widget_attrs.get("id"):
            widget_attrs["aria-controls"] = f"{widget_attrs['id']}-mentions"
        return context


class ServiceForm(AccessibleForm):
    def add_service_error(self, error: ServiceError) -> None:
        field = error.field if error.field in self.fields else None
        self.add_error(field, error.message)


class SlugFieldMixin(forms.Form):
    def clean_slug(self) -> str:
        # Checked here too, so that every field's problem is reported in one round.
        try:
            return check_workspace_slug(self.cleaned_data["slug"])
        except ServiceError as error:
            raise forms.ValidationError(error.message, code=error.code) from error


class SignupForm(SlugFieldMixin, ServiceForm):
    company_name = forms.CharField(label=_("Company name"), max_length=100)
    slug = forms.CharField(
        label=_("Workspace address"),
        max_length=30,
        help_text=_("3 to 30 lowercase letters, digits or hyphens."),
        # As the person types, the help text below the field says whether the address is free.
        widget=forms.TextInput(
            attrs={
                "autocomplete": "off",
                "spellcheck": "false",
                "autocapitalize": "none",
                "hx-get": reverse_lazy("signup_slug_check"),
                "hx-trigger": "input changed delay:300ms",
                "hx-target": "#id_slug_help",
                "hx-swap": "outerHTML",
            }
        ),
    )
    full_name = forms.CharField(label=_("Your full name"), max_length=150)
    email = forms.EmailField(label=_("Work email"), max_length=254)
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )


class SignupConfirmForm(SlugFieldMixin, ServiceForm):
    slug = forms.CharField(
        label=_("Workspace address"),
        max_length=30,
        help_text=_("3 to 30 lowercase letters, digits or hyphens."),
    )


class WorkspaceCreateForm(SlugFieldMixin, ServiceForm):
    company_name = forms.CharField(label=_("Company name"), max_length=100)
    slug = forms.CharField(label=_("Workspace address"), max_length=30)


class InviteForm(ServiceForm):
    email = forms.EmailField(label=_("Email"), max_length=254)
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.SALES_REP)


class MemberSearchForm(forms.Form):
    # CharField refuses NUL bytes, which PostgreSQL cannot compare.
    q = forms.CharField(label=_("Find a member"), required=False, max_length=100)


class RoleForm(ServiceForm):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)


class AcceptNewAccountForm(ServiceForm):
    full_name = forms.CharField(label=_("Your full name"), max_length=150)
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )


def _time_zone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in time_zone_names()]


def _language_choices() -> list[tuple[str, str]]:
    # Each language in its own name, so a person who cannot read the page finds theirs.
    native = [(code, get_language_info(code)["name_local"]) for code, _name in settings.LANGUAGES]
    return [("", str(_("Same as my browser"))), *native]


class PreferencesForm(ServiceForm):
    full_name = forms.CharField(label=_("Full name"), max_length=150)
    language = forms.ChoiceField(label=_("Language"), choices=_language_choices, required=False)
    time_zone = forms.ChoiceField(
        label=_("Time zone"),
        choices=lambda: [("", str(_("Same as the workspace"))), *_time_zone_choices()],
        required=False,
    )


class SettingsForm(ServiceForm):
    name = forms.CharField(label=_("Workspace name"), max_length=100)
    time_zone = forms.ChoiceField(label=_("Time zone"), choices=_time_zone_choices)
    currency = forms.ChoiceField(
        label=_("Currency"), choices=[(code, code) for code in CURRENCY_CODES]
    )
    require_mfa_for_admins = forms.BooleanField(
        label=_("Require two-factor authentication for owners and admins"), required=False
    )
    restrict_record_visibility = forms.BooleanField(
        label=_("Sales reps see only their own records"),
        help_text=_(
            "A Sales rep then sees only the companies, contacts, leads, deals and tasks that they "
            "or their team own: in lists, search, the deals board, exports, reports and the API."
        ),
        required=False,
    )


class AuditFilterForm(AccessibleForm):
    # Choices are read when the form is built: modules register their actions at start-up.
    action = forms.ChoiceField(
        label=_("Action"),
        required=False,
        choices=lambda: [("", _("Any action")), *audit_action_choices()],
    )
    actor = forms.CharField(label=_("Who"), required=False, max_length=254)
    date_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
