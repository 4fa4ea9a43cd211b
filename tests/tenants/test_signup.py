from __future__ import annotations

from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from tenants.audit.models import AuditEvent
from tenants.models import Domain, Membership, Tenant, User
from tenants.roles import Role
from tenants.services import provisioning
from tests.conftest import public_client

GOOD = {
    "company_name": "Acme Ltd",
    "slug": "acme",
    "full_name": "Ada Lovelace",
    "email": "Ada@Example.com",
    "password": "a-long-enough-passphrase",
}


def test_signup_provisions_trial_workspace_and_lands_signed_in(world, db):
    client = public_client()
    response = client.post("/signup/", GOOD)

    assert response.status_code == 302
    assert response["Location"] == "/w/acme/?next=%2F"
    tenant = Tenant.objects.get(slug="acme")
    assert tenant.state == Tenant.State.ACTIVE
    assert tenant.plan == "trial"
    assert tenant.seat_limit == 10
    assert tenant.trial_ends_at is not None
    assert (
        timedelta(days=13, hours=23) < tenant.trial_ends_at - timezone.now() <= timedelta(days=14)
    )
    assert Domain.objects.get(tenant=tenant).domain == "acme.localhost"
    user = User.objects.get(email="ada@example.com")
    assert Membership.objects.get(tenant=tenant, user=user).role == Role.OWNER
    assert EmailAddress.objects.get(user=user).verified is False
    assert [m.to for m in mail.outbox] == [["ada@example.com"]]
    with schema_context(tenant.schema_name):
        assert list(AuditEvent.objects.values_list("action", flat=True)) == ["workspace.created"]

    enter = client.get(response["Location"])
    assert enter.status_code == 302
    assert enter["Location"].startswith("http://acme.localhost/handover/?token=")

    ws = public_client()
    ws.defaults["HTTP_HOST"] = "acme.localhost"
    landed = ws.get(enter["Location"].removeprefix("http://acme.localhost"))
    assert landed.status_code == 302
    assert landed["Location"] == "/"
    home = ws.get("/")
    assert home.status_code == 200
    assert b"Acme Ltd" in home.content
    assert b'data-testid="verify-banner"' in home.content


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("slug", "", "This field is required."),
        ("slug", "ab", "3 to 30 characters"),
        ("slug", "a" * 31, "at most 30 characters"),
        ("slug", "-acme", "cannot start or end with a hyphen"),
        ("slug", "acme-", "cannot start or end with a hyphen"),
        ("slug", "ac_me", "lowercase letters, digits and single hyphens"),
        ("slug", "acmé", "lowercase letters, digits and single hyphens"),
        ("slug", "admin", "reserved"),
        ("slug", "www", "reserved"),
        ("slug", "alpha", "already taken"),
        ("email", "not-an-email", "valid email"),
        ("company_name", "", "This field is required."),
        ("company_name", "x" * 101, "at most 100 characters"),
        ("full_name", "y" * 151, "at most 150 characters"),
        ("password", "short", "too short"),
    ],
)
def test_signup_rejects_bad_input_naming_the_field(world, db, field, value, message):
    before = (Tenant.objects.count(), User.objects.count(), Domain.objects.count())
    response = public_client().post("/signup/", {**GOOD, field: value})

    assert response.status_code == 400
    errors = response.context["form"].errors
    assert field in errors
    assert message in " ".join(errors[field])
    assert (Tenant.objects.count(), User.objects.count(), Domain.objects.count()) == before


def test_signup_accepts_any_script_and_escapes_html(world, db):
    payload = {
        **GOOD,
        "company_name": "<script>alert(1)</script> สมชาย 王芳",
        "full_name": "Иван <b>Петров</b>",
    }
    client = public_client()
    response = client.post("/signup/", payload)
    assert response.status_code == 302
    tenant = Tenant.objects.get(slug="acme")
    assert tenant.name == payload["company_name"]

    enter = client.get(response["Location"])
    ws = public_client()
    ws.defaults["HTTP_HOST"] = "acme.localhost"
    ws.get(enter["Location"].removeprefix("http://acme.localhost"))
    home = ws.get("/")
    assert b"<script>alert(1)</script>" not in home.content
    assert "&lt;script&gt;alert(1)&lt;/script&gt; สมชาย 王芳".encode() in home.content
    assert "Иван &lt;b&gt;Петров&lt;/b&gt;".encode() in home.content


def test_signup_without_csrf_token_is_refused(world, db):
    client = public_client()
    client.handler.enforce_csrf_checks = True
    response = client.post("/signup/", GOOD)
    assert response.status_code == 403
    assert not Tenant.objects.filter(slug="acme").exists()


def _signup_failing_mid_provisioning(monkeypatch) -> None:
    """Sign up with a failure injected after the workspace, domain and Owner rows exist."""

    def explode(**kwargs):
        raise RuntimeError("injected failure")

    monkeypatch.setattr(provisioning, "_record_workspace_created", explode)
    with pytest.raises(RuntimeError):
        public_client().post("/signup/", GOOD)


def test_failure_mid_provisioning_leaves_nothing_behind(world, db, monkeypatch):
    schemas_before = _schemas()
    _signup_failing_mid_provisioning(monkeypatch)

    assert not Tenant.objects.filter(slug="acme").exists()
    assert not Domain.objects.filter(domain="acme.localhost").exists()
    assert not User.objects.filter(email="ada@example.com").exists()
    assert not Membership.objects.filter(user__email="ada@example.com").exists()
    assert _schemas() == schemas_before


def _schemas() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'ws\\_%'")
        return {row[0] for row in cursor.fetchall()}


def test_signup_is_rate_limited_per_ip(world, db, settings):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "signup": "3/m/ip"}
    client = public_client()
    bad = {**GOOD, "slug": "x"}  # invalid, so nothing is created while we use up the limit
    assert [client.post("/signup/", bad).status_code for _ in range(3)] == [400, 400, 400]

    limited = client.post("/signup/", GOOD)

    assert limited.status_code == 429
    assert not Tenant.objects.filter(slug="acme").exists()


@pytest.mark.parametrize(
    ("slug", "text"),
    [
        ("acme", "acme.localhost is available."),
        ("alpha", "This address is already taken. Choose another."),
        ("admin", "This address is reserved. Choose another."),
        ("ab", "The workspace address must be 3 to 30 characters long."),
        ("<b>x</b>", "Use lowercase letters, digits and single hyphens only"),
    ],
)
def test_slug_check_says_whether_the_address_is_free(world, db, slug, text):
    response = public_client().get("/signup/slug-check/", {"slug": slug})
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="id_slug_help"' in body
    assert text in body
    assert "<b>" not in body


def test_signup_slug_field_asks_for_the_live_check(world, db):
    body = public_client().get("/signup/").content.decode()
    assert 'hx-get="/signup/slug-check/"' in body
    assert 'hx-target="#id_slug_help"' in body


def test_signup_stores_sql_looking_and_formula_looking_text_verbatim(world, db):
    name = "Robert'); DROP TABLE tenants_tenant;-- =SUM(A1)"
    response = public_client().post("/signup/", {**GOOD, "company_name": name})
    assert response.status_code == 302
    assert Tenant.objects.get(slug="acme").name == name
    assert Tenant.objects.filter(slug="alpha").exists()


def test_signup_with_wrong_types_and_missing_fields_names_each_field(world, db):
    response = public_client().post("/signup/", {"slug": ["a", "b"], "email": "1"})
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert set(errors) == {"company_name", "slug", "full_name", "email", "password"}
    assert not Tenant.objects.filter(slug__in=["a", "b"]).exists()


def test_failure_after_claiming_a_spare_returns_it_to_the_pool(world, db, monkeypatch):
    from tenants import services

    spare = services.spare_workspace_create()
    schemas_before = _schemas()
    _signup_failing_mid_provisioning(monkeypatch)

    spare.refresh_from_db()
    assert (spare.state, spare.slug, spare.name) == (Tenant.State.SPARE, None, "")
    assert not Domain.objects.filter(tenant=spare).exists()
    assert not Membership.objects.filter(tenant=spare).exists()
    assert not User.objects.filter(email="ada@example.com").exists()
    assert _schemas() == schemas_before
    with schema_context(spare.schema_name):
        assert not AuditEvent.objects.exists()
