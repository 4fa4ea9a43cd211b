"""The filters of each sales list, read from a list page's query string, so that anything
else showing "this list" (an export) narrows it exactly as the page does. Every queryset comes
from the scoped selectors: it holds only what the member may see."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import QuerySet

from crm_modules.sales import selectors
from crm_modules.sales.models import Deal, Lead, LifecycleStage
from tenants.models import Membership

LIST_ENTITIES = ("contact", "company", "lead", "deal")
# The query-string parameters each list understands (and an export keeps).
PARAMETERS = {
    "contact": ("q", "stage", "mine", "min_score", "sort"),
    "company": ("q", "mine"),
    "lead": ("q", "status", "mine", "min_score", "sort"),
    "deal": ("q", "pipeline", "stage", "status", "mine"),
}


def _int(raw: str) -> int | None:
    try:
        return int(str(raw).strip())
    except (TypeError, ValueError):
        return None


def list_order(entity: str, params: Mapping[str, str]) -> tuple[str, ...]:
    """The order of a list: newest first, companies by name, and scored records highest score
    first with ``sort=score`` (served by the score index)."""
    if entity == "company":
        return ("name", "id")
    if entity in ("contact", "lead") and params.get("sort") == "score":
        return ("-score", "-id")
    return ("-id",)


def list_for(entity: str, *, actor: Membership, params: Mapping[str, str]) -> QuerySet[Any]:
    """The list of ``entity`` ("contact", "company", "lead", "deal") filtered by ``params``,
    in ``list_order``, as its page shows it."""
    q = str(params.get("q", ""))[:100]
    owner_id = actor.user_id if params.get("mine") == "1" else None
    order = list_order(entity, params)
    if entity == "contact":
        stage = params.get("stage", "")
        return selectors.contact_list(
            actor=actor,
            q=q,
            owner_id=owner_id,
            lifecycle_stage=stage if stage in LifecycleStage.values else "",
            min_score=_int(params.get("min_score", "")),
        ).order_by(*order)
    if entity == "company":
        return selectors.company_list(actor=actor, q=q, owner_id=owner_id).order_by(*order)
    if entity == "lead":
        status = params.get("status", "")
        return selectors.lead_list(
            actor=actor,
            q=q,
            status=status if status in Lead.Status.values else "",
            owner_id=owner_id,
            min_score=_int(params.get("min_score", "")),
        ).order_by(*order)
    if entity == "deal":
        status = params.get("status", "")
        return selectors.deal_list(
            actor=actor,
            q=q,
            pipeline_id=_int(params.get("pipeline", "")),
            stage_id=_int(params.get("stage", "")),
            status=status if status in Deal.Status.values else "",
            owner_id=owner_id,
        ).order_by("-id")
    raise ValueError(entity)
