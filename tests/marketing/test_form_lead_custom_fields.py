"""Web-to-lead forms fill lead custom fields: the answer is checked by the field's type (a
clear error to the visitor naming it), the field's required flag makes the form's field
required, and the new lead stores the value normalised."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from crm_modules.marketing.capture import guard, services
from crm_modules.marketing.models_capture import Form, FormSubmission
from crm_modules.sales.api import Lead
from crm_modules.sales.services import custom_field_archive, custom_field_create
from crm_platform.errors import ServiceError
from tenants.roles import Role
from tests.conftest import Workspace
from tests.marketing.conftest import fresh

pytestmark = pytest.mark.usefixtures("in_alpha")


@pytest.fixture(autouse=True)
def _clean_limits() -> None:
    cache.clear()


def _fields(alpha: Workspace) -> None:
    owner = fresh(alpha.owner)
    custom_field_create(actor=owner, entity="lead", code="seats", label="Seats", type="number")
    custom_field_create(
        actor=owner,
        entity="lead",
        code="plan",
        label="Plan",
        type="select",
        options=["pro", "team"],
    )
    custom_field_create(
        actor=owner, entity="lead", code="budget", label="Budget", type="text", required=True
    )
    custom_field_create(actor=owner, entity="lead", code="start", label="Start", type="date")
    custom_field_create(actor=owner, entity="lead", code="rep", label="Rep", type="member")


FIELDS = [
    {"target": "email", "label": "Email", "required": True},
    {"target": "lead.custom.seats", "label": "How many seats", "required": False},
    {"target": "lead.custom.plan", "label": "Plan", "required": False},
    {"target": "lead.custom.budget", "label": "Budget", "required": False},
    {"target": "lead.custom.start", "label": "Start", "required": False},
]


def _form(alpha: Workspace, fields: list[dict[str, Any]] | None = None) -> Form:
    return services.form_create(
        actor=fresh(alpha.members[Role.MARKETER]),
        values={
            "name": "Trial",
            "fields": fields or FIELDS,
            "lead_owner": alpha.members[Role.SALES_REP].user_id,
        },
    )


def _post(alpha: Workspace, form: Form, data: dict[str, str], **headers: Any) -> Any:
    client = Client(HTTP_HOST=alpha.host, REMOTE_ADDR="203.0.113.9")
    body = {"token": guard.token_mint(form), **data}
    return client.post(f"/marketing/f/{form.public_id}/submit/", body, **headers)


def test_a_fill_stores_lead_custom_fields_normalised(alpha: Workspace) -> None:
    _fields(alpha)
    form = _form(alpha)
    response = _post(
        alpha,
        form,
        {
            "email": "ana@example.com",
            "lead.custom.seats": " 25 ",
            "lead.custom.plan": "team",
            "lead.custom.budget": "≈ 10k €",
            "lead.custom.start": "2027-02-01",
        },
    )
    assert response.status_code == 200
    lead = Lead.objects.get(email="ana@example.com")
    assert lead.custom == {"seats": 25, "plan": "team", "budget": "≈ 10k €", "start": "2027-02-01"}
    assert "How many seats" not in lead.notes


def test_an_answer_that_does_not_fit_its_field_is_refused_naming_it(alpha: Workspace) -> None:
    _fields(alpha)
    form = _form(alpha)
    response = _post(
        alpha,
        form,
        {
            "email": "ana@example.com",
            "lead.custom.seats": "abc",
            "lead.custom.plan": "enterprise",
            "lead.custom.budget": "5k",
            "lead.custom.start": "tomorrow-ish",
        },
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert errors["lead.custom.seats"] == "How many seats: Enter a whole number."
    assert errors["lead.custom.plan"] == "Plan: Choose a value from the list."
    assert errors["lead.custom.start"].startswith("Start: ")
    assert "lead.custom.budget" not in errors
    html = _post(alpha, form, {"email": "ana@example.com", "lead.custom.seats": "abc"})
    assert html.status_code == 400
    assert b'data-testid="error-lead.custom.seats"' in html.content
    assert "How many seats: Enter a whole number." in html.content.decode()
    assert not Lead.objects.exists()
    assert not FormSubmission.objects.exists()


def test_a_required_lead_field_is_required_on_the_form(alpha: Workspace) -> None:
    _fields(alpha)
    form = _form(alpha)
    stored = {f["target"]: f["required"] for f in form.fields}
    assert stored["lead.custom.budget"] is True
    assert stored["lead.custom.seats"] is False
    response = _post(alpha, form, {"email": "ana@example.com"}, HTTP_ACCEPT="application/json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"lead.custom.budget": "Budget is required."}
    page = Client(HTTP_HOST=alpha.host).get(f"/marketing/f/{form.public_id}/").content.decode()
    assert 'name="lead.custom.budget" type="text" maxlength="500" required' in page
    assert '<select id="id_lead.custom.plan" name="lead.custom.plan">' in page
    assert 'name="lead.custom.seats" type="number"' in page
    assert not Lead.objects.exists()


def test_the_builder_offers_only_lead_fields_a_visitor_can_fill(alpha: Workspace) -> None:
    _fields(alpha)
    for target in ("lead.custom.rep", "lead.custom.nothing", "lead.custom.Bad Code"):
        with pytest.raises(ServiceError) as error:
            _form(alpha, fields=[*FIELDS[:1], {"target": target, "label": "X", "required": False}])
        assert error.value.field == "fields[1].target"
    plan = Lead._meta.apps.get_model("sales", "CustomField").objects.get(code="plan")
    custom_field_archive(actor=fresh(alpha.owner), field=plan, archived=True)
    with pytest.raises(ServiceError):
        _form(alpha)
    from crm_modules.marketing.capture.definition import target_choices

    targets = [code for code, _label in target_choices()]
    assert "lead.custom.seats" in targets
    assert "lead.custom.rep" not in targets
    assert "lead.custom.plan" not in targets
