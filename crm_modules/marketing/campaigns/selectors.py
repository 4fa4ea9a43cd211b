"""Reads of campaigns: the list (keyset), one campaign, its report (one aggregate query), its
recipients page."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.http import Http404

from crm_modules.marketing.campaigns import abtest
from crm_modules.marketing.models import Campaign, CampaignEvent, CampaignRecipient
from crm_modules.marketing.module import VIEW_CAMPAIGNS
from crm_modules.sales.api import Page, keyset_page
from tenants.models import Membership
from tenants.permissions import allows

PAGE_SIZE = 50
Status = CampaignRecipient.Status


def campaign_list(*, actor: Membership) -> QuerySet[Campaign]:
    if not allows(actor, VIEW_CAMPAIGNS):
        return Campaign.objects.none()
    return Campaign.objects.select_related("segment").order_by("-id")


def campaign_page(*, actor: Membership, after: str = "") -> Page[Campaign]:
    return keyset_page(campaign_list(actor=actor), order=("-id",), after=after, size=PAGE_SIZE)


def campaign_get(*, actor: Membership, campaign_id: int) -> Campaign:
    campaign = campaign_list(actor=actor).filter(pk=campaign_id).first()
    if campaign is None:
        raise Http404
    return campaign


def _rate(part: int, whole: int) -> float:
    return round(100 * part / whole, 1) if whole else 0.0


@dataclass
class Report:
    recipients: int
    counts: dict[str, int]
    rates: dict[str, float]
    filtered_clicks: int
    variants: list[dict[str, Any]] = field(default_factory=list)
    significance: abtest.ZTest | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "recipients": self.recipients,
            "counts": self.counts,
            "rates": self.rates,
            "filtered_clicks": self.filtered_clicks,
            "variants": self.variants,
            "significance": (
                {
                    "z": round(self.significance.z, 3),
                    "p_value": round(self.significance.p_value, 4),
                    "significant": self.significance.significant,
                }
                if self.significance
                else None
            ),
        }


def campaign_report(*, campaign: Campaign) -> Report:
    """Counts and rates: three queries whatever the campaign's size (rows by status and
    first-event columns, filtered clicks, per-variant figures)."""
    rows = CampaignRecipient.objects.filter(campaign=campaign)
    sent = Q(status=Status.SENT)
    figures = rows.aggregate(
        recipients=Count("id"),
        queued=Count("id", filter=Q(status__in=[Status.QUEUED, Status.SENDING, Status.HELD])),
        skipped=Count("id", filter=Q(status=Status.SKIPPED)),
        failed=Count("id", filter=Q(status=Status.FAILED)),
        delivered=Count("id", filter=sent),
        opened=Count("id", filter=sent & Q(opened_at__isnull=False)),
        clicked=Count("id", filter=sent & Q(clicked_at__isnull=False)),
        bounced=Count("id", filter=Q(bounced_at__isnull=False)),
        unsubscribed=Count("id", filter=Q(unsubscribed_at__isnull=False)),
        complained=Count("id", filter=Q(complained_at__isnull=False)),
    )
    recipients = figures.pop("recipients")
    delivered = figures["delivered"]
    rates = {
        "opened": _rate(figures["opened"], delivered),
        "clicked": _rate(figures["clicked"], delivered),
        "bounced": _rate(figures["bounced"], delivered + figures["bounced"]),
        "unsubscribed": _rate(figures["unsubscribed"], delivered),
        "complained": _rate(figures["complained"], delivered),
    }
    filtered = CampaignEvent.objects.filter(
        campaign=campaign, kind=CampaignEvent.Kind.CLICKED, filtered=True
    ).count()
    report = Report(recipients=recipients, counts=figures, rates=rates, filtered_clicks=filtered)
    results = abtest.variant_results(campaign)
    if len(results) > 1:
        metric = campaign.ab_metric
        report.variants = [
            {
                "letter": r.variant.letter,
                "subject": r.variant.subject,
                "sent": r.sent,
                "opened": r.opened,
                "clicked": r.clicked,
                "rate": round(100 * r.rate(metric), 1),
                "winner": campaign.winner_id == r.variant.pk,
            }
            for r in results
        ]
        report.significance = abtest.leader_test(campaign, results)
    return report


def recipients_page(*, campaign: Campaign, after: str = "") -> Page[CampaignRecipient]:
    rows = CampaignRecipient.objects.filter(campaign=campaign).select_related("variant")
    return keyset_page(rows, order=("-id",), after=after, size=PAGE_SIZE)


def report_figure(report: Report) -> dict[str, Any]:
    """The report as a Plotly bar chart (counts per event); labels are translated by the
    caller's active language."""
    from django.utils.translation import gettext as _

    labels = [
        _("Delivered"),
        _("Opened"),
        _("Clicked"),
        _("Bounced"),
        _("Unsubscribed"),
        _("Complained"),
    ]
    keys = ["delivered", "opened", "clicked", "bounced", "unsubscribed", "complained"]
    return {
        "data": [
            {
                "type": "bar",
                "x": labels,
                "y": [report.counts[key] for key in keys],
                "hovertemplate": "%{x}: %{y}<extra></extra>",
            }
        ],
        "layout": {
            "margin": {"l": 40, "r": 10, "t": 10, "b": 40},
            "height": 280,
            "yaxis": {"rangemode": "tozero"},
        },
    }
