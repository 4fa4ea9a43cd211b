"""Checks for the Citus path that can run on plain PostgreSQL (ADR 0007)."""

from __future__ import annotations

from django.db import connection
from django.db.migrations.state import ProjectState
from django_tenants.utils import schema_context

from crm_platform.sharding import (
    CITUS_REFERENCE_TABLES,
    WORKSPACE_TRIGGERS,
    drop_keys_into_public,
    foreign_keys_to_public,
    workspace_relations_to_public,
    workspace_triggers,
)
from tenants.models import Tenant


def test_no_workspace_table_has_a_foreign_key_into_public(alpha, bravo):
    # Each such key would put two more triggers on the public table for every workspace.
    for tenant in (alpha.tenant, bravo.tenant):
        assert foreign_keys_to_public(tenant.schema_name) == []
    with connection.cursor() as cursor:
        # The triggers on the user table are those of the platform's own keys, whatever the
        # number of workspaces.
        cursor.execute(
            "SELECT DISTINCT n.nspname FROM pg_trigger t"
            " JOIN pg_constraint c ON c.oid = t.tgconstraint"
            " JOIN pg_class r ON r.oid = c.conrelid"
            " JOIN pg_namespace n ON n.oid = r.relnamespace"
            " WHERE t.tgrelid = 'public.tenants_user'::regclass"
        )
        assert [row[0] for row in cursor.fetchall()] == ["public"]


def test_the_check_sees_a_foreign_key_into_public(alpha):
    with connection.cursor() as cursor:
        cursor.execute(
            f'CREATE TABLE "{alpha.tenant.schema_name}".bad_link'
            " (id bigint PRIMARY KEY, user_id bigint REFERENCES public.tenants_user (id))"
        )
    leaving = foreign_keys_to_public(alpha.tenant.schema_name)
    assert leaving == [("bad_link", "bad_link_user_id_fkey", "tenants_user")]


def test_workspace_models_relate_only_to_reference_tables_without_constraints():
    relations = workspace_relations_to_public()
    # Owners, authors, assignees and teams: the platform rows the ORM joins for names. The
    # reference tables are exactly these (one more would be copied to every node for nothing).
    assert {target for _, _, target, _ in relations} == CITUS_REFERENCE_TABLES
    assert ("sales_deal", "owner_id", "tenants_user", False) in relations
    assert ("service_ticket", "team_id", "tenants_team", False) in relations
    assert [r for r in relations if r[3]] == []


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


def test_the_migration_step_drops_the_keys_into_public_of_its_tables_only(alpha):
    schema = alpha.tenant.schema_name
    with connection.cursor() as cursor:
        for table in ("old_link", "other_link"):
            cursor.execute(
                f'CREATE TABLE "{schema}".{table} (id bigint PRIMARY KEY,'
                " user_id bigint REFERENCES public.tenants_user (id),"
                f' parent_id bigint REFERENCES "{schema}".sales_contact (id))'
            )
    step = drop_keys_into_public("old_link")
    state_apps = ProjectState().apps  # the step reads no model
    with schema_context(schema), connection.schema_editor() as editor:
        step.code(state_apps, editor)
        step.code(state_apps, editor)  # a rerun finds nothing left to drop
    # The key into public is gone; the key within the workspace and the other table's stay.
    assert foreign_keys_to_public(schema) == [
        ("other_link", "other_link_user_id_fkey", "tenants_user")
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname FROM pg_constraint WHERE contype = 'f' AND conrelid = %s::regclass",
            [f'"{schema}".old_link'],
        )
        assert [row[0] for row in cursor.fetchall()] == ["old_link_parent_id_fkey"]
