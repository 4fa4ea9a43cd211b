"""Next best offer (ADR 0042): products a contact lacks that customers who bought the same
products bought, from won deals' line items, explained with confidence and lift, on the
contact's page, in the API and in email placeholders with their fallback."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core import mail
from django_tenants.utils import schema_context

from crm_modules.marketing.campaigns import content
from crm_modules.marketing.models_triggers import NextBestOffer
from crm_modules.marketing.offers import first_offers, offers_for, offers_recompute
from crm_modules.marketing.triggers import engine, services
from crm_modules.marketing.triggers.tasks import next_best_offers_refresh
from crm_modules.sales.models import Contact, Deal, LineItem, Product
from tenants.roles import Role
from tests.conftest import Workspace, record_page, workspace_client
from tests.isolation.conftest import db_state
from tests.marketing.conftest import open_contact_rules
from tests.sales.conftest import fresh
from tests.sales.factories import ContactFactory, DealFactory, PipelineFactory
from tests.service.conftest import customer

pytestmark = pytest.mark.usefixtures("in_alpha")


def _products(*names: str) -> dict[str, Product]:
    return {
        name: Product.objects.create(name=name, unit_price=Decimal(10), currency="EUR")
        for name in names
    }


def _bought(contact: Contact, *products: Product, status: str = "won") -> Deal:
    deal = DealFactory.create(pipeline=PipelineFactory.create(), status=status)
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


def _shop() -> tuple[dict[str, Product], dict[str, Contact]]:
    """Five buyers of Alpha (three also Beta, two also Gamma), two of Delta only."""
    p = _products("Alpha", "Beta", "Gamma", "Delta")
    c = {name: ContactFactory.create(first_name=name) for name in ("c1", "c2", "c3", "c4", "c5")}
    _bought(c["c1"], p["Alpha"], p["Beta"])
    _bought(c["c2"], p["Alpha"])
    _bought(c["c2"], p["Beta"])  # across two deals: still both bought
    _bought(c["c3"], p["Alpha"], p["Gamma"])
    _bought(c["c4"], p["Alpha"], p["Beta"], p["Gamma"])
    target = customer("t@example.com", first_name="Tina")
    c["t"] = target
    _bought(target, p["Alpha"])
    _bought(target, p["Delta"], status="open")  # not bought yet
    _bought(target, p["Beta"], status="lost")  # not bought either
    for name in ("d1", "d2"):
        c[name] = ContactFactory.create(first_name=name)
        _bought(c[name], p["Delta"])
    return p, c


def test_offers_are_what_buyers_of_the_same_products_bought_explained() -> None:
    _p, c = _shop()
    assert offers_recompute() > 0
    offers = offers_for(c["t"].pk)
    assert [o.product for o in offers] == ["Beta", "Gamma"]
    beta, gamma = offers
    assert beta.basis == "Alpha"
    assert beta.basis_buyers == 5
    assert beta.confidence == pytest.approx(3 / 5)
    # 7 buyers in all, 3 of them bought Beta.
    assert beta.lift == pytest.approx((3 / 5) / (3 / 7))
    assert beta.explanation == (
        "Bought by 60% of the 5 customers who bought Alpha (1.4 times as likely as any customer)."
    )
    assert gamma.confidence == pytest.approx(2 / 5)
    # Nobody is offered what they have; pairs bought by one customer only are noise.
    assert [o.product for o in offers_for(c["c4"].pk)] == []
    assert [o.product for o in offers_for(c["c3"].pk)] == ["Beta"]
    assert offers_for(c["d1"].pk) == []
    assert first_offers([c["t"].pk, c["c3"].pk, c["d1"].pk]) == {
        c["t"].pk: "Beta",
        c["c3"].pk: "Beta",
    }


def test_a_recompute_replaces_the_offers_and_skips_inactive_products() -> None:
    p, c = _shop()
    first = offers_recompute()
    assert offers_recompute() == first == NextBestOffer.objects.count()
    Product.objects.filter(pk=p["Beta"].pk).update(active=False)
    next_best_offers_refresh()
    assert [o.product for o in offers_for(c["t"].pk)] == ["Gamma"]


def test_the_contact_page_shows_the_panel_and_the_api_lists_the_offers(alpha: Workspace) -> None:
    _p, c = _shop()
    offers_recompute()
    client = workspace_client(alpha.members[Role.READ_ONLY].user, alpha.tenant)
    page = record_page(client, f"/sales/contacts/{c['t'].pk}/")
    assert 'data-testid="next-best-offer"' in page
    assert "Bought by 60% of the 5 customers who bought Alpha" in page
    api = client.get(f"/api/v1/marketing/contacts/{c['t'].pk}/offers/")
    assert api.status_code == 200
    assert [row["product"] for row in api.json()] == ["Beta", "Gamma"]
    assert api.json()[0]["explanation"].startswith("Bought by 60%")
    empty = record_page(client, f"/sales/contacts/{c['d1'].pk}/")
    assert "No suggestion yet" in empty


def test_the_placeholder_fills_emails_with_the_offer_or_the_fallback(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    _p, c = _shop()
    offers_recompute()
    open_contact_rules()
    content.placeholders_check('{{ next_best_offer | default:"our catalogue" }}', field="body")
    manager = fresh(alpha.members[Role.MANAGER])
    services.trigger_rule_create(
        actor=manager,
        name="Offer",
        definition={
            "when": {"event": "sales.tag_added", "match": {"tag": "offer"}},
            "actions": [
                {
                    "type": "send_email",
                    "subject": "For you",
                    "body": 'Try {{ next_best_offer | default:"our catalogue" }}.',
                }
            ],
        },
    )
    other = customer("o@example.com", first_name="Otto")
    for contact in (c["t"], other):
        with django_capture_on_commit_callbacks(execute=True):
            engine.evaluate(
                kind="sales.tag_added",
                contact_id=contact.pk,
                occurrence="x",
                data={"tag": "offer"},
                chain=[],
            )
    bodies = {m.to[0]: m.body for m in mail.outbox}
    assert bodies == {"t@example.com": "Try Beta.", "o@example.com": "Try our catalogue."}
    values = content.contact_values(c["t"], offer="Beta")
    assert values["next_best_offer"] == "Beta"


def test_the_refresh_task_run_in_another_workspace_leaves_this_one_alone(
    alpha: Workspace, bravo: Workspace
) -> None:
    _shop()
    offers_recompute()
    before = db_state(alpha)
    with schema_context(bravo.tenant.schema_name):
        assert next_best_offers_refresh.run() == 0
        assert not NextBestOffer.objects.exists()
    assert db_state(alpha) == before
