"""Ticket custom fields customers fill (ADR 0053): a ticket field shown to customers is asked on
the portal's new-request form and on the web form; the others are neither shown nor settable
from there; a required one must be given; email tickets start empty."""

from __future__ import annotations

import pytest
from django.test import Client

from crm_modules.sales import services as sales_services
from crm_modules.sales.models import CustomField
from crm_modules.service.models import Ticket
from crm_platform.errors import ServiceError
from tests.conftest import Workspace, workspace_client
from tests.service.conftest import customer, fresh, portal_client

pytestmark = pytest.mark.usefixtures("in_alpha")

WEB = {
    "name": "Anna Rossi",
    "email": "anna@example.it",
    "subject": "Fattura",
    "message": "La fattura è doppia",
}


def _define(workspace: Workspace, *, required: bool = False) -> dict[str, CustomField]:
    actor = fresh(workspace.owner)
    return {
        "product": sales_services.custom_field_create(
            actor=actor,
            entity="ticket",
            code="product",
            label="Prodotto",
            type="select",
            options=["Cloud", "On premise"],
            customer_visible=True,
            required=required,
            help_text="Quale prodotto usate?",
        ),
        "internal": sales_services.custom_field_create(
            actor=actor, entity="ticket", code="internal", label="Internal note", type="text"
        ),
    }


def test_the_portal_asks_the_fields_shown_to_customers(alpha: Workspace) -> None:
    _define(alpha)
    client = portal_client(alpha, customer("ada@example.com"))
    page = client.get("/portal/tickets/new/").content.decode()
    assert 'id="cf_product"' in page
    assert "Quale prodotto usate?" in page
    assert 'id="cf_internal"' not in page

    response = client.post(
        "/portal/tickets/new/",
        {
            "subject": "Non riesco a entrare",
            "description": "Da ieri",
            "cf_product": "Cloud",
            # Not shown to customers: what a crafted post sends is not taken.
            "cf_internal": "VIP",
        },
    )
    assert response.status_code == 302
    ticket = Ticket.objects.get(subject="Non riesco a entrare")
    assert (ticket.channel, ticket.custom) == ("portal", {"product": "Cloud"})


def test_the_portal_names_a_bad_or_missing_value_and_opens_nothing(alpha: Workspace) -> None:
    _define(alpha, required=True)
    client = portal_client(alpha, customer("ada@example.com"))
    bad = client.post(
        "/portal/tickets/new/",
        {"subject": "Login", "description": "Help", "cf_product": "Mainframe"},
    )
    assert bad.status_code == 400
    assert "Prodotto: Choose a value from the list." in bad.content.decode()
    missing = client.post("/portal/tickets/new/", {"subject": "Login", "description": "Help"})
    assert missing.status_code == 400
    assert "Prodotto: This field is required." in missing.content.decode()
    assert not Ticket.objects.exists()


def test_the_web_form_asks_the_fields_shown_to_customers(alpha: Workspace) -> None:
    _define(alpha, required=True)
    visitor = Client(HTTP_HOST=alpha.host, REMOTE_ADDR="203.0.113.9")
    page = visitor.get("/service/form/").content.decode()
    assert 'id="cf_product"' in page
    assert 'id="cf_internal"' not in page

    missing = visitor.post("/service/form/", WEB)
    assert missing.status_code == 400
    assert "Prodotto: This field is required." in missing.content.decode()
    assert not Ticket.objects.exists()

    sent = visitor.post("/service/form/", {**WEB, "cf_product": "On premise", "cf_internal": "VIP"})
    assert sent.status_code == 200
    ticket = Ticket.objects.get()
    assert (ticket.channel, ticket.custom) == ("web", {"product": "On premise"})


def test_without_fields_for_customers_the_forms_are_unchanged(alpha: Workspace) -> None:
    sales_services.custom_field_create(
        actor=fresh(alpha.owner), entity="ticket", code="internal", label="Internal", type="text"
    )
    page = Client(HTTP_HOST=alpha.host).get("/service/form/").content.decode()
    assert "cf_" not in page
    assert "Every field is required." in page


@pytest.mark.parametrize(
    ("entity", "kind", "message"),
    [
        ("contact", "text", "Only ticket fields can be shown to customers."),
        ("ticket", "member", "A member field cannot be shown to customers."),
    ],
)
def test_only_a_ticket_field_a_customer_can_fill_is_shown_to_customers(
    alpha: Workspace, entity: str, kind: str, message: str
) -> None:
    with pytest.raises(ServiceError) as refused:
        sales_services.custom_field_create(
            actor=fresh(alpha.owner),
            entity=entity,
            code="shown",
            label="Shown",
            type=kind,
            customer_visible=True,
        )
    assert (refused.value.field, refused.value.message) == ("customer_visible", message)
    assert not CustomField.objects.exists()


def test_the_settings_page_sets_customers_fill_it_on_ticket_fields_only(
    alpha: Workspace,
) -> None:
    client = workspace_client(alpha.owner.user, alpha.tenant)
    assert 'name="customer_visible"' not in client.get("/sales/custom-fields/").content.decode()
    assert (
        'name="customer_visible"'
        in client.get("/sales/custom-fields/?entity=ticket").content.decode()
    )
    response = client.post(
        "/sales/custom-fields/",
        {
            "entity": "ticket",
            "code": "product",
            "label": "Product",
            "type": "text",
            "customer_visible": "on",
        },
    )
    assert response.status_code == 302
    field = CustomField.objects.get(code="product")
    assert field.customer_visible is True
    edit = client.post(f"/sales/custom-fields/{field.pk}/", {"label": "Product", "position": "1"})
    assert edit.status_code == 302
    field.refresh_from_db()
    assert field.customer_visible is False
