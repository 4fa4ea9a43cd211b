"""Reads of trigger rules and their run log, for members allowed to see them (404 otherwise)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from crm_modules.marketing.models_triggers import TriggerFiring, TriggerRule
from crm_modules.marketing.module import VIEW_TRIGGERS
from crm_modules.sales.api import Page, contact_list, keyset_page
from tenants.models import Membership
from tenants.permissions import require


def trigger_rule_list(*, actor: Membership) -> QuerySet[TriggerRule]:
    require(actor, VIEW_TRIGGERS)
    return TriggerRule.objects.order_by("-id")


def trigger_rule_get(*, actor: Membership, rule_id: int) -> TriggerRule:
    rule = trigger_rule_list(actor=actor).filter(pk=rule_id).first()
    if rule is None:
        raise Http404
    return rule


def trigger_runs(*, actor: Membership, rule: TriggerRule) -> QuerySet[TriggerFiring]:
    """The rule's firings for contacts the actor may see, newest first (keyset on id)."""
    require(actor, VIEW_TRIGGERS)
    return (
        TriggerFiring.objects.filter(rule=rule, contact__in=contact_list(actor=actor))
        .select_related("contact")
        .order_by("-id")
    )


def trigger_runs_page(
    *, actor: Membership, rule: TriggerRule, after: str = ""
) -> Page[TriggerFiring]:
    return keyset_page(trigger_runs(actor=actor, rule=rule), order=("-id",), after=after, size=50)
