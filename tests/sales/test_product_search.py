"""Product search by name or SKU (ADR 0069): the segment builder's product picker, the product
list page and the products API find a product by any part of its name, in any script and any
case, and by its SKU; where pg_trgm exists the trigram indexes on upper(name) and upper(sku)
answer the search instead of a scan of the catalogue."""

from __future__ import annotations

import re
from decimal import Decimal
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm_modules.sales.models import Product
from crm_platform.indexes import trigram_available
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client

pytestmark = pytest.mark.usefixtures("in_alpha")

INDEXES = ["product_name_grams", "product_sku_grams"]

NAMES = {
    "ru": "Зелёный чай Улун",
    "th": "กาแฟเย็นสูตรพิเศษ",
    "zh": "乌龙茶礼盒装",
    "it": "Caffè macinato Perugia",
    "en": "Espresso Machine Deluxe",
}
SKUS = {
    "ru": "RU-ЧАЙ-01",
    "th": "TH-KAFAE-2",
    "zh": "ZH-WULONG-3",
    "it": "IT-CAFFE-4",
    "en": "EN-ESP-5",
}

# (what is typed, the products it finds): parts of names in another case, parts of SKUs.
SEARCHES = [
    ("ЗЕЛЁНЫЙ", {"ru"}),
    ("чай улун", {"ru"}),
    ("ёный", {"ru"}),
    ("แฟเย็น", {"th"}),
    ("สูตรพิเศษ", {"th"}),
    ("乌龙茶", {"zh"}),
    ("茶礼盒", {"zh"}),
    ("CAFFÈ MAC", {"it"}),
    ("perugia", {"it"}),
    ("machine del", {"en"}),
    ("espresso", {"en"}),
    ("nothing like it", set()),
]
# Parts of SKUs: the list and the API find them (the picker takes a whole SKU).
SKU_PARTS = [("wulong", {"zh"}), ("-cafFe-", {"it"}), ("ЧАЙ-01", {"ru"})]


def _products() -> dict[str, int]:
    # Filler whose names and SKUs share none of the searched pieces.
    Product.objects.bulk_create(
        Product(name=f"Articolo {n:05d}", sku=f"ART-{n:05d}", unit_price=Decimal(1), currency="USD")
        for n in range(400)
    )
    made = {
        key: Product.objects.create(
            name=name, sku=SKUS[key], unit_price=Decimal(10), currency="USD"
        ).pk
        for key, name in NAMES.items()
    }
    return made


def _force_indexes() -> None:
    """Where the indexes exist, every search below reads them (a scan would hide a search the
    index answers wrongly); the setting ends with the test's transaction."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")


def test_the_indexes_exist_exactly_where_pg_trgm_does(alpha: Workspace) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %s"
            " AND tablename = 'sales_product' AND indexname LIKE %s ORDER BY indexname",
            [alpha.tenant.schema_name, "product\\_%\\_grams"],
        )
        found = dict(cursor.fetchall())
    assert sorted(found) == (INDEXES if trigram_available() else [])
    for definition in found.values():
        assert "gin_trgm_ops" in definition
        assert "upper(" in definition


def test_the_list_page_and_the_api_find_products_in_every_script(alpha: Workspace) -> None:
    made = _products()
    _force_indexes()
    client = workspace_client(alpha.members[Role.SALES_REP].user, alpha.tenant)
    for text, keys in SEARCHES + SKU_PARTS:
        expected = {made[key] for key in keys}
        page = client.get("/sales/products/", {"q": text})
        assert page.status_code == 200
        found = {int(pk) for pk in re.findall(r'data-product="(\d+)"', page.content.decode())}
        assert found == expected, text
        listed = client.get("/api/v1/sales/products/", {"q": text})
        assert listed.status_code == 200
        assert {row["id"] for row in listed.json()["results"]} == expected, text


def test_the_segment_product_picker_finds_products_in_every_script(alpha: Workspace) -> None:
    made = _products()
    _force_indexes()
    client = workspace_client(alpha.members[Role.MARKETER].user, alpha.tenant)
    for text, keys in SEARCHES:
        response = client.get("/marketing/segments/products/", {"c_product_search": text})
        assert response.status_code == 200
        values = re.findall(r'name="c_products" value="(\d+)"', response.content.decode())
        assert {int(pk) for pk in values} == {made[key] for key in keys}, text
    for key, sku in SKUS.items():
        response = client.get("/marketing/segments/products/", {"c_product_search": sku.lower()})
        labels = re.findall(
            r'<label for="c_products_\d+">([^<]*)</label>', response.content.decode()
        )
        assert [unescape(label) for label in labels] == [NAMES[key]], sku


def _plans(sqls: list[str]) -> list[str]:
    plans = []
    with connection.cursor() as cursor:
        for sql in sqls:
            cursor.execute(f"EXPLAIN {sql}")
            plans.append("\n".join(row[0] for row in cursor.fetchall()))
    return plans


def _search_queries(captured: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if "LIKE UPPER(" in q["sql"]]


def test_a_large_catalogue_is_searched_through_the_trigram_indexes(alpha: Workspace) -> None:
    """20,000 products, statistics current: the queries the pages and the API send read the
    name and SKU indexes (a bitmap of each), not the table row by row."""
    Product.objects.bulk_create(
        Product(
            name=f"Prodotto {n:05d} {('rosso', 'verde', 'blu', 'nero')[n % 4]}",
            sku=f"SKU-{n:05d}",
            unit_price=Decimal(1),
            currency="USD",
        )
        for n in range(20_000)
    )
    Product.objects.create(name="Zucchero di canna", sku="ZC-1", unit_price=2, currency="USD")
    with connection.cursor() as cursor:
        if trigram_available():
            # As autovacuum leaves them: the rows just written still wait in each index's
            # pending list, which the planner prices as read in full (a manual ANALYZE does
            # not merge it; autovacuum does).
            for index in ("product_name_grams", "product_sku_grams"):
                cursor.execute("SELECT gin_clean_pending_list(%s::regclass)", [index])
        cursor.execute("ANALYZE sales_product")
    sales = workspace_client(alpha.members[Role.SALES_REP].user, alpha.tenant)
    marketer = workspace_client(alpha.members[Role.MARKETER].user, alpha.tenant)
    with CaptureQueriesContext(connection) as captured:
        assert b"Zucchero di canna" in sales.get("/sales/products/", {"q": "zucchero"}).content
        api = sales.get("/api/v1/sales/products/", {"q": "zucchero"}).json()
        assert [row["name"] for row in api["results"]] == ["Zucchero di canna"]
        picker = marketer.get("/marketing/segments/products/", {"c_product_search": "zucchero"})
        assert b"Zucchero di canna" in picker.content
    queries = _search_queries(captured)
    assert len(queries) == 3
    for plan in _plans(queries):
        if trigram_available():
            assert "Bitmap Index Scan on product_name_grams" in plan, plan
            assert "Bitmap Index Scan on product_sku_grams" in plan, plan
            assert "Seq Scan" not in plan, plan
        else:
            assert "product_name_grams" not in plan, plan
