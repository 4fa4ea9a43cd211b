"""Service as report data sources (crm_modules.reporting.api, ADR 0019): tickets by status,
channel, priority, type, assignee and team, with first-response and resolution times in
business hours, SLA attainment, the breaches of each target (first response, next response,
resolution: a field to filter, group and drill by, a count and a rate) and backlog age;
tickets by tag (with type: the top categories); satisfaction ratings by agent and team; the
ticket custom fields to filter and group by. A ticket's reach in a report is its assignee's,
as a record's is its owner's."""

from __future__ import annotations

from typing import Any

from django.db.models import (
    Avg,
    Count,
    ExpressionWrapper,
    F,
    FloatField,
    Q,
    QuerySet,
    Value,
)
from django.db.models.functions import Extract, Now, NullIf
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from crm_modules.reporting.api import DataSource, Field, FieldType, Measure, register_source
from crm_modules.sales import api as sales
from crm_modules.service.models import (
    OPEN_STATUSES,
    CsatSurvey,
    Priority,
    Status,
    Ticket,
    TicketChannel,
    TicketTag,
    TicketType,
)
from crm_modules.service.module import MODULE, VIEW_TICKETS
from tenants.models import Membership
from tenants.permissions import scope_filter

HOUR_SECONDS = 3600.0
DAY_SECONDS = 86400.0
TICKET_EVENTS = frozenset({"ticket.created", "ticket.updated", "ticket.replied"})
_OPEN = Q(status__in=[s.value for s in OPEN_STATUSES])


def _per(seconds: Any, unit: float) -> Any:
    return ExpressionWrapper(seconds / Value(unit), output_field=FloatField())


def _percent(part: Q, whole: Q | None = None) -> Any:
    total = Count("pk", filter=whole) if whole is not None else Count("pk")
    return ExpressionWrapper(
        Count("pk", filter=part) * Value(100.0) / NullIf(total, 0), output_field=FloatField()
    )


def _first_response_hours() -> Any:
    """Average business hours from opening to the first public reply: the SLA clock's
    arithmetic in the ticket's calendar (ADR 0044), kept on the ticket when it is replied to."""
    return _per(
        Avg("first_response_business_seconds", filter=Q(first_responded_at__isnull=False)),
        HOUR_SECONDS,
    )


def _resolution_hours() -> Any:
    """Average business hours from opening to solved (pauses included)."""
    return _per(Avg("resolution_business_seconds", filter=Q(solved_at__isnull=False)), HOUR_SECONDS)


def _backlog_age_days() -> Any:
    """Average age of the tickets still open, in days, now."""
    return _per(Avg(Extract(Now() - F("created_at"), "epoch"), filter=_OPEN), DAY_SECONDS)


TICKETS = register_source(
    DataSource(
        code="tickets",
        label=_("Tickets"),
        module=MODULE,
        model=Ticket,
        capability=VIEW_TICKETS,
        owner_field="assignee",
        fields=(
            Field("status", _("status"), FieldType.CHOICE, "status", choices=Status.choices),
            Field(
                "channel", _("channel"), FieldType.CHOICE, "channel", choices=TicketChannel.choices
            ),
            Field(
                "priority", _("priority"), FieldType.CHOICE, "priority", choices=Priority.choices
            ),
            Field("type", _("type"), FieldType.CHOICE, "type", choices=TicketType.choices),
            Field(
                "assignee",
                _("assignee"),
                FieldType.REF,
                "assignee",
                label_path="assignee__full_name",
            ),
            Field("team", _("team"), FieldType.REF, "team", label_path="team__name"),
            Field("created_at", _("opened"), FieldType.DATETIME, "created_at"),
            Field("solved_at", _("solved"), FieldType.DATETIME, "solved_at"),
            Field(
                "first_response_breached",
                _("first response breached"),
                FieldType.BOOLEAN,
                "first_response_breached",
            ),
            Field(
                "next_response_breached",
                _("next response breached"),
                FieldType.BOOLEAN,
                "next_response_breached",
            ),
            Field(
                "resolution_breached",
                _("resolution breached"),
                FieldType.BOOLEAN,
                "resolution_breached",
            ),
            Field("subject", _("subject"), FieldType.TEXT, "subject", groupable=False),
        ),
        measures=(
            Measure("open", _("Open tickets"), lambda: Count("pk", filter=_OPEN)),
            Measure(
                "first_response_hours",
                _("First response (business hours)"),
                _first_response_hours,
            ),
            Measure("resolution_hours", _("Resolution time (business hours)"), _resolution_hours),
            Measure(
                "sla_attainment",
                _("SLA attained (%)"),
                lambda: _percent(
                    Q(
                        first_response_breached=False,
                        next_response_breached=False,
                        resolution_breached=False,
                    )
                ),
                unit="percent",
            ),
            Measure(
                "first_response_breaches",
                _("First-response breaches"),
                lambda: Count("pk", filter=Q(first_response_breached=True)),
            ),
            Measure(
                "first_response_breach_rate",
                _("First-response breaches (%)"),
                lambda: _percent(Q(first_response_breached=True)),
                unit="percent",
            ),
            # Of the tickets on which a customer wrote again after a public reply: the others
            # never ran this clock (ADR 0060).
            Measure(
                "next_response_breaches",
                _("Next-response breaches"),
                lambda: Count("pk", filter=Q(next_response_breached=True)),
            ),
            Measure(
                "next_response_breach_rate",
                _("Next-response breaches (%)"),
                lambda: _percent(
                    Q(next_response_breached=True), Q(next_response_started_at__isnull=False)
                ),
                unit="percent",
            ),
            Measure(
                "resolution_breaches",
                _("Resolution breaches"),
                lambda: Count("pk", filter=Q(resolution_breached=True)),
            ),
            Measure(
                "resolution_breach_rate",
                _("Resolution breaches (%)"),
                lambda: _percent(Q(resolution_breached=True)),
                unit="percent",
            ),
            Measure("backlog_age_days", _("Backlog age (days)"), _backlog_age_days),
        ),
        # The ticket custom fields (ADR 0050), as the sales sources offer theirs.
        custom_fields=lambda: sales.custom_report_fields(sales.CustomField.Entity.TICKET),
        record_url=lambda ticket: reverse("service:ticket_detail", args=[ticket.pk]),
        record_label=lambda ticket: f"#{ticket.pk} {ticket.subject}",
        live_events=TICKET_EVENTS,
    )
)


TICKET_TAGS = register_source(
    DataSource(
        code="ticket_tags",
        label=_("Tickets by tag"),
        module=MODULE,
        model=TicketTag,
        capability=VIEW_TICKETS,
        owner_field="ticket__assignee",
        fields=(
            Field("tag", _("tag"), FieldType.TEXT, "tag"),
            Field("type", _("type"), FieldType.CHOICE, "ticket__type", choices=TicketType.choices),
            Field(
                "status", _("status"), FieldType.CHOICE, "ticket__status", choices=Status.choices
            ),
            Field(
                "channel",
                _("channel"),
                FieldType.CHOICE,
                "ticket__channel",
                choices=TicketChannel.choices,
            ),
            Field(
                "team", _("team"), FieldType.REF, "ticket__team", label_path="ticket__team__name"
            ),
            Field("created_at", _("opened"), FieldType.DATETIME, "ticket__created_at"),
        ),
        measures=(Measure("tickets", _("Tickets"), lambda: Count("ticket", distinct=True)),),
        record_url=lambda row: reverse("service:ticket_detail", args=[row.ticket_id]),
        record_label=lambda row: f"#{row.ticket_id} {row.tag}",
        live_events=TICKET_EVENTS,
    )
)


def _rated(records: QuerySet[Any], member: Membership) -> QuerySet[Any]:
    """Answered surveys only, as far as the member's reach over tickets goes."""
    rated = records.filter(score__isnull=False)
    return scope_filter(rated, member, VIEW_TICKETS, owner_field="agent")


CSAT = register_source(
    DataSource(
        code="csat",
        label=_("Satisfaction ratings"),
        module=MODULE,
        model=CsatSurvey,
        capability=VIEW_TICKETS,
        owner_field="agent",
        scope=_rated,
        fields=(
            Field("rated_at", _("rated"), FieldType.DATETIME, "rated_at"),
            Field("agent", _("agent"), FieldType.REF, "agent", label_path="agent__full_name"),
            Field("team", _("team"), FieldType.REF, "team", label_path="team__name"),
            Field("score", _("rating"), FieldType.NUMBER, "score"),
        ),
        measures=(
            Measure("average_score", _("Average rating"), lambda: Avg("score")),
            Measure(
                "csat_percent",
                _("Satisfied (%)"),
                lambda: _percent(Q(score__gte=4)),
                unit="percent",
            ),
        ),
        record_url=lambda survey: reverse("service:ticket_detail", args=[survey.ticket_id]),
        record_label=lambda survey: f"#{survey.ticket_id} {survey.score}/5",
    )
)
