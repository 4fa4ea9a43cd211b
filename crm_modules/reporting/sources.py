"""Reporting's own records as data sources: monthly quotas, so the forecast compares with
them through the same compiler and scopes as any report (and a report may chart them); and
customer values (RFM segment, lifetime value), which marketing may segment on."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from crm_modules.reporting.models import CustomerValue, ForecastSnapshot, Quota
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


def _customer_url(value: CustomerValue) -> str:
    name = (
        "sales:contact_detail"
        if value.kind == CustomerValue.Kind.CONTACT
        else "sales:company_detail"
    )
    return reverse(name, args=[value.record_id])


CUSTOMER_EVENTS = frozenset({"customer_values.updated"})

CUSTOMERS = register_source(
    DataSource(
        code="customers",
        label=_("Customer value (RFM)"),
        module=MODULE,
        model=CustomerValue,
        capability=VIEW_REPORTS,
        fields=(
            Field("kind", _("kind"), FieldType.CHOICE, "kind", choices=CustomerValue.Kind.choices),
            Field("name", _("name"), FieldType.TEXT, "name", groupable=False),
            Field(
                "segment",
                _("RFM segment"),
                FieldType.CHOICE,
                "segment",
                choices=CustomerValue.Segment.choices,
            ),
            Field("recency_score", _("recency score"), FieldType.NUMBER, "recency_score"),
            Field("frequency_score", _("frequency score"), FieldType.NUMBER, "frequency_score"),
            Field("monetary_score", _("monetary score"), FieldType.NUMBER, "monetary_score"),
            Field("won_deals", _("won deals"), FieldType.NUMBER, "won_deals"),
            Field("revenue", _("revenue"), FieldType.MONEY, "revenue"),
            Field("predicted_value", _("predicted value"), FieldType.MONEY, "predicted_value"),
            Field("lifetime_value", _("lifetime value"), FieldType.MONEY, "lifetime_value"),
            Field("first_won_at", _("first won"), FieldType.DATETIME, "first_won_at"),
            Field("last_won_at", _("last won"), FieldType.DATETIME, "last_won_at"),
            Field("owner", _("owner"), FieldType.REF, "owner", label_path="owner__full_name"),
        ),
        record_url=_customer_url,
        record_label=str,
        live_events=CUSTOMER_EVENTS,
    )
)


FORECAST_SNAPSHOTS = register_source(
    DataSource(
        code="forecast_snapshots",
        label=_("Forecasts at the start of each month"),
        module=MODULE,
        model=ForecastSnapshot,
        capability=VIEW_REPORTS,
        fields=(
            Field("month", _("month"), FieldType.DATE, "month"),
            Field("owner", _("owner"), FieldType.REF, "owner", label_path="owner__full_name"),
            Field("forecast", _("forecast"), FieldType.MONEY, "forecast"),
        ),
        record_label=lambda snapshot: f"{snapshot.owner or '—'} · {snapshot}",
        live_events=frozenset({"forecast.snapshot"}),
        related=("owner",),
    )
)
