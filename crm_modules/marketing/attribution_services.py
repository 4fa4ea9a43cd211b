"""Closed-loop attribution (ADR 0035): credits of won deals to the campaigns, sources and
media of the touchpoints before the win, under each model (``attribution.py``), stored as
``AttributionCredit`` rows so reports and dashboards read them like any record; the funnel
from form fills to revenue per campaign, source or medium; campaign costs and ROI."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_modules.marketing import attribution
from crm_modules.marketing.models_capture import AttributionCredit, CampaignCost, Touchpoint
from crm_modules.marketing.module import (
    CAMPAIGN_COST_SET,
    MANAGE_CAMPAIGN_COSTS,
    VIEW_ATTRIBUTION,
)
from crm_modules.marketing.money import (
    cost_in_workspace_currency,
    costs_without_rate,
    credit_in_workspace_currency,
    credits_without_rate,
)
from crm_modules.sales.api import Deal, Lead, LifecycleStage
from crm_platform.errors import ServiceError
from tenants.audit.services import audit_record
from tenants.models import Membership
from tenants.permissions import require

BATCH = 2000
CURRENCY_CODE = re.compile(r"[A-Z]{3}")
DIMENSIONS = {"campaign": "utm_campaign", "source": "utm_source", "medium": "utm_medium"}
QUALIFIED_STAGES = (
    LifecycleStage.QUALIFIED,
    LifecycleStage.OPPORTUNITY,
    LifecycleStage.CUSTOMER,
    LifecycleStage.EVANGELIST,
)


def credits_rebuild(*, deal_ids: Iterable[int] | None = None) -> int:
    """Recompute the credits of won deals (all, or those named): their touchpoints are those of
    the deal's contacts and of the leads converted into it, up to the moment it was won.
    Returns the number of credit rows written."""
    deals = Deal.objects.filter(status=Deal.Status.WON).order_by("pk")
    if deal_ids is not None:
        deals = deals.filter(pk__in=list(deal_ids))
    written = 0
    batch: list[Any] = []
    for deal in deals.only("pk", "amount", "currency", "closed_at", "owner").iterator(BATCH):
        batch.append(deal)
        if len(batch) == BATCH:
            written += _rebuild_batch(batch)
            batch = []
    if batch:
        written += _rebuild_batch(batch)
    if deal_ids is not None:
        # Deals no longer won keep no credits.
        AttributionCredit.objects.filter(deal_id__in=list(deal_ids)).exclude(
            deal__status=Deal.Status.WON
        ).delete()
    return written


def _rebuild_batch(deals: Sequence[Any]) -> int:
    ids = [d.pk for d in deals]
    contacts = defaultdict(set)
    for deal_id, contact_id in Deal.contacts.through.objects.filter(deal_id__in=ids).values_list(
        "deal_id", "contact_id"
    ):
        contacts[deal_id].add(contact_id)
    leads = defaultdict(set)
    for deal_id, lead_id in Lead.objects.filter(deal_id__in=ids).values_list("deal_id", "pk"):
        leads[deal_id].add(lead_id)
    all_contacts = set().union(*contacts.values()) if contacts else set()
    # A lead converted into one of the deal's contacts brought its touches with it.
    for lead_id, contact_id in Lead.objects.filter(contact_id__in=all_contacts).values_list(
        "pk", "contact_id"
    ):
        for deal_id, members in contacts.items():
            if contact_id in members:
                leads[deal_id].add(lead_id)
    all_leads = set().union(*leads.values()) if leads else set()
    touches = list(
        Touchpoint.objects.filter(Q(contact_id__in=all_contacts) | Q(lead_id__in=all_leads))
        .order_by("occurred_at", "pk")
        .values(
            "pk", "occurred_at", "contact_id", "lead_id", "utm_campaign", "utm_source", "utm_medium"
        )
    )
    rows: list[AttributionCredit] = []
    for deal in deals:
        mine = [
            t
            for t in touches
            if (t["contact_id"] in contacts[deal.pk] or t["lead_id"] in leads[deal.pk])
            and (deal.closed_at is None or t["occurred_at"] <= deal.closed_at)
        ]
        for model in attribution.MODELS:
            shares = attribution.credits(deal.amount, model, len(mine))
            rows.extend(
                AttributionCredit(
                    deal_id=deal.pk,
                    touchpoint_id=touch["pk"],
                    model=model,
                    utm_campaign=touch["utm_campaign"],
                    utm_source=touch["utm_source"],
                    utm_medium=touch["utm_medium"],
                    credit=share,
                    currency=deal.currency,
                    won_at=deal.closed_at or timezone.now(),
                    owner_id=deal.owner_id,
                )
                for touch, share in zip(mine, shares, strict=True)
                if share != 0
            )
    with transaction.atomic():
        AttributionCredit.objects.filter(deal_id__in=ids).delete()
        AttributionCredit.objects.bulk_create(rows, batch_size=BATCH)
    return len(rows)


@dataclass(frozen=True)
class ReportRow:
    key: str
    form_fills: int
    people: int
    qualified: int
    deals: int
    revenue: Decimal
    # In the report's currency, whatever currency the cost was entered in.
    cost: Decimal | None
    roi: Decimal | None
    cost_per_lead: Decimal | None = None


@dataclass(frozen=True)
class Totals:
    """The whole report in its one currency: every revenue and cost converted first."""

    form_fills: int
    people: int
    deals: int
    revenue: Decimal
    cost: Decimal | None
    roi: Decimal | None
    cost_per_lead: Decimal | None


@dataclass(frozen=True)
class Report:
    model: str
    model_label: str
    dimension: str
    currency: str
    rows: list[ReportRow]
    # Currencies of credited deals (on the day they were won) and of campaign costs (on the
    # day they were entered) with no exchange rate into ``currency``: those amounts are left
    # out (ADR 0047), and the page says so.
    unconverted: list[str] = field(default_factory=list)
    totals: Totals | None = None


def attribution_report(*, actor: Membership, model: str, dimension: str) -> Report:
    """Per campaign (or source, or medium): form fills, the people they brought, how many of
    them qualified, the won deals credited and their revenue under ``model``, the cost and ROI
    (campaigns only). Revenue is in the workspace's currency: a deal won in another currency
    is converted at the workspace's exchange rate of the day it was won, as reporting converts
    money (ADR 0047); one whose currency has no rate that day is left out and named."""
    require(actor, VIEW_ATTRIBUTION)
    if model not in attribution.MODELS:
        raise ServiceError(_("Choose an attribution model from the list."), field="model")
    if dimension not in DIMENSIONS:
        raise ServiceError(_("Choose campaign, source or medium."), field="by")
    column = DIMENSIONS[dimension]
    currency = actor.tenant.currency
    funnel = {
        row[column]: row
        for row in Touchpoint.objects.filter(kind=Touchpoint.Kind.FORM_FILL)
        .values(column)
        .annotate(
            fills=Count("pk"),
            leads=Count("lead", distinct=True),
            contacts=Count("contact", distinct=True),
            qualified_leads=Count(
                "lead", filter=Q(lead__status=Lead.Status.CONVERTED), distinct=True
            ),
            qualified_contacts=Count(
                "contact", filter=Q(contact__lifecycle_stage__in=QUALIFIED_STAGES), distinct=True
            ),
        )
        .order_by()
    }
    credits = AttributionCredit.objects.filter(model=model)
    money = {
        row[column]: row
        for row in credits.values(column)
        .annotate(revenue=Sum(credit_in_workspace_currency()), deals=Count("deal", distinct=True))
        .order_by()
    }
    costs: dict[str, Decimal | None] = {}
    unconverted = set(credits_without_rate(credits))
    if dimension == "campaign":
        # Each cost in the workspace's currency at the rate of the day it was entered; one
        # without a rate is left out (its campaign shows no cost or ROI) and named.
        entered = CampaignCost.objects.all()
        for key, amount in entered.values_list("utm_campaign", cost_in_workspace_currency()):
            costs[key] = None if amount is None else amount.quantize(attribution.CENT)
        unconverted |= set(costs_without_rate(entered))
    rows = []
    for key in sorted(set(funnel) | set(money) | set(costs)):
        f = funnel.get(key, {})
        m = money.get(key, {})
        revenue = (m.get("revenue") or Decimal(0)).quantize(attribution.CENT)
        cost = costs.get(key)
        people = f.get("leads", 0) + f.get("contacts", 0)
        rows.append(
            ReportRow(
                key=key,
                form_fills=f.get("fills", 0),
                people=people,
                qualified=f.get("qualified_leads", 0) + f.get("qualified_contacts", 0),
                deals=m.get("deals", 0),
                revenue=revenue,
                cost=cost,
                roi=attribution.roi(revenue, cost),
                cost_per_lead=attribution.cost_per_lead(cost, people),
            )
        )
    rows.sort(key=lambda r: (-r.revenue, r.key))
    labels = dict(AttributionCredit.Model.choices)
    return Report(
        model=model,
        model_label=str(labels[model]),
        dimension=dimension,
        currency=currency,
        rows=rows,
        unconverted=sorted(unconverted),
        totals=_totals(rows, with_cost=dimension == "campaign"),
    )


def _totals(rows: Sequence[ReportRow], *, with_cost: bool) -> Totals:
    """Sums of rows already in one currency. ROI and cost per lead over the campaigns that
    have a cost, so a campaign without one does not inflate the return."""
    costed = [r for r in rows if r.cost is not None]
    cost = sum((r.cost for r in costed if r.cost is not None), Decimal(0)) if costed else None
    costed_revenue = sum((r.revenue for r in costed), Decimal(0))
    costed_people = sum(r.people for r in costed)
    return Totals(
        form_fills=sum(r.form_fills for r in rows),
        people=sum(r.people for r in rows),
        deals=sum(r.deals for r in rows),
        revenue=sum((r.revenue for r in rows), Decimal(0)).quantize(attribution.CENT),
        cost=cost if with_cost else None,
        roi=attribution.roi(costed_revenue, cost) if with_cost else None,
        cost_per_lead=attribution.cost_per_lead(cost, costed_people) if with_cost else None,
    )


def campaign_cost_set(
    *, actor: Membership, campaign: str, amount: Any, currency: Any = None
) -> CampaignCost:
    """Enter what a campaign cost, in any currency (the workspace's when none is given):
    reports convert it into the workspace's currency at the rate of the day it is entered."""
    require(actor, MANAGE_CAMPAIGN_COSTS)
    code = actor.tenant.currency if currency in (None, "") else currency
    code = code.strip().upper() if isinstance(code, str) else ""
    if not CURRENCY_CODE.fullmatch(code):
        raise ServiceError(
            _("Enter the cost's currency as a three-letter code such as EUR."), field="currency"
        )
    campaign = (campaign or "").strip() if isinstance(campaign, str) else ""
    if not campaign or len(campaign) > 150:
        raise ServiceError(
            _("Give the campaign as it appears in utm_campaign (at most 150 characters)."),
            field="campaign",
        )
    try:
        value = Decimal(str(amount).strip())
    except (InvalidOperation, ValueError):
        raise ServiceError(_("Enter the cost as a number."), field="amount") from None
    if not value.is_finite() or value < 0 or value >= Decimal("1e15"):
        raise ServiceError(_("Enter a cost of 0 or more."), field="amount")
    if value != value.quantize(attribution.CENT):
        raise ServiceError(_("A cost has at most two decimals."), field="amount")
    with transaction.atomic():
        cost, _created = CampaignCost.objects.update_or_create(
            utm_campaign=campaign,
            defaults={
                "amount": value,
                "currency": code,
                "updated_by": actor.user,
                "updated_at": timezone.now(),
            },
        )
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=CAMPAIGN_COST_SET,
            target=cost,
            target_repr=campaign,
            data={"amount": str(value), "currency": code},
        )
    return cost


def attribution_rebuild(*, actor: Membership) -> int:
    require(actor, MANAGE_CAMPAIGN_COSTS)
    return credits_rebuild()
