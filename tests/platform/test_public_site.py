import pytest

from billing.plans import OFFERS
from tests.conftest import public_client


@pytest.mark.parametrize("path", ["/", "/pricing/"])
def test_public_pages_offer_the_three_plans_and_the_trial(world, db, path):
    response = public_client().get(path)
    assert response.status_code == 200
    assert [offer.code for offer in response.context["offers"]] == [
        "starter",
        "professional",
        "enterprise",
    ]
    body = response.content.decode()
    for offer in OFFERS:
        assert f"<h2>{offer.name}</h2>" in body
    assert 'href="/signup/"' in body


def test_plan_prices_follow_the_visitors_locale(world, db):
    english = public_client().get("/pricing/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    italian = public_client().get("/pricing/", HTTP_ACCEPT_LANGUAGE="it").content.decode()
    assert "<strong>49.00 USD</strong>" in english
    assert "<strong>49,00 USD</strong>" in italian


@pytest.mark.parametrize("path", ["/", "/pricing/"])
def test_plan_prices_are_in_the_visitors_currency(world, db, path):
    """A browser in the euro area sees euros first; any other, dollars; the switch shows both
    and a choice made there wins over the browser's region."""
    german = public_client().get(path, HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9").content.decode()
    italian = public_client().get(path, HTTP_ACCEPT_LANGUAGE="it-IT").content.decode()
    american = public_client().get(path, HTTP_ACCEPT_LANGUAGE="en-US").content.decode()
    chosen = public_client().get(f"{path}?currency=usd", HTTP_ACCEPT_LANGUAGE="fr-FR")
    unknown = public_client().get(f"{path}?currency=GBP", HTTP_ACCEPT_LANGUAGE="fr-FR")

    assert "<strong>45.00 EUR</strong>" in german
    assert "<strong>14.00 EUR</strong>" in german
    assert "USD</strong>" not in german
    assert "<strong>45,00 EUR</strong>" in italian
    assert "<strong>49.00 USD</strong>" in american
    assert "EUR</strong>" not in american
    assert chosen.context["currency"] == "USD"
    assert "<strong>99.00 USD</strong>" in chosen.content.decode()
    assert unknown.context["currency"] == "EUR"
    assert 'href="?currency=EUR" data-testid="currency-EUR" aria-current="true"' in german
    assert 'href="?currency=USD" data-testid="currency-USD">' in german
    assert 'href="?currency=USD" data-testid="currency-USD" aria-current="true"' in american


def test_public_pages_refuse_writes(world, db):
    assert public_client().post("/pricing/").status_code == 405


@pytest.mark.parametrize(
    "path", ["/workspaces/", "/workspaces/new/", "/account/preferences/", "/w/alpha/"]
)
def test_account_pages_send_anonymous_visitors_to_sign_in(world, db, path):
    response = public_client().get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize("path", ["/members/", "/roles/", "/settings/", "/audit/", "/handover/"])
def test_workspace_pages_do_not_exist_on_the_public_host(world, db, path):
    assert public_client().get(path).status_code == 404
