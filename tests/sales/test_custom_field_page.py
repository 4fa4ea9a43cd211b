"""The custom fields page of the workspace settings: list per record type, create, edit,
archive and restore through the services the API uses; required fields; the API's PATCH."""

from __future__ import annotations

import json

import pytest
from django.db import connection

from crm_modules.sales import services
from crm_modules.sales.models import Contact, CustomField
from crm_modules.service import services as service_services
from crm_modules.service.models import Ticket, TicketChannel
from crm_platform.errors import ServiceError
from tenants.audit.models import AuditEvent
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.sales.conftest import fresh

pytestmark = pytest.mark.usefixtures("in_alpha")

PAGE = "/sales/custom-fields/"
MANAGERS = {Role.OWNER, Role.ADMIN}


def _field(workspace: Workspace, entity: str = "contact", **kwargs: object) -> CustomField:
    spec: dict[str, object] = {"code": "tier", "label": "Tier", "type": "text", **kwargs}
    return services.custom_field_create(actor=fresh(workspace.owner), entity=entity, **spec)  # type: ignore[arg-type]


def _owner(workspace: Workspace) -> object:
    return workspace_client(workspace.owner.user, workspace.tenant)


def test_the_page_lists_the_fields_of_the_chosen_record_type(alpha: Workspace) -> None:
    _field(alpha, "contact", code="tier", label="Уровень клиента")
    _field(alpha, "ticket", code="product", label="ผลิตภัณฑ์", type="select", options=["A", "B"])
    client = workspace_client(alpha.owner.user, alpha.tenant)

    contacts = client.get(PAGE)
    assert contacts.status_code == 200
    assert 'data-field="tier"' in contacts.content.decode()
    assert 'data-field="product"' not in contacts.content.decode()

    tickets = client.get(PAGE + "?entity=ticket").content.decode()
    assert 'data-field="product"' in tickets
    assert "ผลิตภัณฑ์" in tickets
    assert 'data-field="tier"' not in tickets
    for entity in ("contact", "company", "deal", "lead", "ticket"):
        assert f'data-entity="{entity}"' in tickets


def test_the_page_creates_a_field_with_help_and_required(alpha: Workspace) -> None:
    client = workspace_client(alpha.owner.user, alpha.tenant)
    response = client.post(
        PAGE,
        {
            "entity": "deal",
            "code": "region",
            "label": "区域",
            "type": "select",
            "options": "北方\n南方\n\n",
            "help_text": "Where the deal is signed",
            "required": "on",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == PAGE + "?entity=deal"
    field = CustomField.objects.get(entity="deal", code="region")
    assert (field.label, field.type, field.options) == ("区域", "select", ["北方", "南方"])
    assert (field.help_text, field.required, field.archived_at) == (
        "Where the deal is signed",
        True,
        None,
    )
    assert AuditEvent.objects.filter(action="custom_field.created", target_id=field.pk).exists()


@pytest.mark.parametrize(
    ("post", "field", "message"),
    [
        (
            {"code": "Bad Code", "label": "X", "type": "text"},
            "code",
            "A code is lower-case letters, digits and underscores, starting with a letter.",
        ),
        ({"code": "x", "label": "", "type": "text"}, "label", "Label"),
        ({"code": "x", "label": "X", "type": "select"}, "options", "at least one option"),
        ({"code": "x", "label": "X", "type": "number", "options": "a"}, "options", "Only a select"),
        ({"code": "x", "label": "X", "type": "text", "help_text": "h" * 301}, "help_text", "300"),
        ({"code": "x", "label": "X", "type": "colour"}, "type", "colour"),
    ],
)
def test_a_bad_definition_is_shown_next_to_its_field_and_nothing_is_made(
    alpha: Workspace, post: dict[str, str], field: str, message: str
) -> None:
    client = workspace_client(alpha.owner.user, alpha.tenant)
    response = client.post(PAGE, {"entity": "contact", **post})
    assert response.status_code == 400
    form = response.context["form"]
    assert field in form.errors
    assert message in " ".join(form.errors[field])
    assert 'aria-invalid="true"' in response.content.decode()
    assert not CustomField.objects.exists()


def test_a_code_taken_in_the_same_record_type_is_refused(alpha: Workspace) -> None:
    _field(alpha, "contact", code="tier")
    client = workspace_client(alpha.owner.user, alpha.tenant)
    response = client.post(
        PAGE, {"entity": "contact", "code": "tier", "label": "T", "type": "text"}
    )
    assert response.status_code == 400
    assert response.context["form"].errors["code"] == ["A field with this code already exists."]
    # Another record type may use the same code (ADR 0050).
    ok = client.post(PAGE, {"entity": "ticket", "code": "tier", "label": "T", "type": "text"})
    assert ok.status_code == 302
    assert CustomField.objects.filter(code="tier").count() == 2


def test_the_edit_page_changes_label_help_options_required_and_order(alpha: Workspace) -> None:
    field = _field(alpha, "contact", type="select", options=["gold", "silver"])
    other = _field(alpha, "contact", code="seats", label="Seats", type="number")
    client = workspace_client(alpha.owner.user, alpha.tenant)
    assert client.get(f"{PAGE}{field.pk}/").status_code == 200

    response = client.post(
        f"{PAGE}{field.pk}/",
        {
            "label": "Livello",
            "options": "gold\nsilver\nbronze",
            "help_text": "Contract level",
            "required": "on",
            "position": "0",
        },
    )
    assert response.status_code == 302
    field.refresh_from_db()
    assert (field.label, field.options, field.help_text, field.required, field.position) == (
        "Livello",
        ["gold", "silver", "bronze"],
        "Contract level",
        True,
        0,
    )
    assert (field.code, field.type) == ("tier", "select")
    listed = [f.code for f in CustomField.objects.filter(entity="contact")]
    assert listed == ["tier", "seats"]
    assert other.position > 0
    event = AuditEvent.objects.get(action="custom_field.updated", target_id=field.pk)
    assert event.data["changed"] == ["help_text", "label", "options", "position", "required"]


def test_a_non_select_field_has_no_options_input(alpha: Workspace) -> None:
    field = _field(alpha, "contact", type="number")
    client = workspace_client(alpha.owner.user, alpha.tenant)
    page = client.get(f"{PAGE}{field.pk}/").content.decode()
    assert 'name="options"' not in page
    assert 'name="label"' in page


@pytest.mark.parametrize(
    ("post", "field"),
    [
        ({"label": "", "options": "gold", "position": "1"}, "label"),
        ({"label": "X", "options": "gold", "position": "first"}, "position"),
        ({"label": "X", "options": "gold", "position": "-2"}, "position"),
        ({"label": "X", "options": "", "position": "1"}, "options"),
    ],
)
def test_a_bad_edit_names_its_field_and_changes_nothing(
    alpha: Workspace, post: dict[str, str], field: str
) -> None:
    defined = _field(alpha, "contact", type="select", options=["gold"])
    client = workspace_client(alpha.owner.user, alpha.tenant)
    response = client.post(f"{PAGE}{defined.pk}/", post)
    assert response.status_code == 400
    assert field in response.context["form"].errors
    defined.refresh_from_db()
    assert (defined.label, defined.options, defined.position) == ("Tier", ["gold"], 1)
    assert not AuditEvent.objects.filter(action="custom_field.updated").exists()


def test_archive_hides_a_field_from_forms_and_keeps_values_until_restored(
    alpha: Workspace,
) -> None:
    field = _field(alpha, "contact", code="tier", label="Tier level")
    contact = services.contact_create(
        actor=fresh(alpha.owner), first_name="Ann", custom_fields={"tier": "gold"}
    )
    client = workspace_client(alpha.owner.user, alpha.tenant)
    assert 'id="cf_tier"' in client.get("/sales/contacts/new/").content.decode()

    response = client.post(f"{PAGE}{field.pk}/archive/", {"archived": "1"})
    assert response.status_code == 302
    field.refresh_from_db()
    assert field.archived_at is not None
    assert 'id="cf_tier"' not in client.get("/sales/contacts/new/").content.decode()
    assert 'data-field="tier"' not in client.get(f"/sales/contacts/{contact.pk}/").content.decode()
    assert 'id="cf_tier"' not in client.get(f"/sales/contacts/{contact.pk}/").content.decode()
    archived_page = client.get(PAGE).content.decode()
    assert 'data-testid="archived-fields"' in archived_page
    assert 'data-testid="restore-tier"' in archived_page
    # An archived field takes no new value; the stored one stays.
    with pytest.raises(ServiceError) as refused:
        services.contact_update(
            actor=fresh(alpha.owner), contact=contact, changes={"custom_fields": {"tier": "x"}}
        )
    assert refused.value.field == "custom_fields.tier"
    assert Contact.objects.get(pk=contact.pk).custom == {"tier": "gold"}
    # Sent back unchanged with the whole object (as a web form filling blanks does), it is kept.
    services.contact_update(
        actor=fresh(alpha.owner),
        contact=Contact.objects.get(pk=contact.pk),
        changes={"custom_fields": {"tier": "gold"}, "job_title": "CTO"},
    )
    assert Contact.objects.get(pk=contact.pk).custom == {"tier": "gold"}

    assert client.post(f"{PAGE}{field.pk}/archive/", {"archived": "0"}).status_code == 302
    field.refresh_from_db()
    assert field.archived_at is None
    assert 'id="cf_tier"' in client.get("/sales/contacts/new/").content.decode()
    actions = list(
        AuditEvent.objects.filter(target_id=field.pk, action__startswith="custom_field.")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["custom_field.created", "custom_field.archived", "custom_field.restored"]


@pytest.mark.parametrize("role", Role.values)
def test_only_roles_that_define_fields_reach_the_page(alpha: Workspace, role: str) -> None:
    field = _field(alpha, "contact", code="tier")
    client = workspace_client(alpha.members[role].user, alpha.tenant)
    create = {"entity": "contact", "code": "new_one", "label": "N", "type": "text"}
    answers = [
        client.get(PAGE).status_code,
        client.post(PAGE, create).status_code,
        client.get(f"{PAGE}{field.pk}/").status_code,
        client.post(f"{PAGE}{field.pk}/", {"label": "Renamed", "position": "1"}).status_code,
        client.post(f"{PAGE}{field.pk}/archive/", {"archived": "1"}).status_code,
    ]
    field.refresh_from_db()
    if role in MANAGERS:
        assert answers == [200, 302, 200, 302, 302]
        assert CustomField.objects.filter(code="new_one").exists()
        assert (field.label, field.archived_at is not None) == ("Renamed", True)
    else:
        assert answers == [403, 403, 403, 403, 403]
        assert not CustomField.objects.filter(code="new_one").exists()
        assert (field.label, field.archived_at) == ("Tier", None)


def test_another_workspaces_field_is_not_found(alpha: Workspace, bravo: Workspace) -> None:
    connection.set_tenant(bravo.tenant)  # type: ignore[attr-defined]
    theirs = _field(bravo, "contact", code="secret", label="Theirs")
    connection.set_tenant(alpha.tenant)  # type: ignore[attr-defined]
    client = workspace_client(alpha.owner.user, alpha.tenant)
    assert client.get(f"{PAGE}{theirs.pk}/").status_code == 404
    assert client.post(f"{PAGE}{theirs.pk}/", {"label": "Mine"}).status_code == 404
    assert client.post(f"{PAGE}{theirs.pk}/archive/", {"archived": "1"}).status_code == 404
    connection.set_tenant(bravo.tenant)  # type: ignore[attr-defined]
    theirs.refresh_from_db()
    assert (theirs.label, theirs.archived_at) == ("Theirs", None)


def test_the_settings_page_leads_to_the_custom_fields(alpha: Workspace) -> None:
    _field(alpha, "ticket", code="product")
    page = workspace_client(alpha.owner.user, alpha.tenant).get("/settings/").content.decode()
    assert 'data-testid="settings-custom-fields"' in page
    assert f'href="{PAGE}?entity=ticket"' in page
    assert "1 field" in page


# --- required fields (ADR 0053) -------------------------------------------------------------


def test_a_person_must_fill_a_required_field_on_a_new_record(alpha: Workspace) -> None:
    _field(alpha, "contact", code="tier", label="Tier", required=True)
    client = workspace_client(alpha.owner.user, alpha.tenant)
    page = client.post("/sales/contacts/new/", {"first_name": "Ann", "save_anyway": "1"})
    assert page.status_code == 400
    assert "Tier: This field is required." in page.content.decode()
    api = client.post(
        "/api/v1/sales/contacts/",
        data=json.dumps({"first_name": "Ann"}),
        content_type="application/json",
    )
    assert api.status_code == 400
    assert list(api.json()["error"]["fields"]) == ["custom_fields.tier"]
    assert not Contact.objects.filter(first_name="Ann").exists()

    made = client.post(
        "/sales/contacts/new/", {"first_name": "Ann", "cf_tier": "gold", "save_anyway": "1"}
    )
    assert made.status_code == 302
    contact = Contact.objects.get(first_name="Ann")
    assert contact.custom == {"tier": "gold"}
    # Once set, a required field cannot be cleared.
    with pytest.raises(ServiceError) as cleared:
        services.contact_update(
            actor=fresh(alpha.owner), contact=contact, changes={"custom_fields": {"tier": ""}}
        )
    assert cleared.value.field == "custom_fields.tier"


def test_a_required_ticket_field_does_not_stop_a_customers_ticket(alpha: Workspace) -> None:
    _field(alpha, "ticket", code="product", label="Product", required=True)
    actor = fresh(alpha.owner)
    with pytest.raises(ServiceError) as refused:
        service_services.ticket_create(actor=actor, subject="By an agent", complete_custom=True)
    assert refused.value.field == "custom_fields.product"
    ticket = service_services.ticket_create(
        actor=actor, subject="From the portal", channel=TicketChannel.PORTAL
    )
    assert Ticket.objects.get(pk=ticket.pk).custom == {}


# --- the API's PATCH ------------------------------------------------------------------------


def test_the_api_changes_archives_and_restores_a_field(alpha: Workspace) -> None:
    field = _field(alpha, "contact", type="select", options=["gold"])
    client = workspace_client(alpha.owner.user, alpha.tenant)
    url = f"/api/v1/sales/custom-fields/{field.pk}/"
    response = client.patch(
        url,
        data=json.dumps({"label": "Уровень", "options": ["gold", "silver"], "archived": True}),
        content_type="application/json",
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["label"], body["options"], body["archived"]) == (
        "Уровень",
        ["gold", "silver"],
        True,
    )
    listed = client.get("/api/v1/sales/custom-fields/?entity=contact").json()["results"]
    assert listed == []
    with_archived = client.get("/api/v1/sales/custom-fields/?entity=contact&archived=1")
    assert [f["code"] for f in with_archived.json()["results"]] == ["tier"]

    bad = client.patch(url, data=json.dumps({"options": []}), content_type="application/json")
    assert bad.status_code == 400
    assert list(bad.json()["error"]["fields"]) == ["options"]
    restored = client.patch(
        url, data=json.dumps({"archived": False}), content_type="application/json"
    )
    assert restored.json()["archived"] is False


def test_a_manager_cannot_change_a_field_through_the_api(alpha: Workspace) -> None:
    field = _field(alpha, "contact")
    client = workspace_client(alpha.members[Role.MANAGER].user, alpha.tenant)
    response = client.patch(
        f"/api/v1/sales/custom-fields/{field.pk}/",
        data=json.dumps({"label": "Mine"}),
        content_type="application/json",
    )
    assert response.status_code == 403
    field.refresh_from_db()
    assert field.label == "Tier"
