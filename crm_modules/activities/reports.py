"""The timeline as a report data source (crm_modules.reporting.api): activities per author,
type and time. An activity's reach is its author's, as a record's is its owner's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, overload

from django.db.models import Sum
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from crm_modules.activities.models import Activity, ActivityDay
from crm_modules.activities.module import MODULE
from crm_modules.reporting.api import DataSource, Field, FieldType, Measure, register_source
from tenants.capabilities import USE_WORKSPACE


class _EntryTypeChoices(Sequence[tuple[Any, str | Promise]]):
    """The entry types registered when asked, so types other modules add later count too."""

    def _items(self) -> list[tuple[Any, str | Promise]]:
        # Imported here: the facade imports this module's module.py, which imports this file.
        from crm_modules.activities.api import entry_types

        return [(entry.code, entry.label) for entry in entry_types()]

    @overload
    def __getitem__(self, index: int) -> tuple[Any, str | Promise]: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[tuple[Any, str | Promise]]: ...

    def __getitem__(self, index: int | slice) -> Any:
        return self._items()[index]

    def __len__(self) -> int:
        return len(self._items())


ACTIVITIES = register_source(
    DataSource(
        code="activities",
        label=_("Activities"),
        module=MODULE,
        model=Activity,
        # Timelines are read on the records they belong to; every member may open those.
        capability=USE_WORKSPACE,
        owner_field="author",
        fields=(
            Field("kind", _("type"), FieldType.CHOICE, "kind", choices=_EntryTypeChoices()),
            Field("occurred_at", _("when"), FieldType.DATETIME, "occurred_at"),
            Field("author", _("author"), FieldType.REF, "author", label_path="author__full_name"),
            Field(
                "direction",
                _("direction"),
                FieldType.CHOICE,
                "direction",
                choices=Activity.Direction.choices,
            ),
            Field("channel", _("channel"), FieldType.TEXT, "channel"),
            Field("outcome", _("outcome"), FieldType.TEXT, "outcome"),
            Field("subject", _("subject"), FieldType.TEXT, "subject", groupable=False),
        ),
        record_label=lambda record: record.subject or record.kind,
        live_events=frozenset({"activity.logged", "deal.moved"}),
    )
)


ACTIVITY_DAYS = register_source(
    DataSource(
        code="activity_days",
        label=_("Activities per day"),
        module=MODULE,
        model=ActivityDay,
        capability=USE_WORKSPACE,
        owner_field="author",
        fields=(
            Field("kind", _("type"), FieldType.CHOICE, "kind", choices=_EntryTypeChoices()),
            # Named as on the timeline, so a drill-through opens the activities themselves.
            Field("occurred_at", _("when"), FieldType.DATE, "day"),
            Field("author", _("author"), FieldType.REF, "author", label_path="author__full_name"),
        ),
        measures=(Measure("activities", _("Activities"), lambda: Sum("count")),),
        live_events=frozenset({"activity.logged", "deal.moved"}),
        drill_source="activities",
    )
)
