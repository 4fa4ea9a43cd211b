"""The table list of our database engine is exactly Django's, found without scanning the
tables of every workspace (crm_platform/postgresql_backend/introspection.py)."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.backends.postgresql.introspection import DatabaseIntrospection
from django_tenants.postgresql_backend.introspection import (
    DatabaseSchemaIntrospectionSearchPathContext,
)
from django_tenants.utils import schema_context

from crm_platform.postgresql_backend.introspection import SchemaTableIntrospection


def djangos_list() -> list[tuple[Any, ...]]:
    """Django's own query, on the search path django-tenants' introspection sets."""
    with (
        connection.cursor() as cursor,
        DatabaseSchemaIntrospectionSearchPathContext(cursor=cursor, connection=connection),
    ):
        listed = DatabaseIntrospection.get_table_list(connection.introspection, cursor)
        return sorted(tuple(info) for info in listed)


def ours() -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        return sorted(tuple(info) for info in connection.introspection.get_table_list(cursor))


def test_the_engine_uses_the_schema_table_list(db):
    assert isinstance(connection.introspection, SchemaTableIntrospection)


def test_a_workspace_lists_its_own_tables_and_every_kind_of_relation(alpha, bravo):
    schema = alpha.tenant.schema_name
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE VIEW "{schema}".probe_view AS SELECT 1 AS one')
        cursor.execute(f'CREATE MATERIALIZED VIEW "{schema}".probe_matview AS SELECT 1 AS one')
        cursor.execute(
            f'CREATE TABLE "{schema}".probe_parted (id int, at date) PARTITION BY RANGE (at)'
        )
        cursor.execute(
            f'CREATE TABLE "{schema}".probe_part PARTITION OF "{schema}".probe_parted'
            " FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')"
        )
        cursor.execute(f"COMMENT ON TABLE \"{schema}\".probe_part IS 'a comment'")
    with schema_context(schema):
        listed = ours()
        assert listed == djangos_list()
    names = {name for name, _, _ in listed}
    assert {"probe_view", "probe_matview", "probe_parted", "sales_contact"} <= names
    assert ("probe_part", "p", "a comment") in listed
    assert ("probe_view", "v", None) in listed
    # The other workspace's tables are not on this search path, nor the public ones.
    assert "tenants_tenant" not in names


def test_the_public_schema_lists_the_platform_tables(alpha):
    with schema_context("public"):
        listed = ours()
        assert listed == djangos_list()
    assert "tenants_tenant" in {name for name, _, _ in listed}
    assert "sales_contact" not in {name for name, _, _ in listed}
