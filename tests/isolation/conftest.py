"""What every isolation matrix shares: the visitors, and the proof that a refused request
changed nothing."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from django.db import connection
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
COMPARED_TABLES = {table for table, _column in IGNORED_COLUMNS}


@functools.cache
def _columns(table: str) -> list[str]:
    """The columns of a public table but the ignored ones (tables do not change in a run)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = 'public' AND table_name = %s ORDER BY ordinal_position",
            [table],
        )
        return [c for (c,) in cursor.fetchall() if (table, c) not in IGNORED_COLUMNS]


DIGEST = "md5(coalesce(string_agg(r, '|' ORDER BY r), ''))"


def db_state(workspace: Workspace) -> dict[str, Any]:
    """What a refused request must leave as it was, in the public schema and the workspace's,
    in one round trip: for every table, how many rows this transaction has inserted, updated
    and deleted so far (PostgreSQL counts them per transaction, ``pg_stat_xact_user_tables``;
    the test client's requests run on the test's connection, inside its transaction), and,
    for a table a visit writes by design, a digest of its rows without the column it writes.

    Any write counts: one that leaves the row as it was, and one rolled back to a savepoint,
    too. Comparing counters instead of digesting every row of every table keeps this cheap
    whatever the tables hold."""
    quote = connection.ops.quote_name
    selects = [
        "SELECT schemaname || '.' || relname,"
        " concat_ws(' ', n_tup_ins, n_tup_upd, n_tup_del) FROM pg_stat_xact_user_tables"
        " WHERE schemaname IN ('public', %s)"
        " AND NOT (schemaname = 'public' AND relname = ANY(%s))"
    ]
    params: list[Any] = [
        workspace.tenant.schema_name,
        sorted(IGNORED_TABLES | COMPARED_TABLES),
    ]
    for table in sorted(COMPARED_TABLES):
        row = ", ".join(quote(column) for column in _columns(table))
        # Identifiers come from the catalog, never from a request.
        selects.append(
            f"SELECT %s, {DIGEST} FROM (SELECT ROW({row})::text AS r FROM {quote(table)}) t"  # noqa: S608
        )
        params.append(f"public.{table}")
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(selects), params)
        return dict(cursor.fetchall())


@pytest.fixture
def assert_refused_without_effect(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> Callable[..., TestResponse]:
    """Make the request and prove it was answered ``status`` and changed nothing: no row, no
    audit event, no email or notification queued for after commit."""

    def check(
        client: Client, method: str, path: str, status: int, body: Any = None
    ) -> TestResponse:
        before = db_state(alpha)
        with django_capture_on_commit_callbacks() as callbacks:
            response = request(client, method, path, body)
        assert response.status_code == status
        assert callbacks == []
        assert db_state(alpha) == before
        return response

    return check


def deactivate(membership: Membership) -> None:
    Membership.objects.filter(pk=membership.pk).update(
        status=Membership.Status.DEACTIVATED, deactivated_at=timezone.now()
    )


def templates(response: TestResponse) -> list[str]:
    return [template.name for template in getattr(response, "templates", [])]
