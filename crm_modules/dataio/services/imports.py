"""Imports: upload → column mapping → preview → run in the background → error report → undo.

The file is kept in the workspace's S3 prefix (``workspaces/<schema>/imports/<uuid>/source``):
the worker that runs the import is another process, often on another machine, and reads it
from there (ADR 0017).
"""

from __future__ import annotations

import datetime
import logging
import tempfile
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextvars import copy_context
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from django.core.files.uploadedfile import UploadedFile
from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from crm_modules.activities import api as timeline
from crm_modules.dataio import mapping as columns
from crm_modules.dataio import reading
from crm_modules.dataio.models import ImportJob, ImportRow
from crm_modules.dataio.module import (
    IMPORT_FINISHED,
    IMPORT_RECORDS,
    IMPORT_STARTED,
    IMPORT_UNDONE,
    IMPORTS_TOPIC,
)
from crm_modules.dataio.services import pipeline_rows, row_log
from crm_modules.dataio.services.row_log import LoggedRow
from crm_modules.dataio.services.rows import Runner
from crm_modules.reporting import api as reporting
from crm_modules.sales import api as sales
from crm_platform import s3
from crm_platform.errors import ServiceError
from tenants import live
from tenants.audit.services import audit_record
from tenants.models import Membership, Tenant
from tenants.notifications import notify_user
from tenants.permissions import require

# Events for open dashboards (crm_modules.reporting): the sources of imported records list them.
IMPORT_FINISHED_EVENT = "import.finished"
IMPORT_UNDONE_EVENT = "import.undone"

logger = logging.getLogger("rapport.imports")

BATCH_ROWS = 1000
PREVIEW_ROWS = 10
UNDO_DAYS = 7
ENTITIES = ("contact", "company", "lead", "deal", "activity")
CONTENT_TYPES = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


# --- upload and mapping ---------------------------------------------------------------------


def import_upload(*, actor: Membership, entity: str, upload: UploadedFile[Any]) -> ImportJob:
    """Check the file (size, kind, encoding, delimiter, header), keep it in the workspace's
    storage and propose a column mapping from its headers."""
    require(actor, IMPORT_RECORDS)
    if entity not in ENTITIES:
        raise ServiceError(_("Choose what the file holds."), field="entity")
    name = (upload.name or "import.csv").rsplit("/", 1)[-1][:255]
    if upload.size is not None and upload.size > reading.MAX_FILE_BYTES:
        raise ServiceError(
            _("The file is larger than the limit of %(limit)d MB.")
            % {"limit": reading.MAX_FILE_BYTES // 1024**2},
            field="file",
            code="too_large",
        )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "source"
        with path.open("wb") as handle:
            for chunk in upload.chunks():
                handle.write(chunk)
        shape = reading.detect_format(path, name)
        headers, sample = reading.read_head(path, shape, rows=PREVIEW_ROWS)
        job = ImportJob(
            entity=entity,
            file_name=name,
            file_size=path.stat().st_size,
            file_format=shape.file_format,
            encoding=shape.encoding,
            delimiter=shape.delimiter,
            headers=headers,
            sample=[[number, cells] for number, cells in sample],
            created_by=actor.user,
        )
        fields = list(sales.custom_field_list(actor=actor, entity=entity))
        job.mapping = columns.auto_map(entity, headers, fields)
        job.file_key = s3.data_file_key(
            schema_name=actor.tenant.schema_name,
            kind="imports",
            file_uuid=str(job.uuid),
            name="source",
        )
        s3.object_upload(
            schema_name=actor.tenant.schema_name,
            key=job.file_key,
            path=str(path),
            content_type=CONTENT_TYPES[shape.file_format],
        )
    job.save()
    return job


REQUIRED = {
    "contact": {"first_name", "last_name", "full_name", "email"},
    "company": {"name"},
    "lead": {"first_name", "last_name", "full_name", "email", "company"},
    "deal": {"name"},
    "activity": {"contact_email", "contact_name", "company", "company_domain", "deal"},
}


def import_configure(
    *,
    actor: Membership,
    job: ImportJob,
    mapping: dict[str, str],
    duplicates: str,
    date_format: str,
) -> ImportJob:
    require(actor, IMPORT_RECORDS)
    fields = list(sales.custom_field_list(actor=actor, entity=job.entity))
    allowed = {code for code, _label in columns.target_choices(job.entity, fields)}
    clean: dict[str, str] = {}
    for index_text, target in mapping.items():
        if not target:
            continue
        try:
            index = int(index_text)
        except ValueError:
            raise ServiceError(_("Unknown column."), field="mapping") from None
        if not 0 <= index < len(job.headers):
            raise ServiceError(_("Unknown column."), field="mapping")
        if target not in allowed:
            raise ServiceError(
                _("“%(column)s”: choose a field from the list.") % {"column": job.headers[index]},
                field=f"column_{index}",
            )
        if target in clean.values():
            raise ServiceError(
                _("“%(column)s”: another column is already imported into this field.")
                % {"column": job.headers[index]},
                field=f"column_{index}",
            )
        clean[str(index)] = target
    if not REQUIRED[job.entity] & set(clean.values()):
        message = {
            "contact": _("Choose a column for the name or the email of the contacts."),
            "company": _("Choose a column for the name of the companies."),
            "lead": _("Choose a column for the name, the email or the company of the leads."),
            "deal": _("Choose a column for the name of the deals."),
            "activity": _(
                "Choose a column naming the contact, company or deal each activity concerns."
            ),
        }[job.entity]
        raise ServiceError(message, field="mapping", code="required")
    if job.entity == "activity" or "note" in clean.values():
        require(actor, timeline.LOG_ACTIVITY)
    if duplicates not in ImportJob.Duplicates.values:
        raise ServiceError(_("Choose what to do with duplicates."), field="duplicates")
    if date_format not in columns.DATE_FORMATS:
        raise ServiceError(_("Choose the format of the dates in the file."), field="date_format")
    with transaction.atomic():
        locked = ImportJob.objects.select_for_update().get(pk=job.pk)
        if locked.status != ImportJob.Status.MAPPING:
            raise ServiceError(_("This import has already started."), field="mapping")
        locked.mapping = clean
        locked.duplicates = duplicates
        locked.date_format = date_format
        locked.save(update_fields=["mapping", "duplicates", "date_format"])
    return locked


def import_start(*, actor: Membership, job: ImportJob) -> ImportJob:
    require(actor, IMPORT_RECORDS)
    from crm_modules.dataio import tasks

    with transaction.atomic():
        locked = ImportJob.objects.select_for_update().get(pk=job.pk)
        if locked.status != ImportJob.Status.MAPPING:
            raise ServiceError(_("This import has already started."), field="mapping")
        if not REQUIRED[locked.entity] & set(locked.mapping.values()):
            raise ServiceError(_("Choose the columns to import first."), field="mapping")
        locked.status = ImportJob.Status.QUEUED
        locked.save(update_fields=["status"])
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=IMPORT_STARTED,
            target=locked,
            data={"entity": locked.entity, "file": locked.file_name},
        )
        job_id = locked.pk
        transaction.on_commit(lambda: tasks.import_run.delay(job_id))
    return locked


# --- preview --------------------------------------------------------------------------------


@dataclass
class PreviewRow:
    number: int
    values: list[tuple[str, str, str]]  # (target label, value as stored, problem)
    problems: list[str]


def import_preview(*, actor: Membership, job: ImportJob) -> list[PreviewRow]:
    """The first rows as they would be stored, each problem next to its field; nothing is
    written (duplicates are found when the import runs)."""
    require(actor, IMPORT_RECORDS)
    runner = Runner(actor=actor, job=job)
    preview: list[PreviewRow] = []
    labels = dict(columns.target_choices(job.entity, runner.custom_fields))
    for number, cells in job.sample:
        outcome = runner.check_row(int(number), list(cells))
        by_field = dict(outcome.errors)
        values = []
        for index_text, target in sorted(job.mapping.items(), key=lambda item: int(item[0])):
            header = job.headers[int(index_text)]
            stored = outcome.stored.get(target, "")
            values.append((str(labels.get(target, target)), stored, by_field.pop(header, "")))
        preview.append(
            PreviewRow(
                number=int(number),
                values=values,
                problems=[reason for _column, reason in by_field.items()],
            )
        )
    return preview


# --- running --------------------------------------------------------------------------------


def _tenant() -> Tenant:
    return Tenant.objects.get(schema_name=connection.schema_name)  # type: ignore[attr-defined]


def _actor(job: ImportJob, tenant: Tenant, *, user_id: int | None = None) -> Membership:
    """The member who started the import (or ``user_id``); their permissions are asked again
    as it runs."""
    return Membership.objects.select_related("tenant", "user").get(
        tenant=tenant, user_id=user_id or job.created_by_id or 0
    )


def _batches(
    rows: Iterable[tuple[int, list[str]]], after: int
) -> Iterator[list[tuple[int, list[str]]]]:
    batch: list[tuple[int, list[str]]] = []
    for number, cells in rows:
        if number <= after:
            continue
        batch.append((number, cells))
        if len(batch) >= BATCH_ROWS:
            yield batch
            batch = []
    if batch:
        yield batch


# Entities whose row checks read nothing from the database (names, emails, phones, custom
# fields against the definitions the runner holds): the next batch's rows are checked in a
# thread while the database writes the current batch. Deal and activity rows look up their
# pipeline, contacts and deals, so they are checked in the batch's transaction.
CHECK_AHEAD_ENTITIES = ("contact", "company", "lead")


# How long the checking thread holds the GIL at most between rows (seconds). The writing
# thread needs it back each time the database answers; left to Python's switch interval
# (5 ms) it waited for the checks at every round trip and the thread gained nothing (ADR 0087).
HAND_GIL_EVERY = 0.0005


class _QueryAhead(Exception):
    """A check run ahead tried to read the database (it has no transaction, lock or workspace
    schema there): the batch is checked again in its own transaction."""


def _refuse_queries(*_args: Any) -> Any:
    raise _QueryAhead


def _check(
    runner: Runner,
    batch: list[tuple[int, list[str]]],
    language: str | None,
    zone: datetime.tzinfo,
) -> dict[int, Any]:
    """The rows' outcomes, checked in a thread of their own with no database access, in the
    language and time zone of the run (Django keeps both per thread)."""
    try:
        with (
            translation.override(language),
            timezone.override(zone),
            connection.execute_wrapper(_refuse_queries),
        ):
            outcomes = {}
            handed = time.perf_counter()
            for number, cells in batch:
                outcomes[number] = runner.check_row(number, cells)
                if time.perf_counter() - handed >= HAND_GIL_EVERY:
                    # Hand the GIL to the writing thread if it waits for it (back from a
                    # query); otherwise Python makes it wait up to its switch interval.
                    time.sleep(0)
                    handed = time.perf_counter()
            return outcomes
    finally:
        connection.close()  # this thread's own connection, if a check opened one


@dataclass
class _Ahead:
    """A batch being checked in the background, and what its checks read."""

    inputs: list[Any]
    outcomes: Future[dict[int, Any]]


def import_run(*, job_id: int) -> None:
    """Apply every row not yet applied, a batch per transaction. The job's ``processed_rows``
    commits with the batch's records, so a worker that dies mid-batch leaves nothing of that
    batch, and the next run (Celery redelivers the task) starts after the last whole batch.
    While a batch is written, the next one's rows are checked in a thread (ADR 0083)."""
    tenant = _tenant()
    job = ImportJob.objects.get(pk=job_id)
    if job.status not in (ImportJob.Status.QUEUED, ImportJob.Status.RUNNING):
        return
    actor = _actor(job, tenant)
    ImportJob.objects.filter(pk=job.pk, started_at__isnull=True).update(started_at=timezone.now())
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.RUNNING)
    checker = (
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-checks")
        if job.entity in CHECK_AHEAD_ENTITIES
        else None
    )
    try:
        require(actor, IMPORT_RECORDS)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "source"
            s3.object_download(schema_name=tenant.schema_name, key=job.file_key, path=str(path))
            shape = reading.FileShape(job.file_format, job.encoding, job.delimiter)
            if not job.total_rows:
                job.total_rows = reading.count_rows(path, shape)
                ImportJob.objects.filter(pk=job.pk).update(total_rows=job.total_rows)
            rows = reading.iter_rows(path, shape)
            next(rows, None)  # the header
            batches = _batches(reading.data_rows(rows), after=job.processed_rows)
            batch = next(batches, None)
            ahead: _Ahead | None = None
            while batch is not None:
                following = next(batches, None)
                applied, ahead = _apply(
                    actor=actor,
                    tenant=tenant,
                    job_id=job.pk,
                    batch=batch,
                    ahead=ahead,
                    following=following,
                    checker=checker,
                )
                if not applied:
                    return
                batch = following
    except Exception as exc:
        logger.exception("import %s failed", job_id)
        message = exc.message if isinstance(exc, ServiceError) else _("The import stopped.")
        with transaction.atomic():
            ImportJob.objects.filter(pk=job.pk).update(
                status=ImportJob.Status.FAILED, failure=str(message), finished_at=timezone.now()
            )
            notify_user(
                tenant=tenant,
                user_id=actor.user_id,
                event="notification",
                payload={
                    "text": _("The import of %(file)s failed: %(reason)s")
                    % {"file": job.file_name, "reason": message},
                    "kind": "error",
                },
            )
        return
    finally:
        if checker is not None:
            checker.shutdown(wait=True, cancel_futures=True)
    _finish(actor=actor, tenant=tenant, job_id=job.pk)


def _checked_ahead(
    runner: Runner, ahead: _Ahead | None, batch: list[tuple[int, list[str]]]
) -> dict[int, Any]:
    """The outcomes of the batch's rows checked ahead, when they were checked with what this
    batch's runner reads (custom fields, members, mapping: nothing changed in between);
    nothing otherwise, and the rows are checked again."""
    if ahead is None:
        return {}
    try:
        outcomes = ahead.outcomes.result()
    except Exception:  # the rows are checked again in the transaction
        logger.info("import %s: rows checked ahead are checked again", runner.job.pk)
        return {}
    if ahead.inputs != runner.check_inputs():
        return {}
    return {number: outcomes[number] for number, _cells in batch if number in outcomes}


def _apply(
    *,
    actor: Membership,
    tenant: Tenant,
    job_id: int,
    batch: list[tuple[int, list[str]]],
    ahead: _Ahead | None = None,
    following: list[tuple[int, list[str]]] | None = None,
    checker: ThreadPoolExecutor | None = None,
) -> tuple[bool, _Ahead | None]:
    """One batch in one transaction; ``ahead``: its rows being checked in the background.
    Returns whether the import goes on, and the checks of ``following`` started meanwhile."""
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job_id)
        if job.status != ImportJob.Status.RUNNING:
            return False, None
        batch = [(number, cells) for number, cells in batch if number > job.processed_rows]
        if not batch:
            return True, None
        # Two imports into one workspace take turns batch by batch, so each sees the records
        # the other has just created when it looks for duplicates.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"import.{job.entity}"])
        runner = Runner(actor=actor, job=job)
        runner.checked = _checked_ahead(runner, ahead, batch)
        upcoming = None
        if checker is not None and following:
            # The next batch's rows are checked (pure Python) while this one is written: the
            # database's work and the checks overlap. They are used only if the next batch's
            # runner reads the same custom fields and members.
            upcoming = _Ahead(
                inputs=runner.check_inputs(),
                outcomes=checker.submit(
                    copy_context().run,
                    _check,
                    runner,
                    following,
                    translation.get_language(),
                    timezone.get_current_timezone(),
                ),
            )
        # Rows that update existing deals go through the deal services: open pages hear one
        # summary per batch and kind of change, before the batch's progress.
        with live.coalesced():
            rows = _apply_rows(runner, job, batch)
        row_log.write(rows)
        counts = dict.fromkeys(ImportRow.Outcome.values, 0)
        for row in rows:
            counts[row.outcome] += 1
        job.processed_rows = batch[-1][0]
        ImportJob.objects.filter(pk=job.pk).update(
            processed_rows=job.processed_rows,
            created_count=F("created_count") + counts["created"],
            updated_count=F("updated_count") + counts["updated"],
            skipped_count=F("skipped_count") + counts["skipped"],
            error_count=F("error_count") + counts["failed"],
        )
        job.refresh_from_db()
        live.publish(
            tenant=tenant, topic=IMPORTS_TOPIC, event="import.progress", payload=_progress(job)
        )
    return True, upcoming


def _apply_rows(
    runner: Runner, job: ImportJob, batch: list[tuple[int, list[str]]]
) -> list[LoggedRow]:
    """The batch in one go (the fast path); when the database refuses part of it (a value
    the checks let through, a conflict with another writer), the batch is rolled back and
    its rows are applied one savepoint each, so that the good rows are stored and each bad
    one is reported whole."""
    try:
        with transaction.atomic():
            return runner.apply_batch(batch)
    except (DatabaseError, psycopg.Error):
        logger.warning("import %s: a batch was refused, applying it row by row", job.pk)
    # A fresh runner: nothing it read during the refused attempt is trusted.
    runner = Runner(actor=runner.actor, job=job)
    rows: list[LoggedRow] = []
    for item in batch:
        try:
            with transaction.atomic():
                rows += runner.apply_batch([item])
        except (DatabaseError, psycopg.Error) as exc:
            reason = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
            rows.append(
                LoggedRow(
                    job=job,
                    number=item[0],
                    outcome=ImportRow.Outcome.FAILED,
                    errors=[
                        {
                            "column": "",
                            "reason": _("The database refused this row: %(reason)s")
                            % {"reason": reason or _("unknown reason")},
                        }
                    ],
                )
            )
    return rows


def _progress(job: ImportJob) -> dict[str, Any]:
    return {
        "id": job.pk,
        "status": job.status,
        "total": job.total_rows,
        "processed": job.processed_rows,
        "created": job.created_count,
        "updated": job.updated_count,
        "skipped": job.skipped_count,
        "errors": job.error_count,
    }


def _finish(*, actor: Membership, tenant: Tenant, job_id: int) -> None:
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job_id)
        if job.status != ImportJob.Status.RUNNING:
            return
        job.status = ImportJob.Status.DONE
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "finished_at"])
        audit_record(
            tenant=tenant,
            actor=actor.user,
            action=IMPORT_FINISHED,
            target=job,
            data={
                "created": job.created_count,
                "updated": job.updated_count,
                "skipped": job.skipped_count,
                "errors": job.error_count,
            },
        )
        live.publish(
            tenant=tenant, topic=IMPORTS_TOPIC, event="import.progress", payload=_progress(job)
        )
        # Open dashboards fetch the charts the imported records may change, once.
        reporting.announce_to_dashboards(tenant=tenant, event=IMPORT_FINISHED_EVENT)
        notify_user(
            tenant=tenant,
            user_id=actor.user_id,
            event="notification",
            payload={
                "text": _(
                    "Import of %(file)s finished: %(created)d created, %(updated)d updated, "
                    "%(skipped)d skipped, %(errors)d not imported."
                )
                % {
                    "file": job.file_name,
                    "created": job.created_count,
                    "updated": job.updated_count,
                    "skipped": job.skipped_count,
                    "errors": job.error_count,
                },
                "kind": "success" if not job.error_count else "warning",
            },
        )


# --- error report and undo -----------------------------------------------------------------


def import_error_lines(job: ImportJob) -> Iterator[tuple[int, str, str]]:
    """(row, column, reason) for every row not imported, in file order."""
    failed = (
        ImportRow.objects.filter(job=job, outcome=ImportRow.Outcome.FAILED)
        .order_by("number")
        .values_list("number", "errors")
    )
    for number, errors in failed.iterator(chunk_size=2000):
        for error in errors:
            yield number, error.get("column", ""), error.get("reason", "")


def import_can_undo(job: ImportJob) -> bool:
    return (
        job.status == ImportJob.Status.DONE
        and job.finished_at is not None
        and timezone.now() - job.finished_at <= datetime.timedelta(days=UNDO_DAYS)
    )


def import_undo(*, actor: Membership, job: ImportJob) -> ImportJob:
    """Remove what the import created and restore what it updated (within 7 days), in the
    background."""
    require(actor, IMPORT_RECORDS)
    from crm_modules.dataio import tasks

    with transaction.atomic():
        locked = ImportJob.objects.select_for_update().get(pk=job.pk)
        if locked.status != ImportJob.Status.DONE:
            raise ServiceError(_("Only a finished import can be undone."), field="status")
        if not import_can_undo(locked):
            raise ServiceError(
                _("An import can be undone for %(days)d days after it finished.")
                % {"days": UNDO_DAYS},
                field="status",
            )
        locked.status = ImportJob.Status.UNDOING
        locked.undone_by = actor.user
        locked.save(update_fields=["status", "undone_by"])
        job_id = locked.pk
        transaction.on_commit(lambda: tasks.import_undo_run.delay(job_id))
    return locked


def _undo_updates(*, actor: Membership, job: ImportJob, model: Any, rows: Any) -> None:
    for row in rows.filter(outcome=ImportRow.Outcome.UPDATED).order_by("-number"):
        record = model.objects.filter(pk=row.record_id or 0).first()
        if record is None:
            continue
        changes = dict(row.previous)
        if "custom" in changes:
            record.custom = changes.pop("custom")
            record.save(update_fields=["custom"])
        if changes:
            if job.entity == "contact":
                sales.contact_update(actor=actor, contact=record, changes=changes)
            elif job.entity == "company":
                sales.company_update(actor=actor, company=record, changes=changes)
            else:
                pipeline_rows.undo_update(
                    actor=actor, entity=job.entity, record=record, changes=changes
                )


def import_undo_run(*, job_id: int) -> None:
    tenant = _tenant()
    job = ImportJob.objects.get(pk=job_id)
    if job.status != ImportJob.Status.UNDOING:
        return
    # The member who asked for the undo acts (and is audited), not the one who imported.
    actor = _actor(job, tenant, user_id=job.undone_by_id)
    model: Any = {
        "contact": sales.Contact,
        "company": sales.Company,
        "lead": sales.Lead,
        "deal": sales.Deal,
    }.get(job.entity)
    rows = ImportRow.objects.filter(job=job)
    with transaction.atomic():
        notes = [pk for ids in rows.values_list("created_activities", flat=True) for pk in ids]
        removed_activities = timeline.activities_delete(notes) if notes else 0
        with live.coalesced():
            _undo_updates(actor=actor, job=job, model=model, rows=rows)
        created = [
            pk
            for pk in rows.filter(outcome=ImportRow.Outcome.CREATED).values_list(
                "record_id", flat=True
            )
            if pk is not None
        ]
        companies = [pk for ids in rows.values_list("created_companies", flat=True) for pk in ids]
        if job.entity == "activity":
            removed = timeline.activities_delete(created)
        else:
            removed = sales.records_bulk_delete(actor=actor, model=model, ids=created)
        if companies:
            removed_companies = sales.records_bulk_delete(
                actor=actor, model=sales.Company, ids=companies
            )
        else:
            removed_companies = 0
        job.status = ImportJob.Status.UNDONE
        job.undone_at = timezone.now()
        job.save(update_fields=["status", "undone_at"])
        audit_record(
            tenant=tenant,
            actor=actor.user,
            action=IMPORT_UNDONE,
            target=job,
            data={
                "removed": removed,
                "removed_companies": removed_companies,
                **({"removed_notes": removed_activities} if removed_activities else {}),
            },
        )
        reporting.announce_to_dashboards(tenant=tenant, event=IMPORT_UNDONE_EVENT)
        live.publish(
            tenant=tenant, topic=IMPORTS_TOPIC, event="import.progress", payload=_progress(job)
        )
