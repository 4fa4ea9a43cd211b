"""Checks for the Citus path that can run on plain PostgreSQL (ADR 0007)."""

from __future__ import annotations

from django.db import connection

from crm_platform.sharding import CITUS_REFERENCE_TABLES, foreign_keys_to_public
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
