from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from crm_modules.documents.api import all_attachables
from tenants.forms import AccessibleForm


class DocumentFilterForm(AccessibleForm):
    q = forms.CharField(label=_("Name"), required=False, max_length=255)
    type = forms.ChoiceField(
        label=_("Type"),
        required=False,
        choices=[
            ("", _("Any type")),
            ("application/pdf", _("PDF")),
            ("image", _("Images")),
            ("text", _("Text")),
            ("application", _("Other files")),
        ],
    )
    uploader = forms.CharField(label=_("Uploaded by"), required=False, max_length=254)
    date_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    linked = forms.CharField(
        label=_("Linked to"),
        required=False,
        max_length=100,
        help_text=_("A name of a contact, company, deal or other record"),
    )
    linked_type = forms.ChoiceField(label=_("Record type"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [(attachable.key, attachable.label) for attachable in all_attachables()]
        self.fields["linked_type"].choices = [("", _("Any record")), *choices]  # type: ignore[attr-defined]


class UploadStartForm(forms.Form):
    name = forms.CharField(max_length=4000)
    content_type = forms.CharField(max_length=255, required=False)
    size = forms.IntegerField(min_value=0)
    record_type = forms.CharField(max_length=64, required=False)
    record_id = forms.IntegerField(required=False, min_value=1)


class UploadCompleteForm(forms.Form):
    ticket = forms.CharField(max_length=4000)


class LinkForm(forms.Form):
    """The record a Documents panel belongs to."""

    record_type = forms.ChoiceField()
    record_id = forms.IntegerField(min_value=1)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["record_type"].choices = [(a.key, a.label) for a in all_attachables()]  # type: ignore[attr-defined]
