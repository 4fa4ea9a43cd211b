"""Reporting's own records as a data source: monthly quotas, so the forecast compares with
them through the same compiler and scopes as any report (and a report may chart them)."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from crm_modules.reporting.models import Quota
from crm_modules.reporting.module import MODULE, VIEW_REPORTS
from crm_modules.reporting.registry import DataSource, Field, FieldType, register_source

QUOTA_EVENTS = frozenset({"quota.changed"})


def _quota_label(quota: Quota) -> str:
    return f"{quota.owner} · {quota.month:%Y-%m}: {quota.amount:,}"


QUOTAS = register_source(
    DataSource(
        code="quotas",
        label=_("Quotas"),
        module=MODULE,
        model=Quota,
        capability=VIEW_REPORTS,
        fields=(
            Field("month", _("month"), FieldType.DATE, "month"),
            Field("owner", _("member"), FieldType.REF, "owner", label_path="owner__full_name"),
            Field("amount", _("quota"), FieldType.MONEY, "amount"),
        ),
        record_url=lambda quota: f"{reverse('reporting:quotas')}?year={quota.month.year}",
        record_label=_quota_label,
        live_events=QUOTA_EVENTS,
        related=("owner",),
    )
)
