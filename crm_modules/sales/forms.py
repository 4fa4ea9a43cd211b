"""Forms of the sales pages: they only parse; the services validate and name the field."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from crm_modules.activities.api import entry_types
from crm_modules.sales.models import Channel, Consent, Task
from tenants.forms import MentionTextarea, ServiceForm


class LogActivityForm(ServiceForm):
    kind = forms.ChoiceField(label=_("Type"), choices=())
    subject = forms.CharField(label=_("Subject"), required=False, max_length=200)
    body = forms.CharField(
        label=_("Details"),
        required=False,
        widget=MentionTextarea(attrs={"rows": 3}),
        help_text=_("Type @ and a name to mention a colleague."),
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["kind"].choices = [(t.code, t.label) for t in entry_types(manual=True)]  # type: ignore[attr-defined]


class ContactForm(ServiceForm):
    first_name = forms.CharField(label=_("First name"), required=False, max_length=100)
    last_name = forms.CharField(label=_("Last name"), required=False, max_length=100)
    # One of each here; the API takes several.
    emails = forms.CharField(label=_("Email"), required=False, max_length=254)
    phones = forms.CharField(label=_("Phone"), required=False, max_length=40)
    job_title = forms.CharField(label=_("Job title"), required=False, max_length=150)


class CompanyForm(ServiceForm):
    name = forms.CharField(label=_("Name"), required=False, max_length=200)
    domain = forms.CharField(label=_("Domain"), required=False, max_length=253)
    industry = forms.CharField(label=_("Industry"), required=False, max_length=100)


class LeadForm(ServiceForm):
    first_name = forms.CharField(label=_("First name"), required=False, max_length=100)
    last_name = forms.CharField(label=_("Last name"), required=False, max_length=100)
    email = forms.CharField(label=_("Email"), required=False, max_length=254)
    phone = forms.CharField(label=_("Phone"), required=False, max_length=40)
    company_name = forms.CharField(label=_("Company"), required=False, max_length=200)
    source = forms.CharField(
        label=_("Source"),
        required=False,
        max_length=100,
        help_text=_("Where the lead came from, such as a fair or a referral."),
    )


class DealForm(ServiceForm):
    name = forms.CharField(label=_("Name"), required=False, max_length=200)
    stage = forms.IntegerField(label=_("Stage"), required=False)
    amount = forms.CharField(label=_("Amount"), required=False, max_length=30)


class MoveDealForm(ServiceForm):
    stage = forms.IntegerField(label=_("Stage"), required=False)
    lost_reason = forms.CharField(label=_("Lost reason"), required=False, max_length=200)


class ConsentForm(ServiceForm):
    channel = forms.ChoiceField(label=_("Channel"), choices=Channel.choices)
    status = forms.ChoiceField(label=_("Consent"), choices=Consent.Status.choices)
    recorded_at = forms.CharField(
        label=_("When"),
        required=False,
        max_length=40,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text=_("Leave empty for now."),
    )
    method = forms.CharField(
        label=_("How"),
        required=False,
        max_length=200,
        help_text=_("For example: signed the form at the fair, ticked the box on the website."),
    )


class TaskForm(ServiceForm):
    title = forms.CharField(label=_("Title"), required=False, max_length=200)
    due_at = forms.CharField(
        label=_("Due"),
        required=False,
        max_length=40,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text=_("Leave empty for a task without a due time."),
    )
    priority = forms.TypedChoiceField(
        label=_("Priority"), choices=Task.Priority.choices, coerce=int, initial=2
    )
