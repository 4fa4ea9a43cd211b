"""manage.py migrate_all against real workspace schemas: parallel, resumable, isolated failures,
one run at a time, a clean stop on SIGTERM, no wait past ``lock_timeout``."""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from crm_platform.backups import schema_copy
from crm_platform.models import SchemaMigrationState
from crm_platform.schema_migration_worker import migration_target, pending_schemas, target_digest
from crm_platform.schema_migrations import RunLock, migrate_all_schemas
from tenants.models import Tenant
from tests.conftest import database_url

ROOT = Path(__file__).resolve().parents[2]
Status = SchemaMigrationState.Status


@pytest.fixture
def committed(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """Worker processes have connections of their own: what they migrate must be committed."""
    with django_db_blocker.unblock():
        yield


@pytest.fixture
def new_schemas(committed: None) -> Iterator[Any]:
    """Workspaces whose schema exists but has never been migrated."""
    created: list[Tenant] = []

    def make(count: int, *, prefix: str = "ws_mig", copy_of: str | None = None) -> list[str]:
        """``copy_of``: a migrated schema to copy (quicker than migrating one from nothing)."""
        names = []
        for index in range(count):
            tenant = Tenant(schema_name=f"{prefix}_{len(created)}_{index}")
            tenant.auto_create_schema = False
            tenant.save()
            if copy_of is not None:
                schema_copy(source=copy_of, target=tenant.schema_name)
            else:
                with connection.cursor() as cursor:
                    cursor.execute(f'CREATE SCHEMA "{tenant.schema_name}"')
            created.append(tenant)
            names.append(tenant.schema_name)
        return names

    yield make
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    for tenant in created:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA IF EXISTS "{tenant.schema_name}" CASCADE')
        Tenant.objects.filter(pk=tenant.pk).delete()
    SchemaMigrationState.objects.filter(
        schema_name__in=[tenant.schema_name for tenant in created]
    ).delete()


def break_schema(schema_name: str) -> None:
    # A table in the way of the workspace's first migration.
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE TABLE "{schema_name}".django_content_type (id integer)')


def schema_catalog(schema_name: str) -> dict[str, list[tuple[Any, ...]]]:
    """What a migration leaves in a schema, with the schema's name taken out."""
    queries = {
        "columns": "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod),"
        " a.attnotnull, pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute a"
        " JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
        " LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
        " WHERE n.nspname = %s AND a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p')",
        "indexes": "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %s",
        "constraints": "SELECT c.relname, k.conname, pg_get_constraintdef(k.oid)"
        " FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s",
        "triggers": "SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t"
        " JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND NOT t.tgisinternal",
    }
    catalog: dict[str, list[tuple[Any, ...]]] = {}
    with connection.cursor() as cursor:
        for kind, query in queries.items():
            cursor.execute(query, [schema_name])
            catalog[kind] = sorted(
                tuple(
                    str(value).replace(f'"{schema_name}".', "").replace(f"{schema_name}.", "")
                    for value in row
                )
                for row in cursor.fetchall()
            )
        cursor.execute(f'SELECT app, name FROM "{schema_name}".django_migrations')  # noqa: S608
        catalog["migrations"] = sorted(cursor.fetchall())
        cursor.execute(f'SELECT app_label, model FROM "{schema_name}".django_content_type')  # noqa: S608
        catalog["content types"] = sorted(cursor.fetchall())
    return catalog


def states(names: list[str]) -> dict[str, str]:
    return dict(
        SchemaMigrationState.objects.filter(schema_name__in=names).values_list(
            "schema_name", "status"
        )
    )


def test_migrates_pending_workspaces_and_skips_up_to_date_ones(new_schemas, world):
    names = new_schemas(3)
    target = migration_target()
    assert pending_schemas([*names, world.alpha.tenant.schema_name], target=target) == {
        name: len(target) for name in names
    }

    report = migrate_all_schemas(workers=2, schema_names=[*names, world.alpha.tenant.schema_name])

    assert sorted(report.migrated) == names
    assert report.skipped == 1
    assert report.failed == {}
    assert report.ok
    assert pending_schemas(names, target=target) == {}
    assert states(names) == dict.fromkeys(names, Status.DONE)
    assert set(
        SchemaMigrationState.objects.filter(schema_name__in=names).values_list("target", flat=True)
    ) == {target_digest(target)}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_tables WHERE tablename = 'audit_auditevent'"
            " AND schemaname = ANY(%s)",
            [names],
        )
        assert cursor.fetchone() == (3,)
        # The post-migrate signal ran in each schema (workers reuse one rendered state for
        # several schemas): content types of the workspace's models are there, as `migrate`
        # leaves them.
        for name in names:
            cursor.execute(
                f'SELECT app_label, model FROM "{name}".django_content_type'  # noqa: S608
                " WHERE (app_label, model) IN (('sales', 'contact'), ('audit', 'auditevent'))"
                " ORDER BY app_label"
            )
            assert cursor.fetchall() == [("audit", "auditevent"), ("sales", "contact")]
    # Each schema is exactly what the ordinary path (django-tenants' migrate, which built the
    # world's workspace) makes: tables, columns, indexes, constraints, triggers, recorded
    # migrations and content types, including the schemas a worker migrated with the states it
    # rendered for an earlier one.
    expected = schema_catalog(world.alpha.tenant.schema_name)
    for name in names:
        assert schema_catalog(name) == expected


def test_a_broken_workspace_is_retried_reported_and_blocks_no_other(new_schemas):
    names = new_schemas(3)
    broken = names[1]
    break_schema(broken)

    report = migrate_all_schemas(workers=2, schema_names=names, retries=1)

    assert sorted(report.migrated) == sorted(set(names) - {broken})
    assert list(report.failed) == [broken]
    assert 'relation "django_content_type" already exists' in report.failed[broken]
    assert not report.ok
    row = SchemaMigrationState.objects.get(schema_name=broken)
    assert (row.status, row.attempts) == (Status.FAILED, 2)
    assert pending_schemas([broken], target=migration_target()) == {broken: len(migration_target())}

    # Fixed, the next run migrates only that workspace.
    with connection.cursor() as cursor:
        cursor.execute(f'DROP TABLE "{broken}".django_content_type')
    rerun = migrate_all_schemas(workers=2, schema_names=names)
    assert rerun.migrated == [broken]
    assert rerun.skipped == 2
    assert rerun.ok
    assert states(names) == dict.fromkeys(names, Status.DONE)


def test_a_second_run_refuses_while_one_is_in_progress(new_schemas):
    names = new_schemas(1)
    with RunLock(wait=False), pytest.raises(CommandError, match="Another migrate_all run"):
        call_command("migrate_all", "--skip-public", "--schema", names[0])
    assert states(names) == {}
    assert pending_schemas(names, target=migration_target()) != {}


def _command_line(names: list[str]) -> tuple[list[str], dict[str, str]]:
    """``manage.py migrate_all`` for these workspaces as an operator runs it, and its
    environment."""
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="crm_platform.settings.test",
        DATABASE_URL=database_url(),
    )
    command = [sys.executable, "manage.py", "migrate_all", "--skip-public", "--workers=1"]
    for name in names:
        command += ["--schema", name]
    return command, env


def test_sigterm_stops_between_workspaces_and_the_next_run_resumes(new_schemas):
    names = new_schemas(3)
    command, env = _command_line(names)
    process = subprocess.Popen(  # noqa: S603
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    for line in process.stdout:
        if '"schema_migrated"' in line:
            process.send_signal(signal.SIGTERM)
            break
    _, stderr = process.communicate(timeout=120)

    assert process.returncode == 3, stderr
    assert "Run migrate_all again to resume" in stderr
    after_stop = states(names)
    done = [name for name, status in after_stop.items() if status == Status.DONE]
    assert 1 <= len(done) < len(names)
    assert set(after_stop.values()) == {Status.DONE, Status.PENDING}
    # Every workspace is either fully migrated or untouched: none half-way.
    full = len(migration_target())
    pending = pending_schemas(names, target=migration_target())
    assert set(pending.values()) == {full}
    assert set(pending) == set(names) - set(done)

    rerun = migrate_all_schemas(workers=2, schema_names=names)
    assert sorted(rerun.migrated) == sorted(set(names) - set(done))
    assert rerun.skipped == len(done)
    assert states(names) == dict.fromkeys(names, Status.DONE)


def test_no_spare_is_created_while_a_run_holds_the_lock(db):
    from tenants.services import spare_pool_replenish

    spares = Tenant.objects.filter(state=Tenant.State.SPARE).count()
    with RunLock(wait=False):
        assert spare_pool_replenish(target=spares + 1) == 0
    assert Tenant.objects.filter(state=Tenant.State.SPARE).count() == spares


def test_with_wait_a_second_run_starts_when_the_first_ends(committed):
    import threading
    import time

    first = RunLock(wait=False).__enter__()
    released = threading.Event()

    def release_later() -> None:
        time.sleep(1.0)
        first.__exit__(None, None, None)
        released.set()

    threading.Thread(target=release_later).start()
    started = time.monotonic()
    with RunLock(wait=True):
        assert released.is_set()
    assert time.monotonic() - started >= 0.9


def test_timeouts_apply_to_every_statement_of_a_workspace_migration(new_schemas):
    names = new_schemas(1)
    # No DDL statement finishes in a millisecond: the workspace fails instead of hanging.
    report = migrate_all_schemas(workers=1, schema_names=names, statement_timeout="1ms", retries=0)
    assert "canceling statement due to statement timeout" in report.failed[names[0]]
    assert names[0] in pending_schemas(names, target=migration_target())


def _behind_documents_0003(schema: str) -> None:
    """Take a migrated workspace back to before documents 0003 (a column added to an existing
    table) and the documents migration after it (no database change left to make)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f'ALTER TABLE "{schema}".documents_documentversion DROP COLUMN thumbnail_key'
        )
        cursor.execute(
            f'DELETE FROM "{schema}".django_migrations'  # noqa: S608
            " WHERE app = 'documents'"
            " AND name IN ('0003_version_thumbnail', '0004_user_ids_without_database_keys')"
        )
    assert pending_schemas([schema], target=migration_target()) == {schema: 2}


def test_in_a_terminal_a_progress_bar_replaces_the_json_lines(new_schemas, world):
    names = new_schemas(2, copy_of=world.alpha.tenant.schema_name)
    for name in names:
        _behind_documents_0003(name)
    command, env = _command_line(names)
    controller, terminal = pty.openpty()
    try:
        process = subprocess.run(  # noqa: S603
            command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=terminal,
            text=True,
            timeout=300,
            check=False,
        )
        os.close(terminal)
        terminal = -1
        screen = b""
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the terminal's other end is closed: all of it was read
                break
            if not chunk:
                break
            screen += chunk
    finally:
        if terminal != -1:
            os.close(terminal)
        os.close(controller)
    assert process.returncode == 0, screen.decode()
    drawn = screen.decode()
    # One bar per workspace migrated, each redrawn over the last, and a newline at the end.
    assert f"\r[{'#' * 15}{'.' * 15}] 1/2 " in drawn
    assert f"\r[{'#' * 30}] 2/2 " in drawn
    assert sorted(name for name in names if name in drawn) == sorted(names)
    assert drawn.rstrip(" ").endswith("\n") or drawn.endswith("\r\n")
    # Standard output reads as words, not JSON lines.
    assert "run_finished schemas=2" in process.stdout
    assert '"event"' not in process.stdout
    assert states(names) == dict.fromkeys(names, Status.DONE)


def test_a_workspace_whose_table_is_locked_fails_fast_and_migrates_when_released(
    new_schemas, world
):
    """A migration that must wait for a lock (a long transaction reading the table) gives up
    after ``lock_timeout`` instead of queueing every later query on that table behind it; the
    workspace stays pending, and the next run migrates it."""
    names = new_schemas(1, copy_of=world.alpha.tenant.schema_name)
    schema = names[0]
    _behind_documents_0003(schema)

    with psycopg.connect(database_url()) as reader:
        reader.execute(f'LOCK TABLE "{schema}".documents_documentversion IN ACCESS SHARE MODE')
        report = migrate_all_schemas(workers=1, schema_names=names, lock_timeout="200ms", retries=0)
        assert "canceling statement due to lock timeout" in report.failed[schema]
        # The reader was not disturbed: its transaction still holds its lock.
        held = reader.execute(
            "SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid()"
            " AND mode = 'AccessShareLock' AND granted"
        ).fetchone()
        assert held is not None
        assert held[0] >= 1
    assert states(names) == {schema: Status.FAILED}
    assert pending_schemas(names, target=migration_target()) == {schema: 2}

    rerun = migrate_all_schemas(workers=1, schema_names=names, lock_timeout="200ms")
    assert rerun.migrated == [schema]
    assert states(names) == {schema: Status.DONE}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM information_schema.columns WHERE table_schema = %s"
            " AND table_name = 'documents_documentversion' AND column_name = 'thumbnail_key'",
            [schema],
        )
        assert cursor.fetchone() == (1,)
