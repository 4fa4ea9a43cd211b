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


# Per worker process: the rendered project state before a plan, by the set of migrations a
# schema has applied, and the rendered state after it, by (applied, plan). Workspaces of one
# rollout are nearly all at the same migration, so each worker renders these once instead of
# twice per workspace, which is where Django's `migrate` spends most of a workspace's time.
# A handful of entries: a rollout sees one or two starting points, a test run a few more.
_CACHED_STATES = 4
_pre_states: dict[frozenset[tuple[str, str]], Any] = {}
_post_apps: dict[tuple[frozenset[tuple[str, str]], tuple[tuple[str, str], ...]], Any] = {}


def _remember(cache: dict[Any, Any], key: Any, value: Any) -> Any:
    if len(cache) >= _CACHED_STATES:
        cache.pop(next(iter(cache)))
    cache[key] = value
    return value


def _apply_migrations(schema_name: str) -> int:
    """What ``migrate`` does for one schema with no arguments (history and conflict checks,
    pre_migrate, every pending migration, post_migrate), with the migration states rendered
    once per worker rather than twice per workspace (see ``_pre_states``). Returns how many
    migrations it applied."""
    from django.apps import apps as global_apps
    from django.core.management import CommandError
    from django.core.management.sql import emit_post_migrate_signal, emit_pre_migrate_signal
    from django.db.migrations.executor import MigrationExecutor
    from django.db.migrations.recorder import MigrationRecorder
    from django.db.migrations.state import ModelState
    from django_tenants.signals import schema_migrated, schema_pre_migration

    schema_pre_migration.send(_apply_migrations, schema_name=schema_name)
    # As django-tenants does: the recorder's table is created in the workspace's own schema
    # (with public off the search path), then the schema is used with public behind it.
    connection.set_schema(schema_name, include_public=False)  # type: ignore[attr-defined]
    MigrationRecorder(connection).ensure_schema()
    connection.set_schema(schema_name)  # type: ignore[attr-defined]
    connection.prepare_database()
    executor = MigrationExecutor(connection)
    executor.loader.check_consistent_history(connection)
    conflicts = executor.loader.detect_conflicts()
    if conflicts:
        raise CommandError(f"Conflicting migrations detected: {conflicts}")
    targets = executor.loader.graph.leaf_nodes()
    plan = executor.migration_plan(targets)
    applied = frozenset(executor.loader.applied_migrations)
    pre_state = _pre_states.get(applied)
    if pre_state is None:
        # The same (private) call `migrate` makes for its starting state.
        pre_state = executor._create_project_state(with_applied_migrations=True)  # type: ignore[attr-defined]
        pre_state.apps  # noqa: B018  rendered once, then cloned for each workspace
        _remember(_pre_states, applied, pre_state)
    emit_pre_migrate_signal(0, False, connection.alias, apps=pre_state.apps, plan=plan)
    post_state = executor.migrate(targets, plan=plan, state=pre_state.clone())
    plan_key = tuple((migration.app_label, migration.name) for migration, _ in plan)
    post_apps = _post_apps.get((applied, plan_key))
    if post_apps is None:
        # As ``migrate`` does: every delayed model rendered, real apps' models with relations.
        post_state.clear_delayed_apps_cache()
        post_apps = post_state.apps
        with post_apps.bulk_update():
            real = [(m.app_label, m.name_lower) for m in post_apps.real_models]
            for model_key in real:
                post_apps.unregister_model(*model_key)
        post_apps.render_multiple(
            [ModelState.from_model(global_apps.get_model(*model_key)) for model_key in real]
        )
        _remember(_post_apps, (applied, plan_key), post_apps)
    emit_post_migrate_signal(0, False, connection.alias, apps=post_apps, plan=plan)
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    schema_migrated.send(_apply_migrations, schema_name=schema_name)
    return len(plan)


def _migrate_schema(schema_name: str, lock_timeout: str, statement_timeout: str) -> SchemaOutcome:
    from django.db import connection as worker_connection

    started = time.monotonic()
    try:
        worker_connection.ensure_connection()
        with worker_connection.cursor() as cursor:
            cursor.execute("SELECT set_config('lock_timeout', %s, false)", [lock_timeout])
            cursor.execute("SELECT set_config('statement_timeout', %s, false)", [statement_timeout])
        applied = _apply_migrations(schema_name)
        return SchemaOutcome(schema_name, True, applied, time.monotonic() - started)
    except Exception as exc:
        worker_connection.close()
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return SchemaOutcome(schema_name, False, 0, time.monotonic() - started, detail)
    finally:
        worker_connection.close()
