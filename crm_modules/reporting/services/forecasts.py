"""Forecast snapshots: at the start of each month, each member's weighted forecast for it (open
deals expected to close in the month, amount times the stage's win probability) is kept, so the
forecast can later be compared with what was won (forecast accuracy, ADR 0025)."""

from __future__ import annotations

import datetime
import zoneinfo
from decimal import Decimal

from django.db import transaction
from django.db.models import F, Sum, Value
from django.utils import timezone

from crm_modules.reporting.models import ForecastSnapshot
from crm_modules.reporting.money import converted
from crm_modules.sales.api import Deal

SNAPSHOT_EVENT = "forecast.snapshot"


def _month_after(month: datetime.date) -> datetime.date:
    return datetime.date(month.year + month.month // 12, month.month % 12 + 1, 1)


def forecast_snapshot_take(*, zone: zoneinfo.ZoneInfo, now: datetime.datetime | None = None) -> int:
    """Keep this month's forecast per member (the month as the workspace's time zone reckons
    it), unless it was kept already: the first run in a month wins, later runs change
    nothing. Returns the snapshots written."""
    moment = now or timezone.now()
    month = moment.astimezone(zone).date().replace(day=1)
    with transaction.atomic():
        if ForecastSnapshot.objects.filter(month=month).exists():
            return 0
        weighted = (
            Deal.objects.filter(
                status=Deal.Status.OPEN,
                expected_close_date__gte=month,
                expected_close_date__lt=_month_after(month),
            )
            .values("owner_id")
            # In the workspace's currency (ADR 0047).
            .annotate(forecast=Sum(converted() * F("stage__probability") / Value(100)))
            .order_by("owner_id")
        )
        snapshots = [
            ForecastSnapshot(
                month=month,
                owner_id=row["owner_id"],
                forecast=Decimal(row["forecast"] or 0).quantize(Decimal("0.01")),
                taken_at=moment,
            )
            for row in weighted
        ]
        if not any(snapshot.owner_id is None for snapshot in snapshots):
            # Marks the month as taken even when nobody had a forecast for it.
            snapshots.append(
                ForecastSnapshot(
                    month=month, owner_id=None, forecast=Decimal("0.00"), taken_at=moment
                )
            )
        ForecastSnapshot.objects.bulk_create(snapshots, ignore_conflicts=True)
    return len(snapshots)
