"""The product condition's picker in a catalogue of thousands: searched as the marketer types
(name or SKU, any script, names starting with the text first), the chosen products always
shown ticked by name — a product deleted since by its id — and never listed whole."""

from __future__ import annotations

import re
from decimal import Decimal
from html import unescape

import pytest

from crm_modules.marketing.segment_builder import PRODUCT_MATCHES
from crm_modules.sales.api import Product
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client

pytestmark = pytest.mark.usefixtures("in_alpha")


@pytest.fixture
def catalogue(alpha: Workspace) -> dict[str, int]:
    Product.objects.bulk_create(
        Product(name=f"Articolo {n:04d}", sku=f"ART-{n:04d}", unit_price=Decimal(1), currency="USD")
        for n in range(3000)
    )
    names = {
        "zucchero": Product.objects.create(
            name="Zucchero di canna", sku="ZC-1", unit_price=Decimal(2), currency="USD"
        ),
        "thai": Product.objects.create(name="กาแฟเย็น", unit_price=Decimal(3), currency="THB"),
        "chinese": Product.objects.create(
            name="乌龙茶 礼盒", unit_price=Decimal(4), currency="CNY"
        ),
        "canna": Product.objects.create(
            name="Canna da zucchero", unit_price=Decimal(5), currency="USD"
        ),
        "old": Product.objects.create(
            name="Zucchero vecchio", unit_price=Decimal(1), currency="USD", active=False
        ),
    }
    return {key: product.pk for key, product in names.items()}


def _options(body: str) -> list[tuple[str, bool, str]]:
    """(value, ticked, label) of each option of the fragment, in order."""
    return [
        (value, bool(checked), unescape(label))
        for value, checked, label in re.findall(
            r'name="c_products" value="(\d+)"( checked)?> '
            r'<label for="c_products_\d+">([^<]*)</label>',
            body,
        )
    ]


def test_the_picker_finds_any_product_of_a_large_catalogue(
    alpha: Workspace, catalogue: dict[str, int]
) -> None:
    client = workspace_client(alpha.members[Role.MARKETER].user, alpha.tenant)

    def search(text: str, *chosen: int) -> list[tuple[str, bool, str]]:
        response = client.get(
            "/marketing/segments/products/",
            {"c_product_search": text, "c_products": [str(pk) for pk in chosen]},
        )
        assert response.status_code == 200
        return _options(response.content.decode())

    # Starting with the text first, then containing it; an inactive product is not offered.
    assert [label for _, _, label in search("zucchero")] == [
        "Zucchero di canna",
        "Canna da zucchero",
    ]
    assert search("zc-1") == [(str(catalogue["zucchero"]), False, "Zucchero di canna")]
    assert [label for _, _, label in search("แฟเย")] == ["กาแฟเย็น"]
    assert [label for _, _, label in search("龙茶")] == ["乌龙茶 礼盒"]
    # Nothing typed: the first few by name, never the whole catalogue.
    assert len(search("")) == PRODUCT_MATCHES
    assert len(search("Articolo")) == PRODUCT_MATCHES

    # The chosen ones stay, ticked and named, whatever is searched next; not offered twice.
    found = search("龙茶", catalogue["zucchero"], catalogue["old"])
    assert found == [
        (str(catalogue["zucchero"]), True, "Zucchero di canna"),
        (str(catalogue["old"]), True, "Zucchero vecchio"),
        (str(catalogue["chinese"]), False, "乌龙茶 礼盒"),
    ]
    assert [label for _, _, label in search("zucchero", catalogue["zucchero"])] == [
        "Zucchero di canna",
        "Canna da zucchero",
    ]
    # A product deleted since it was chosen is named by its id; junk ids are dropped.
    gone = catalogue["canna"]
    Product.objects.filter(pk=gone).delete()
    response = client.get("/marketing/segments/products/", {"c_products": [str(gone), "x", "-3"]})
    assert _options(response.content.decode())[0] == (str(gone), True, f"#{gone}")


def test_the_builder_keeps_the_chosen_products_by_name_when_shown_again(
    alpha: Workspace, catalogue: dict[str, int]
) -> None:
    """A step of the builder that fails (a bad count) shows the form again: the products
    chosen are still ticked and named, though none of them matches the search typed."""
    client = workspace_client(alpha.members[Role.MARKETER].user, alpha.tenant)
    response = client.post(
        "/marketing/segments/new/",
        {
            "name": "Dolci",
            "kind": "dynamic",
            "match": "all",
            "definition": "",
            "action": "add",
            "c_field": "purchase.product",
            "c_op": "bought",
            "c_products": [str(catalogue["zucchero"]), str(catalogue["thai"])],
            "c_product_search": "Articolo 0042",
            "c_count": "-1",
        },
    )
    body = response.content.decode()
    assert 'data-testid="condition-error"' in body
    options = _options(body)
    assert options[:3] == [
        (str(catalogue["zucchero"]), True, "Zucchero di canna"),
        (str(catalogue["thai"]), True, "กาแฟเย็น"),
        (options[2][0], False, "Articolo 0042"),
    ]
    assert 'value="Articolo 0042"' in body
    # The catalogue is never listed whole in the page.
    assert body.count('name="c_products"') == 3
