"""Segment conditions on the products bought (line items of won deals: any of some products, in
a period, at least N times), on the contact's company (size, country, region, city, parent,
custom fields) and on custom fields with the operators of their type. Each selects exactly the
contacts it says, a contact appears once, membership follows the records as they change, an
archived field is refused for a new filter while a stored one keeps working, and the builder
offers them."""

from __future__ import annotations

import datetime
import json
import re
from decimal import Decimal
from html import unescape
from typing import Any

import pytest
from django.utils import timezone

from crm_modules.marketing import selectors, services
from crm_modules.marketing.models import Segment
from crm_modules.sales.api import (
    Company,
    Contact,
    CustomField,
    Deal,
    LineItem,
    Product,
    Stage,
    company_update,
    deal_move_stage,
)
from crm_modules.sales.services.custom_fields import custom_field_archive
from crm_platform.errors import ServiceError
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.marketing.conftest import fresh
from tests.sales.factories import CompanyFactory, ContactFactory, DealFactory, PipelineFactory

pytestmark = pytest.mark.usefixtures("in_alpha")

C0 = "definition.conditions[0]"
NEW = "/marketing/segments/new/"
SEGMENTS = "/api/v1/marketing/segments/"


def _c(field: str, op: str, value: Any = None) -> dict[str, Any]:
    return {"field": field, "op": op, "value": value}


def _segment(alpha: Workspace, *conditions: dict[str, Any], match: str = "all") -> Segment:
    return services.segment_create(
        actor=fresh(alpha.members[Role.MARKETER]),
        name="S",
        kind="dynamic",
        definition={"match": match, "conditions": list(conditions)},
    )


def _read(alpha: Workspace, segment: Segment) -> set[int]:
    rows = selectors.segment_contacts(actor=fresh(alpha.members[Role.OWNER]), segment=segment)
    pks = list(rows.values_list("pk", flat=True))
    assert len(pks) == len(set(pks)), "a contact appears twice"
    return set(pks)


def _members(alpha: Workspace, *conditions: dict[str, Any], match: str = "all") -> set[int]:
    return _read(alpha, _segment(alpha, *conditions, match=match))


def _product(name: str) -> Product:
    return Product.objects.create(name=name, unit_price=Decimal(10), currency="EUR")


def _deal(contact: Contact, *products: Product, status: str = "won", days_ago: float = 1) -> Deal:
    closed = timezone.now() - datetime.timedelta(days=days_ago) if status == "won" else None
    deal = DealFactory.create(status=status, closed_at=closed)
    deal.contacts.add(contact)
    for product in products:
        LineItem.objects.create(
            deal=deal,
            product=product,
            name=product.name,
            quantity=Decimal(1),
            unit_price=product.unit_price,
            total=product.unit_price,
        )
    return deal


def _bought(ids: list[int], count: int = 1, days: int | None = None) -> dict[str, Any]:
    return {"products": ids, "count": count, "days": days}


def _field(entity: str, code: str, type_: str, **extra: Any) -> CustomField:
    return CustomField.objects.create(
        entity=entity, code=code, label=code.title(), type=type_, **extra
    )


# --- products bought ---------------------------------------------------------------------------


def test_bought_any_of_the_products_in_a_period_at_least_n_times(alpha: Workspace) -> None:
    espresso, grinder, mug = _product("Espresso ☕"), _product("Grinder"), _product("Mug")
    twice = ContactFactory.create()
    once_long_ago = ContactFactory.create()
    grinder_only = ContactFactory.create()
    mug_only = ContactFactory.create()
    open_deal = ContactFactory.create()
    lost_deal = ContactFactory.create()
    _deal(twice, espresso, days_ago=5)
    _deal(twice, espresso, grinder, days_ago=40)  # one deal with both counts once
    _deal(once_long_ago, espresso, days_ago=400)
    _deal(grinder_only, grinder, days_ago=2)
    _deal(mug_only, mug, days_ago=2)
    _deal(open_deal, espresso, status="open")
    _deal(lost_deal, espresso, status="lost")

    ids = [espresso.pk, grinder.pk]
    assert _members(alpha, _c("purchase.product", "bought", _bought([espresso.pk]))) == {
        twice.pk,
        once_long_ago.pk,
    }
    assert _members(alpha, _c("purchase.product", "bought", _bought(ids))) == {
        twice.pk,
        once_long_ago.pk,
        grinder_only.pk,
    }
    assert _members(alpha, _c("purchase.product", "bought", _bought(ids, days=90))) == {
        twice.pk,
        grinder_only.pk,
    }
    assert _members(alpha, _c("purchase.product", "bought", _bought(ids, count=2))) == {twice.pk}
    assert _members(alpha, _c("purchase.product", "bought", _bought(ids, count=2, days=30))) == (
        set()
    )
    # "did not buy" includes those who never bought anything.
    not_bought = _members(alpha, _c("purchase.product", "not_bought", _bought([espresso.pk])))
    assert twice.pk not in not_bought
    assert {grinder_only.pk, mug_only.pk, open_deal.pk, lost_deal.pk} <= not_bought


def test_a_deal_won_with_the_product_brings_the_contact_in(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    espresso = _product("Espresso")
    contact = ContactFactory.create()
    pipeline = PipelineFactory.create()
    deal = DealFactory.create(pipeline=pipeline, status="open")
    deal.contacts.add(contact)
    LineItem.objects.create(
        deal=deal,
        product=espresso,
        name="Espresso",
        quantity=Decimal(2),
        unit_price=Decimal(10),
        total=Decimal(20),
    )
    segment = _segment(alpha, _c("purchase.product", "bought", _bought([espresso.pk], days=7)))
    assert _read(alpha, segment) == set()

    with django_capture_on_commit_callbacks(execute=True):
        deal_move_stage(
            actor=fresh(alpha.members[Role.OWNER]),
            deal=deal,
            stage=pipeline.stages.get(kind=Stage.Kind.WON),
        )

    assert _read(alpha, segment) == {contact.pk}


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ({"products": []}, "Choose 1 to 50 products"),
        ({"products": ["x"]}, "Choose 1 to 50 products"),
        ({"products": [1], "count": 0}, "number of purchases from 1"),
        ({"products": [1], "days": 0}, "number of days from 1"),
        ({"products": [1], "sql": "x"}, "“products”, “count” and “days”"),
        ([1], "“products”, “count” and “days”"),
    ],
)
def test_a_bad_product_condition_is_refused_naming_it(
    alpha: Workspace, value: Any, fragment: str
) -> None:
    with pytest.raises(ServiceError) as caught:
        _segment(alpha, _c("purchase.product", "bought", value))

    assert caught.value.field == C0
    assert caught.value.message.startswith("Products bought: ")
    assert fragment in caught.value.message
    assert Segment.objects.count() == 0


def test_an_unknown_product_is_refused_when_saved_but_a_deleted_one_keeps_the_segment(
    alpha: Workspace,
) -> None:
    with pytest.raises(ServiceError) as caught:
        _segment(alpha, _c("purchase.product", "bought", _bought([987654])))
    assert caught.value.field == C0
    assert "No product with the id 987654." in caught.value.message

    spare, kept = _product("Spare"), _product("Kept")
    buyer = ContactFactory.create()
    _deal(buyer, kept)
    segment = _segment(alpha, _c("purchase.product", "bought", _bought([spare.pk, kept.pk])))
    spare.delete()

    assert _read(alpha, segment) == {buyer.pk}


# --- the contact's company ---------------------------------------------------------------------


def test_company_size_country_region_city_and_parent(alpha: Workspace) -> None:
    group = CompanyFactory.create(name="Gruppo Rossi")
    big_it = CompanyFactory.create(
        size="201-1000", country="IT", region="Lombardia", city="Milano", parent=group
    )
    small_th = CompanyFactory.create(size="1-10", country="TH", city="กรุงเทพมหานคร")
    at_big = ContactFactory.create(company=big_it)
    at_small = ContactFactory.create(company=small_th)
    alone = ContactFactory.create(company=None)

    assert _members(alpha, _c("company.size", "in", ["201-1000", "1001+"])) == {at_big.pk}
    assert _members(alpha, _c("company.size", "ne", "1-10")) == {at_big.pk, alone.pk}
    assert _members(alpha, _c("company.country", "eq", "it")) == {at_big.pk}
    assert _members(alpha, _c("company.region", "contains", "lombard")) == {at_big.pk}
    assert _members(alpha, _c("company.city", "eq", "กรุงเทพมหานคร")) == {at_small.pk}
    assert _members(alpha, _c("company.parent", "eq", "gruppo rossi")) == {at_big.pk}
    assert _members(alpha, _c("company.parent", "empty")) == {at_small.pk, alone.pk}


def test_company_custom_fields_by_type(alpha: Workspace) -> None:
    _field("company", "tier", "select", options=["Gold", "Silver", "金"])
    _field("company", "employees", "number")
    _field("company", "renewal", "date")
    gold = CompanyFactory.create(custom={"tier": "Gold", "employees": 250, "renewal": "2027-03-01"})
    silver = CompanyFactory.create(custom={"tier": "金", "employees": 12})
    at_gold = ContactFactory.create(company=gold)
    at_silver = ContactFactory.create(company=silver)
    alone = ContactFactory.create(company=None)

    assert _members(alpha, _c("company.custom.tier", "eq", "Gold")) == {at_gold.pk}
    assert _members(alpha, _c("company.custom.tier", "in", ["Gold", "金"])) == {
        at_gold.pk,
        at_silver.pk,
    }
    # Not Gold includes the contacts without a company.
    assert _members(alpha, _c("company.custom.tier", "ne", "Gold")) == {at_silver.pk, alone.pk}
    assert _members(alpha, _c("company.custom.employees", "gte", 100)) == {at_gold.pk}
    assert _members(alpha, _c("company.custom.employees", "lt", "100")) == {at_silver.pk}
    assert _members(alpha, _c("company.custom.renewal", "lt", "2027-06-30")) == {at_gold.pk}
    assert _members(alpha, _c("company.custom.renewal", "empty")) == {at_silver.pk, alone.pk}


def test_a_company_change_moves_its_contacts_in_and_out(alpha: Workspace) -> None:
    company = CompanyFactory.create(industry="Retail", size="11-50")
    contact = ContactFactory.create(company=company)
    segment = _segment(
        alpha, _c("company.industry", "eq", "Coffee"), _c("company.size", "eq", "11-50")
    )
    assert _read(alpha, segment) == set()

    company_update(
        actor=fresh(alpha.members[Role.OWNER]), company=company, changes={"industry": "Coffee"}
    )
    assert _read(alpha, segment) == {contact.pk}

    company_update(
        actor=fresh(alpha.members[Role.OWNER]),
        company=Company.objects.get(pk=company.pk),
        changes={"size": "1001+"},
    )
    assert _read(alpha, segment) == set()


# --- custom fields of contacts by type ---------------------------------------------------------


def test_contact_custom_fields_compare_as_their_type(alpha: Workspace) -> None:
    _field("contact", "plan", "select", options=["Basic", "Pro", "Плюс"])
    _field("contact", "budget", "decimal")
    _field("contact", "since", "date")
    _field("contact", "seen", "datetime")
    _field("contact", "vip", "boolean")
    _field("contact", "topics", "multi_select", options=["tea", "coffee"])
    _field("contact", "notes", "text")
    _field("contact", "manager", "member")
    manager = alpha.members[Role.SALES_REP].user
    rich = ContactFactory.create(
        custom={
            "plan": "Pro",
            "budget": "1500.50",
            "since": "2020-05-01",
            "seen": "2026-11-30T08:00:00+00:00",
            "vip": True,
            "topics": ["tea", "coffee"],
            "notes": "Ama il caffè ristretto",
            "manager": manager.pk,
        }
    )
    modest = ContactFactory.create(
        custom={
            "plan": "Плюс",
            "budget": "99",
            "since": "2024-01-15",
            "vip": False,
            "topics": ["tea"],
        }
    )
    # A value stored before the field had its type is skipped by comparisons, never an error.
    stray = ContactFactory.create(custom={"budget": "lots", "since": "soon"})
    blank = ContactFactory.create(custom={})

    assert _members(alpha, _c("custom.plan", "in", ["Pro", "Плюс"])) == {rich.pk, modest.pk}
    assert _members(alpha, _c("custom.plan", "ne", "Pro")) == {modest.pk, stray.pk, blank.pk}
    assert _members(alpha, _c("custom.budget", "gt", "1000")) == {rich.pk}
    assert _members(alpha, _c("custom.budget", "lte", 99)) == {modest.pk}
    assert _members(alpha, _c("custom.budget", "eq", "1500.5")) == {rich.pk}
    assert _members(alpha, _c("custom.since", "lt", "2021-01-01")) == {rich.pk}
    assert _members(alpha, _c("custom.since", "gte", "2021-01-01")) == {modest.pk}
    assert _members(alpha, _c("custom.seen", "eq", "2026-11-30")) == {rich.pk}
    assert _members(alpha, _c("custom.vip", "is", True)) == {rich.pk}
    assert _members(alpha, _c("custom.vip", "is", False)) == {modest.pk}
    assert _members(alpha, _c("custom.topics", "has", "coffee")) == {rich.pk}
    assert _members(alpha, _c("custom.topics", "lacks", "coffee")) == {
        modest.pk,
        stray.pk,
        blank.pk,
    }
    assert _members(alpha, _c("custom.notes", "contains", "CAFFÈ")) == {rich.pk}
    assert _members(alpha, _c("custom.manager", "eq", manager.pk)) == {rich.pk}
    assert _members(alpha, _c("custom.budget", "not_empty")) == {rich.pk, modest.pk, stray.pk}
    assert _members(alpha, _c("custom.topics", "not_empty")) == {rich.pk, modest.pk}
    assert _members(alpha, _c("custom.topics", "empty")) == {stray.pk, blank.pk}


@pytest.mark.parametrize(
    ("condition", "fragment"),
    [
        (_c("custom.budget", "gt", "lots"), "Budget: Give a number."),
        (_c("custom.budget", "contains", "1"), "Choose an operator from: eq, gt"),
        (_c("custom.since", "lt", "01/02/2024"), "Since: Give a date as YYYY-MM-DD."),
        (_c("custom.vip", "is", "yes"), "Vip: Give true or false."),
        (_c("custom.plan", "eq", "Gold"), "Plan: Choose from: Basic, Pro"),
        (_c("custom.plan", "in", []), "Plan: Choose one or more of the field's options."),
        (_c("company.custom.a'b", "eq", "x"), "is not a custom field key"),
    ],
)
def test_a_bad_custom_condition_is_refused_naming_it(
    alpha: Workspace, condition: dict[str, Any], fragment: str
) -> None:
    _field("contact", "plan", "select", options=["Basic", "Pro"])
    _field("contact", "budget", "currency")
    _field("contact", "since", "date")
    _field("contact", "vip", "boolean")

    with pytest.raises(ServiceError) as caught:
        _segment(alpha, condition)

    assert caught.value.field == C0
    assert fragment in caught.value.message
    assert Segment.objects.count() == 0


def test_an_archived_field_is_refused_for_a_new_filter_and_a_stored_one_keeps_working(
    alpha: Workspace,
) -> None:
    tier = _field("company", "tier", "select", options=["Gold"])
    gold = ContactFactory.create(company=CompanyFactory.create(custom={"tier": "Gold"}))
    ContactFactory.create()
    stored = _segment(alpha, _c("company.custom.tier", "eq", "Gold"))

    custom_field_archive(actor=fresh(alpha.owner), field=tier, archived=True)

    assert _read(alpha, stored) == {gold.pk}
    with pytest.raises(ServiceError) as caught:
        _segment(alpha, _c("company.custom.tier", "eq", "Gold"))
    assert caught.value.field == C0
    assert "“Tier” is archived" in caught.value.message
    page = _builder(alpha).get(NEW).content.decode()
    assert 'value="company.custom.tier"' not in page


def test_a_key_without_a_field_keeps_the_exact_value_operators(alpha: Workspace) -> None:
    tagged = ContactFactory.create(custom={"legacy": 7})
    ContactFactory.create(custom={"legacy": "7"})

    assert _members(alpha, _c("custom.legacy", "eq", 7)) == {tagged.pk}
    with pytest.raises(ServiceError):
        _segment(alpha, _c("custom.legacy", "gt", 1))


# --- the builder -------------------------------------------------------------------------------


def _builder(alpha: Workspace) -> Any:
    return workspace_client(alpha.members[Role.MARKETER].user, alpha.tenant)


def _textarea(html: str) -> str:
    found = re.search(r'<textarea name="definition"[^>]*>(.*?)</textarea>', html, re.S)
    assert found is not None
    return unescape(found.group(1)).strip()


def _options(html: str, select_id: str) -> list[str]:
    found = re.search(rf'<select id="{select_id}"[^>]*>(.*?)</select>', html, re.S)
    assert found is not None
    return re.findall(r'<option value="([^"]*)"', found.group(1))


def test_builder_offers_custom_fields_company_values_and_products(alpha: Workspace) -> None:
    _field("contact", "plan", "select", options=["Basic", "Pro"])
    _field("contact", "since", "date")
    _field("company", "employees", "number")
    _field("company", "vip", "boolean")
    old = _field("contact", "old", "text")
    old.archived_at = timezone.now()
    old.save(update_fields=["archived_at"])
    _product("Espresso")
    retired = _product("Retired")
    retired.active = False
    retired.save(update_fields=["active"])
    client = _builder(alpha)
    base = {"name": "S", "kind": "dynamic", "match": "all", "definition": ""}

    page = client.get(NEW).content.decode()
    fields = _options(page, "c_field")
    for name in (
        "custom.plan",
        "custom.since",
        "company.custom.employees",
        "company.custom.vip",
        "company.size",
        "company.country",
        "company.parent",
        "purchase.product",
    ):
        assert name in fields
    assert "custom.old" not in fields
    assert '<optgroup label="Company">' in page

    def editor(field: str) -> str:
        response = client.post(NEW, {**base, "action": "choose", "c_field": field})
        assert response.status_code == 200
        html: str = response.content.decode()
        return html

    plan = editor("custom.plan")
    assert _options(plan, "c_op") == ["eq", "ne", "in", "empty", "not_empty"]
    assert 'name="c_choices" value="Pro"' in plan
    since = editor("custom.since")
    assert _options(since, "c_op") == ["eq", "gt", "gte", "lt", "lte", "empty", "not_empty"]
    assert '<option value="gt">is after</option>' in since
    assert 'type="date"' in since
    employees = editor("company.custom.employees")
    assert _options(employees, "c_op") == ["eq", "gt", "gte", "lt", "lte", "empty", "not_empty"]
    assert 'id="c_value" name="c_value" type="number"' in employees
    assert _options(editor("company.custom.vip"), "c_choice") == ["yes", "no"]
    products = editor("purchase.product")
    assert _options(products, "c_op") == ["bought", "not_bought"]
    # The picker offers active products (ticked boxes, searched as one types).
    names = re.findall(
        r'name="c_products" value="\d+"> <label for="c_products_\d+">([^<]*)</label>', products
    )
    assert names == ["Espresso"]
    assert 'id="c_product_search"' in products


def test_builder_adds_product_company_and_custom_conditions_and_creates(alpha: Workspace) -> None:
    _field("contact", "plan", "select", options=["Basic", "Pro"])
    _field("company", "renewal", "date")
    espresso, grinder = _product("Espresso"), _product("Grinder")
    company = CompanyFactory.create(size="11-50", custom={"renewal": "2026-01-10"})
    match = ContactFactory.create(company=company, custom={"plan": "Pro"})
    _deal(match, grinder, days_ago=10)
    _deal(match, espresso, days_ago=20)
    other = ContactFactory.create(company=company, custom={"plan": "Pro"})
    _deal(other, espresso, days_ago=20)
    client = _builder(alpha)
    data: dict[str, Any] = {"name": "Pro buyers", "kind": "dynamic", "match": "all"}

    def step(**inputs: Any) -> str:
        response = client.post(NEW, {**data, **inputs}, HTTP_HX_REQUEST="true")
        assert response.status_code == 200
        html: str = response.content.decode()
        assert 'data-testid="condition-error"' not in html, html
        data["definition"] = _textarea(html)
        return html

    step(
        action="add",
        c_field="purchase.product",
        c_op="bought",
        c_products=[str(espresso.pk), str(grinder.pk)],
        c_count="2",
        c_days="90",
    )
    step(action="add", c_field="custom.plan", c_op="in", c_choices=["Pro"])
    step(action="add", c_field="company.size", c_op="eq", c_choices=["11-50"])
    html = step(action="add", c_field="company.custom.renewal", c_op="lt", c_value="2026-02-01")

    assert "1 contact matches now" in html
    assert "Products bought: Espresso, Grinder — at least 2 times in the last 90 days" in html
    assert "Plan is one of Pro" in html
    assert "Company size is 11-50" in html
    assert "Company: Renewal is before 2026-02-01" in html
    response = client.post(NEW, {**data, "action": "create"})
    assert response.status_code == 302
    segment = Segment.objects.get()
    assert segment.definition["conditions"][0] == {
        "field": "purchase.product",
        "op": "bought",
        "value": {"products": sorted([espresso.pk, grinder.pk]), "count": 2, "days": 90},
    }
    assert _read(alpha, segment) == {match.pk}


def test_builder_refuses_a_product_condition_without_products(alpha: Workspace) -> None:
    response = _builder(alpha).post(
        NEW,
        {
            "name": "S",
            "kind": "dynamic",
            "match": "all",
            "definition": "",
            "action": "add",
            "c_field": "purchase.product",
            "c_op": "bought",
            "c_count": "1",
        },
    )

    assert response.status_code == 400
    assert "Products bought: Choose 1 to 50 products" in response.content.decode()


# --- the API -----------------------------------------------------------------------------------


def test_api_creates_a_product_and_company_segment_and_documents_the_conditions(
    alpha: Workspace,
) -> None:
    espresso = _product("Espresso")
    buyer = ContactFactory.create(company=CompanyFactory.create(country="IT"))
    _deal(buyer, espresso)
    client = workspace_client(alpha.members[Role.MARKETER].user, alpha.tenant)
    body = {
        "name": "Italian espresso buyers",
        "kind": "dynamic",
        "definition": {
            "match": "all",
            "conditions": [
                _c("purchase.product", "bought", {"products": [espresso.pk]}),
                _c("company.country", "eq", "IT"),
            ],
        },
    }

    created = client.post(SEGMENTS, data=json.dumps(body), content_type="application/json")
    refused = client.post(
        SEGMENTS,
        data=json.dumps(
            {**body, "definition": {"conditions": [_c("purchase.product", "bought", {})]}}
        ),
        content_type="application/json",
    )

    assert created.status_code == 201, created.content
    assert created.json()["count"] == 1
    assert created.json()["definition"]["conditions"][0]["value"] == {
        "products": [espresso.pk],
        "count": 1,
        "days": None,
    }
    assert refused.status_code == 400
    assert C0 in refused.content.decode()
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").content.decode()
    assert "purchase.product" in schema
    assert "company.custom.<code>" in schema
