"""What every isolation matrix shares: the visitors, and the proof that a refused request
changed nothing."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pytest
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone

from tenants.models import Membership, UserSession
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.ops.conftest import s3_endpoint

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse

__all__ = ["s3_endpoint"]

OUTSIDER = "bravo-owner-on-alpha"
BRAVO_AT_HOME = "bravo-owner-on-bravo"
# The visitor whose membership a test deactivates before asking.
DEACTIVATED_ROLE = Role.SUPPORT_AGENT


_BUCKETS: set[str] = set()


@pytest.fixture(autouse=True)
def _documents_can_be_signed(
    s3_endpoint: str, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Documents live in a real S3 API (moto): presigned URLs are computed locally, and an
    upload's completion finds the bytes a test put there. The bucket is made once a run."""
    from crm_platform import s3

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    settings.AWS_S3_ENDPOINT_URL = s3_endpoint
    settings.AWS_S3_REGION_NAME = "us-east-1"
    settings.AWS_STORAGE_BUCKET_NAME = "rapport-isolation"
    if s3_endpoint not in _BUCKETS:
        s3.bucket_ensure()
        _BUCKETS.add(s3_endpoint)


# --- visitors -------------------------------------------------------------------------------


@pytest.fixture
def visit(alpha: Workspace, bravo: Workspace) -> Callable[[str | None, str], Client]:
    """A browser for a visitor (None: anonymous) on a host. Sessions are made inside the test's
    transaction, so no other test ever sees them; one browser per visitor within a test."""
    visitors = {role: (alpha.members[role].user, alpha.tenant) for role in Role.values}
    visitors[OUTSIDER] = (bravo.owner.user, alpha.tenant)
    visitors[BRAVO_AT_HOME] = (bravo.owner.user, bravo.tenant)
    browsers: dict[str | None, Client] = {}

    def make(who: str | None, host: str) -> Client:
        if who not in browsers:
            if who is None:
                browsers[who] = Client(HTTP_HOST=host)
            else:
                user, tenant = visitors[who]
                browsers[who] = workspace_client(user, tenant)
        browser = browsers[who]
        assert browser.defaults["HTTP_HOST"] == host
        return browser

    return make


def request(client: Client, method: str, path: str, body: Any = None) -> TestResponse:
    """A page request (form-encoded) or, with ``body``, a JSON request."""
    if body is not None:
        response: TestResponse = client.generic(
            method, path, data=json.dumps(body), content_type="application/json"
        )
    else:
        response = client.get(path) if method == "GET" else client.post(path)
    return response


# --- state that a refused request must leave alone ------------------------------------------

# Session rows and the last-seen stamp are written for any signed-in visitor by design.
IGNORED_TABLES = {UserSession._meta.db_table}
IGNORED_COLUMNS = {(Membership._meta.db_table, "last_seen_at")}
# Tables a visit writes by design: their rows are compared without the ignored columns.
STAMPED_TABLES = sorted({table for table, _column in IGNORED_COLUMNS})


@functools.cache
def _columns(schema: str) -> dict[str, list[str]]:
    """The columns of every table in a schema (tables do not change during a run)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.table_name, c.column_name FROM information_schema.columns c "
            "JOIN information_schema.tables t USING (table_schema, table_name) "
            "WHERE c.table_schema = %s AND t.table_type = 'BASE TABLE' "
            "ORDER BY c.table_name, c.ordinal_position",
            [schema],
        )
        columns: dict[str, list[str]] = {}
        for table, column in cursor.fetchall():
            if table not in IGNORED_TABLES and (table, column) not in IGNORED_COLUMNS:
                columns.setdefault(table, []).append(column)
    return columns


DIGEST = "md5(coalesce(string_agg(r, '|' ORDER BY r), ''))"


def _digest(schema: str, table: str) -> str:
    quote = connection.ops.quote_name
    row = ", ".join(quote(column) for column in _columns(schema)[table])
    source = f"{quote(schema)}.{quote(table)}"
    # Identifiers come from the catalog, never from a request.
    return f"SELECT %s, {DIGEST} FROM (SELECT ROW({row})::text AS r FROM {source}) t"  # noqa: S608


def db_state(workspace: Workspace) -> dict[str, str]:
    """A digest of every row of every table in the public schema and the workspace's schema,
    in one round trip."""
    selects, labels = [], []
    for schema in ("public", workspace.tenant.schema_name):
        for table in _columns(schema):
            labels.append(f"{schema}.{table}")
            selects.append(_digest(schema, table))
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(selects), labels)
        return dict(cursor.fetchall())


def write_counts(workspace: Workspace) -> dict[str, str]:
    """How many rows this transaction has inserted, updated and deleted so far in each table
    of the public schema and the workspace's (PostgreSQL keeps the counts per transaction,
    ``pg_stat_xact_user_tables``; the test client's requests run on the test's connection,
    inside its transaction), and a digest of the tables a visit stamps by design, without the
    stamp. Cheap whatever the tables hold; equal counts mean nothing was written at all."""
    selects = [
        "SELECT schemaname || '.' || relname,"
        " concat_ws(' ', n_tup_ins, n_tup_upd, n_tup_del) FROM pg_stat_xact_user_tables"
        " WHERE schemaname IN ('public', %s)"
        " AND NOT (schemaname = 'public' AND relname = ANY(%s))"
    ]
    params: list[Any] = [workspace.tenant.schema_name, sorted(IGNORED_TABLES.union(STAMPED_TABLES))]
    for table in STAMPED_TABLES:
        selects.append(_digest("public", table))
        params.append(f"public.{table}")
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(selects), params)
        return dict(cursor.fetchall())


@contextmanager
def unchanged(workspace: Workspace) -> Iterator[None]:
    """Prove the block left the public schema and the workspace's as they were.

    When the block wrote nothing (equal ``write_counts``), that is the proof. When it wrote
    something — perhaps undone within it, like an insert refused by a constraint and rolled
    back to its savepoint — the rows themselves decide: their digest after the block must
    equal their digest once the block is rolled back."""
    before = write_counts(workspace)
    savepoint = transaction.savepoint()
    yield
    if write_counts(workspace) == before:
        transaction.savepoint_commit(savepoint)
        return
    after = db_state(workspace)
    transaction.savepoint_rollback(savepoint)
    assert db_state(workspace) == after


@pytest.fixture
def assert_refused_without_effect(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> Callable[..., TestResponse]:
    """Make the request and prove it was answered ``status`` and changed nothing: no row, no
    audit event, no email or notification queued for after commit."""

    def check(
        client: Client, method: str, path: str, status: int, body: Any = None
    ) -> TestResponse:
        with unchanged(alpha), django_capture_on_commit_callbacks() as callbacks:
            response = request(client, method, path, body)
        assert response.status_code == status
        assert callbacks == []
        return response

    return check


def deactivate(membership: Membership) -> None:
    Membership.objects.filter(pk=membership.pk).update(
        status=Membership.Status.DEACTIVATED, deactivated_at=timezone.now()
    )


def templates(response: TestResponse) -> list[str]:
    return [template.name for template in getattr(response, "templates", [])]
