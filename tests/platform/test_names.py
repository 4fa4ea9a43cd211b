"""One normalisation for every name-like field (crm_platform.validation.normalise_text): control
characters, terminal escapes and text-direction overrides are refused wherever a name is typed;
any script, emoji joiners included, is accepted; whitespace runs become one space."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps as django_apps
from django.db import connection
from django_tenants.utils import schema_context

from crm_modules.sales.models import Company, Contact
from crm_platform.errors import ServiceError
from crm_platform.name_cleanup import clean_rows, clean_stored_names
from crm_platform.validation import normalise_text
from tenants import services
from tenants.models import Invitation, Tenant, User
from tenants.roles import Role
from tests.conftest import public_client, workspace_client
from tests.factories import PASSWORD
from tests.platform.staff import admin_edit, staff_client
from tests.sales.factories import CompanyFactory, ContactFactory

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


# --- names stored before the rule ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("stored", "clean"),
    [
        ("Red \x1b[31mAlert\x1b[0m Ltd", "Red Alert Ltd"),
        ("Evil\x01 Corp", "Evil Corp"),
        ("Invoice \u202egnp.exe", "Invoice gnp.exe"),
        ("A\u2066B\u2069", "AB"),
        ("Ada\nLovelace\t", "Ada Lovelace"),
        ("Cafe\u0301  Rossi", "Café Rossi"),
        ("\u0915\u094d\u200d\u0937", "\u0915\u094d\u200d\u0937"),
        ("\x01\x02", ""),
    ],
)
def test_normalise_text_strips_what_it_refuses_from_stored_text(stored, clean):
    assert normalise_text(stored, strip=True) == clean
    assert normalise_text(clean) == clean


def _run_data_migration(module: str, app_label: str) -> None:
    migration = importlib.import_module(module)
    clean_stored_names(app_label, migration.NAME_FIELDS)(django_apps, None)


def test_names_stored_before_the_rule_are_cleaned_in_public_and_workspace_schemas(alpha):
    user = alpha.members[Role.MANAGER].user
    User.objects.filter(pk=user.pk).update(full_name="Mal\x1b[2J Lory\u202e")
    Tenant.objects.filter(pk=alpha.tenant.pk).update(name="Alpha\x07 Inc ")
    untouched = alpha.owner.user.full_name
    with schema_context(alpha.tenant.schema_name):
        dirty = CompanyFactory.create(name="Evil\x01 \u202eCorp")
        blank = ContactFactory.create(first_name="\x01", last_name="Ro\u0301ssi")
        clean = CompanyFactory.create(name="Plain Co")

    _run_data_migration("tenants.migrations.0008_clean_stored_names", "tenants")
    with schema_context(alpha.tenant.schema_name):
        _run_data_migration("crm_modules.sales.migrations.0006_clean_stored_names", "sales")
        assert Company.objects.get(pk=dirty.pk).name == "Evil Corp"
        contact = Contact.objects.get(pk=blank.pk)
        assert (contact.first_name, contact.last_name) == ("", "Róssi")
        assert Company.objects.get(pk=clean.pk).name == "Plain Co"

    assert User.objects.get(pk=user.pk).full_name == "Mal Lory"
    assert Tenant.objects.get(pk=alpha.tenant.pk).name == "Alpha Inc"
    assert User.objects.get(pk=alpha.owner.user.pk).full_name == untouched


def test_a_required_name_of_only_forbidden_characters_keeps_a_placeholder(alpha):
    with schema_context(alpha.tenant.schema_name):
        company = CompanyFactory.create(name="\x01\x1b[0m")
        assert clean_rows(Company, ["name"]) == 1
        assert Company.objects.get(pk=company.pk).name == "?"
        # Clean rows are not even read: a second run changes nothing.
        assert clean_rows(Company, ["name"]) == 0


def test_migrate_all_runs_the_name_cleanup_in_every_schema(alpha, bravo):
    """The cleanup is a data migration: migrate_all (migrate_schemas) has applied it to the
    public schema and to each workspace schema."""
    applied = {
        "public": ("tenants", "0008_clean_stored_names"),
        alpha.tenant.schema_name: ("sales", "0006_clean_stored_names"),
        bravo.tenant.schema_name: ("sales", "0006_clean_stored_names"),
    }
    for schema, (app, name) in applied.items():
        with schema_context(schema), connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM django_migrations WHERE app = %s AND name = %s", [app, name]
            )
            assert cursor.fetchone() == (1,), schema
