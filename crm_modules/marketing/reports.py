"""Marketing's records as report data sources (ADR 0019): revenue credited to campaigns,
sources and media by each attribution model. Every chart of
them names its model through the "model" field."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from crm_modules.marketing.models_capture import AttributionCredit
from crm_modules.marketing.module import MODULE, VIEW_ATTRIBUTION
from crm_modules.marketing.money import credit_in_workspace_currency, credits_without_rate
from crm_modules.reporting.api import DataSource, Field, FieldType, register_source
from tenants.roles import Role

ATTRIBUTION = register_source(
    DataSource(
        code="attribution",
        label=_("Attributed revenue"),
        module=MODULE,
        model=AttributionCredit,
        capability=VIEW_ATTRIBUTION,
        fields=(
            Field(
                "model",
                _("attribution model"),
                FieldType.CHOICE,
                "model",
                choices=AttributionCredit.Model.choices,
            ),
            Field("campaign", _("campaign"), FieldType.TEXT, "utm_campaign"),
            Field("source", _("source"), FieldType.TEXT, "utm_source"),
            Field("medium", _("medium"), FieldType.TEXT, "utm_medium"),
            # Credits keep their deal's currency: sums and averages convert them into the
            # workspace's currency at the rate of the day the deal was won (ADR 0047).
            Field(
                "credit",
                _("credited revenue"),
                FieldType.MONEY,
                "credit",
                converted=credit_in_workspace_currency,
            ),
            Field("won_at", _("won"), FieldType.DATETIME, "won_at"),
        ),
        unconverted=credits_without_rate,
        # Marketers read marketing's reports (ADR 0063).
        report_roles=frozenset({Role.MARKETER}),
        record_url=lambda credit: reverse("sales:deal_detail", args=[credit.deal_id]),
        record_label=lambda credit: f"{credit.get_model_display()} · {credit.utm_campaign}",
    )
)
