"""The API base: JSON errors, authentication, keyset pagination, the schema."""

from __future__ import annotations

import pytest
from django.test import Client

from tenants.models import Membership
from tenants.roles import Role
from tests.conftest import Workspace, public_client, workspace_client
from tests.factories import MembershipFactory, UserFactory


def test_members_are_listed_with_a_keyset_cursor(alpha: Workspace) -> None:
    client = workspace_client(alpha.members[Role.READ_ONLY].user, alpha.tenant)

    first = client.get("/api/v1/members/", {"page_size": 3})

    assert first.status_code == 200
    body = first.json()
    assert [m["email"] for m in body["results"]] == [
        m.user.email for m in Membership.objects.filter(tenant=alpha.tenant).order_by("-pk")[:3]
    ]
    assert body["previous"] is None
    second = client.get(body["next"])
    assert second.status_code == 200
    seen = {m["id"] for m in body["results"]} | {m["id"] for m in second.json()["results"]}
    assert len(seen) == 6


def test_member_detail_answers_the_member(alpha: Workspace) -> None:
    rep = alpha.members[Role.SALES_REP]
    client = workspace_client(alpha.owner.user, alpha.tenant)

    response = client.get(f"/api/v1/members/{rep.pk}/")

    assert response.status_code == 200
    assert response.json() == {
        "id": rep.pk,
        "name": rep.user.full_name,
        "email": rep.user.email,
        "role": "sales_rep",
        "status": "active",
        "team": None,
        "created_at": response.json()["created_at"],
        "last_seen_at": None,
    }


def test_a_member_of_another_workspace_is_not_found_in_json(
    alpha: Workspace, bravo: Workspace
) -> None:
    client = workspace_client(alpha.owner.user, alpha.tenant)

    response = client.get(f"/api/v1/members/{bravo.owner.pk}/")

    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "not_found", "message": "Not found.", "fields": {}}
    }


def test_anonymous_caller_gets_401_in_json_not_a_redirect(alpha: Workspace) -> None:
    response = Client(HTTP_HOST=alpha.host).get("/api/v1/members/")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == 'Session realm="workspace"'


def test_an_api_key_is_refused_while_no_module_resolves_keys(alpha: Workspace) -> None:
    client = Client(HTTP_HOST=alpha.host, HTTP_AUTHORIZATION="Bearer rk_live_guess")

    response = client.get("/api/v1/members/")

    assert response.status_code == 401
    assert response.json() == {
        "error": {
            "code": "authentication_failed",
            "message": "This API key is not valid.",
            "fields": {},
        }
    }


def test_deactivated_member_gets_403_in_json(alpha: Workspace) -> None:
    user = UserFactory.create(email="gone@alpha.example.com")
    member = MembershipFactory.create(
        user=user, tenant=alpha.tenant, role=Role.SALES_REP, status=Membership.Status.DEACTIVATED
    )
    client = workspace_client(member.user, alpha.tenant)

    response = client.get("/api/v1/members/")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "deactivated"


def test_the_api_is_not_served_on_the_public_host(world, db) -> None:
    assert public_client().get("/api/v1/members/").status_code == 404
    assert public_client().get("/api/schema/").status_code == 404


def test_schema_lists_the_workspace_operations(alpha: Workspace) -> None:
    client = workspace_client(alpha.members[Role.READ_ONLY].user, alpha.tenant)

    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    schema = response.json()
    assert set(schema["paths"]) >= {"/api/v1/members/", "/api/v1/members/{member_id}/"}
    # The custom-field filters of each list: one free-form object spread into the query.
    for path in (
        "/api/v1/sales/contacts/",
        "/api/v1/sales/companies/",
        "/api/v1/sales/leads/",
        "/api/v1/sales/deals/",
        "/api/v1/service/tickets/",
    ):
        found = [
            p for p in schema["paths"][path]["get"]["parameters"] if p["name"] == "custom_fields"
        ]
        assert len(found) == 1, path
        parameter = found[0]
        assert (parameter["in"], parameter["style"], parameter["explode"]) == (
            "query",
            "form",
            True,
        ), path
        assert parameter["schema"] == {"type": "object", "additionalProperties": {"type": "string"}}
        for operator in ("`cf_<code>=value`", "`cf_<code>__contains=text`", "`cf_<code>__gte=`"):
            assert operator in parameter["description"], (path, operator)


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_a_method_an_endpoint_does_not_serve_is_405_in_json(alpha: Workspace, method: str) -> None:
    client = workspace_client(alpha.owner.user, alpha.tenant)

    response = getattr(client, method)("/api/v1/members/", content_type="application/json")

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
