"""Checks for the Citus path that can run on plain PostgreSQL (ADR 0007)."""

from __future__ import annotations

from django.db import connection

from crm_platform.sharding import (
    CITUS_REFERENCE_TABLES,
    WORKSPACE_TRIGGERS,
    foreign_keys_to_public,
    workspace_triggers,
)
from tenants.models import Tenant


def test_workspace_foreign_keys_point_only_at_reference_tables(alpha, bravo):
    for tenant in (alpha.tenant, bravo.tenant):
        leaving = foreign_keys_to_public(tenant.schema_name)
        assert [fk for fk in leaving if fk[2] not in CITUS_REFERENCE_TABLES] == []


def test_the_check_sees_a_foreign_key_into_public(alpha):
    # A table that would break sharding: it references a public table that is not listed.
    with connection.cursor() as cursor:
        cursor.execute(
            f'CREATE TABLE "{alpha.tenant.schema_name}".bad_link'
            " (id bigint PRIMARY KEY, domain_id bigint REFERENCES public.tenants_domain (id))"
        )
    leaving = foreign_keys_to_public(alpha.tenant.schema_name)
    assert ("bad_link", "bad_link_domain_id_fkey", "tenants_domain") in leaving
    assert "tenants_domain" not in CITUS_REFERENCE_TABLES


def test_reference_tables_exist_in_public(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename = ANY(%s)",
            [sorted(CITUS_REFERENCE_TABLES)],
        )
        assert {row[0] for row in cursor.fetchall()} == CITUS_REFERENCE_TABLES


def test_workspace_schemas_hold_no_sequence_shared_with_another(alpha, bravo):
    # Each distributed schema moves to a node whole: its sequences must be its own.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT n.nspname FROM pg_depend d"
            " JOIN pg_class seq ON seq.oid = d.objid AND seq.relkind = 'S'"
            " JOIN pg_class tbl ON tbl.oid = d.refobjid"
            " JOIN pg_namespace n ON n.oid = tbl.relnamespace"
            " JOIN pg_namespace sn ON sn.oid = seq.relnamespace"
            " WHERE n.nspname <> sn.nspname"
        )
        assert cursor.fetchall() == []
    assert Tenant.objects.filter(pk__in=[alpha.tenant.pk, bravo.tenant.pk]).count() == 2


def test_workspace_triggers_are_the_listed_ones_with_their_functions_in_the_schema(alpha, bravo):
    # The Citus rehearsal writes through each listed trigger; an unlisted one would be missed.
    # Each function lives in the workspace's own schema, so it moves to the schema's node with
    # its tables (a function in public would be one object shared by every workspace).
    for tenant in (alpha.tenant, bravo.tenant):
        found = workspace_triggers(tenant.schema_name)
        assert {(table, name, level) for table, name, level, _ in found} == WORKSPACE_TRIGGERS
        assert {schema for *_, schema in found} == {tenant.schema_name}


def test_the_trigger_check_sees_a_new_trigger(alpha):
    schema = alpha.tenant.schema_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE FUNCTION public.rapport_probe() RETURNS trigger LANGUAGE plpgsql"
            f" AS $$ BEGIN RETURN NULL; END $$;"
            f' CREATE TRIGGER probe_insert AFTER INSERT ON "{schema}".sales_task'
            f" FOR EACH STATEMENT EXECUTE FUNCTION public.rapport_probe()"
        )
    assert ("sales_task", "probe_insert", "statement", "public") in workspace_triggers(schema)
