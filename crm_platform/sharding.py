"""What must hold for Citus schema-based sharding (DESIGN D15, ADR 0007).

With ``citus.enable_schema_based_sharding`` every workspace schema becomes a distributed schema:
its tables live together on one worker node. A workspace table may reference tables of its
own schema and Citus *reference tables* (copied to every node), nothing else. The public
tables a workspace table may point at are listed here; the operator makes exactly these
reference tables (docs/scaling.md), and the test suite fails when a foreign key points at a
public table that is not listed.
"""

from __future__ import annotations

from django.db import connection

# Small, read-mostly platform tables that workspace rows may reference.
CITUS_REFERENCE_TABLES: frozenset[str] = frozenset({"tenants_user", "tenants_tenant"})


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


def extensions_used() -> list[str]:
    """Extensions the database has (Citus must have them on every node)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT extname FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY 1")
        return [row[0] for row in cursor.fetchall()]
