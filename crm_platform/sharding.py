"""What must hold for Citus schema-based sharding (DESIGN D15, ADR 0007).

With ``citus.enable_schema_based_sharding`` every workspace schema becomes a distributed schema:
its tables live together on one worker node. A query may join a workspace table with tables of
its own schema and with Citus *reference tables* (copied to every node), nothing else. The
public tables a workspace model relates to (and the ORM therefore joins: an owner's name, a
ticket's team) are listed here; the operator makes exactly these reference tables
(docs/scaling.md), and the test suite fails when a workspace model relates to a public table
that is not listed.

No workspace table has a database foreign key into ``public`` (ADR 0090): PostgreSQL enforces a
foreign key with two triggers on the referenced table, so one key per workspace would pile up
thousands of triggers on a platform table. The suite fails on any such key.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import connection, migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

# Small, read-mostly platform tables that workspace rows refer to by id.
CITUS_REFERENCE_TABLES: frozenset[str] = frozenset({"tenants_user", "tenants_team"})


# The triggers of a workspace schema: (table, trigger, "row" or "statement"). Citus 14 accepts
# triggers on the tables of a distributed schema; earlier versions need
# ``citus.enable_unsafe_triggers`` before ``citus_schema_distribute``. Each trigger's function
# names its tables without a schema, so the Citus rehearsal in docs/scaling.md writes through
# every one of them on a distributed workspace before the switch. A new trigger is added here
# and to that rehearsal (the test suite compares this list with a migrated workspace).
WORKSPACE_TRIGGERS: frozenset[tuple[str, str, str]] = frozenset(
    {
        ("sales_contact", "contact_name_key_insert", "row"),
        ("sales_contact", "contact_name_key_update", "row"),
        ("sales_contact", "contact_name_key_delete", "row"),
        ("sales_deal", "deal_stage_total_insert", "statement"),
        ("sales_deal", "deal_stage_total_update", "statement"),
        ("sales_deal", "deal_stage_total_delete", "statement"),
    }
)


def workspace_triggers(schema_name: str) -> list[tuple[str, str, str, str]]:
    """(table, trigger, "row" or "statement", schema of its function) for each trigger a
    migration created on a table of the schema (constraint triggers excluded)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT tbl.relname, tg.tgname,
                   CASE WHEN tg.tgtype & 1 = 1 THEN 'row' ELSE 'statement' END,
                   fn_ns.nspname
            FROM pg_trigger tg
            JOIN pg_class tbl ON tbl.oid = tg.tgrelid
            JOIN pg_namespace ns ON ns.oid = tbl.relnamespace
            JOIN pg_proc fn ON fn.oid = tg.tgfoid
            JOIN pg_namespace fn_ns ON fn_ns.oid = fn.pronamespace
            WHERE ns.nspname = %s AND NOT tg.tgisinternal
            ORDER BY 1, 2
            """,
            [schema_name],
        )
        return [tuple(row) for row in cursor.fetchall()]


def workspace_relations_to_public() -> list[tuple[str, str, str, bool]]:
    """(table, column, referenced public table, has a database constraint) for each relation
    from a model of a workspace app to a model of a platform-only app."""
    workspace = set(settings.TENANT_APPS)
    platform = set(settings.SHARED_APPS) - workspace
    found: list[tuple[str, str, str, bool]] = []
    for model in apps.get_models():
        if model._meta.app_config.name not in workspace:
            continue
        for field in model._meta.concrete_fields:
            target = field.related_model
            if not isinstance(field, models.ForeignKey) or target is None:
                continue
            if target._meta.app_config.name not in platform:
                continue
            constrained = bool(getattr(field, "db_constraint", True))  # not in the stubs
            found.append((model._meta.db_table, field.column, target._meta.db_table, constrained))
    return sorted(found)


def foreign_keys_to_public(schema_name: str) -> list[tuple[str, str, str]]:
    """(table, constraint, referenced public table) for each foreign key leaving the schema."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT src.relname, con.conname, dst.relname
            FROM pg_constraint con
            JOIN pg_class src ON src.oid = con.conrelid
            JOIN pg_namespace src_ns ON src_ns.oid = src.relnamespace
            JOIN pg_class dst ON dst.oid = con.confrelid
            JOIN pg_namespace dst_ns ON dst_ns.oid = dst.relnamespace
            WHERE con.contype = 'f' AND src_ns.nspname = %s AND dst_ns.nspname <> %s
            ORDER BY 1, 2
            """,
            [schema_name, schema_name],
        )
        return [tuple(row) for row in cursor.fetchall()]


def drop_keys_into_public(*tables: str) -> migrations.RunPython:
    """A migration operation that drops the foreign keys from ``tables`` of the current schema
    into other schemas (ADR 0090), each in its own short transaction.

    Dropping a key locks the referenced table (``tenants_user``) exclusively and rebuilds its
    trigger list, so one transaction per key keeps every sign-in's wait to one drop instead of
    a whole migration. The migration using it is ``atomic = False``; a run interrupted half-way
    finds only the keys that are left the next time."""
    names = sorted(tables)

    def forward(apps: Any, schema_editor: BaseDatabaseSchemaEditor) -> None:
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(
                """
                SELECT src.relname, con.conname
                FROM pg_constraint con
                JOIN pg_class src ON src.oid = con.conrelid
                JOIN pg_class dst ON dst.oid = con.confrelid
                WHERE con.contype = 'f'
                  AND src.relnamespace = current_schema()::regnamespace
                  AND dst.relnamespace <> src.relnamespace
                  AND src.relname = ANY(%s)
                ORDER BY 1, 2
                """,
                [names],
            )
            quote = schema_editor.quote_name
            for table, name in cursor.fetchall():
                cursor.execute(
                    f"ALTER TABLE {quote(table)} DROP CONSTRAINT IF EXISTS {quote(name)}"
                )

    # Going back leaves the keys out: the application never needed them.
    return migrations.RunPython(forward, migrations.RunPython.noop, elidable=False)


def extensions_used() -> list[str]:
    """Extensions the database has (Citus must have them on every node)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT extname FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY 1")
        return [row[0] for row in cursor.fetchall()]
