"""Workspace API keys: stored hashed, act as their member, refused elsewhere and when revoked."""

from __future__ import annotations

import io
import json
import time

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection, connections
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing.plans import Limit, plan_spec
from crm_modules.integrations.models import ApiKey
from crm_modules.integrations.services import _written_key, api_key_create
from crm_modules.sales.models import Contact
from tenants.audit.models import AuditEvent
from tenants.models import Membership, Tenant
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.sales.conftest import fresh, sales_events


def _key(workspace: Workspace, role: str = Role.ADMIN, *, read_only: bool = False) -> str:
    connection.set_tenant(workspace.tenant)  # type: ignore[attr-defined]
    try:
        return api_key_create(
            actor=fresh(workspace.members[Role.OWNER]),
            name="CI",
            read_only=read_only,
            owner=fresh(workspace.members[role]),
        ).raw
    finally:
        connection.set_schema_to_public()  # type: ignore[attr-defined]


def _api(workspace: Workspace, key: str) -> Client:
    return Client(HTTP_HOST=workspace.host, HTTP_AUTHORIZATION=f"Bearer {key}")


def test_admin_creates_a_key_shown_once_and_stored_hashed(alpha: Workspace) -> None:
    client = workspace_client(alpha.members[Role.ADMIN].user, alpha.tenant)
    response = client.post("/integrations/api-keys/", {"name": "Zapier", "read_only": "on"})
    assert response.status_code == 200
    raw = response.context["new_key"].raw
    assert raw.startswith("rk_")
    connection.set_tenant(alpha.tenant)  # type: ignore[attr-defined]
    key = ApiKey.objects.get()
    assert (key.name, key.read_only, key.created_by_id) == (
        "Zapier",
        True,
        alpha.members[Role.ADMIN].user_id,
    )
    assert raw not in key.digest
    assert raw not in client.get("/integrations/api-keys/").content.decode()


def test_a_key_acts_as_its_member_and_counts_its_use(alpha: Workspace) -> None:
    key = _key(alpha, Role.SALES_REP)
    response = _api(alpha, key).post(
        "/api/v1/sales/contacts/",
        data=json.dumps({"first_name": "Ann"}),
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    connection.set_tenant(alpha.tenant)  # type: ignore[attr-defined]
    assert Contact.objects.get().owner_id == alpha.members[Role.SALES_REP].user_id
    assert ApiKey.objects.get().use_count == 1
    assert sales_events() == ["contact.created"]


def test_a_key_of_another_workspace_is_refused(alpha: Workspace, bravo: Workspace) -> None:
    key = _key(alpha)
    response = _api(bravo, key).get("/api/v1/sales/contacts/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_a_revoked_key_is_refused(alpha: Workspace) -> None:
    key = _key(alpha)
    assert _api(alpha, key).get("/api/v1/sales/contacts/").status_code == 200
    connection.set_tenant(alpha.tenant)  # type: ignore[attr-defined]
    ApiKey.objects.update(revoked_at=timezone.now())
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    assert _api(alpha, key).get("/api/v1/sales/contacts/").status_code == 401


def test_a_key_stops_when_its_member_is_deactivated(alpha: Workspace) -> None:
    key = _key(alpha, Role.MANAGER)
    Membership.objects.filter(pk=alpha.members[Role.MANAGER].pk).update(
        status=Membership.Status.DEACTIVATED
    )
    assert _api(alpha, key).get("/api/v1/sales/contacts/").status_code == 401


def test_a_read_only_key_cannot_write(alpha: Workspace) -> None:
    key = _key(alpha, read_only=True)
    client = _api(alpha, key)
    assert client.get("/api/v1/sales/contacts/").status_code == 200
    response = client.post(
        "/api/v1/sales/contacts/",
        data=json.dumps({"first_name": "Ann"}),
        content_type="application/json",
    )
    assert response.status_code == 403
    connection.set_tenant(alpha.tenant)  # type: ignore[attr-defined]
    assert not Contact.objects.exists()


@pytest.mark.parametrize("guess", ["rk_", "rk_abc_def", "not-a-key", "rk_" + "x" * 500])
def test_a_guessed_key_is_refused(alpha: Workspace, guess: str) -> None:
    assert _api(alpha, guess).get("/api/v1/sales/contacts/").status_code == 401


def test_revoking_a_key_from_the_page(alpha: Workspace) -> None:
    key = _key(alpha)
    connection.set_tenant(alpha.tenant)  # type: ignore[attr-defined]
    key_id = ApiKey.objects.get().pk
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    client = workspace_client(alpha.owner.user, alpha.tenant)
    assert client.post(f"/integrations/api-keys/{key_id}/revoke/").status_code == 302
    assert _api(alpha, key).get("/api/v1/sales/contacts/").status_code == 401


def test_create_api_key_command_prints_a_working_key(alpha: Workspace) -> None:
    out = io.StringIO()
    call_command(
        "create_api_key",
        "alpha",
        alpha.members[Role.MANAGER].user.email,
        "--name",
        "CLI",
        stdout=out,
    )
    key = out.getvalue().strip()
    assert _api(alpha, key).get("/api/v1/sales/contacts/").status_code == 200


def test_a_key_over_its_rate_limit_gets_429_with_retry_after(
    alpha: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The plan's limit is what counts (Professional's, on which a trial runs).
    limits = plan_spec("professional").limits
    assert isinstance(limits, dict)
    monkeypatch.setitem(limits, Limit.API_REQUESTS_PER_MINUTE, 2)
    key = _key(alpha)
    client = _api(alpha, key)
    assert [client.get("/api/v1/sales/contacts/").status_code for _ in range(2)] == [200, 200]
    response = client.get("/api/v1/sales/contacts/")
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert response.json()["error"]["code"] == "throttled"
    # Another key of the same workspace has its own allowance.
    assert _api(alpha, _key(alpha)).get("/api/v1/sales/contacts/").status_code == 200


def test_a_rate_counter_evicted_before_its_increment_counts_again_from_one(
    alpha: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis may drop a counter (expiry, eviction, a flush) between its creation and the
    increment: the request is counted afresh, never answered 500."""
    from django.core.cache import cache

    from crm_platform import ratelimits

    created = cache.add
    evicted: list[str] = []

    def created_then_evicted(key: str, value: int, timeout: int) -> bool:
        added = created(key, value, timeout=timeout)
        evicted.append(key)
        cache.delete(key)  # what Redis does to an expired or evicted key
        return added

    key = _key(alpha)
    monkeypatch.setattr(cache, "add", created_then_evicted)
    response = _api(alpha, key).get("/api/v1/sales/contacts/")
    assert response.status_code == 200
    assert evicted  # the key's counter was created, and gone before its increment
    monkeypatch.undo()
    assert ratelimits.counter_increment("rl:test:evicted", 60) == 1
    assert ratelimits.counter_increment("rl:test:evicted", 60) == 2


def _key_writes(queries: list[dict[str, str]]) -> int:
    return sum(
        1
        for query in queries
        if query["sql"].startswith("UPDATE") and '"integrations_apikey"' in query["sql"]
    )


def test_reads_through_a_key_write_its_row_once_per_window_and_count_every_use(
    alpha: Workspace,
) -> None:
    key = _key(alpha)
    client = _api(alpha, key)
    with CaptureQueriesContext(connections["default"]) as captured:
        for _ in range(5):
            assert client.get("/api/v1/sales/contacts/").status_code == 200
    # The first use is written at once; the next four wait in the cache.
    assert _key_writes(captured.captured_queries) == 1
    connection.set_tenant(alpha.tenant)  # type: ignore[attr-defined]
    row = ApiKey.objects.get()
    assert row.use_count == 1
    assert row.last_used_at is not None
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    page = workspace_client(alpha.members[Role.ADMIN].user, alpha.tenant)
    response = page.get("/integrations/api-keys/")
    assert [uses for _key_row, uses in response.context["rows"]] == [5]
    # Revoking writes the waiting uses and records them all.
    assert page.post(f"/integrations/api-keys/{row.pk}/revoke/").status_code == 302
    connection.set_tenant(alpha.tenant)  # type: ignore[attr-defined]
    assert ApiKey.objects.get().use_count == 5
    assert AuditEvent.objects.get(action="api_key.revoked").data["uses"] == 5


def test_a_use_after_the_window_writes_the_uses_waiting(alpha: Workspace) -> None:
    key = _key(alpha)
    client = _api(alpha, key)
    for _ in range(3):
        assert client.get("/api/v1/sales/contacts/").status_code == 200
    connection.set_tenant(alpha.tenant)  # type: ignore[attr-defined]
    row = ApiKey.objects.get()
    assert row.use_count == 1
    cache.delete(_written_key(row.pk))  # the window has passed
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    assert client.get("/api/v1/sales/contacts/").status_code == 200
    connection.set_tenant(alpha.tenant)  # type: ignore[attr-defined]
    assert ApiKey.objects.get().use_count == 4


def test_a_plan_without_the_api_refuses_keys_and_their_use(alpha: Workspace) -> None:
    key = _key(alpha)
    Tenant.objects.filter(pk=alpha.tenant.pk).update(plan="starter")
    response = _api(alpha, key).get("/api/v1/sales/contacts/")
    assert response.status_code == 403
    assert "plan does not include the REST API" in response.json()["error"]["message"]
    page = workspace_client(alpha.owner.user, alpha.tenant)
    response = page.post("/integrations/api-keys/", {"name": "Zapier"})
    assert response.status_code == 403
    assert 'data-testid="plan-forbidden"' in response.content.decode()
    connection.set_tenant(alpha.tenant)  # type: ignore[attr-defined]
    assert list(ApiKey.objects.values_list("name", flat=True)) == ["CI"]


def test_each_plan_has_its_own_api_rate(alpha: Workspace) -> None:
    """Enterprise's allowance is above Professional's: a key on Enterprise is not held to
    Professional's count."""
    Tenant.objects.filter(pk=alpha.tenant.pk).update(plan="enterprise")
    key = _key(alpha)
    client = _api(alpha, key)
    limit = plan_spec("professional").limits[Limit.API_REQUESTS_PER_MINUTE]
    assert limit is not None
    connection.set_tenant(alpha.tenant)  # type: ignore[attr-defined]
    key_id = ApiKey.objects.get().pk
    window = int(time.time() // 60)
    # The key has used Professional's whole allowance this minute (and the next, should the
    # clock turn one meanwhile).
    for minute in (window, window + 1):
        cache.set(f"api-key-rate:{alpha.tenant.schema_name}:{key_id}:{minute}", limit, 120)
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    assert client.get("/api/v1/sales/contacts/").status_code == 200
    # Professional would have refused it.
    Tenant.objects.filter(pk=alpha.tenant.pk).update(plan="professional")
    assert client.get("/api/v1/sales/contacts/").status_code == 429
