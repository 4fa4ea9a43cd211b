"""Forms of the scoring page: they only parse; the services validate and name the field."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from crm_modules.activities.api import entry_types
from crm_modules.scoring.models import Entity, ScoringRule
from crm_modules.scoring.services import field_choices
from tenants.forms import ServiceForm

BLANK = [("", "—")]


class RuleForm(ServiceForm):
    entity = forms.ChoiceField(label=_("Records"), choices=Entity.choices)
    name = forms.CharField(label=_("Name"), max_length=100, required=False)
    kind = forms.ChoiceField(label=_("Looks at"), choices=ScoringRule.Kind.choices)
    field = forms.ChoiceField(label=_("Field"), choices=(), required=False)
    operator = forms.ChoiceField(
        label=_("Condition"), choices=BLANK + list(ScoringRule.Operator.choices), required=False
    )
    value = forms.CharField(
        label=_("Value"),
        max_length=200,
        required=False,
        help_text=_("For “is one of”, separate the values with commas."),
    )
    activity_kind = forms.ChoiceField(label=_("Interaction"), choices=(), required=False)
    direction = forms.ChoiceField(
        label=_("Direction"),
        choices=[("", _("Any")), ("inbound", _("Inbound (a reply)")), ("outbound", _("Outbound"))],
        required=False,
    )
    channel = forms.ChoiceField(
        label=_("Channel"),
        choices=[*BLANK, ("email", _("Email")), ("sms", _("SMS")), ("phone", _("Phone"))],
        required=False,
    )
    days = forms.IntegerField(label=_("In the last days"), required=False)
    points = forms.IntegerField(
        label=_("Points"), required=False, help_text=_("Negative for signals against.")
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields = BLANK + [
            (code, f"{label} ({entity})")
            for entity in Entity.values
            for code, label in field_choices(entity)
        ]
        self.fields["field"].choices = list(dict.fromkeys(fields))  # type: ignore[attr-defined]
        self.fields["activity_kind"].choices = [("", _("Any"))] + [  # type: ignore[attr-defined]
            (t.code, t.label) for t in entry_types(manual=True)
        ]


class ThresholdForm(ServiceForm):
    entity = forms.ChoiceField(label=_("Records"), choices=Entity.choices)
    min_score = forms.IntegerField(label=_("Score at least"), required=False)
    lifecycle_stage = forms.ChoiceField(label=_("Move contacts to"), choices=(), required=False)
    task_title = forms.CharField(label=_("Task for the owner"), max_length=200, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from crm_modules.sales.api import LifecycleStage

        super().__init__(*args, **kwargs)
        self.fields["lifecycle_stage"].choices = BLANK + list(LifecycleStage.choices)  # type: ignore[attr-defined]
