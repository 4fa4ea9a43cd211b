"""The product catalogue and deals' line items: pages, API, the computed amount."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from crm_modules.sales import services
from crm_modules.sales.models import Deal, LineItem, Product
from crm_modules.sales.selectors import PRODUCT_CHOICES
from crm_platform.errors import ServiceError
from tenants.audit.models import AuditEvent
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.sales.conftest import fresh
from tests.sales.factories import DealFactory

pytestmark = pytest.mark.usefixtures("in_alpha")


def _send(client: Client, method: str, path: str, body: dict[str, Any]) -> Any:
    return client.generic(method, path, data=json.dumps(body), content_type="application/json")


def _product(**kwargs: Any) -> Product:
    values: dict[str, Any] = {"name": "Seat licence", "unit_price": Decimal("120.00")}
    values.update(kwargs)
    values.setdefault("currency", "USD")
    return Product.objects.create(**values)


def test_a_manager_adds_a_product_from_the_page(alpha: Workspace) -> None:
    client = workspace_client(alpha.members[Role.MANAGER].user, alpha.tenant)
    response = client.post(
        "/sales/products/new/",
        {
            "name": "Onboarding",
            "sku": "ONB-1",
            "unit_price": "990",
            "currency": "eur",
            "active": "on",
        },
    )
    assert response.status_code == 302
    product = Product.objects.get()
    assert (product.sku, product.unit_price, product.currency, product.active) == (
        "ONB-1", Decimal("990.00"), "EUR", True,
    )  # fmt: skip
    assert "Onboarding" in client.get("/sales/products/").content.decode()
    assert AuditEvent.objects.filter(action="product.created").count() == 1


@pytest.mark.parametrize(
    ("data", "field_text"),
    [
        ({"name": "", "unit_price": "1"}, "Name"),
        ({"name": "A", "unit_price": "-3"}, "zero or more"),
        ({"name": "A", "unit_price": "1", "currency": "EU1"}, "three-letter"),
        ({"name": "A", "unit_price": "1", "sku": "TAKEN"}, "Another product has this SKU."),
    ],
)
def test_bad_product_input_is_named(
    alpha: Workspace, data: dict[str, str], field_text: str
) -> None:
    _product(sku="TAKEN")
    client = workspace_client(alpha.owner.user, alpha.tenant)
    response = client.post("/sales/products/new/", data)
    assert response.status_code == 400
    assert field_text in response.content.decode()
    assert Product.objects.count() == 1


@pytest.mark.parametrize("role", [Role.SALES_REP, Role.MARKETER, Role.READ_ONLY])
def test_only_managers_and_admins_change_the_catalogue(alpha: Workspace, role: str) -> None:
    product = _product()
    client = workspace_client(alpha.members[role].user, alpha.tenant)
    assert client.get("/sales/products/").status_code == 200
    assert client.post(f"/sales/products/{product.pk}/", {"name": "X"}).status_code == 403
    response = _send(client, "PATCH", f"/api/v1/sales/products/{product.pk}/", {"name": "X"})
    assert response.status_code == 403
    assert Product.objects.get().name == "Seat licence"


def test_line_items_compute_the_deal_amount(alpha: Workspace) -> None:
    actor = fresh(alpha.owner)
    deal = DealFactory.create(amount=Decimal("5000"), currency="USD")
    seats = _product()
    support = _product(name="Support", unit_price=Decimal("49.99"))
    services.line_item_add(actor=actor, deal=deal, product=seats.pk, quantity="3", discount="10")
    item = services.line_item_add(actor=actor, deal=deal, product=support, quantity="1.5")
    deal.refresh_from_db()
    # 3 x 120 less 10 % = 324.00; 1.5 x 49.99 = 74.985, rounded half up to 74.99
    assert deal.amount == Decimal("398.99")
    services.line_item_update(actor=actor, deal=deal, item_id=item.pk, changes={"quantity": "2"})
    deal.refresh_from_db()
    assert deal.amount == Decimal("423.98")
    with pytest.raises(ServiceError) as refused:
        services.deal_update(actor=actor, deal=deal, changes={"amount": "10"})
    assert refused.value.field == "amount"
    services.line_item_remove(actor=actor, deal=deal, item_id=item.pk)
    deal.refresh_from_db()
    assert deal.amount == Decimal("324.00")
    assert AuditEvent.objects.filter(action="deal.line_items_changed").count() == 4


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"quantity": "0"}, "quantity"),
        ({"quantity": "two"}, "quantity"),
        ({"discount": "101"}, "discount"),
        ({"unit_price": "-1"}, "unit_price"),
        ({"product": 999999}, "product"),
    ],
)
def test_bad_line_items_are_named_and_leave_the_deal_alone(
    alpha: Workspace, kwargs: dict[str, Any], field: str
) -> None:
    deal = DealFactory.create(amount=Decimal("700"), currency="USD")
    values: dict[str, Any] = {"product": _product().pk, "quantity": "1"}
    values.update(kwargs)
    with pytest.raises(ServiceError) as refused:
        services.line_item_add(actor=fresh(alpha.owner), deal=deal, **values)
    assert refused.value.field == field
    assert not LineItem.objects.exists()
    assert Deal.objects.get().amount == Decimal("700.00")


def test_a_product_in_another_currency_needs_a_price(alpha: Workspace) -> None:
    deal = DealFactory.create(currency="USD")
    euro = _product(currency="EUR")
    with pytest.raises(ServiceError) as refused:
        services.line_item_add(actor=fresh(alpha.owner), deal=deal, product=euro)
    assert refused.value.field == "unit_price"
    services.line_item_add(actor=fresh(alpha.owner), deal=deal, product=euro, unit_price="130")
    assert Deal.objects.get().amount == Decimal("130.00")


def test_line_items_on_the_deal_page(alpha: Workspace) -> None:
    rep = alpha.members[Role.SALES_REP]
    deal = DealFactory.create(owner=rep.user, currency="USD")
    product = _product()
    client = workspace_client(rep.user, alpha.tenant)
    response = client.post(
        f"/sales/deals/{deal.pk}/line-items/", {"product": product.pk, "quantity": "2"}
    )
    assert response.status_code == 302
    html = client.get(f"/sales/deals/{deal.pk}/").content.decode()
    assert "240.00 USD" in html
    response = client.post(
        f"/sales/deals/{deal.pk}/line-items/", {"product": product.pk, "quantity": "-1"}
    )
    assert response.status_code == 400
    assert "quantity greater than zero" in response.content.decode()
    item = LineItem.objects.get()
    client.post(f"/sales/deals/{deal.pk}/line-items/", {"op": "remove", "item": item.pk})
    assert not LineItem.objects.exists()


def _options(html: str) -> list[str]:
    """The product ids offered in the add-a-line-item select (disabled notes excluded)."""
    picker = (
        html.split('id="li-product"', 1)[1].split("</select>", 1)[0]
        if 'id="li-product"' in html
        else html
    )
    return re.findall(r'<option value="(\d+)"', picker)


def test_the_line_item_picker_finds_any_product_of_a_large_catalogue(alpha: Workspace) -> None:
    # More products than the picker lists at once: the last one by name is found by searching.
    Product.objects.bulk_create(
        Product(
            name=f"Licence {n:03d}", sku=f"LIC-{n:03d}", unit_price=Decimal("10.00"), currency="USD"
        )
        for n in range(PRODUCT_CHOICES + 30)
    )
    number = f"{PRODUCT_CHOICES + 29:03d}"
    last = Product.objects.get(name=f"Licence {number}")
    dormant = _product(name="Licence retired", active=False)
    mandarin = _product(name="企业版许可证")
    rep = alpha.members[Role.SALES_REP]
    deal = DealFactory.create(owner=rep.user, currency="USD")
    client = workspace_client(rep.user, alpha.tenant)

    html = client.get(f"/sales/deals/{deal.pk}/").content.decode()
    offered = _options(html)
    assert len(offered) == PRODUCT_CHOICES
    assert str(last.pk) not in offered
    assert "More products match" in html

    # The fragment the search box asks for as the member types, by name, SKU or in any script.
    response = client.get(f"/sales/deals/{deal.pk}/products/", {"product_q": f" licence {number} "})
    assert response.status_code == 200
    assert _options(response.content.decode()) == [str(last.pk)]
    response = client.get(f"/sales/deals/{deal.pk}/products/", {"product_q": f"lic-{number}"})
    assert _options(response.content.decode()) == [str(last.pk)]
    response = client.get(f"/sales/deals/{deal.pk}/products/", {"product_q": "许可"})
    assert _options(response.content.decode()) == [str(mandarin.pk)]
    # Inactive products are never offered; a search that finds nothing says so.
    response = client.get(f"/sales/deals/{deal.pk}/products/", {"product_q": "retired"})
    body = response.content.decode()
    assert _options(body) == []
    assert str(dormant.pk) not in body
    assert "No active product matches this search." in body
    # Names starting with the text come first, although "Add-on…" sorts before "Licence…".
    addon = _product(name=f"Add-on for licence {number}")
    response = client.get(f"/sales/deals/{deal.pk}/products/", {"product_q": f"licence {number}"})
    assert _options(response.content.decode()) == [str(last.pk), str(addon.pk)]

    # Without script, the search form reloads the page with the options narrowed; the found
    # product is then added like any other.
    html = client.get(f"/sales/deals/{deal.pk}/", {"product_q": f"LIC-{number}"}).content.decode()
    assert _options(html) == [str(last.pk)]
    assert f'value="LIC-{number}"' in html
    response = client.post(f"/sales/deals/{deal.pk}/line-items/", {"product": last.pk})
    assert response.status_code == 302
    assert LineItem.objects.get(deal=deal).product_id == last.pk
    # A search that matches nothing keeps the picker, so the member can search again.
    html = client.get(f"/sales/deals/{deal.pk}/", {"product_q": "<script>"}).content.decode()
    assert 'data-testid="find-product"' in html
    assert 'value="&lt;script&gt;"' in html
    assert _options(html) == []
    assert "No active product matches this search." in html


def test_the_product_picker_follows_the_deal_and_the_role(alpha: Workspace) -> None:
    _product()
    deal = DealFactory.create(owner=alpha.owner.user, currency="USD")
    # A rep who may not edit another member's deal gets no options for it.
    rep = workspace_client(alpha.members[Role.SALES_REP].user, alpha.tenant)
    assert rep.get(f"/sales/deals/{deal.pk}/products/").status_code == 404
    # A read-only member may not add line items, so is not offered products either.
    viewer = workspace_client(alpha.members[Role.READ_ONLY].user, alpha.tenant)
    assert viewer.get(f"/sales/deals/{deal.pk}/products/").status_code == 403
    assert (
        'data-testid="find-product"' not in viewer.get(f"/sales/deals/{deal.pk}/").content.decode()
    )
    owner = workspace_client(alpha.owner.user, alpha.tenant)
    assert owner.get(f"/sales/deals/{deal.pk}/products/").status_code == 200
    assert owner.post(f"/sales/deals/{deal.pk}/products/").status_code == 405


def test_a_rep_cannot_change_the_items_of_another_members_deal(alpha: Workspace) -> None:
    deal = DealFactory.create(owner=alpha.owner.user, currency="USD")
    product = _product()
    client = workspace_client(alpha.members[Role.SALES_REP].user, alpha.tenant)
    response = client.post(f"/sales/deals/{deal.pk}/line-items/", {"product": product.pk})
    assert response.status_code == 404
    body = {"product": product.pk}
    response = _send(client, "POST", f"/api/v1/sales/deals/{deal.pk}/line-items/", body)
    assert response.status_code == 404
    assert not LineItem.objects.exists()


def test_products_and_line_items_through_the_api(alpha: Workspace) -> None:
    client = workspace_client(alpha.owner.user, alpha.tenant)
    response = _send(
        client, "POST", "/api/v1/sales/products/", {"name": "Widget", "unit_price": "10.50"}
    )
    assert response.status_code == 201, response.content
    product = response.json()
    assert (product["unit_price"], product["currency"]) == ("10.50", alpha.tenant.currency)
    response = _send(client, "POST", "/api/v1/sales/products/", {"name": "W", "unit_price": "x"})
    assert response.status_code == 400
    assert response.json()["error"]["fields"].keys() == {"unit_price"}
    listed = client.get("/api/v1/sales/products/?q=widg").json()
    assert [p["id"] for p in listed["results"]] == [product["id"]]

    deal = DealFactory.create(currency=alpha.tenant.currency)
    path = f"/api/v1/sales/deals/{deal.pk}/line-items/"
    response = _send(client, "POST", path, {"product": product["id"], "quantity": "4"})
    assert response.status_code == 201, response.content
    item = response.json()
    assert item["total"] == "42.00"
    response = _send(client, "PATCH", f"{path}{item['id']}/", {"discount": "50"})
    assert response.json()["total"] == "21.00"
    assert client.get(f"/api/v1/sales/deals/{deal.pk}/").json()["amount"] == "21.00"
    assert [i["id"] for i in client.get(path).json()] == [item["id"]]
    assert _send(client, "DELETE", f"{path}{item['id']}/", {}).status_code == 204
    assert _send(client, "DELETE", f"{path}{item['id']}/", {}).status_code == 404
