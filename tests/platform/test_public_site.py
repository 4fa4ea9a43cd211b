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
