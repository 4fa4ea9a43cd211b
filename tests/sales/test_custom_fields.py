"""Custom fields: defined per entity by admins, validated by type, filtered through the API."""

from __future__ import annotations

import json
from typing import Any

import pytest

from crm_modules.sales import services
from crm_modules.sales.models import Contact, CustomField
from crm_platform.errors import PermissionDenied, ServiceError
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.sales.conftest import fresh

pytestmark = pytest.mark.usefixtures("in_alpha")


def _fields(workspace: Workspace) -> dict[str, CustomField]:
    actor = fresh(workspace.owner)
    specs: list[tuple[str, str, list[str] | None]] = [
        ("tier", "select", ["gold", "silver"]),
        ("topics", "multi_select", ["crm", "erp", "ai"]),
        ("seats", "number", None),
        ("budget", "currency", None),
        ("renewal", "date", None),
        ("vip", "boolean", None),
        ("site", "url", None),
        ("backup_phone", "phone", None),
        ("account_manager", "member", None),
    ]
    return {
        code: services.custom_field_create(
            actor=actor, entity="contact", code=code, label=code.title(), type=kind, options=options
        )
        for code, kind, options in specs
    }


def test_values_are_validated_and_normalised_by_type(alpha: Workspace) -> None:
    _fields(alpha)
    contact = services.contact_create(
        actor=fresh(alpha.owner),
        first_name="Ann",
        custom_fields={
            "tier": "gold",
            "topics": ["ai", "crm"],
            "seats": "12",
            "budget": "1500.5",
            "renewal": "2027-01-31",
            "vip": "yes",
            "site": "example.com",
            "backup_phone": "+39 06 6982 1234",
            "account_manager": alpha.members[Role.MANAGER].user_id,
        },
    )
    assert contact.custom == {
        "tier": "gold",
        "topics": ["crm", "ai"],
        "seats": 12,
        "budget": "1500.50",
        "renewal": "2027-01-31",
        "vip": True,
        "site": "https://example.com",
        "backup_phone": "+390669821234",
        "account_manager": alpha.members[Role.MANAGER].user_id,
    }


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"tier": "platinum"}, "custom_fields.tier"),
        ({"topics": ["crm", "blockchain"]}, "custom_fields.topics"),
        ({"seats": "12.5"}, "custom_fields.seats"),
        ({"budget": "lots"}, "custom_fields.budget"),
        ({"renewal": "31/01/2027"}, "custom_fields.renewal"),
        ({"vip": "maybe"}, "custom_fields.vip"),
        ({"backup_phone": "123"}, "custom_fields.backup_phone"),
        ({"account_manager": 999999}, "custom_fields.account_manager"),
        ({"no_such_field": "x"}, "custom_fields.no_such_field"),
    ],
)
def test_bad_values_name_the_field_and_save_nothing(
    alpha: Workspace, values: dict[str, Any], field: str
) -> None:
    _fields(alpha)
    with pytest.raises(ServiceError) as error:
        services.contact_create(actor=fresh(alpha.owner), first_name="Ann", custom_fields=values)
    assert error.value.field == field
    assert not Contact.objects.exists()


def test_a_field_deleted_while_a_form_was_open_is_refused(alpha: Workspace) -> None:
    fields = _fields(alpha)
    contact = services.contact_create(actor=fresh(alpha.owner), first_name="Ann")
    services.custom_field_delete(actor=fresh(alpha.owner), field=fields["tier"])
    with pytest.raises(ServiceError) as error:
        services.contact_update(
            actor=fresh(alpha.owner), contact=contact, changes={"custom_fields": {"tier": "gold"}}
        )
    assert error.value.field == "custom_fields.tier"
    contact.refresh_from_db()
    assert contact.custom == {}


def test_updating_one_value_keeps_the_others_and_none_clears(alpha: Workspace) -> None:
    _fields(alpha)
    actor = fresh(alpha.owner)
    contact = services.contact_create(
        actor=actor, first_name="Ann", custom_fields={"tier": "gold", "seats": 3}
    )
    services.contact_update(
        actor=actor, contact=contact, changes={"custom_fields": {"seats": 4, "tier": None}}
    )
    contact.refresh_from_db()
    assert contact.custom == {"seats": 4}


def test_only_owner_and_admin_define_fields(alpha: Workspace) -> None:
    with pytest.raises(PermissionDenied):
        services.custom_field_create(
            actor=fresh(alpha.members[Role.MANAGER]),
            entity="contact",
            code="x",
            label="X",
            type="text",
        )
    assert not CustomField.objects.exists()
    services.custom_field_create(
        actor=fresh(alpha.members[Role.ADMIN]), entity="deal", code="x", label="X", type="text"
    )
    assert list(CustomField.objects.values_list("entity", "code")) == [("deal", "x")]


@pytest.mark.parametrize(
    ("code", "kind", "options", "field"),
    [
        ("Bad Code", "text", None, "code"),
        ("ok", "colour", None, "type"),
        ("ok", "select", [], "options"),
    ],
)
def test_bad_definitions_are_refused(
    alpha: Workspace, code: str, kind: str, options: list[str] | None, field: str
) -> None:
    with pytest.raises(ServiceError) as error:
        services.custom_field_create(
            actor=fresh(alpha.owner),
            entity="contact",
            code=code,
            label="L",
            type=kind,
            options=options,
        )
    assert error.value.field == field
    assert not CustomField.objects.exists()


def test_api_filters_contacts_by_a_custom_field(alpha: Workspace) -> None:
    _fields(alpha)
    actor = fresh(alpha.owner)
    gold = services.contact_create(actor=actor, first_name="A", custom_fields={"tier": "gold"})
    services.contact_create(actor=actor, first_name="B", custom_fields={"tier": "silver"})
    vip = services.contact_create(
        actor=actor, first_name="C", custom_fields={"vip": True, "seats": 10}
    )
    client = workspace_client(alpha.owner.user, alpha.tenant)
    ids = [r["id"] for r in client.get("/api/v1/sales/contacts/?cf_tier=gold").json()["results"]]
    assert ids == [gold.pk]
    ids = [
        r["id"]
        for r in client.get("/api/v1/sales/contacts/?cf_vip=true&cf_seats=10").json()["results"]
    ]
    assert ids == [vip.pk]
    bad = client.get("/api/v1/sales/contacts/?cf_tier=platinum")
    assert bad.status_code == 400
    assert list(bad.json()["error"]["fields"]) == ["custom_fields.tier"]


def test_api_sets_custom_fields_as_one_object(alpha: Workspace) -> None:
    _fields(alpha)
    client = workspace_client(alpha.owner.user, alpha.tenant)
    response = client.post(
        "/api/v1/sales/contacts/",
        data=json.dumps({"first_name": "Ann", "custom_fields": {"tier": "silver", "seats": 2}}),
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["custom_fields"] == {"tier": "silver", "seats": 2}
