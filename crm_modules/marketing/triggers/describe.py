"""What sets a trigger rule off, in words for the rules list and a rule's page: the label of
the event kind its module registered ("Lead score changed", "Tag added: Gold"), or the value
and threshold it waits for ("Lead score rises to 50"), never the internal code."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.utils.formats import number_format
from django.utils.translation import gettext as _

from crm_modules.marketing.models_triggers import TriggerRule
from crm_modules.marketing.triggers.definition import (
    CUSTOM_PREFIX,
    SCORE,
    WON_REVENUE,
    decimal_or_none,
    threshold_field_of,
)
from crm_modules.sales.api import CustomField
from tenants.modules import record_event_kinds


def _threshold_words(field: str, crosses: Any, custom_labels: Mapping[str, str]) -> str:
    number = decimal_or_none(crosses)
    value = number_format(number) if number is not None else str(crosses)
    if field == SCORE:
        return _("Lead score rises to %(value)s") % {"value": value}
    if field == WON_REVENUE:
        return _("Won revenue reaches %(value)s") % {"value": value}
    code = field.removeprefix(CUSTOM_PREFIX)
    label = custom_labels.get(code, code)
    return _("%(field)s reaches %(value)s") % {"field": label, "value": value}


def rules_when(rules: Iterable[TriggerRule]) -> dict[int, str]:
    """Each rule's trigger in words, by rule id (one query for the custom fields named)."""
    rules = list(rules)
    kinds = {kind.code: kind for kind in record_event_kinds()}
    codes = {
        threshold_field_of(rule.definition).removeprefix(CUSTOM_PREFIX)
        for rule in rules
        if threshold_field_of(rule.definition).startswith(CUSTOM_PREFIX)
    }
    custom_labels = (
        dict(
            CustomField.objects.filter(entity="contact", code__in=codes).values_list(
                "code", "label"
            )
        )
        if codes
        else {}
    )
    texts: dict[int, str] = {}
    for rule in rules:
        field = threshold_field_of(rule.definition)
        if field:
            crosses = rule.definition["when"]["threshold"].get("crosses")
            texts[rule.pk] = _threshold_words(field, crosses, custom_labels)
            continue
        kind = kinds.get(rule.listens_to)
        label = str(kind.label) if kind is not None else rule.listens_to
        when = rule.definition.get("when") if isinstance(rule.definition, Mapping) else None
        match = when.get("match") if isinstance(when, Mapping) else None
        if isinstance(match, Mapping) and match:
            label = f"{label}: {', '.join(str(v) for v in match.values())}"
        texts[rule.pk] = label
    return texts
