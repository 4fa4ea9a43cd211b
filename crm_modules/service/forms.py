"""Forms of the service pages: they only parse; the services validate and name the field."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from crm_modules.service.models import Priority, Status, TicketChannel, TicketType
from tenants.forms import MentionTextarea, ServiceForm


class TicketForm(ServiceForm):
    subject = forms.CharField(label=_("Subject"), required=False, max_length=200)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 5})
    )
    contact = forms.IntegerField(label=_("Contact"), required=False, widget=forms.HiddenInput)
    priority = forms.ChoiceField(label=_("Priority"), choices=Priority.choices, initial="normal")
    type = forms.ChoiceField(label=_("Type"), choices=TicketType.choices, initial="question")
    channel = forms.ChoiceField(label=_("Channel"), choices=TicketChannel.choices, initial="phone")
    tags = forms.CharField(
        label=_("Tags"), required=False, max_length=500, help_text=_("Separate tags with commas.")
    )


class ReplyForm(ServiceForm):
    body = forms.CharField(
        label=_("Message"),
        required=False,
        widget=MentionTextarea(attrs={"rows": 5, "data-testid": "reply-body"}),
        help_text=_("In an internal note, type @ and a name to mention a colleague."),
    )
    kind = forms.ChoiceField(
        label=_("Send as"),
        choices=[("reply", _("Public reply")), ("note", _("Internal note"))],
        initial="reply",
        widget=forms.RadioSelect,
    )
    status = forms.ChoiceField(
        label=_("Then set the status to"),
        required=False,
        choices=[("", _("Leave as it is")), *Status.choices],
    )
    # The last message the agent saw when the form was shown (0: none).
    seen = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)


class TicketFieldsForm(ServiceForm):
    status = forms.ChoiceField(label=_("Status"), choices=Status.choices)
    priority = forms.ChoiceField(label=_("Priority"), choices=Priority.choices)
    type = forms.ChoiceField(label=_("Type"), choices=TicketType.choices)
    tags = forms.CharField(label=_("Tags"), required=False, max_length=500)


WEEKDAYS = [
    ("0", _("Monday")),
    ("1", _("Tuesday")),
    ("2", _("Wednesday")),
    ("3", _("Thursday")),
    ("4", _("Friday")),
    ("5", _("Saturday")),
    ("6", _("Sunday")),
]


class WebForm(ServiceForm):
    """The customers' web form; ``website`` is a trap for robots, hidden from people."""

    name = forms.CharField(label=_("Your name"), max_length=200)
    email = forms.CharField(label=_("Your email"), max_length=254)
    subject = forms.CharField(label=_("Subject"), max_length=200)
    message = forms.CharField(
        label=_("Message"), max_length=100_000, widget=forms.Textarea(attrs={"rows": 6})
    )
    website = forms.CharField(required=False, max_length=200)
