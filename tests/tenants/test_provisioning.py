"""Provisioning guarantees: a workspace claimed from the spare pool is indistinguishable from a
freshly migrated one, signup really takes the spare, two signups racing for one address leave
exactly one workspace and nothing of the loser, and deleting a workspace removes all of it."""

from __future__ import annotations

import itertools
import secrets
import threading
from collections.abc import Callable
from contextlib import nullcontext
from io import StringIO
from typing import Any

import pytest
from allauth.account.models import EmailAddress
from django.core.management import CommandError, call_command
from django.db import connection

from crm_platform.errors import ServiceError
from crm_platform.schema_migration_worker import pending_schemas
from tenants import services
from tenants.models import Domain, Invitation, Membership, Tenant, User
from tenants.roles import Role
from tenants.services import provisioning
from tests.conftest import Workspace, World
from tests.factories import PASSWORD, MembershipFactory, UserFactory

SCHEMA_PLACEHOLDER = "<schema>"

# Catalogue queries describing everything a migration can create in a schema. Rows are ordered
# so that two schemas compare as plain lists.
SHAPE_QUERIES = {
    "tables": """
        SELECT table_name, table_type FROM information_schema.tables
        WHERE table_schema = %s ORDER BY table_name
    """,
    # In column order, without the position itself: a migrated schema counts the columns that
    # migrations dropped (django_content_type.name), a copy does not.
    "columns": """
        SELECT table_name, column_name, data_type, udt_name,
               character_maximum_length, numeric_precision, numeric_scale, is_nullable,
               column_default, is_identity, identity_generation
        FROM information_schema.columns
        WHERE table_schema = %s ORDER BY table_name, ordinal_position
    """,
    # Index columns, kind, uniqueness and whether it is partial, not the printed definition:
    # pg_dump prints a predicate's casts differently from the migration that made it.
    "indexes": """
        SELECT t.relname, i.relname, am.amname, ix.indisunique, ix.indpred IS NOT NULL,
               (SELECT array_agg(a.attname ORDER BY k.ord)
                FROM unnest(ix.indkey) WITH ORDINALITY AS k(attnum, ord)
                JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum)
        FROM pg_index ix
        JOIN pg_class i ON i.oid = ix.indexrelid
        JOIN pg_class t ON t.oid = ix.indrelid
        JOIN pg_am am ON am.oid = i.relam
        JOIN pg_namespace ns ON ns.oid = t.relnamespace
        WHERE ns.nspname = %s ORDER BY t.relname, i.relname
    """,
    "constraints": """
        SELECT rel.relname, con.conname, con.contype, pg_get_constraintdef(con.oid)
        FROM pg_constraint con
        JOIN pg_class rel ON rel.oid = con.conrelid
        JOIN pg_namespace ns ON ns.oid = con.connamespace
        WHERE ns.nspname = %s ORDER BY rel.relname, con.conname
    """,
    # pg_sequence, not information_schema.sequences, which leaves out identity sequences.
    "sequences": """
        SELECT rel.relname, seq.seqtypid::regtype::text, seq.seqstart, seq.seqmin, seq.seqmax,
               seq.seqincrement, seq.seqcache, seq.seqcycle
        FROM pg_sequence seq
        JOIN pg_class rel ON rel.oid = seq.seqrelid
        JOIN pg_namespace ns ON ns.oid = rel.relnamespace
        WHERE ns.nspname = %s ORDER BY rel.relname
    """,
}


def _normalise(value: Any, schema: str) -> Any:
    if isinstance(value, str):
        return value.replace(schema, SCHEMA_PLACEHOLDER)
    return value


def _schema_shape(schema: str, other: Any = None) -> dict[str, list[tuple[Any, ...]]]:
    """The schema's catalogue, read on the test's connection or on ``other`` (a cursor)."""
    shape: dict[str, list[tuple[Any, ...]]] = {}
    with nullcontext(other) if other is not None else connection.cursor() as cursor:
        for part, query in SHAPE_QUERIES.items():
            cursor.execute(query, [schema])
            shape[part] = [
                tuple(_normalise(value, schema) for value in row) for row in cursor.fetchall()
            ]
        cursor.execute(
            f"SELECT app, name FROM {connection.ops.quote_name(schema)}.django_migrations "  # noqa: S608
            "ORDER BY app, name"
        )
        shape["migrations"] = [tuple(row) for row in cursor.fetchall()]
    return shape


def _schemas() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'ws\\_%'")
        return {row[0] for row in cursor.fetchall()}


def _spare_pks() -> set[int]:
    return set(Tenant.objects.filter(state=Tenant.State.SPARE).values_list("pk", flat=True))


# --- the pool gives the same schema as a migration ----------------------------------------


def test_claimed_spare_schema_is_identical_to_a_freshly_migrated_one(
    world: World, empty_spare_pool: None
) -> None:
    assert services.spare_pool_replenish(target=1) == 1
    (spare_pk,) = _spare_pks()
    spare_schema = Tenant.objects.get(pk=spare_pk).schema_name

    owner: User = UserFactory.create()
    tenant = services.workspace_create(owner=owner, company_name="Pool Ltd", slug="pool-ltd")
    assert (tenant.pk, tenant.schema_name) == (spare_pk, spare_schema)

    fresh = Tenant(schema_name=f"ws_fresh{secrets.token_hex(6)}", state=Tenant.State.SPARE)
    fresh.save(verbosity=0)

    claimed_shape = _schema_shape(tenant.schema_name)
    fresh_shape = _schema_shape(fresh.schema_name)
    # The comparison is not vacuous: the tenant apps' tables and migrations are there.
    assert ("audit_auditevent", "BASE TABLE") in fresh_shape["tables"]
    assert ("django_content_type", "BASE TABLE") in fresh_shape["tables"]
    assert ("audit", "0001_initial") in fresh_shape["migrations"]
    assert fresh_shape["indexes"]
    assert fresh_shape["constraints"]
    assert fresh_shape["sequences"]
    for part in (*SHAPE_QUERIES, "migrations"):
        assert claimed_shape[part] == fresh_shape[part], part


def _row_counts(cursor: Any, schema: str) -> dict[str, int]:
    cursor.execute(
        "SELECT table_name FROM information_schema.tables"
        " WHERE table_schema = %s AND table_type = 'BASE TABLE'",
        [schema],
    )
    counts = {}
    for (table,) in cursor.fetchall():
        quoted = f"{connection.ops.quote_name(schema)}.{connection.ops.quote_name(table)}"
        cursor.execute(f"SELECT count(*) FROM {quoted}")  # noqa: S608
        counts[table] = cursor.fetchone()[0]
    return counts


def test_a_spare_copied_from_a_pristine_spare_is_identical_to_it(
    committed_spare: Tenant, db: None
) -> None:
    import psycopg

    template = committed_spare
    copy = services.spare_workspace_create(copy_of=template)
    # psql committed the copy outside the test's transaction. It is read, and dropped, from a
    # connection of its own: a table read inside the test's transaction would keep a lock on
    # it that the drop would wait for.
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as other:
        try:
            assert copy.schema_name != template.schema_name
            assert copy.state == Tenant.State.SPARE
            cursor = other.cursor()
            copied = _schema_shape(copy.schema_name, cursor)
            original = _schema_shape(template.schema_name, cursor)
            assert ("audit_auditevent", "BASE TABLE") in copied["tables"]
            for part in (*SHAPE_QUERIES, "migrations"):
                assert copied[part] == original[part], part
            # Rows written by migrations (content types, defaults) come along too.
            counts = _row_counts(cursor, copy.schema_name)
            assert counts == _row_counts(cursor, template.schema_name)
            assert sum(counts.values()) > 0
        finally:
            quoted = connection.ops.quote_name(copy.schema_name)
            other.execute(f"DROP SCHEMA IF EXISTS {quoted} CASCADE")


def test_a_copy_that_cannot_be_made_falls_back_to_migrating(
    world: World, empty_spare_pool: None
) -> None:
    # The template's schema does not exist for pg_dump (it was never committed).
    ghost = Tenant(schema_name=f"ws_ghost{secrets.token_hex(6)}", state=Tenant.State.SPARE)
    spare = services.spare_workspace_create(copy_of=ghost)
    shape = _schema_shape(spare.schema_name)
    assert ("audit", "0001_initial") in shape["migrations"]
    assert ("audit_auditevent", "BASE TABLE") in shape["tables"]


def test_signup_claims_the_oldest_spare_and_creates_no_schema(
    committed_spare: Tenant, db: None
) -> None:
    # The run's committed pool (ready spares, not migrated here): at least two.
    oldest, newest, *others = Tenant.objects.filter(state=Tenant.State.SPARE).order_by(
        "created_at", "pk"
    )
    assert oldest.pk == committed_spare.pk
    schemas_before = _schemas()

    result = services.workspace_signup(
        company_name="Spare Co",
        slug="spare-co",
        full_name="Sam Spare",
        email="sam@spare.example.com",
        password=PASSWORD,
    )

    assert result.tenant.pk == oldest.pk
    assert result.tenant.schema_name == oldest.schema_name
    assert _schemas() == schemas_before
    assert _spare_pks() == {newest.pk, *(spare.pk for spare in others)}
    claimed = Tenant.objects.get(pk=oldest.pk)
    assert (claimed.state, claimed.slug, claimed.name) == (
        Tenant.State.ACTIVE,
        "spare-co",
        "Spare Co",
    )


def test_signup_with_an_empty_pool_migrates_a_new_schema(
    world: World, empty_spare_pool: None
) -> None:
    assert _spare_pks() == set()
    schemas_before = _schemas()

    result = services.workspace_signup(
        company_name="Empty Pool",
        slug="empty-pool",
        full_name="Eve Empty",
        email="eve@empty.example.com",
        password=PASSWORD,
    )

    assert _schemas() == schemas_before | {result.tenant.schema_name}
    assert result.tenant.state == Tenant.State.ACTIVE


def _leave_behind(spare: Tenant) -> tuple[str, str]:
    """Make ``spare`` look like a spare the previous version made: its newest migration is
    not recorded (rolled back with the test)."""
    table = f'"{spare.schema_name}".django_migrations'
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {table} WHERE id = (SELECT max(id) FROM {table})"  # noqa: S608
            " RETURNING app, name"
        )
        app, name = cursor.fetchone()
    return str(app), str(name)


def test_signup_passes_over_a_spare_the_previous_version_made(
    committed_spare: Tenant, db: None
) -> None:
    # During a rollout the old beat may top the pool up with its own migrations; this version
    # must not hand that schema to a customer before migrate_all's catch-up pass.
    oldest, newest, *_ = Tenant.objects.filter(state=Tenant.State.SPARE).order_by(
        "created_at", "pk"
    )
    assert oldest.pk == committed_spare.pk
    missing = _leave_behind(oldest)
    schemas_before = _schemas()

    result = services.workspace_signup(
        company_name="Rollout Co",
        slug="rollout-co",
        full_name="Rae Rollout",
        email="rae@rollout.example.com",
        password=PASSWORD,
    )

    assert result.tenant.pk == newest.pk
    assert _schemas() == schemas_before
    assert Tenant.objects.get(pk=oldest.pk).state == Tenant.State.SPARE
    with connection.cursor() as cursor:
        table = f'"{result.tenant.schema_name}".django_migrations'
        cursor.execute(
            f"SELECT count(*) FROM {table} WHERE app = %s AND name = %s",  # noqa: S608
            list(missing),
        )
        assert cursor.fetchone() == (1,)


def test_the_top_up_copies_a_spare_with_this_versions_migrations(
    committed_spare: Tenant, db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A spare the previous version made would give a copy just as far behind.
    oldest, newest, *_ = Tenant.objects.filter(state=Tenant.State.SPARE).order_by(
        "created_at", "pk"
    )
    assert oldest.pk == committed_spare.pk
    _leave_behind(oldest)
    copied: list[Tenant | None] = []

    def record_copy(*, copy_of: Tenant | None = None) -> Tenant:
        copied.append(copy_of)
        spare = Tenant(schema_name=f"ws_{secrets.token_hex(8)}", state=Tenant.State.SPARE)
        spare.auto_create_schema = False  # the copy itself is tested above
        spare.save()
        return spare

    monkeypatch.setattr(provisioning, "spare_workspace_create", record_copy)
    count = Tenant.objects.filter(state=Tenant.State.SPARE).count()

    assert services.spare_pool_replenish(target=count + 1) == 1
    assert [template.pk if template else None for template in copied] == [newest.pk]


def test_signup_migrates_a_new_schema_when_every_spare_is_behind(
    world: World, db: None, caplog: pytest.LogCaptureFixture
) -> None:
    spares = list(Tenant.objects.filter(state=Tenant.State.SPARE))
    assert spares
    for spare in spares:
        _leave_behind(spare)
    schemas_before = _schemas()

    result = services.workspace_signup(
        company_name="All Behind",
        slug="all-behind",
        full_name="Al Behind",
        email="al@behind.example.com",
        password=PASSWORD,
    )

    assert _schemas() == schemas_before | {result.tenant.schema_name}
    assert result.tenant.pk not in {spare.pk for spare in spares}
    assert _spare_pks() == {spare.pk for spare in spares}
    assert "No free spare workspace has this version's migrations" in caplog.text


def test_the_test_run_signs_up_from_its_pool_of_spares(world: World, db: None) -> None:
    # The suite stays fast because signups in tests claim one of these instead of migrating.
    # (Browser and race tests commit their signups; a top-up keeps this test independent.)
    services.spare_pool_replenish(target=1)
    spares = _spare_pks()
    assert len(spares) >= 1
    schemas_before = _schemas()

    result = services.workspace_signup(
        company_name="Pooled",
        slug="pooled",
        full_name="Pat Pool",
        email="pat@pooled.example.com",
        password=PASSWORD,
    )

    assert result.tenant.pk in spares
    assert _schemas() == schemas_before


# --- race ---------------------------------------------------------------------------------


def _signups_at_once(
    addresses: list[tuple[str, str]], *, company_name: str, full_name: str
) -> dict[str, services.SignupResult | Exception]:
    """One committed signup per (slug, email), each on its own thread and connection, started
    together; the result or the exception of each, by email."""
    outcomes: dict[str, services.SignupResult | Exception] = {}

    def sign_up(slug: str, email: str) -> None:
        try:
            outcomes[email] = services.workspace_signup(
                company_name=company_name,
                slug=slug,
                full_name=full_name,
                email=email,
                password=PASSWORD,
            )
        except Exception as exc:  # recorded and asserted on by the caller
            outcomes[email] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=sign_up, args=pair) for pair in addresses]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_simultaneous_signups_for_one_address_leave_one_workspace(
    world: World, django_db_blocker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    slug = f"race-{secrets.token_hex(3)}"
    emails = [f"racer{n}-{secrets.token_hex(3)}@example.com" for n in range(2)]
    # Both signups pass the early "address free?" check before either writes, so the database
    # constraint, not the check, has to decide between them.
    both_checked = threading.Barrier(2, timeout=30)
    check_slug_free: Callable[[str], None] = services.check_slug_free

    def check_then_wait(candidate: str) -> None:
        check_slug_free(candidate)
        both_checked.wait()

    monkeypatch.setattr(provisioning, "check_slug_free", check_then_wait)

    with django_db_blocker.unblock():
        spares_before = _spare_pks()
        services.spare_pool_replenish(target=len(spares_before) + 2)
        spares = _spare_pks()
        schemas_before = _schemas()
        try:
            outcomes = _signups_at_once(
                [(slug, email) for email in emails], company_name="Race Ltd", full_name="Rae Racer"
            )

            winners = [o for o in outcomes.values() if isinstance(o, services.SignupResult)]
            losers = {e: o for e, o in outcomes.items() if not isinstance(o, services.SignupResult)}
            assert len(winners) == 1, outcomes
            assert len(losers) == 1, outcomes
            (winner,) = winners
            ((loser_email, error),) = losers.items()
            assert isinstance(error, ServiceError)
            assert (error.field, error.code) == ("slug", "taken")

            assert list(Tenant.objects.filter(slug=slug).values_list("pk", flat=True)) == [
                winner.tenant.pk
            ]
            assert list(
                Domain.objects.filter(domain=f"{slug}.localhost").values_list(
                    "tenant_id", flat=True
                )
            ) == [winner.tenant.pk]
            assert not User.objects.filter(email=loser_email).exists()
            assert not EmailAddress.objects.filter(email=loser_email).exists()
            assert not Membership.objects.filter(user__email=loser_email).exists()
            assert list(
                Membership.objects.filter(tenant=winner.tenant).values_list("user__email", "role")
            ) == [(winner.user.email, Role.OWNER)]
            # Both took a spare; the loser's went back to the pool untouched.
            assert winner.tenant.pk in spares
            assert _spare_pks() == spares - {winner.tenant.pk}
            assert _schemas() == schemas_before
            assert not Tenant.objects.filter(pk__in=spares - {winner.tenant.pk}).exclude(
                slug=None, name="", state=Tenant.State.SPARE
            )
        finally:
            for tenant in Tenant.objects.filter(slug=slug) | Tenant.objects.filter(
                pk__in=_spare_pks() - spares_before
            ):
                services.workspace_delete(tenant=tenant, actor=None)
            User.objects.filter(email__in=emails).delete()
            connection.set_schema_to_public()  # type: ignore[attr-defined]


@pytest.mark.parametrize("candidates", [1, 5])
def test_simultaneous_signups_for_two_addresses_each_get_a_workspace(
    candidates: int, world: World, django_db_blocker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both signups read the same oldest spares before either locks one. With five candidates
    each takes a different spare; with one (a pool down to its last spare) one takes it and
    the other migrates a new schema, instead of waiting for or sharing the taken one."""
    slugs = [f"pair{n}-{secrets.token_hex(3)}" for n in range(2)]
    emails = [f"{slug}@example.com" for slug in slugs]
    both_read = threading.Barrier(2, timeout=30)
    calls = itertools.count()
    pending: Callable[..., dict[str, int]] = pending_schemas

    def read_then_wait(*args: Any, **kwargs: Any) -> dict[str, int]:
        behind = pending(*args, **kwargs)
        if next(calls) < 2:  # the two claims; a pool top-up after a signup reads too
            both_read.wait()
        return behind

    with django_db_blocker.unblock():
        spares_before = _spare_pks()
        services.spare_pool_replenish(target=len(spares_before) + 2)
        monkeypatch.setattr(provisioning, "pending_schemas", read_then_wait)
        monkeypatch.setattr(provisioning, "CLAIM_CANDIDATES", candidates)
        spares = _spare_pks()
        oldest = list(
            Tenant.objects.filter(pk__in=spares)
            .order_by("created_at", "pk")
            .values_list("pk", flat=True)[:candidates]
        )
        schemas_before = _schemas()
        try:
            outcomes = _signups_at_once(
                list(zip(slugs, emails, strict=True)), company_name="Pair Ltd", full_name="Pat Pair"
            )

            assert all(isinstance(o, services.SignupResult) for o in outcomes.values()), outcomes
            results = [outcomes[email] for email in emails]
            tenants = [Tenant.objects.get(slug=slug) for slug in slugs]
            assert len({tenant.pk for tenant in tenants}) == 2
            assert len({tenant.schema_name for tenant in tenants}) == 2
            for slug, email, tenant, result in zip(slugs, emails, tenants, results, strict=True):
                assert isinstance(result, services.SignupResult)
                assert result.tenant.pk == tenant.pk
                assert tenant.state == Tenant.State.ACTIVE
                assert list(
                    Membership.objects.filter(tenant=tenant).values_list("user__email", "role")
                ) == [(email, Role.OWNER)]
                assert list(tenant.domains.values_list("domain", flat=True)) == [
                    f"{slug}.localhost"
                ]
            claimed = {tenant.pk for tenant in tenants} & spares
            created = {tenant.schema_name for tenant in tenants} - schemas_before
            if candidates == 1:
                # The last spare went to one of them; the other got a schema of its own.
                assert claimed == {oldest[0]}
                assert len(created) == 1
            else:
                assert claimed <= set(oldest)
                assert len(claimed) == 2
                assert created == set()
            assert _spare_pks() == spares - claimed
        finally:
            for tenant in Tenant.objects.filter(slug__in=slugs) | Tenant.objects.filter(
                pk__in=_spare_pks() - spares_before
            ):
                services.workspace_delete(tenant=tenant, actor=None)
            User.objects.filter(email__in=emails).delete()
            connection.set_schema_to_public()  # type: ignore[attr-defined]


# --- deletion -----------------------------------------------------------------------------


def _doomed_workspace(slug: str) -> Tenant:
    owner: User = UserFactory.create()
    tenant = services.workspace_create(owner=owner, company_name="Doomed Ltd", slug=slug)
    owner_seat = Membership.objects.get(tenant=tenant, user=owner)
    MembershipFactory.create(tenant=tenant, role=Role.SALES_REP)
    services.invitation_create(
        actor=owner_seat, email=f"invitee@{slug}.example.com", role=Role.MANAGER
    )
    assert Membership.objects.filter(tenant=tenant).count() == 2
    assert Invitation.objects.filter(tenant=tenant).count() == 1
    assert Domain.objects.filter(tenant=tenant).count() == 1
    assert tenant.schema_name in _schemas()
    return tenant


def _assert_gone(tenant: Tenant, alpha: Workspace) -> None:
    assert tenant.schema_name not in _schemas()
    assert not Tenant.objects.filter(pk=tenant.pk).exists()
    assert not Domain.objects.filter(tenant_id=tenant.pk).exists()
    assert not Domain.objects.filter(domain=f"{tenant.slug}.localhost").exists()
    assert not Membership.objects.filter(tenant_id=tenant.pk).exists()
    assert not Invitation.objects.filter(tenant_id=tenant.pk).exists()
    # Other workspaces are untouched.
    assert alpha.tenant.schema_name in _schemas()
    assert Membership.objects.filter(tenant=alpha.tenant).count() == len(alpha.members)


def test_workspace_delete_drops_schema_and_platform_rows(alpha: Workspace) -> None:
    tenant = _doomed_workspace("doomed")
    owner_pk = Membership.objects.get(tenant=tenant, role=Role.OWNER).user_id

    services.workspace_delete(tenant=tenant, actor=None)

    _assert_gone(tenant, alpha)
    # Accounts are global (D4): the people keep their logins.
    assert User.objects.filter(pk=owner_pk).exists()


def test_workspace_delete_refuses_the_public_schema(alpha: Workspace) -> None:
    public = Tenant(schema_name="public")
    with pytest.raises(ServiceError) as raised:
        services.workspace_delete(tenant=public, actor=None)
    assert raised.value.code == "public"
    assert "public" in {row[0] for row in _namespaces()}


def _namespaces() -> list[tuple[str]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace")
        return list(cursor.fetchall())


def test_delete_workspace_command_removes_everything(alpha: Workspace) -> None:
    tenant = _doomed_workspace("doomed-cmd")
    out = StringIO()

    call_command("delete_workspace", "doomed-cmd", "--yes", stdout=out)

    assert out.getvalue() == f"Deleted workspace doomed-cmd ({tenant.schema_name}).\n"
    _assert_gone(tenant, alpha)


def test_delete_workspace_command_refuses_an_unknown_address(alpha: Workspace) -> None:
    tenants_before = set(Tenant.objects.values_list("pk", flat=True))
    schemas_before = _schemas()

    with pytest.raises(CommandError, match="No workspace with the address 'no-such-place'"):
        call_command("delete_workspace", "no-such-place", "--yes")

    assert set(Tenant.objects.values_list("pk", flat=True)) == tenants_before
    assert _schemas() == schemas_before


def test_delete_workspace_command_without_confirmation_deletes_nothing(
    alpha: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = _doomed_workspace("doomed-ask")
    monkeypatch.setattr("builtins.input", lambda prompt: "alpha")

    with pytest.raises(CommandError, match="Not confirmed; nothing was deleted"):
        call_command("delete_workspace", "doomed-ask")

    assert tenant.schema_name in _schemas()
    assert Tenant.objects.filter(pk=tenant.pk, slug="doomed-ask").exists()
    assert Membership.objects.filter(tenant=tenant).count() == 2
