"""Shared fixtures.

Two workspaces are provisioned once per test run through the real signup service: ``alpha``
with one member of every role, and ``bravo`` whose owner is the outsider of every isolation
test. Tests then run inside a transaction that is rolled back (pytest-django ``db``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from channels.layers import channel_layers
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.utils import timezone, translation

from tenants import services
from tenants.middleware import SESSION_WORKSPACE_KEY
from tenants.models import Membership, Tenant, User
from tenants.roles import Role
from tests.factories import PASSWORD, MembershipFactory, UserFactory


@dataclass
class Workspace:
    tenant: Tenant
    members: dict[str, Membership] = field(default_factory=dict)

    @property
    def host(self) -> str:
        return f"{self.tenant.slug}.localhost"

    @property
    def owner(self) -> Membership:
        return self.members[Role.OWNER]


@dataclass
class World:
    alpha: Workspace
    bravo: Workspace


def _provision(slug: str, *, all_roles: bool) -> Workspace:
    result = services.workspace_signup(
        company_name=f"{slug.title()} Inc",
        slug=slug,
        full_name=f"{slug.title()} Owner",
        email=f"owner@{slug}.example.com",
        password=PASSWORD,
    )
    workspace = Workspace(tenant=result.tenant, members={Role.OWNER: result.membership})
    if all_roles:
        for role in Role.values:
            if role == Role.OWNER:
                continue
            user = UserFactory(email=f"{role.replace('_', '-')}@{slug}.example.com")
            workspace.members[role] = MembershipFactory.create(
                user=user, tenant=result.tenant, role=role
            )
    return workspace


@pytest.fixture(scope="session")
def django_db_setup(
    request: pytest.FixtureRequest,
    django_test_environment: None,
    django_db_blocker: Any,
    django_db_keepdb: bool,
    django_db_createdb: bool,
    django_db_modify_db_settings: None,
) -> Iterator[None]:
    """Always create the test database. pytest-django creates it only when a selected test asks
    for ``db``; tests that need committed data use ``world`` without it and would otherwise run
    against DATABASE_URL itself."""
    from django.test.utils import setup_databases, teardown_databases

    verbosity = request.config.option.verbose
    with django_db_blocker.unblock():
        config = setup_databases(
            verbosity=verbosity,
            interactive=False,
            aliases={"default": {}},
            keepdb=django_db_keepdb and not django_db_createdb,
        )
    yield
    if not django_db_keepdb:
        with django_db_blocker.unblock():
            _end_other_sessions()
            teardown_databases(config, verbosity=verbosity)


def _end_other_sessions() -> None:
    """Threads that served live tests (the browser test's server, Celery's test worker,
    WebSocket consumers) may still hold a connection; the test database cannot be dropped
    while they do."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


# Pre-migrated spare schemas made once per run. A test that signs up inside its transaction
# claims one and the rollback puts it back, so no test migrates a schema of its own (migrating
# costs more with every module); a test about an empty pool asks for ``empty_spare_pool``.
TEST_SPARES = 2
# A pristine copy of the run's one migrated schema, kept out of the pool (it is no workspace, so
# nothing claims or changes it): tests that commit a signup take a spare copied from it
# (``committed_spare``) instead of migrating a schema whenever earlier ones emptied the pool.
SPARE_TEMPLATE = "test_spare_template"
# The world of this process once built (pytest-xdist: one per worker and its database).
_built_worlds: list[World] = []


@pytest.fixture(scope="session")
def world(django_db_setup: None, django_db_blocker: Any) -> World:
    if not connection.settings_dict["NAME"].startswith("test_"):
        raise RuntimeError("The test workspaces must be built in a test database.")
    with django_db_blocker.unblock():
        # One schema is migrated, the other three are copies of it (ADR 0049); alpha and bravo
        # claim two of them as any signup does.
        services.spare_pool_replenish(target=TEST_SPARES + 2)
        _spare_template_copy()
        built = World(
            alpha=_provision("alpha", all_roles=True), bravo=_provision("bravo", all_roles=False)
        )
        connection.set_schema_to_public()  # type: ignore[attr-defined]
    _built_worlds.append(built)
    return built


def _spare_template_copy() -> None:
    """Copy the oldest spare (not claimed yet, so as migrations left it) to ``SPARE_TEMPLATE``."""
    from crm_platform.backups import schema_copy

    spare = Tenant.objects.filter(state=Tenant.State.SPARE).order_by("created_at", "pk").first()
    assert spare is not None
    with connection.cursor() as cursor:
        # A kept test database (--reuse-db) still has the last run's template.
        cursor.execute(f'DROP SCHEMA IF EXISTS "{SPARE_TEMPLATE}" CASCADE')
    schema_copy(source=spare.schema_name, target=SPARE_TEMPLATE)


def _spare_pool_top_up() -> None:
    """Refill the committed pool to ``TEST_SPARES`` with copies of ``SPARE_TEMPLATE``, as the
    pool is refilled from a spare (ADR 0049); the template is only ever read."""
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    missing = TEST_SPARES - Tenant.objects.filter(state=Tenant.State.SPARE).count()
    for _ in range(missing):
        services.spare_workspace_create(copy_of=Tenant(schema_name=SPARE_TEMPLATE))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """After each test, once its fixtures are gone (its transaction rolled back): put back the
    spares that a test committing its signups claimed for good (browser signups, backups, races,
    deletions). Otherwise every later signup, in a rolled-back transaction or not, would find
    the pool empty and migrate a schema of its own."""
    result = yield
    if _built_worlds and nextitem is not None and not connection.in_atomic_block:
        from pytest_django.plugin import blocking_manager_key

        with item.config.stash[blocking_manager_key].unblock():
            _spare_pool_top_up()
    return result


@pytest.fixture
def committed_spare(world: World, django_db_blocker: Any) -> Tenant:
    """The spare the next signup claims, pristine and committed outside the test's transaction
    (the pool is full at the start of every test, see ``pytest_runtest_teardown``)."""
    with django_db_blocker.unblock():
        connection.set_schema_to_public()  # type: ignore[attr-defined]
        spare = Tenant.objects.filter(state=Tenant.State.SPARE).order_by("created_at", "pk").first()
    assert spare is not None
    return spare


@pytest.fixture
def empty_spare_pool(world: World, db: None) -> None:
    """No spare in the pool for this test (the rows come back with the rollback)."""
    Tenant.objects.filter(state=Tenant.State.SPARE).delete()


@pytest.fixture(autouse=True)
def _clean_state() -> Iterator[None]:
    cache.clear()
    # Each test gets a channel layer of its own: a layer keeps a receive lock bound to the event
    # loop that first waited on it, and a test whose loop ended mid-receive would leave that
    # lock held for the next test's loop.
    channel_layers.backends.clear()
    yield
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    # A request through the test client leaves its member's language and time zone active in
    # this thread; the next test must start from the defaults.
    translation.deactivate()
    timezone.deactivate()


def database_url() -> str:
    """This test database's URL, for a subprocess; a socket directory (the embedded server of
    `make test`) goes in ``?host=`` as it came."""
    from urllib.parse import urlencode

    settings_dict = connection.settings_dict
    netloc = settings_dict["HOST"] or ""
    if settings_dict["PORT"]:
        netloc += f":{settings_dict['PORT']}"
    url = (
        f"postgresql://{settings_dict['USER']}:{settings_dict['PASSWORD'] or ''}"
        f"@{netloc}/{settings_dict['NAME']}"
    )
    socket_dir = (settings_dict.get("OPTIONS") or {}).get("host")
    return f"{url}?{urlencode({'host': socket_dir})}" if socket_dir else url


def beside_audit(callbacks: list[Any]) -> list[Any]:
    """The on-commit callbacks a test captured, less the audit log's listener call that every
    audited change schedules (tenants.audit.services, through ``on_commit_once`` with a key
    starting with "audit")."""

    def audit_listeners(callback: Any) -> bool:
        key = (getattr(callback, "args", None) or (None,))[0]
        return isinstance(key, tuple) and key[:1] == ("audit",)

    return [c for c in callbacks if not audit_listeners(c)]


def workspace_client(user: User, tenant: Tenant, *, enforce_csrf: bool = False) -> Client:
    """A browser signed in on the workspace's host, as after a hand-over."""
    client = Client(HTTP_HOST=f"{tenant.slug}.localhost", enforce_csrf_checks=enforce_csrf)
    client.force_login(user, backend="allauth.account.auth_backends.AuthenticationBackend")
    session = client.session
    session[SESSION_WORKSPACE_KEY] = tenant.pk
    session.save()
    return client


def record_page(client: Client, path: str) -> str:
    """A record page as a browser shows it: the page, then the panels of other modules it
    fetches once shown (ADR 0085), both answered 200."""
    page = client.get(path)
    assert page.status_code == 200, page.status_code
    html = page.content.decode()
    found = re.search(r'data-panels-url="([^"]+)"', html)
    assert found is not None, "the page asks for no panels"
    panels = client.get(found.group(1), HTTP_HX_REQUEST="true")
    assert panels.status_code == 200, panels.status_code
    return html + panels.content.decode()


def public_client(user: User | None = None) -> Client:
    client = Client(HTTP_HOST="localhost")
    if user is not None:
        client.force_login(user, backend="allauth.account.auth_backends.AuthenticationBackend")
    return client


@contextmanager
def _restored(workspace: Workspace) -> Iterator[Workspace]:
    """The shared workspace objects as they were before the test: the rollback restores the
    rows, this restores the Python objects a test may have refreshed or changed in memory (a
    billing status or seat limit left on ``alpha.tenant`` would leak into every later test)."""
    tenant_fields = [field.attname for field in Tenant._meta.concrete_fields]
    saved = {name: getattr(workspace.tenant, name) for name in tenant_fields}
    saved_members = {
        key: (member.role, member.status, member.team_id)
        for key, member in workspace.members.items()
    }
    try:
        yield workspace
    finally:
        for name, value in saved.items():
            setattr(workspace.tenant, name, value)
        for key, (role, status, team_id) in saved_members.items():
            member = workspace.members[key]
            member.role, member.status, member.team_id = role, status, team_id


@pytest.fixture
def alpha(world: World, db: None) -> Iterator[Workspace]:
    with _restored(world.alpha) as workspace:
        yield workspace


@pytest.fixture
def bravo(world: World, db: None) -> Iterator[Workspace]:
    with _restored(world.bravo) as workspace:
        yield workspace
