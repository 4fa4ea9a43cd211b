"""Sales records as report data sources (crm_modules.reporting.api): deals, contacts,
companies, leads and tasks, each with its allow-listed fields and the measures sales owns."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import (
    Avg,
    Count,
    DateTimeField,
    ExpressionWrapper,
    F,
    FloatField,
    Q,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, Extract, Now, NullIf
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from crm_modules.reporting.api import (
    DataSource,
    Field,
    FieldType,
    Measure,
    Totals,
    converted,
    register_source,
    unconverted_currencies,
)
from crm_modules.sales.models import (
    Company,
    Contact,
    CustomField,
    Deal,
    DealStageChange,
    DealStageTotal,
    Lead,
    LifecycleStage,
    Stage,
    Task,
)
from crm_modules.sales.module import MODULE, VIEW_RECORDS

# An import finishing (or undone) may have created or changed any sales record in bulk.
IMPORT_EVENTS = frozenset({"import.finished", "import.undone"})
DEAL_EVENTS = frozenset(
    {"deal.created", "deal.updated", "deal.moved", "deal.deleted", *IMPORT_EVENTS}
)

OWNER = Field("owner", _("owner"), FieldType.REF, "owner", label_path="owner__full_name")
CREATED = Field("created_at", _("created"), FieldType.DATETIME, "created_at")

_CUSTOM_TYPES: dict[str, FieldType] = {
    CustomField.Type.TEXT: FieldType.TEXT,
    CustomField.Type.URL: FieldType.TEXT,
    CustomField.Type.EMAIL: FieldType.TEXT,
    CustomField.Type.PHONE: FieldType.TEXT,
    CustomField.Type.SELECT: FieldType.CHOICE,
    CustomField.Type.NUMBER: FieldType.NUMBER,
    CustomField.Type.DECIMAL: FieldType.NUMBER,
    CustomField.Type.CURRENCY: FieldType.NUMBER,
    CustomField.Type.BOOLEAN: FieldType.BOOLEAN,
}


def custom_report_fields(entity: str) -> Iterable[Field]:
    """The workspace's custom fields of an entity that reports can compare as JSON values
    (``custom.<code>``); another module's source with custom fields (tickets, ADR 0050) takes
    them through the sales facade. Archived fields stay: their values are still in the records
    and a saved report on one keeps working (ADR 0053)."""
    fields = []
    for custom in CustomField.objects.filter(entity=entity, type__in=list(_CUSTOM_TYPES)):
        if "__" in custom.code:
            continue
        kind = _CUSTOM_TYPES[custom.type]
        options = custom.options if isinstance(custom.options, list) else []
        fields.append(
            Field(
                f"custom.{custom.code}",
                custom.label,
                kind,
                f"custom__{custom.code}",
                choices=tuple((str(o), str(o)) for o in options)
                if kind is FieldType.CHOICE
                else (),
                groupable=kind is not FieldType.NUMBER,
                aggregatable=False,
                json_value=True,
            )
        )
    return fields


def _url(name: str) -> Any:
    return lambda record: reverse(name, args=[record.pk])


_WON = Q(status=Deal.Status.WON)
_CLOSED = Q(status__in=[Deal.Status.WON, Deal.Status.LOST])
DAY_SECONDS = 86400.0


def _days(seconds: Any) -> Any:
    return ExpressionWrapper(seconds / Value(DAY_SECONDS), output_field=FloatField())


def _cycle_days() -> Any:
    """Average days from a won deal's creation to its win."""
    return _days(
        Avg(Extract(F("closed_at") - F("created_at"), "epoch"), filter=_WON),
    )


def _days_in_stage() -> Any:
    """Average days from entering a stage to entering the next (or now, while still in it)."""
    left = Coalesce(F("left_at"), Now(), output_field=DateTimeField())
    return _days(Avg(Extract(left - F("changed_at"), "epoch")))


DEALS = register_source(
    DataSource(
        code="deals",
        label=_("Deals"),
        module=MODULE,
        model=Deal,
        capability=VIEW_RECORDS,
        fields=(
            Field("name", _("name"), FieldType.TEXT, "name", groupable=False),
            Field("status", _("status"), FieldType.CHOICE, "status", choices=Deal.Status.choices),
            Field(
                "stage",
                _("stage"),
                FieldType.REF,
                "stage",
                label_path="stage__name",
                order_path="stage__position",
            ),
            Field(
                "pipeline", _("pipeline"), FieldType.REF, "pipeline", label_path="pipeline__name"
            ),
            # Deals are in several currencies: sums and averages convert each into the
            # workspace's currency with its exchange rates (ADR 0047).
            Field("amount", _("amount"), FieldType.MONEY, "amount", converted=converted),
            Field("currency", _("currency"), FieldType.TEXT, "currency"),
            Field(
                "expected_close_date",
                _("expected close date"),
                FieldType.DATE,
                "expected_close_date",
            ),
            Field("closed_at", _("closed"), FieldType.DATETIME, "closed_at"),
            Field("company", _("company"), FieldType.REF, "company", label_path="company__name"),
            Field("lost_reason", _("lost reason"), FieldType.TEXT, "lost_reason"),
            OWNER,
            CREATED,
        ),
        measures=(
            Measure(
                "win_rate",
                _("Win rate (%)"),
                lambda: ExpressionWrapper(
                    Count("pk", filter=_WON)
                    * Value(100.0)
                    / NullIf(Count("pk", filter=_CLOSED), 0),
                    output_field=FloatField(),
                ),
                unit="percent",
            ),
            Measure("won_amount", _("Won revenue"), lambda: Sum(converted(), filter=_WON), "money"),
            Measure(
                "avg_won_amount",
                _("Average won deal size"),
                lambda: Avg(converted(), filter=_WON),
                "money",
            ),
            Measure("avg_cycle_days", _("Sales cycle (days)"), _cycle_days),
            Measure(
                "weighted_amount",
                _("Weighted amount"),
                lambda: Sum(converted() * F("stage__probability") / Value(100)),
                "money",
            ),
        ),
        unconverted=unconverted_currencies,
        # The board's stage totals: the open pipeline by stage (and owner) reads a few rows
        # per stage instead of every open deal (ADR 0074).
        totals=Totals(
            model=DealStageTotal,
            fields=frozenset({"stage", "owner", "status", "currency"}),
            count="deals",
            sums={"amount": "amount"},
            currency="currency",
            # An open deal has no closing day: reports convert it at the latest rate.
            latest_rate=Q(status=Deal.Status.OPEN),
        ),
        custom_fields=lambda: custom_report_fields(CustomField.Entity.DEAL),
        record_url=_url("sales:deal_detail"),
        live_events=DEAL_EVENTS,
    )
)

CONTACTS = register_source(
    DataSource(
        code="contacts",
        label=_("Contacts"),
        module=MODULE,
        model=Contact,
        capability=VIEW_RECORDS,
        fields=(
            Field("first_name", _("first name"), FieldType.TEXT, "first_name", groupable=False),
            Field("last_name", _("last name"), FieldType.TEXT, "last_name", groupable=False),
            Field("job_title", _("job title"), FieldType.TEXT, "job_title"),
            Field(
                "lifecycle_stage",
                _("lifecycle stage"),
                FieldType.CHOICE,
                "lifecycle_stage",
                choices=LifecycleStage.choices,
            ),
            Field("source", _("source"), FieldType.TEXT, "source"),
            Field("country", _("country"), FieldType.TEXT, "country"),
            Field("city", _("city"), FieldType.TEXT, "city"),
            Field("company", _("company"), FieldType.REF, "company", label_path="company__name"),
            OWNER,
            CREATED,
        ),
        custom_fields=lambda: custom_report_fields(CustomField.Entity.CONTACT),
        record_url=_url("sales:contact_detail"),
        live_events=IMPORT_EVENTS,
    )
)

COMPANIES = register_source(
    DataSource(
        code="companies",
        label=_("Companies"),
        module=MODULE,
        model=Company,
        capability=VIEW_RECORDS,
        fields=(
            Field("name", _("name"), FieldType.TEXT, "name", groupable=False),
            Field("industry", _("industry"), FieldType.TEXT, "industry"),
            Field("size", _("size"), FieldType.CHOICE, "size", choices=Company.Size.choices),
            Field(
                "lifecycle_stage",
                _("lifecycle stage"),
                FieldType.CHOICE,
                "lifecycle_stage",
                choices=LifecycleStage.choices,
            ),
            Field("country", _("country"), FieldType.TEXT, "country"),
            OWNER,
            CREATED,
        ),
        custom_fields=lambda: custom_report_fields(CustomField.Entity.COMPANY),
        record_url=_url("sales:company_detail"),
        live_events=IMPORT_EVENTS,
    )
)

LEADS = register_source(
    DataSource(
        code="leads",
        label=_("Leads"),
        module=MODULE,
        model=Lead,
        capability=VIEW_RECORDS,
        fields=(
            Field("source", _("source"), FieldType.TEXT, "source"),
            Field("status", _("status"), FieldType.CHOICE, "status", choices=Lead.Status.choices),
            Field(
                "company_name", _("company name"), FieldType.TEXT, "company_name", groupable=False
            ),
            Field("converted_at", _("converted"), FieldType.DATETIME, "converted_at"),
            OWNER,
            CREATED,
        ),
        measures=(
            Measure(
                "converted",
                _("Converted"),
                lambda: Count("pk", filter=Q(status=Lead.Status.CONVERTED)),
            ),
            Measure("won", _("Won"), lambda: Count("pk", filter=Q(deal__status=Deal.Status.WON))),
            Measure(
                "won_revenue",
                _("Won revenue"),
                lambda: Sum(
                    converted("deal__amount", currency="deal__currency", on="deal__closed_at"),
                    filter=Q(deal__status=Deal.Status.WON),
                ),
                "money",
            ),
        ),
        unconverted=lambda leads: unconverted_currencies(
            Deal.objects.filter(pk__in=leads.values("deal_id"), status=Deal.Status.WON)
        ),
        custom_fields=lambda: custom_report_fields(CustomField.Entity.LEAD),
        record_url=_url("sales:lead_detail"),
        live_events=DEAL_EVENTS,
    )
)

TASKS = register_source(
    DataSource(
        code="tasks",
        label=_("Tasks"),
        module=MODULE,
        model=Task,
        capability=VIEW_RECORDS,
        fields=(
            Field("title", _("title"), FieldType.TEXT, "title", groupable=False),
            Field("due_at", _("due"), FieldType.DATETIME, "due_at"),
            Field(
                "priority",
                _("priority"),
                FieldType.CHOICE,
                "priority",
                choices=Task.Priority.choices,
            ),
            Field("done", _("done"), FieldType.BOOLEAN, "done"),
            Field("done_at", _("completed"), FieldType.DATETIME, "done_at"),
            Field("owner", _("assignee"), FieldType.REF, "owner", label_path="owner__full_name"),
            CREATED,
        ),
        record_url=lambda record: reverse("sales:task_list") + "?mine=0",
        record_label=lambda record: record.title,
        live_events=frozenset({"task.created", "task.updated", "task.completed", "task.deleted"}),
    )
)


STAGE_CHANGES = register_source(
    DataSource(
        code="stage_changes",
        label=_("Stage history"),
        module=MODULE,
        model=DealStageChange,
        capability=VIEW_RECORDS,
        # A stage change is the deal's: its owner's reach applies.
        owner_field="deal__owner",
        fields=(
            Field(
                "stage",
                _("stage"),
                FieldType.REF,
                "to_stage",
                label_path="to_stage__name",
                order_path="to_stage__position",
            ),
            Field(
                "stage_kind",
                _("kind of stage"),
                FieldType.CHOICE,
                "to_stage__kind",
                choices=Stage.Kind.choices,
            ),
            Field(
                "pipeline",
                _("pipeline"),
                FieldType.REF,
                "to_stage__pipeline",
                label_path="to_stage__pipeline__name",
            ),
            Field("entered_at", _("entered"), FieldType.DATETIME, "changed_at"),
            Field("deal", _("deal"), FieldType.REF, "deal", label_path="deal__name"),
            Field(
                "owner",
                _("owner"),
                FieldType.REF,
                "deal__owner",
                label_path="deal__owner__full_name",
            ),
        ),
        measures=(Measure("days_in_stage", _("Days in stage"), _days_in_stage),),
        record_url=lambda change: reverse("sales:deal_detail", args=[change.deal_id]),
        record_label=lambda change: change.deal.name,
        live_events=frozenset({"deal.created", "deal.moved", "deal.deleted"}),
        related=("deal",),
    )
)
