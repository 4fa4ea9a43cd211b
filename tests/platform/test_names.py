"""One normalisation for every name-like field (crm_platform.validation.normalise_text): control
characters, terminal escapes and text-direction overrides are refused wherever a name is typed;
any script, emoji joiners included, is accepted; whitespace runs become one space."""

from __future__ import annotations

import pytest

from crm_platform.errors import ServiceError
from crm_platform.validation import normalise_text
from tenants import services
from tenants.models import Invitation, Tenant, User
from tenants.roles import Role
from tests.conftest import public_client, workspace_client
from tests.factories import PASSWORD
from tests.platform.staff import admin_edit, staff_client

HOSTILE = ["Evil\x01 Corp", "Red \x1b[31mAlert", "Invoice \u202egnp.exe", "Nul\x00l", "A\u2066B"]


@pytest.mark.parametrize("value", HOSTILE)
def test_normalise_text_refuses_control_and_direction_characters(value):
    with pytest.raises(ValueError, match=r"U\+[0-9A-F]{4}"):
        normalise_text(value)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("  Ada \t\n Lovelace  ", "Ada Lovelace"),
        ("สมชาย ใจดี", "สมชาย ใจดี"),
        ("王芳", "王芳"),
        ("می\u200cخواهم", "می\u200cخواهم"),
        ("👩\u200d💻 Team", "👩\u200d💻 Team"),
        ("Cafe\u0301", "Café"),
    ],
)
def test_normalise_text_keeps_every_script_and_collapses_whitespace(raw, clean):
    assert normalise_text(raw) == clean


@pytest.mark.parametrize("value", HOSTILE[:3])
def test_signup_refuses_hostile_company_and_person_names(world, db, value):
    for field in ("company_name", "full_name"):
        payload = {
            "company_name": "Acme Ltd",
            "slug": "acme-names",
            "full_name": "Ada Lovelace",
            "email": "ada-names@example.com",
            "password": PASSWORD,
            field: value,
        }
        response = public_client().post("/signup/", payload)
        assert response.status_code == 400
        assert "control or text-direction characters" in " ".join(
            response.context["form"].errors[field]
        )
    assert not Tenant.objects.filter(slug="acme-names").exists()
    assert not User.objects.filter(email="ada-names@example.com").exists()


@pytest.mark.parametrize("value", HOSTILE[:3])
def test_every_name_service_refuses_hostile_names(alpha, value):
    calls = [
        lambda: services.workspace_update_settings(
            actor=alpha.owner,
            name=value,
            time_zone="UTC",
            currency="USD",
            require_mfa_for_admins=False,
        ),
        lambda: services.account_update_preferences(
            user=alpha.owner.user, full_name=value, language="", time_zone=""
        ),
        lambda: services.workspace_create(
            owner=alpha.owner.user, company_name=value, slug="hostile-name"
        ),
    ]
    for call in calls:
        with pytest.raises(ServiceError) as caught:
            call()
        assert caught.value.code == "invalid_characters"
    assert Tenant.objects.get(pk=alpha.tenant.pk).name == "Alpha Inc"
    assert User.objects.get(pk=alpha.owner.user_id).full_name == "Alpha Owner"
    assert not Tenant.objects.filter(slug="hostile-name").exists()


def test_invited_person_cannot_join_with_a_hostile_name(alpha):
    invitation = services.invitation_create(
        actor=alpha.owner, email="hostile@example.com", role=Role.MARKETER
    )
    with pytest.raises(ServiceError) as caught:
        services.invitation_accept_new_account(
            invitation=invitation, full_name="Mallory\x1b]0;pwned\x07", password=PASSWORD
        )
    assert caught.value.field == "full_name"
    assert not User.objects.filter(email="hostile@example.com").exists()
    assert Invitation.objects.get(pk=invitation.pk).status == Invitation.Status.PENDING


def test_settings_form_shows_the_problem_next_to_the_field(alpha):
    client = workspace_client(alpha.owner.user, alpha.tenant)
    response = client.post(
        "/settings/", {"name": "Alpha\x1b[2J", "time_zone": "UTC", "currency": "USD"}
    )
    assert response.status_code == 400
    assert "control or text-direction characters" in " ".join(
        response.context["form"].errors["name"]
    )


def test_admin_refuses_hostile_person_names(alpha):
    user = alpha.members[Role.SALES_REP].user
    response = admin_edit(
        staff_client(), f"/admin/tenants/user/{user.pk}/change/", full_name="Bob\u202e"
    )
    assert response.status_code == 200
    assert User.objects.get(pk=user.pk).full_name == user.full_name
