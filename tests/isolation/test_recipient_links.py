"""The pages a recipient opens from a message (unsubscribe, preferences, confirm a
subscription) answer without an account, and only to the signed token of the workspace whose
host they are on: another workspace's token, a tampered one, or none is not found and changes
nothing. Only these views sit under the open path; every other page still asks for sign-in."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from crm_modules.marketing import recipients
from crm_modules.marketing.capture import optin
from crm_modules.marketing.models import OptInRequest
from crm_modules.marketing.models_capture import ConsentRequest, Form, FormSubmission
from crm_modules.marketing.models_deliverability import ConsentMail
from crm_modules.marketing.module import RECIPIENT_PATH
from tests.conftest import Workspace
from tests.isolation.conftest import db_state
from tests.isolation.test_matrix import ENDPOINTS, OPEN
from tests.sales.factories import ContactFactory

RECIPIENT_VIEWS = (
    "marketing:unsubscribe",
    "marketing:preferences",
    "marketing:opt_in_confirm",
    "marketing:consent_confirm",
)


def _token(workspace: Workspace, view: str) -> str:
    with schema_context(workspace.tenant.schema_name):
        contact = ContactFactory.create(primary_email="r@example.com")
        if view == "marketing:consent_confirm":
            form = Form.objects.create(name="F", fields=[])
            submission = FormSubmission.objects.create(form=form, outcome="contact_updated")
            pending = ConsentRequest.objects.create(
                submission=submission, contact=contact, email="r@example.com", channel="email"
            )
            return optin.consent_mail_token(
                ConsentMail.objects.create(request=pending, email="r@example.com")
            )
        if view == "marketing:opt_in_confirm":
            request = OptInRequest.objects.create(contact=contact, email="r@example.com")
            return recipients.opt_in_token(request)
        return recipients.recipient_token(contact)


def _path(view: str, token: str) -> str:
    segment = {
        "marketing:unsubscribe": "unsubscribe",
        "marketing:preferences": "preferences",
        "marketing:opt_in_confirm": "confirm",
        "marketing:consent_confirm": "consent",
    }[view]
    return f"{RECIPIENT_PATH}{segment}/{token}/"


def test_only_the_recipient_views_sit_under_the_open_path() -> None:
    under = {e.name for e in ENDPOINTS if f"/{e.route}".startswith(RECIPIENT_PATH)}
    assert under == set(RECIPIENT_VIEWS)
    assert set(RECIPIENT_VIEWS) <= set(OPEN)


@pytest.mark.parametrize("view", RECIPIENT_VIEWS)
def test_a_token_of_another_workspace_is_not_found_and_changes_nothing(
    alpha: Workspace, bravo: Workspace, view: str
) -> None:
    token = _token(alpha, view)
    before = db_state(bravo), db_state(alpha)
    on_bravo = Client(HTTP_HOST=f"{bravo.tenant.slug}.localhost")
    for method in ("get", "post"):
        response = getattr(on_bravo, method)(_path(view, token))
        assert response.status_code == 404
        assert response.cookies == {}
    with schema_context("public"):
        assert (db_state(bravo), db_state(alpha)) == before


@pytest.mark.parametrize("view", RECIPIENT_VIEWS)
@pytest.mark.parametrize(
    "mangle", [lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"), lambda t: "x", lambda t: t[5:]]
)
def test_a_tampered_token_is_not_found_and_changes_nothing(
    alpha: Workspace, view: str, mangle: Callable[[str], str]
) -> None:
    token = mangle(_token(alpha, view))
    before = db_state(alpha)
    anonymous = Client(HTTP_HOST=f"{alpha.tenant.slug}.localhost")
    for method in ("get", "post"):
        assert getattr(anonymous, method)(_path(view, token)).status_code == 404
    with schema_context("public"):
        assert db_state(alpha) == before


@pytest.mark.parametrize("view", RECIPIENT_VIEWS)
def test_a_get_with_a_good_token_answers_anyone_and_changes_nothing(
    alpha: Workspace, view: str
) -> None:
    token = _token(alpha, view)
    before = db_state(alpha)
    response = Client(HTTP_HOST=f"{alpha.tenant.slug}.localhost").get(_path(view, token))
    assert response.status_code == 200
    assert response.cookies == {}
    with schema_context("public"):
        assert db_state(alpha) == before


def test_other_pages_under_marketing_still_ask_for_sign_in(alpha: Workspace) -> None:
    anonymous = Client(HTTP_HOST=f"{alpha.tenant.slug}.localhost")
    for path in ("/marketing/segments/", "/marketing/contact-rules/", "/marketing/r/"):
        response = anonymous.get(path)
        assert response.status_code in (302, 404)
        if path != "/marketing/r/":
            assert response.status_code == 302
            assert "/accounts/login/" in response["Location"] or "next=" in response["Location"]
