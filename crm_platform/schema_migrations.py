"""Migrating thousands of workspace schemas: in parallel, resumable, one failure never blocking
the others (`manage.py migrate_all`).

- One run at a time: a session advisory lock on a connection of its own. A second run refuses
  (or waits, with ``wait=True``); it never interleaves with the first.
- The spare pool is not topped up during a run (the replenisher's own lock is held), so no
  spare is migrated by an older version behind the run's back.
- Which schemas have anything to apply is read for all of them at once, from each schema's
  ``django_migrations`` in a few batched queries; only those get a migration executor.
- Each pending schema is migrated in a worker process (a bounded pool), with ``lock_timeout``
  and ``statement_timeout`` set on its connection. Its outcome is recorded in
  ``SchemaMigrationState`` as soon as it is known. Failed schemas are retried at the end of the
  run, then reported; the run goes on with the others.
- SIGTERM or SIGINT stops the dispatch of new schemas; schemas already being migrated finish
  (each Django migration is atomic), and the next run picks up the rest.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

import psycopg
from django.conf import settings
from django.db import connection, connections
from django.db.models import F
from django.utils import timezone
from django_tenants.utils import get_public_schema_name

from crm_platform.models import SchemaMigrationState
from crm_platform.schema_migration_worker import (
    SchemaOutcome,
    _migrate_schema,
    _worker_init,
    migration_target,
    pending_schemas,
    target_digest,
)

logger = logging.getLogger(__name__)

RUN_LOCK = "rapport.migrate_all"
# tenants.services.provisioning takes this lock (try-lock) before topping up the spare pool.
SPARE_POOL_LOCK = "rapport.spare_pool"

Status = SchemaMigrationState.Status


class MigrationRunLocked(Exception):
    """Another migrate_all run holds the lock."""


@dataclass
class RunReport:
    total: int = 0
    skipped: int = 0
    migrated: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    not_started: list[str] = field(default_factory=list)
    interrupted: bool = False
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed and not self.not_started and not self.interrupted


# --- the run lock ---------------------------------------------------------------------------


def _lock_connection() -> psycopg.Connection[Any]:
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params.pop("prepare_threshold", None)
    return psycopg.connect(**params, autocommit=True)


class RunLock:
    """Session advisory locks on a connection of their own: the worker pool and Django's own
    connections may close and reopen theirs without releasing these."""

    def __init__(self, *, wait: bool):
        self.wait = wait
        self.conn: psycopg.Connection[Any] | None = None

    def __enter__(self) -> RunLock:
        self.conn = _lock_connection()
        if self.wait:
            self.conn.execute("SELECT pg_advisory_lock(hashtext(%s))", [RUN_LOCK])
        else:
            row = self.conn.execute(
                "SELECT pg_try_advisory_lock(hashtext(%s))", [RUN_LOCK]
            ).fetchone()
            if not row or not row[0]:
                self.conn.close()
                raise MigrationRunLocked(
                    "Another migrate_all run is in progress; this one did not start. "
                    "Wait for it to finish, or run with --wait."
                )
        # Waits for a replenisher that is migrating a spare right now, then keeps others off.
        self.conn.execute("SELECT pg_advisory_lock(hashtext(%s))", [SPARE_POOL_LOCK])
        return self

    def __exit__(self, *exc: object) -> None:
        if self.conn is not None:
            self.conn.close()  # ends the session: both locks are released


# --- the run --------------------------------------------------------------------------------


def _record(outcome: SchemaOutcome, *, digest: str) -> None:
    SchemaMigrationState.objects.filter(schema_name=outcome.schema_name).update(
        status=Status.DONE if outcome.ok else Status.FAILED,
        target=digest if outcome.ok else "",
        applied=outcome.applied,
        seconds=round(outcome.seconds, 3),
        error=outcome.error[:10_000],
        updated_at=timezone.now(),
    )


def _mark_pending(schema_names: Iterable[str]) -> None:
    now = timezone.now()
    for schema_name in schema_names:
        SchemaMigrationState.objects.update_or_create(
            schema_name=schema_name,
            defaults={"status": Status.PENDING, "error": "", "updated_at": now},
        )


def _workspace_schema_names() -> list[str]:
    from tenants.models import Tenant

    return list(
        Tenant.objects.exclude(schema_name=get_public_schema_name())
        .order_by("pk")
        .values_list("schema_name", flat=True)
    )


class StopFlag:
    def __init__(self) -> None:
        self.stopped = False

    def stop(self, *_: object) -> None:
        self.stopped = True


def migrate_all_schemas(
    *,
    workers: int,
    lock_timeout: str = "5s",
    statement_timeout: str = "0",
    retries: int = 1,
    wait_for_lock: bool = False,
    schema_names: list[str] | None = None,
    on_outcome: Callable[[SchemaOutcome, int, int], None] | None = None,
    stop: StopFlag | None = None,
    before: Callable[[], None] | None = None,
) -> RunReport:
    """Bring every workspace schema (or the named ones) to the current migrations. `before`
    runs first under the same lock (the command migrates the public schema there)."""
    started = time.monotonic()
    stop = stop or StopFlag()
    report = RunReport()
    with RunLock(wait=wait_for_lock):
        if before is not None:
            before()
        # The batched reads of django_migrations wait no longer than a migration would.
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('lock_timeout', %s, false)", [lock_timeout])
        target = migration_target()
        digest = target_digest(target)
        seen: set[str] = set()
        # Signups whose pool was empty create schemas while we run: list again until a pass
        # finds no schema it has not seen.
        while not stop.stopped:
            names = schema_names if schema_names is not None else _workspace_schema_names()
            fresh = [name for name in names if name not in seen]
            if not fresh:
                break
            seen.update(fresh)
            report.total += len(fresh)
            pending = pending_schemas(fresh, target=target)
            report.skipped += len(fresh) - len(pending)
            up_to_date = [name for name in fresh if name not in pending]
            SchemaMigrationState.objects.filter(schema_name__in=up_to_date).exclude(
                status=Status.DONE, target=digest
            ).update(status=Status.DONE, target=digest, error="", updated_at=timezone.now())
            queue = list(pending)
            _mark_pending(queue)
            round_number = 0
            while queue and not stop.stopped:
                failed = _run_pool(
                    queue,
                    workers=workers,
                    lock_timeout=lock_timeout,
                    statement_timeout=statement_timeout,
                    digest=digest,
                    report=report,
                    on_outcome=on_outcome,
                    stop=stop,
                )
                round_number += 1
                if round_number > retries:
                    break
                queue = failed
            if schema_names is not None:
                break
        report.interrupted = stop.stopped
        report.failed = dict(
            SchemaMigrationState.objects.filter(
                schema_name__in=seen, status=Status.FAILED
            ).values_list("schema_name", "error")
        )
        report.not_started = list(
            SchemaMigrationState.objects.filter(
                schema_name__in=seen, status__in=[Status.PENDING, Status.RUNNING]
            ).values_list("schema_name", flat=True)
        )
    report.seconds = time.monotonic() - started
    return report


def _run_pool(
    queue: list[str],
    *,
    workers: int,
    lock_timeout: str,
    statement_timeout: str,
    digest: str,
    report: RunReport,
    on_outcome: Callable[[SchemaOutcome, int, int], None] | None,
    stop: StopFlag,
) -> list[str]:
    """Migrate the queued schemas with at most `workers` at a time; returns those that failed."""
    database = {
        key: settings.DATABASES["default"][key]
        for key in ("NAME", "USER", "PASSWORD", "HOST", "PORT")
    }
    failed: list[str] = []
    remaining = list(queue)
    total = len(queue)
    done = 0
    # Fresh interpreters, not forks: a fork would inherit open connections and pool threads.
    context = multiprocessing.get_context("spawn")
    connections.close_all()
    with ProcessPoolExecutor(
        max_workers=max(1, min(workers, len(queue))),
        mp_context=context,
        initializer=_worker_init,
        initargs=(database,),
    ) as pool:
        running: dict[Future[SchemaOutcome], str] = {}
        while remaining or running:
            while remaining and len(running) < workers and not stop.stopped:
                schema_name = remaining.pop(0)
                SchemaMigrationState.objects.filter(schema_name=schema_name).update(
                    status=Status.RUNNING, attempts=F("attempts") + 1, updated_at=timezone.now()
                )
                try:
                    future = pool.submit(
                        _migrate_schema, schema_name, lock_timeout, statement_timeout
                    )
                except BrokenProcessPool:
                    remaining.insert(0, schema_name)
                    SchemaMigrationState.objects.filter(schema_name=schema_name).update(
                        status=Status.PENDING
                    )
                    stop.stop()
                    break
                running[future] = schema_name
            if not running:
                break
            finished, _ = wait(running, timeout=1.0, return_when=FIRST_COMPLETED)
            for future in finished:
                schema_name = running.pop(future)
                try:
                    outcome = future.result()
                except Exception as exc:  # the worker process died
                    outcome = SchemaOutcome(schema_name, False, 0, 0.0, repr(exc))
                _record(outcome, digest=digest)
                done += 1
                if outcome.ok:
                    report.migrated.append(schema_name)
                else:
                    failed.append(schema_name)
                if on_outcome is not None:
                    on_outcome(outcome, done, total)
    # Schemas never handed to a worker (stopped) stay pending for the next run.
    return failed


def install_stop_handlers(stop: StopFlag) -> None:
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop.stop)
        signal.signal(signal.SIGINT, stop.stop)


def running_in_terminal() -> bool:
    return os.isatty(2)
