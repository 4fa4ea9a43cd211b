"""What runs in each worker process of `migrate_all` (crm_platform.schema_migrations).

Workers are fresh interpreters: this module imports no models at import time, because it is
imported to unpickle the task before the worker's `django.setup()` has run.
"""

from __future__ import annotations

import hashlib
import signal
import time
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.migrations.loader import MigrationLoader
from psycopg import sql

BATCH = 500


@dataclass(frozen=True)
class SchemaOutcome:
    schema_name: str
    ok: bool
    applied: int
    seconds: float
    error: str = ""


# --- what must be applied -------------------------------------------------------------------


def migration_target() -> set[tuple[str, str]]:
    """Every migration a fully migrated schema has recorded (django-tenants records the shared
    apps' migrations in each workspace schema too, as no-ops)."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    return set(loader.graph.nodes)


def _replacements() -> dict[tuple[str, str], list[tuple[str, str]]]:
    loader = MigrationLoader(None, ignore_no_migrations=True, replace_migrations=False)
    return {
        key: list(migration.replaces)
        for key, migration in loader.disk_migrations.items()
        if migration.replaces
    }


def target_digest(target: Iterable[tuple[str, str]]) -> str:
    return hashlib.sha256(repr(sorted(target)).encode()).hexdigest()


def applied_migrations(schema_names: list[str]) -> dict[str, set[tuple[str, str]]]:
    """Each schema's recorded migrations, read in batches of UNION ALL queries (no executor)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.relname = 'django_migrations' AND c.relkind = 'r'"
            " AND n.nspname = ANY(%s)",
            [schema_names],
        )
        with_table = {row[0] for row in cursor.fetchall()}
    applied: dict[str, set[tuple[str, str]]] = {name: set() for name in schema_names}
    names = [name for name in schema_names if name in with_table]
    raw = connection.connection
    for start in range(0, len(names), BATCH):
        parts = [
            sql.SQL("SELECT {}::text, app, name FROM {}.django_migrations").format(
                sql.Literal(name), sql.Identifier(name)
            )
            for name in names[start : start + BATCH]
        ]
        with raw.cursor() as cursor:
            cursor.execute(sql.SQL(" UNION ALL ").join(parts))
            for schema_name, app, name in cursor.fetchall():
                applied[schema_name].add((app, name))
    return applied


def pending_schemas(schema_names: list[str], *, target: set[tuple[str, str]]) -> dict[str, int]:
    """Schema → number of migrations still to apply, for the schemas that have any."""
    replacements = _replacements()
    pending: dict[str, int] = {}
    for schema_name, applied in applied_migrations(schema_names).items():
        # A squashed migration counts as applied when everything it replaces is.
        done = applied | {key for key, replaced in replacements.items() if set(replaced) <= applied}
        missing = target - done
        if missing:
            pending[schema_name] = len(missing)
    return pending


# --- the worker process ---------------------------------------------------------------------


def _worker_init(database: dict[str, Any]) -> None:
    # The parent decides when to stop; a signal to the process group must not kill a schema
    # half-way through a migration.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    import django

    django.setup()
    from django.conf import settings as worker_settings

    # The parent's database (a test database, or one chosen on the command line).
    worker_settings.DATABASES["default"].update(database)
    worker_settings.DATABASES["default"].get("OPTIONS", {}).pop("pool", None)


def _migrate_schema(schema_name: str, lock_timeout: str, statement_timeout: str) -> SchemaOutcome:
    from django.core.management.commands.migrate import Command as MigrateCommand
    from django.db import connection as worker_connection
    from django_tenants.migration_executors.base import run_migrations

    started = time.monotonic()
    target = migration_target()
    try:
        before = len(applied_migrations([schema_name])[schema_name] & target)
        worker_connection.ensure_connection()
        with worker_connection.cursor() as cursor:
            cursor.execute("SELECT set_config('lock_timeout', %s, false)", [lock_timeout])
            cursor.execute("SELECT set_config('statement_timeout', %s, false)", [statement_timeout])
        options = vars(MigrateCommand().create_parser("manage.py", "migrate").parse_args([]))
        options.update(verbosity=0, interactive=False, skip_checks=True, database="default")
        run_migrations([], options, "migrate_all", schema_name)
        after = len(applied_migrations([schema_name])[schema_name] & target)
        return SchemaOutcome(schema_name, True, after - before, time.monotonic() - started)
    except Exception as exc:
        worker_connection.close()
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return SchemaOutcome(schema_name, False, 0, time.monotonic() - started, detail)
    finally:
        worker_connection.close()
