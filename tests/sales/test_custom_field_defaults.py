"""Default values of custom fields (ADR 0055): checked against the field's type and options,
set on the settings page and through the API, and given to a new record by every channel that
does not give the field — the hand form (prefilled), the API, lead conversion, inbound email,
the portal and the web form (imports: tests/dataio) — through ``custom_defaults``."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from crm_modules.sales import services
from crm_modules.sales.models import Company, Contact, CustomField
from crm_modules.sales.services.custom_fields import custom_defaults
from crm_modules.sales.services.deals import StageInput
from crm_modules.service import services as service_services
from crm_modules.service.models import Ticket
from crm_platform.errors import ServiceError
from tests.conftest import Workspace, workspace_client
from tests.sales.conftest import fresh

pytestmark = pytest.mark.usefixtures("in_alpha")


def _field(workspace: Workspace, entity: str = "contact", **kwargs: Any) -> CustomField:
    spec: dict[str, Any] = {"code": "tier", "label": "Уровень", "type": "text", **kwargs}
    return services.custom_field_create(actor=fresh(workspace.owner), entity=entity, **spec)


# --- the definition -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "options", "raw", "stored"),
    [
        ("text", None, "  ทองคำ ", "ทองคำ"),
        ("number", None, "12", 12),
        ("currency", None, "9.5", "9.50"),
        ("date", None, "2027-01-31", "2027-01-31"),
        ("boolean", None, "yes", True),
        ("select", ["gold", "silver"], "silver", "silver"),
        ("multi_select", ["a", "b", "c"], ["c", "a"], ["a", "c"]),
        ("url", None, "example.com", "https://example.com"),
    ],
)
def test_a_default_is_checked_and_stored_in_the_types_normal_form(
    alpha: Workspace, kind: str, options: list[str] | None, raw: Any, stored: Any
) -> None:
    field = _field(alpha, type=kind, options=options, default_value=raw)
    assert CustomField.objects.get(pk=field.pk).default_value == stored


@pytest.mark.parametrize(
    ("kind", "options", "raw", "message"),
    [
        ("number", None, "twelve", "Enter a whole number."),
        ("select", ["gold"], "platinum", "Choose a value from the list."),
        ("multi_select", ["a"], ["a", "z"], "Choose values from the list."),
        ("date", None, "31/01/2027", "Enter a date as YYYY-MM-DD."),
        ("member", None, "1", "A member field cannot have a default value."),
    ],
)
def test_a_bad_default_is_refused_naming_it_and_nothing_is_made(
    alpha: Workspace, kind: str, options: list[str] | None, raw: Any, message: str
) -> None:
    with pytest.raises(ServiceError) as refused:
        _field(alpha, type=kind, options=options, default_value=raw)
    assert (refused.value.field, refused.value.message) == ("default_value", message)
    assert not CustomField.objects.exists()


def test_options_cannot_drop_the_default_and_the_default_can_change(alpha: Workspace) -> None:
    field = _field(alpha, type="select", options=["gold", "silver"], default_value="gold")
    actor = fresh(alpha.owner)
    with pytest.raises(ServiceError) as refused:
        services.custom_field_update(actor=actor, field=field, changes={"options": ["silver"]})
    assert refused.value.field == "options"
    field = services.custom_field_update(
        actor=actor, field=field, changes={"options": ["silver"], "default_value": "silver"}
    )
    assert (field.options, field.default_value) == (["silver"], "silver")
    field = services.custom_field_update(actor=actor, field=field, changes={"default_value": ""})
    assert CustomField.objects.get(pk=field.pk).default_value is None


def test_the_api_sets_and_changes_a_default(alpha: Workspace) -> None:
    client = workspace_client(alpha.owner.user, alpha.tenant)
    created = client.post(
        "/api/v1/sales/custom-fields/",
        data=json.dumps(
            {
                "entity": "lead",
                "code": "seats",
                "label": "Seats",
                "type": "number",
                "default_value": 5,
            }
        ),
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["default_value"] == 5
    url = f"/api/v1/sales/custom-fields/{created.json()['id']}/"
    bad = client.patch(
        url, data=json.dumps({"default_value": "many"}), content_type="application/json"
    )
    assert bad.status_code == 400
    assert list(bad.json()["error"]["fields"]) == ["default_value"]
    cleared = client.patch(
        url, data=json.dumps({"default_value": None}), content_type="application/json"
    )
    assert cleared.status_code == 200
    assert cleared.json()["default_value"] is None
    assert CustomField.objects.get(code="seats").default_value is None


def test_the_settings_page_sets_shows_and_edits_a_default(alpha: Workspace) -> None:
    client = workspace_client(alpha.owner.user, alpha.tenant)
    created = client.post(
        "/sales/custom-fields/",
        {
            "entity": "contact",
            "code": "topics",
            "label": "Темы",
            "type": "multi_select",
            "options": "CRM\nERP\nAI",
            "default_value": "AI\nCRM",
        },
    )
    assert created.status_code == 302
    field = CustomField.objects.get(code="topics")
    assert field.default_value == ["CRM", "AI"]
    listing = client.get("/sales/custom-fields/").content.decode()
    assert "Default: CRM, AI" in listing
    edit = client.get(f"/sales/custom-fields/{field.pk}/").content.decode()
    assert "CRM\nAI</textarea>" in edit

    bad = client.post(
        f"/sales/custom-fields/{field.pk}/",
        {"label": "Темы", "options": "CRM\nERP\nAI", "position": "1", "default_value": "Web3"},
    )
    assert bad.status_code == 400
    assert "Choose values from the list." in bad.content.decode()
    saved = client.post(
        f"/sales/custom-fields/{field.pk}/",
        {"label": "Темы", "options": "CRM\nERP\nAI", "position": "1", "default_value": "ERP"},
    )
    assert saved.status_code == 302
    assert CustomField.objects.get(pk=field.pk).default_value == ["ERP"]


def test_custom_defaults_fills_only_what_was_not_given(alpha: Workspace) -> None:
    _field(alpha, code="tier", default_value="gold")
    _field(alpha, code="seats", type="number", default_value=3)
    archived = _field(alpha, code="old", default_value="x")
    services.custom_field_archive(actor=fresh(alpha.owner), field=archived, archived=True)
    _field(alpha, entity="lead", code="tier", default_value="lead gold")
    assert custom_defaults(entity="contact", custom={}) == {"tier": "gold", "seats": 3}
    assert custom_defaults(entity="contact", custom={"tier": "silver"}) == {
        "tier": "silver",
        "seats": 3,
    }
    # A field sent empty was given: a person cleared it.
    assert custom_defaults(entity="contact", custom={}, given=["tier"]) == {"seats": 3}


# --- channels -------------------------------------------------------------------------------


def test_the_hand_form_is_prefilled_and_a_cleared_field_stays_empty(alpha: Workspace) -> None:
    _field(alpha, code="tier", default_value="золото")
    client = workspace_client(alpha.owner.user, alpha.tenant)
    page = client.get("/sales/contacts/new/").content.decode()
    assert 'value="золото"' in page
    kept = client.post(
        "/sales/contacts/new/", {"first_name": "Ann", "cf_tier": "золото", "save_anyway": "1"}
    )
    cleared = client.post(
        "/sales/contacts/new/", {"first_name": "Bob", "cf_tier": "", "save_anyway": "1"}
    )
    assert (kept.status_code, cleared.status_code) == (302, 302)
    assert Contact.objects.get(first_name="Ann").custom == {"tier": "золото"}
    assert Contact.objects.get(first_name="Bob").custom == {}


def test_the_new_lead_form_is_prefilled_too(alpha: Workspace) -> None:
    _field(alpha, entity="lead", code="stage", type="select", options=["cold", "hot"],
           default_value="cold")  # fmt: skip
    page = workspace_client(alpha.owner.user, alpha.tenant).get("/sales/leads/new/")
    assert '<option value="cold" selected>' in page.content.decode()


def test_the_api_gives_defaults_to_what_it_leaves_out(alpha: Workspace) -> None:
    _field(alpha, code="tier", default_value="gold", required=True)
    _field(alpha, code="seats", type="number", default_value=3)
    client = workspace_client(alpha.owner.user, alpha.tenant)
    made = client.post(
        "/api/v1/sales/contacts/",
        data=json.dumps({"first_name": "Ann", "custom_fields": {"seats": 9}}),
        content_type="application/json",
    )
    # The required field's default fills it.
    assert made.status_code == 201, made.content
    assert made.json()["custom_fields"] == {"tier": "gold", "seats": 9}
    # A default is for a new record: an update leaves the others alone.
    contact = Contact.objects.get(first_name="Ann")
    services.contact_update(
        actor=fresh(alpha.owner), contact=contact, changes={"custom_fields": {"seats": None}}
    )
    assert Contact.objects.get(pk=contact.pk).custom == {"tier": "gold"}


def test_every_create_service_gives_defaults(alpha: Workspace) -> None:
    for entity in ("contact", "company", "deal", "lead"):
        _field(alpha, entity=entity, code="origin", default_value=f"{entity} 默认")
    actor = fresh(alpha.owner)
    stage = services.pipeline_create(
        actor=actor, name="Sales", stages=[StageInput("New", 10)]
    ).stages.get()
    records: list[Any] = [
        services.contact_create(actor=actor, first_name="A"),
        services.company_create(actor=actor, name="B"),
        services.deal_create(actor=actor, name="C", stage=stage.pk),
        services.lead_create(actor=actor, first_name="D", source="web"),
    ]
    assert [r.custom for r in records] == [
        {"origin": "contact 默认"},
        {"origin": "company 默认"},
        {"origin": "deal 默认"},
        {"origin": "lead 默认"},
    ]


def test_conversion_gives_the_new_records_defaults_after_carried_values(alpha: Workspace) -> None:
    _field(alpha, entity="lead", code="tier", type="text")
    _field(alpha, code="tier", type="text", default_value="bronze")
    _field(alpha, code="welcome", type="boolean", default_value=True)
    _field(alpha, entity="company", code="segment", type="text", default_value="SMB")
    actor = fresh(alpha.owner)
    lead = services.lead_create(
        actor=actor, first_name="A", source="web", company_name="Neu GmbH",
        custom_fields={"tier": "gold"},
    )  # fmt: skip
    result = services.lead_convert(actor=actor, lead=lead)
    assert Contact.objects.get(pk=result.contact.pk).custom == {"tier": "gold", "welcome": True}
    assert Company.objects.get(name="Neu GmbH").custom == {"segment": "SMB"}


def test_email_tickets_and_their_new_contacts_get_defaults(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    from crm_modules.service.services.inbound import inbound_receive
    from tests.service.test_inbound import email

    _field(alpha, entity="ticket", code="queue", type="select", options=["L1", "L2"],
           default_value="L1")  # fmt: skip
    _field(alpha, code="tier", default_value="prospect")
    with django_capture_on_commit_callbacks(execute=True):
        inbound_receive(raw=email(), source="smtp", recipient="x")
    ticket = Ticket.objects.get()
    assert ticket.custom == {"queue": "L1"}
    assert Contact.objects.get(primary_email="maria@example.it").custom == {"tier": "prospect"}
    assert ticket.contact is not None


def test_an_agents_ticket_gets_defaults_unless_it_gives_the_field(alpha: Workspace) -> None:
    _field(alpha, entity="ticket", code="queue", type="select", options=["L1", "L2"],
           default_value="L1")  # fmt: skip
    actor = fresh(alpha.owner)
    plain = service_services.ticket_create(actor=actor, subject="Без поля")
    given = service_services.ticket_create(
        actor=actor, subject="С полем", custom_fields={"queue": "L2"}
    )
    assert Ticket.objects.get(pk=plain.pk).custom == {"queue": "L1"}
    assert Ticket.objects.get(pk=given.pk).custom == {"queue": "L2"}
    # The agents' new-ticket form shows it filled in.
    page = workspace_client(alpha.owner.user, alpha.tenant).get("/service/new/")
    assert '<option value="L1" selected>' in page.content.decode()


def test_the_portal_and_the_web_form_give_defaults(alpha: Workspace) -> None:
    from tests.service.conftest import customer, portal_client

    _field(alpha, entity="ticket", code="queue", type="select", options=["L1", "L2"],
           default_value="L1")  # fmt: skip
    _field(alpha, entity="ticket", code="product", type="select", options=["Cloud", "Box"],
           default_value="Cloud", customer_visible=True)  # fmt: skip
    portal = portal_client(alpha, customer("ada@example.com"))
    page = portal.get("/portal/tickets/new/").content.decode()
    assert '<option value="Cloud" selected>' in page
    sent = portal.post(
        "/portal/tickets/new/",
        {"subject": "ログインできない", "description": "昨日から", "cf_product": "Box"},
    )
    assert sent.status_code == 302
    assert Ticket.objects.get(subject="ログインできない").custom == {
        "product": "Box",
        "queue": "L1",
    }

    visitor = Client(HTTP_HOST=alpha.host, REMOTE_ADDR="203.0.113.9")
    posted = visitor.post(
        "/service/form/",
        {"name": "Anna", "email": "anna@example.it", "subject": "Fattura", "message": "Doppia"},
    )
    assert posted.status_code == 200
    # The visible field was not sent (a form without it): the default fills it as well.
    assert Ticket.objects.get(subject="Fattura").custom == {"queue": "L1", "product": "Cloud"}
