"""Forms of the reporting pages: they only parse; the services validate and name the field."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from tenants.forms import ServiceForm
from tenants.models import Membership


class QuotaForm(ServiceForm):
    owner = forms.ChoiceField(label=_("Member"), choices=())
    month = forms.CharField(
        label=_("Month"),
        max_length=10,
        widget=forms.TextInput(attrs={"type": "month", "placeholder": "2026-03"}),
    )
    amount = forms.CharField(
        label=_("Quota"),
        max_length=30,
        help_text=_("In the workspace's currency. Setting a month again replaces its quota."),
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )

    def __init__(self, *args: Any, members: list[Membership], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        owner = cast(forms.ChoiceField, self.fields["owner"])
        owner.choices = [(m.user_id, m.user.full_name or m.user.email) for m in members]


class ExchangeRateForm(ServiceForm):
    currency = forms.CharField(
        label=_("Currency"),
        max_length=100,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "autocapitalize": "characters", "placeholder": "EUR"}
        ),
    )
    rate = forms.CharField(
        label=_("Rate"),
        max_length=30,
        help_text=_("How many units of the workspace's currency one unit of this currency buys."),
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    valid_from = forms.CharField(
        label=_("Valid from"),
        max_length=10,
        help_text=_("Deals closed on or after this day use this rate; open deals use the latest."),
        widget=forms.TextInput(attrs={"type": "date"}),
    )
