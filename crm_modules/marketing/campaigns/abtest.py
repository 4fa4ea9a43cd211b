"""A/B tests: the per-variant figures, the two-proportion z-test, and picking the winner once
the waiting time has passed after the test group was sent."""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Count, Max, Q
from django.utils import timezone

from crm_modules.marketing.models import Campaign, CampaignRecipient, CampaignVariant

Status = CampaignRecipient.Status


@dataclass(frozen=True)
class ZTest:
    z: float
    p_value: float

    @property
    def significant(self) -> bool:
        return self.p_value < 0.05


def two_proportion_z(x1: int, n1: int, x2: int, n2: int) -> ZTest | None:
    """Is x1/n1 different from x2/n2? Two-sided test with the pooled proportion; None when
    either sample is empty or nobody (or everybody) converted."""
    if n1 <= 0 or n2 <= 0:
        return None
    pooled = (x1 + x2) / (n1 + n2)
    spread = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if spread <= 0:
        return None
    z = (x1 / n1 - x2 / n2) / math.sqrt(spread)
    return ZTest(z=z, p_value=math.erfc(abs(z) / math.sqrt(2)))


@dataclass(frozen=True)
class VariantResult:
    variant: CampaignVariant
    sent: int
    opened: int
    clicked: int

    def hits(self, metric: str) -> int:
        return self.clicked if metric == "clicks" else self.opened

    def rate(self, metric: str) -> float:
        return self.hits(metric) / self.sent if self.sent else 0.0


def variant_results(campaign: Campaign) -> list[VariantResult]:
    """Sent, opened and clicked per variant, in one query."""
    counts: dict[int, dict[str, Any]] = {
        row["variant_id"]: dict(row)
        for row in CampaignRecipient.objects.filter(campaign=campaign, variant__isnull=False)
        .values("variant_id")
        .annotate(
            sent=Count("id", filter=Q(status=Status.SENT)),
            opened=Count("id", filter=Q(status=Status.SENT, opened_at__isnull=False)),
            clicked=Count("id", filter=Q(status=Status.SENT, clicked_at__isnull=False)),
        )
    }
    results = []
    for variant in CampaignVariant.objects.filter(campaign=campaign).order_by("letter"):
        row = counts.get(variant.pk, {})
        results.append(
            VariantResult(
                variant=variant,
                sent=row.get("sent", 0),
                opened=row.get("opened", 0),
                clicked=row.get("clicked", 0),
            )
        )
    return results


def leader_test(campaign: Campaign, results: list[VariantResult]) -> ZTest | None:
    """The z-test of the leading variant against the runner-up."""
    if len(results) < 2:
        return None
    metric = campaign.ab_metric
    ranked = sorted(results, key=lambda r: (-r.rate(metric), r.variant.letter))
    first, second = ranked[0], ranked[1]
    return two_proportion_z(first.hits(metric), first.sent, second.hits(metric), second.sent)


def winner_pick(campaign_id: int, *, now: datetime.datetime | None = None) -> str | None:
    """Pick the winner if the test is over; returns its letter, or None to look again later.

    Over means: no test row is still waiting to be sent, the waiting time has passed since the
    last test message went, and each variant reached the minimum sample (or every test
    recipient has been sent to, when the segment is too small for it)."""
    now = now or timezone.now()
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().filter(pk=campaign_id).first()
        if campaign is None or campaign.status != Campaign.Status.TESTING:
            return None
        test_rows = CampaignRecipient.objects.filter(campaign=campaign, variant__isnull=False)
        if test_rows.filter(status__in=[Status.QUEUED, Status.SENDING]).exists():
            return None
        last_sent = test_rows.aggregate(last=Max("sent_at"))["last"]
        wait = datetime.timedelta(minutes=campaign.ab_wait_minutes)
        if last_sent is not None and now < last_sent + wait:
            return None
        results = variant_results(campaign)
        metric = campaign.ab_metric
        winner = sorted(results, key=lambda r: (-r.rate(metric), r.variant.letter))[0]
        campaign.winner = winner.variant
        campaign.status = Campaign.Status.SENDING
        campaign.save(update_fields=["winner", "status"])
        CampaignRecipient.objects.filter(campaign=campaign, status=Status.HELD).update(
            variant=winner.variant, status=Status.QUEUED
        )
    return winner.variant.letter


def minimum_reached(campaign: Campaign, results: list[VariantResult]) -> bool:
    return all(result.sent >= campaign.ab_min_sample for result in results)
