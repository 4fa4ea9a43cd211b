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


@dataclass
class _States:
    """The project state before a plan (rendered) and the state after it (rendered for the
    post-migrate signal), shared by every workspace of this worker with the same migrations."""

    before: Any
    after_apps: Any = None


# Keyed by the set of migrations a schema has recorded: rendering every model's state is most
# of the time a workspace's migration takes, and it is the same for every workspace at the same
# point, so a worker renders it once and clones it for each workspace.
_STATES: dict[frozenset[tuple[str, str]], _States] = {}


def _apply_pending(connection: Any, schema_name: str) -> int:
    """What `migrate` does for one schema, with the rendered states reused across schemas:
    the pre-migrate signal, the plan applied (each migration atomic, recorded in the schema),
    the post-migrate signal (content types and permissions of new models). Returns how many
    migrations were applied."""
    from django.apps import apps as global_apps
    from django.core.management.sql import emit_post_migrate_signal, emit_pre_migrate_signal
    from django.db.migrations.executor import MigrationExecutor
    from django.db.migrations.recorder import MigrationRecorder
    from django.db.migrations.state import ModelState

    # The schema's own migration table, never public's (django-tenants does the same).
    connection.set_schema(schema_name, include_public=False)
    MigrationRecorder(connection).ensure_schema()
    connection.set_schema(schema_name)

    executor = MigrationExecutor(connection)
    executor.loader.check_consistent_history(connection)
    targets = executor.loader.graph.leaf_nodes()
    plan = executor.migration_plan(targets)
    if not plan:
        return 0
    key = frozenset(executor.loader.applied_migrations)
    states = _STATES.get(key)
    if states is None:
        # What `migrate` builds as its pre-migrate state (a private helper of the executor).
        before = executor._create_project_state(with_applied_migrations=True)  # type: ignore[attr-defined]
        before.apps  # noqa: B018 - render once, here
        states = _STATES[key] = _States(before)
    emit_pre_migrate_signal(0, False, connection.alias, apps=states.before.apps, plan=plan)
    after = executor.migrate(targets, plan=plan, state=states.before.clone())
    if states.after_apps is None:
        after.clear_delayed_apps_cache()
        after_apps = after.apps
        # As `migrate` does: real apps' models re-rendered with their relations.
        with after_apps.bulk_update():
            real = []
            for model_state in after_apps.real_models:
                model_key = model_state.app_label, model_state.name_lower
                real.append(model_key)
                after_apps.unregister_model(*model_key)
        after_apps.render_multiple(
            [ModelState.from_model(global_apps.get_model(*model)) for model in real]
        )
        states.after_apps = after_apps
    emit_post_migrate_signal(0, False, connection.alias, apps=states.after_apps, plan=plan)
    return len(plan)


def _migrate_schema(schema_name: str, lock_timeout: str, statement_timeout: str) -> SchemaOutcome:
    from django.db import connection as worker_connection

    started = time.monotonic()
    try:
        worker_connection.ensure_connection()
        with worker_connection.cursor() as cursor:
            cursor.execute("SELECT set_config('lock_timeout', %s, false)", [lock_timeout])
            cursor.execute("SELECT set_config('statement_timeout', %s, false)", [statement_timeout])
        applied = _apply_pending(worker_connection, schema_name)
        return SchemaOutcome(schema_name, True, applied, time.monotonic() - started)
    except Exception as exc:
        worker_connection.close()
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return SchemaOutcome(schema_name, False, 0, time.monotonic() - started, detail)
    finally:
        worker_connection.set_schema_to_public()  # type: ignore[attr-defined]
        worker_connection.close()
