"""Exports of a sales list, with the list's filters and only what the member may see, to CSV
or XLSX. A CSV is written by PostgreSQL (``COPY … TO STDOUT`` of the list's own query) and
streamed to a file; a workbook's rows are read with a server-side cursor and written as they
come. Memory stays flat whatever the list's length; every cell is neutralised against formula
injection.
A list longer than ``INLINE_ROWS`` is exported by a worker and offered when ready."""

from __future__ import annotations

import csv
import datetime
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_modules.dataio.models import ExportJob
from crm_modules.dataio.module import EXPORT_RECORDS, RECORDS_EXPORTED
from crm_modules.sales import api as sales
from crm_platform import s3
from crm_platform.csv_export import safe_cell
from crm_platform.errors import ServiceError
from tenants.audit.services import audit_record
from tenants.models import Membership, Tenant
from tenants.notifications import notify_user
from tenants.permissions import require

INLINE_ROWS = 10_000
FORMATS = ("csv", "xlsx")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

Format = Callable[[Any], object]
# The filters of an export, as ``sales.list_parameters`` keeps them: a text per parameter, or
# the texts of a custom-field filter given several values.
Filters = Mapping[str, str | list[str]]


def _text(value: Any) -> object:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    return value


# (header, lookup) per entity; headers are the field names the import recognises, so an
# export can be imported into another workspace as it is.
COLUMNS: dict[str, list[tuple[str, str]]] = {
    "contact": [
        ("id", "id"),
        ("first_name", "first_name"),
        ("last_name", "last_name"),
        ("email", "primary_email"),
        ("phone", "primary_phone"),
        ("job_title", "job_title"),
        ("company", "company__name"),
        ("company_domain", "company__domain"),
        ("lifecycle_stage", "lifecycle_stage"),
        ("owner_email", "owner__email"),
        ("tags", "tags"),
        ("source", "source"),
        ("street", "street"),
        ("city", "city"),
        ("region", "region"),
        ("postal_code", "postal_code"),
        ("country", "country"),
        ("created_at", "created_at"),
    ],
    "company": [
        ("id", "id"),
        ("name", "name"),
        ("domain", "domain"),
        ("website", "website"),
        ("industry", "industry"),
        ("size", "size"),
        ("lifecycle_stage", "lifecycle_stage"),
        ("owner_email", "owner__email"),
        ("tags", "tags"),
        ("street", "street"),
        ("city", "city"),
        ("region", "region"),
        ("postal_code", "postal_code"),
        ("country", "country"),
        ("created_at", "created_at"),
    ],
    "lead": [
        ("id", "id"),
        ("first_name", "first_name"),
        ("last_name", "last_name"),
        ("email", "email"),
        ("phone", "phone"),
        ("company", "company_name"),
        ("source", "source"),
        ("status", "status"),
        ("owner_email", "owner__email"),
        ("created_at", "created_at"),
    ],
    "deal": [
        ("id", "id"),
        ("name", "name"),
        ("pipeline", "pipeline__name"),
        ("stage", "stage__name"),
        ("status", "status"),
        ("amount", "amount"),
        ("currency", "currency"),
        ("expected_close_date", "expected_close_date"),
        ("company", "company__name"),
        ("owner_email", "owner__email"),
        ("created_at", "created_at"),
    ],
}
CUSTOM_ENTITIES = {"contact", "company", "deal", "lead"}


def _check(entity: str, file_format: str) -> None:
    if entity not in COLUMNS:
        raise ServiceError(_("Choose a list to export."), field="entity")
    if file_format not in FORMATS:
        raise ServiceError(_("Choose CSV or XLSX."), field="format")


def export_filters(entity: str, params: Mapping[str, Any]) -> dict[str, str | list[str]]:
    """The list filters an export keeps (the list page's own query parameters, its custom-field
    filters included with every value: a QueryDict is read by ``lists()``, never by its last
    value alone)."""
    return sales.list_parameters(entity, params)


def _rows(
    *, actor: Membership, entity: str, filters: Filters
) -> tuple[list[str], Iterator[list[object]]]:
    columns = COLUMNS[entity]
    custom_codes: list[str] = []
    if entity in CUSTOM_ENTITIES:
        custom_codes = list(
            sales.custom_field_list(actor=actor, entity=entity).values_list("code", flat=True)
        )
    header = [name for name, _lookup in columns] + custom_codes
    lookups = [lookup for _name, lookup in columns] + (["custom"] if custom_codes else [])
    queryset = sales.list_for(entity, actor=actor, params=filters).values_list(*lookups)

    def generate() -> Iterator[list[object]]:
        for values in queryset.iterator(chunk_size=2000):
            row = [_text(value) for value in values[: len(columns)]]
            if custom_codes:
                custom = values[-1] or {}
                row += [_text(custom.get(code)) for code in custom_codes]
            yield row

    return header, generate()


def _field_of(model: Any, lookup: str) -> Any:
    field = None
    for part in lookup.split("__"):
        field = model._meta.get_field(part)
        if field.is_relation:
            model = field.related_model
    return field


# A cell that starts with one of these is read as a formula by spreadsheets: an apostrophe
# first keeps it text, as ``safe_cell`` does. An empty cell is NULL, which COPY writes as
# nothing (an empty string would be written as "").
_GUARD = (
    "NULLIF(CASE WHEN left({0}, 1) IN ('=', '+', '-', '@', E'\\t', E'\\r', E'\\n') "
    "THEN '''' || {0} ELSE {0} END, '')"
)
# A custom field's value as ``_text`` writes it: a list joined by commas, True or False.
_CUSTOM_TEXT = (
    "CASE jsonb_typeof({0}) "
    "WHEN 'array' THEN (SELECT string_agg(item, ', ') FROM jsonb_array_elements_text({0}) item) "
    "WHEN 'boolean' THEN CASE WHEN ({0})::boolean THEN 'True' ELSE 'False' END "
    "WHEN 'null' THEN NULL ELSE {0} #>> '{{}}' END"
)


def _csv_copy(
    *, actor: Membership, entity: str, filters: Filters
) -> tuple[list[str], str, list[Any]]:
    """The header and a ``COPY … TO STDOUT`` statement that writes the list's rows as CSV in
    PostgreSQL: the list's own query (filters, scope, order) inside, each cell turned into the
    text ``_text`` gives and neutralised as ``safe_cell`` does. Python then only moves bytes,
    which is what makes an export of a million rows fast."""
    columns = COLUMNS[entity]
    custom_codes: list[str] = []
    if entity in CUSTOM_ENTITIES:
        custom_codes = list(
            sales.custom_field_list(actor=actor, entity=entity).values_list("code", flat=True)
        )
    header = [name for name, _lookup in columns] + custom_codes
    lookups = [lookup for _name, lookup in columns] + (["custom"] if custom_codes else [])
    queryset = sales.list_for(entity, actor=actor, params=filters).values_list(*lookups)
    inner, inner_params = queryset.query.sql_with_params()
    # Two layers: the inner one turns each value into text once (its parameters appear once);
    # the outer one neutralises that text, which names each value three times.
    texts: list[str] = []
    params: list[Any] = []
    for index, (_name, lookup) in enumerate(columns):
        kind = _field_of(queryset.model, lookup).get_internal_type()
        column = f"sub.c{index}"
        if kind == "ArrayField":
            text = f"array_to_string({column}, ', ')"
        elif kind == "DateTimeField":
            text = f"to_char({column} AT TIME ZONE %s, 'YYYY-MM-DD HH24:MI')"
            params.append(timezone.get_current_timezone_name())
        else:
            text = f"({column})::text"
        texts.append(text)
    cells = [_GUARD.format(f"cell.t{index}") for index in range(len(columns))]
    for offset, code in enumerate(custom_codes):
        params.append(code)
        texts.append(f"(sub.c{len(columns)} -> %s)")
        cells.append(_GUARD.format(_CUSTOM_TEXT.format(f"cell.t{len(columns) + offset}")))
    names = ", ".join(f"c{index}" for index in range(len(lookups)))
    values = ", ".join(f"{text} AS t{index}" for index, text in enumerate(texts))
    # Every piece of the text is ours or the ORM's; the values (codes, filters) are parameters.
    statement = (
        f"COPY (SELECT {', '.join(cells)} FROM "  # noqa: S608
        f"(SELECT {values} FROM ({inner}) AS sub({names})) AS cell) "
        "TO STDOUT WITH (FORMAT csv)"
    )
    return header, statement, [*params, *inner_params]


def export_count(*, actor: Membership, entity: str, filters: Filters) -> int:
    require(actor, EXPORT_RECORDS)
    return int(sales.list_for(entity, actor=actor, params=filters).count())


def export_write(
    *, actor: Membership, entity: str, filters: Filters, file_format: str, path: Path
) -> int:
    """Write the list to ``path``; returns the number of rows."""
    require(actor, EXPORT_RECORDS)
    _check(entity, file_format)
    count = 0
    if file_format == "csv":
        header, statement, params = _csv_copy(actor=actor, entity=entity, filters=filters)
        # A BOM so that spreadsheet programs read UTF-8 (Thai, Chinese, Cyrillic) correctly.
        with path.open("w", encoding="utf-8-sig", newline="") as handle:
            csv.writer(handle).writerow(header)
        with path.open("ab") as handle, connection.cursor() as wrapper:
            # psycopg's own cursor: Django's debug wrapper (DEBUG on, as under make run) takes
            # a COPY statement without parameters.
            cursor = wrapper.cursor
            with cursor.copy(statement, params) as copy:
                for chunk in copy:
                    handle.write(chunk)
            count = int(cursor.rowcount)
        return count
    header, rows = _rows(actor=actor, entity=entity, filters=filters)
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(header)
    for row in rows:
        # Text cells starting with "=" would be stored as formulas: every text is neutralised.
        sheet.append([safe_cell(cell) if isinstance(cell, str) else cell for cell in row])
        count += 1
    workbook.save(str(path))
    return count


def _audit(actor: Membership, entity: str, file_format: str, filters: Filters) -> None:
    audit_record(
        tenant=actor.tenant,
        actor=actor.user,
        action=RECORDS_EXPORTED,
        target_repr=entity,
        data={"entity": entity, "format": file_format, "filters": dict(filters)},
    )


def export_now(
    *, actor: Membership, entity: str, filters: Filters, file_format: str, path: Path
) -> int:
    """An export answered at once: written to ``path`` and audited."""
    rows = export_write(
        actor=actor, entity=entity, filters=filters, file_format=file_format, path=path
    )
    with transaction.atomic():
        _audit(actor, entity, file_format, filters)
    return rows


def export_request(
    *, actor: Membership, entity: str, filters: Filters, file_format: str
) -> ExportJob:
    """An export for a worker: queued, audited, offered as a download when ready."""
    require(actor, EXPORT_RECORDS)
    _check(entity, file_format)
    from crm_modules.dataio import tasks

    with transaction.atomic():
        job = ExportJob.objects.create(
            entity=entity, file_format=file_format, filters=dict(filters), created_by=actor.user
        )
        _audit(actor, entity, file_format, filters)
        job_id = job.pk
        transaction.on_commit(lambda: tasks.export_run.delay(job_id))
    return job


def export_run(*, job_id: int) -> None:
    tenant = Tenant.objects.get(schema_name=connection.schema_name)  # type: ignore[attr-defined]
    job = ExportJob.objects.get(pk=job_id)
    if job.status not in (ExportJob.Status.QUEUED, ExportJob.Status.RUNNING):
        return
    actor = Membership.objects.select_related("tenant", "user").get(
        tenant=tenant, user_id=job.created_by_id or 0
    )
    ExportJob.objects.filter(pk=job.pk).update(status=ExportJob.Status.RUNNING)
    try:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"export.{job.file_format}"
            rows = export_write(
                actor=actor,
                entity=job.entity,
                filters=job.filters,
                file_format=job.file_format,
                path=path,
            )
            key = s3.data_file_key(
                schema_name=tenant.schema_name,
                kind="exports",
                file_uuid=str(job.uuid),
                name=f"export.{job.file_format}",
            )
            s3.object_upload(
                schema_name=tenant.schema_name,
                key=key,
                path=str(path),
                content_type=CONTENT_TYPES[job.file_format],
            )
    except ServiceError as exc:
        ExportJob.objects.filter(pk=job.pk).update(
            status=ExportJob.Status.FAILED, finished_at=timezone.now()
        )
        with transaction.atomic():
            notify_user(
                tenant=tenant,
                user_id=actor.user_id,
                event="notification",
                payload={"text": exc.message, "kind": "error"},
            )
        return
    with transaction.atomic():
        ExportJob.objects.filter(pk=job.pk).update(
            status=ExportJob.Status.DONE,
            file_key=key,
            row_count=rows,
            finished_at=timezone.now(),
        )
        url = reverse("dataio:export_download", args=[job.pk], urlconf="crm_platform.urls_tenant")
        notify_user(
            tenant=tenant,
            user_id=actor.user_id,
            event="notification",
            payload={
                "text": _("Your export of %(count)d rows is ready under Import → Exports.")
                % {"count": rows},
                "kind": "success",
                "url": url,
            },
        )
        notify_user(
            tenant=tenant,
            user_id=actor.user_id,
            event="export.ready",
            payload={"id": job.pk, "url": url},
        )


def export_download_url(*, actor: Membership, job: ExportJob) -> str:
    require(actor, EXPORT_RECORDS)
    if job.status != ExportJob.Status.DONE or not job.file_key:
        raise ServiceError(_("The export is not ready yet."), field="status")
    stamp = timezone.localtime(job.created_at).strftime("%Y-%m-%d")
    filename = f"{job.entity}s-{stamp}.{job.file_format}"
    return s3.presign_get(
        schema_name=actor.tenant.schema_name,
        key=job.file_key,
        content_type=CONTENT_TYPES[job.file_format],
        content_disposition=f'attachment; filename="{filename}"',
        expires_in=300,
    )
