"""Every URL of a workspace host, asked by every kind of visitor.

The patterns are read from the tenant URLconf when the tests are collected, so a view added
later is covered without editing this file. A new view only has to declare its capability with
``tenants.access.requires``; a URL carrying a new kind of id needs a sample in ``SAMPLES``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.db import connection
from django.http import HttpResponse
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.utils import timezone
from django.utils.regex_helper import normalize

from tenants import capabilities
from tenants.capabilities import Capability
from tenants.handover import handover_token_mint
from tenants.models import Membership, UserSession
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.factories import InvitationFactory

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse

TENANT_URLCONF = "crm_platform.urls_tenant"

# Views that answer without a capability, and why that is safe.
OPEN = {
    "handover": "redeems the one-time token that starts a session; the view checks membership",
    "signout": "any signed-in member may end their own sessions",
}

# A value from workspace alpha for every URL kwarg; the matrix fails on a kwarg missing here.
SAMPLES: dict[str, Callable[[Workspace], object]] = {
    "member_id": lambda ws: ws.members[Role.SALES_REP].pk,
    "invitation_id": lambda ws: (
        InvitationFactory.create(tenant=ws.tenant, invited_by=ws.owner.user).pk
    ),
}

OUTSIDER = "bravo-owner-on-alpha"
BRAVO_AT_HOME = "bravo-owner-on-bravo"
# The visitor whose membership a test deactivates before asking.
DEACTIVATED_ROLE = Role.SUPPORT_AGENT
METHODS = ("GET", "POST")


@dataclass(frozen=True)
class Endpoint:
    route: str
    name: str | None
    callback: Callable[..., HttpResponse]
    path_format: str
    kwargs: tuple[str, ...]

    def __str__(self) -> str:
        return f"/{self.route}"


def _bare(regex: str) -> str:
    return regex.removeprefix("^").removesuffix(r"\Z").removesuffix("$")


def _walk(resolver: URLResolver, regex: str = "", route: str = "") -> Iterator[Endpoint]:
    for entry in resolver.url_patterns:
        full_regex = regex + _bare(entry.pattern.regex.pattern)
        full_route = route + _bare(str(entry.pattern))
        if isinstance(entry, URLResolver):
            yield from _walk(entry, full_regex, full_route)
            continue
        assert isinstance(entry, URLPattern)
        # The first possibility is the one with every optional group filled in.
        path_format, kwargs = normalize(full_regex)[0]
        yield Endpoint(
            route=full_route,
            name=entry.name,
            callback=entry.callback,
            path_format=path_format,
            kwargs=tuple(kwargs),
        )


ENDPOINTS = list(_walk(get_resolver(TENANT_URLCONF)))
GUARDED = [endpoint for endpoint in ENDPOINTS if endpoint.name not in OPEN]
WITH_OBJECTS = [endpoint for endpoint in GUARDED if endpoint.kwargs]


def _by_name(name: str) -> Endpoint:
    (endpoint,) = (e for e in ENDPOINTS if e.name == name)
    return endpoint


def _capability(endpoint: Endpoint) -> Capability:
    capability = getattr(endpoint.callback, "required_capability", None)
    if capability is None:
        pytest.fail(
            f"{endpoint} ({endpoint.name}) declares no capability: decorate the view with "
            "tenants.access.requires(...), or add it to OPEN in this file with the reason."
        )
    assert capabilities.get(capability.code) is capability
    return capability


def _path(endpoint: Endpoint, workspace: Workspace) -> str:
    missing = [kwarg for kwarg in endpoint.kwargs if kwarg not in SAMPLES]
    if missing:
        pytest.fail(
            f"{endpoint} has URL kwarg(s) {missing} without a sample value: add a sample for "
            "each to SAMPLES in tests/isolation/test_matrix.py."
        )
    path = "/" + endpoint.path_format % {k: SAMPLES[k](workspace) for k in endpoint.kwargs}
    # The built URL must reach the view under test, not a neighbour.
    assert resolve(path, urlconf=TENANT_URLCONF).func is endpoint.callback
    return path


def _sign_in_url(path: str, workspace: Workspace) -> str:
    enter = f"/w/{workspace.tenant.slug}/?{urlencode({'next': path})}"
    return f"http://localhost/accounts/login/?{urlencode({'next': enter})}"


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


def _request(client: Client, method: str, path: str) -> TestResponse:
    response: TestResponse = client.get(path) if method == "GET" else client.post(path)
    return response


def _templates(response: TestResponse) -> list[str]:
    return [template.name for template in getattr(response, "templates", [])]


# --- state that a refused request must leave alone ------------------------------------------

# Session rows and the last-seen stamp are written for any signed-in visitor by design.
IGNORED_TABLES = {UserSession._meta.db_table}
IGNORED_COLUMNS = {(Membership._meta.db_table, "last_seen_at")}


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


def _db_state(workspace: Workspace) -> dict[str, str]:
    """A digest of every row of every table in the public schema and the workspace's schema,
    in one round trip."""
    quote = connection.ops.quote_name
    selects, labels = [], []
    for schema in ("public", workspace.tenant.schema_name):
        for table, columns in _columns(schema).items():
            labels.append(f"{schema}.{table}")
            row = ", ".join(quote(column) for column in columns)
            source = f"{quote(schema)}.{quote(table)}"
            # Identifiers come from the catalog, never from a request.
            query = f"SELECT %s, {DIGEST} FROM (SELECT ROW({row})::text AS r FROM {source}) t"  # noqa: S608
            selects.append(query)
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(selects), labels)
        return dict(cursor.fetchall())


@pytest.fixture
def assert_refused_without_effect(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> Callable[[Client, str, str, int], TestResponse]:
    """Make the request and prove it was answered ``status`` and changed nothing: no row, no
    audit event, no email or notification queued for after commit."""

    def check(client: Client, method: str, path: str, status: int) -> TestResponse:
        before = _db_state(alpha)
        with django_capture_on_commit_callbacks() as callbacks:
            response = _request(client, method, path)
        assert response.status_code == status
        assert callbacks == []
        assert _db_state(alpha) == before
        return response

    return check


# --- every guarded view, every role -----------------------------------------------------------


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_every_view_declares_a_capability_or_is_listed_open(endpoint: Endpoint) -> None:
    if endpoint.name in OPEN:
        assert getattr(endpoint.callback, "required_capability", None) is None, (
            f"{endpoint} now declares a capability: remove it from OPEN so the matrix covers it"
        )
    else:
        _capability(endpoint)


def test_open_list_names_only_existing_views() -> None:
    assert set(OPEN) <= {endpoint.name for endpoint in ENDPOINTS}


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("role", Role.values)
@pytest.mark.parametrize("endpoint", GUARDED, ids=str)
def test_member_is_answered_what_their_role_allows(
    endpoint: Endpoint,
    role: str,
    method: str,
    alpha: Workspace,
    visit: Callable[[str | None, str], Client],
    assert_refused_without_effect: Callable[[Client, str, str, int], TestResponse],
) -> None:
    capability = _capability(endpoint)
    path = _path(endpoint, alpha)
    client = visit(role, alpha.host)

    if capabilities.role_has(role, capability.code):
        response = _request(client, method, path)
        allowed = {200, 405} if method == "GET" else {200, 302, 400, 405}
        assert response.status_code in allowed, f"{role} {method} {path}: {response.status_code}"
    else:
        response = assert_refused_without_effect(client, method, path, 403)
        assert "403.html" in _templates(response)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("endpoint", GUARDED, ids=str)
def test_member_of_another_workspace_gets_not_found(
    endpoint: Endpoint,
    method: str,
    alpha: Workspace,
    visit: Callable[[str | None, str], Client],
    assert_refused_without_effect: Callable[[Client, str, str, int], TestResponse],
) -> None:
    path = _path(endpoint, alpha)
    response = assert_refused_without_effect(visit(OUTSIDER, alpha.host), method, path, 404)
    assert "404.html" in _templates(response)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("endpoint", GUARDED, ids=str)
def test_anonymous_visitor_is_sent_to_sign_in(
    endpoint: Endpoint,
    method: str,
    alpha: Workspace,
    visit: Callable[[str | None, str], Client],
    assert_refused_without_effect: Callable[[Client, str, str, int], TestResponse],
) -> None:
    path = _path(endpoint, alpha)
    response = assert_refused_without_effect(visit(None, alpha.host), method, path, 302)
    assert response["Location"] == _sign_in_url(path, alpha)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("endpoint", GUARDED, ids=str)
def test_deactivated_member_is_refused_with_an_explanation(
    endpoint: Endpoint,
    method: str,
    alpha: Workspace,
    visit: Callable[[str | None, str], Client],
    assert_refused_without_effect: Callable[[Client, str, str, int], TestResponse],
) -> None:
    _deactivate(alpha.members[DEACTIVATED_ROLE])
    path = _path(endpoint, alpha)
    response = assert_refused_without_effect(visit(DEACTIVATED_ROLE, alpha.host), method, path, 403)
    assert "app/deactivated.html" in _templates(response)
    assert b'data-testid="access-refused"' in response.content


@pytest.mark.parametrize("endpoint", WITH_OBJECTS, ids=str)
def test_objects_of_another_workspace_are_not_found_from_your_own(
    endpoint: Endpoint,
    alpha: Workspace,
    bravo: Workspace,
    visit: Callable[[str | None, str], Client],
    assert_refused_without_effect: Callable[[Client, str, str, int], TestResponse],
) -> None:
    # bravo's Owner holds every capability at home, so only the object scoping can refuse.
    path = _path(endpoint, alpha)
    client = visit(BRAVO_AT_HOME, bravo.host)
    statuses = {}
    for method in METHODS:
        before = _db_state(alpha)
        statuses[method] = _request(client, method, path).status_code
        assert _db_state(alpha) == before
    # 405 refuses a method before any lookup; the method the view serves must say 404.
    assert set(statuses.values()) <= {404, 405}, statuses
    assert 404 in statuses.values(), statuses


def _deactivate(membership: Membership) -> None:
    Membership.objects.filter(pk=membership.pk).update(
        status=Membership.Status.DEACTIVATED, deactivated_at=timezone.now()
    )


# --- the open views -------------------------------------------------------------------------

EVERY_VISITOR = [None, Role.OWNER, Role.READ_ONLY, OUTSIDER, DEACTIVATED_ROLE]


@pytest.mark.parametrize("who", EVERY_VISITOR, ids=lambda who: who or "anonymous")
def test_handover_without_a_token_starts_no_session(
    who: str | None, alpha: Workspace, visit: Callable[[str | None, str], Client]
) -> None:
    _deactivate(alpha.members[DEACTIVATED_ROLE])
    path = _path(_by_name("handover"), alpha)
    client = visit(who, alpha.host)
    sessions_before = UserSession.objects.count()

    response = client.get(path)
    assert response.status_code == 403
    assert "app/handover_failed.html" in _templates(response)
    assert client.post(path).status_code == 405
    assert UserSession.objects.count() == sessions_before


def test_handover_token_of_a_non_member_signs_nobody_in(
    alpha: Workspace, bravo: Workspace, visit: Callable[[str | None, str], Client]
) -> None:
    token = handover_token_mint(user=bravo.owner.user, tenant=alpha.tenant)
    client = visit(None, alpha.host)

    response = client.get(f"{_path(_by_name('handover'), alpha)}?{urlencode({'token': token})}")

    assert response.status_code == 403
    assert "app/handover_failed.html" in _templates(response)
    assert settings.SESSION_COOKIE_NAME not in client.cookies
    assert client.get("/").status_code == 302


def test_signout_by_a_member_ends_every_session_of_theirs(
    alpha: Workspace, visit: Callable[[str | None, str], Client]
) -> None:
    member = alpha.members[Role.READ_ONLY]
    path = _path(_by_name("signout"), alpha)
    client = visit(Role.READ_ONLY, alpha.host)
    other_session = workspace_client(member.user, alpha.tenant)
    someone_else = visit(Role.OWNER, alpha.host)
    assert UserSession.objects.filter(user_id=member.user_id).count() == 2

    assert client.get(path).status_code == 405
    assert UserSession.objects.filter(user_id=member.user_id).count() == 2

    response = client.post(path)
    assert response.status_code == 302
    assert response["Location"] == "http://localhost/"
    assert not UserSession.objects.filter(user_id=member.user_id).exists()
    assert other_session.get("/").status_code == 302
    assert someone_else.get("/").status_code == 200


@pytest.mark.parametrize("method", METHODS)
def test_signout_is_still_guarded_by_membership(
    method: str,
    alpha: Workspace,
    visit: Callable[[str | None, str], Client],
    assert_refused_without_effect: Callable[[Client, str, str, int], TestResponse],
) -> None:
    path = _path(_by_name("signout"), alpha)
    anonymous, outsider = (visit(who, alpha.host) for who in (None, OUTSIDER))
    sessions = UserSession.objects.values_list("session_key", flat=True)
    before = set(sessions)
    assert len(before) == 1

    refused = assert_refused_without_effect(anonymous, method, path, 302)
    assert refused["Location"] == _sign_in_url(path, alpha)
    assert_refused_without_effect(outsider, method, path, 404)
    assert set(sessions.all()) == before


def test_a_deactivated_member_can_still_sign_out(
    alpha: Workspace, visit: Callable[[str | None, str], Client]
) -> None:
    member = alpha.members[DEACTIVATED_ROLE]
    _deactivate(member)
    path = _path(_by_name("signout"), alpha)
    client = visit(DEACTIVATED_ROLE, alpha.host)
    assert UserSession.objects.filter(user_id=member.user_id).exists()

    assert client.get(path).status_code == 405
    response = client.post(path)

    assert response.status_code == 302
    assert response["Location"] == "http://localhost/"
    assert not UserSession.objects.filter(user_id=member.user_id).exists()
