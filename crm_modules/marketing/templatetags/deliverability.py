"""``{% deliverability_banner %}``: the banner on every workspace page that tells the members
who may resume it that bulk sending is paused, and why (ADR 0043)."""

from __future__ import annotations

from typing import Any

from django import template
from django.template.loader import render_to_string

from crm_modules.marketing.deliverability.pause import pause_explanation
from crm_modules.marketing.models_deliverability import DeliverabilityState
from crm_modules.marketing.module import MANAGE_DELIVERABILITY
from tenants.permissions import allows

register = template.Library()


@register.simple_tag(takes_context=True)
def deliverability_banner(context: Any) -> str:
    membership = context.get("membership")
    if membership is None or not allows(membership, MANAGE_DELIVERABILITY, reading=True):
        return ""
    paused = DeliverabilityState.objects.filter(pk=1, paused_at__isnull=False).first()
    if paused is None:
        return ""
    return render_to_string(
        "marketing/_pause_banner.html", {"explanation": pause_explanation(paused)}
    )
