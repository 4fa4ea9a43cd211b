"""What each data row of an import became, as a batch collects it before writing it to
``ImportRow`` (the error report and the undo read it there): plain values written with one
COPY, not a model instance per row (building one cost about as much as the rest of the log's
write)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import JSONField

from crm_modules.dataio.models import ImportJob, ImportRow
from crm_platform.bulk import copy_rows, json_for_copy


@dataclass(slots=True)
class LoggedRow:
    """One ``ImportRow`` to be written: the same fields."""

    job: ImportJob
    number: int
    outcome: str
    record_id: int | None = None
    # Companies created on the way to link a contact (removed by an undo too).
    created_companies: list[int] = field(default_factory=list)
    # Timeline entries the row wrote (its note column), removed by an undo.
    created_activities: list[int] = field(default_factory=list)
    # The values an update replaced, restored by an undo.
    previous: dict[str, Any] = field(default_factory=dict)
    # [{"column": "Email", "reason": "…"}]
    errors: list[dict[str, Any]] = field(default_factory=list)


_JSON = ("created_companies", "created_activities", "previous", "errors")
COLUMNS = ("job_id", "number", "outcome", "record_id", *_JSON)


def write(rows: Sequence[LoggedRow]) -> None:
    """The batch's rows, with one COPY."""
    if not rows:
        return
    prep = [json_for_copy(_json_field(name)) for name in _JSON]
    companies, activities, previous, errors = prep
    copy_rows(
        ImportRow,
        COLUMNS,
        (
            (
                row.job.pk,
                row.number,
                row.outcome,
                row.record_id,
                companies(row.created_companies),
                activities(row.created_activities),
                previous(row.previous),
                errors(row.errors),
            )
            for row in rows
        ),
    )


def _json_field(name: str) -> JSONField[Any]:
    found = ImportRow._meta.get_field(name)
    if not isinstance(found, JSONField):
        raise TypeError(f"ImportRow.{name} is not a JSON field")
    return found
