"""A new custom field from a column nobody maps yet: made on the mapping page by a member who
may define custom fields, then mapped to that column."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from crm_modules.dataio import mapping as columns
from crm_modules.dataio.models import ImportJob
from crm_modules.dataio.module import IMPORT_FIELD_CREATED, IMPORT_RECORDS
from crm_modules.sales import api as sales
from crm_platform.errors import ServiceError
from tenants.audit.services import audit_record
from tenants.models import Membership
from tenants.permissions import require

# Records that take custom fields (CustomField.Entity).
FIELD_ENTITIES = ("contact", "company", "deal", "lead")


def column_values(job: ImportJob, index: int) -> list[str]:
    return [
        str(cells[index]) for _number, cells in job.sample if index < len(cells) and cells[index]
    ]


def field_code(label: str, taken: set[str]) -> str:
    """A code for a label in any script: its ASCII letters, else ``field``; never one taken."""
    ascii_text = (
        unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode("ascii").lower()
    )
    base = re.sub(r"[^a-z0-9]+", "_", ascii_text).strip("_")[:40]
    if not base or not base[0].isalpha():
        base = f"field_{base}".rstrip("_") if base else "field"
    code, number = base, 2
    while code in taken:
        code = f"{base}_{number}"
        number += 1
    return code


def import_field_create(
    *,
    actor: Membership,
    job: ImportJob,
    column: Any,
    label: str,
    type: str,
    options: list[str] | None = None,
) -> Any:
    """Define a custom field from column ``column`` of the file and import that column into
    it. Needs the right to import and the right to define custom fields."""
    require(actor, IMPORT_RECORDS)
    require(actor, sales.MANAGE_CUSTOM_FIELDS)
    if job.entity not in FIELD_ENTITIES:
        raise ServiceError(_("These records have no custom fields."), field="column")
    try:
        index = int(column)
    except (TypeError, ValueError):
        raise ServiceError(_("Unknown column."), field="column") from None
    if not 0 <= index < len(job.headers):
        raise ServiceError(_("Unknown column."), field="column")
    kind = type or columns.guess_field_type(column_values(job, index), job.date_format)
    if kind not in ("select", "multi_select"):
        # The form offers the column's values as options whatever the type chosen; only a
        # select keeps them (the field service refuses options on any other type).
        options = None
    elif not options:
        options = columns.column_options(column_values(job, index))
    with transaction.atomic():
        locked = ImportJob.objects.select_for_update().get(pk=job.pk)
        if locked.status != ImportJob.Status.MAPPING:
            raise ServiceError(_("This import has already started."), field="column")
        taken = set(
            sales.custom_field_list(actor=actor, entity=locked.entity).values_list(
                "code", flat=True
            )
        )
        field = sales.custom_field_create(
            actor=actor,
            entity=locked.entity,
            code=field_code(label, taken),
            label=label,
            type=kind,
            options=options,
        )
        target = f"{columns.CUSTOM}{field.code}"
        locked.mapping = {
            key: value for key, value in locked.mapping.items() if key != str(index)
        } | {str(index): target}
        locked.save(update_fields=["mapping"])
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=IMPORT_FIELD_CREATED,
            target=locked,
            data={"column": locked.headers[index], "field": field.code, "type": field.type},
        )
    return field
