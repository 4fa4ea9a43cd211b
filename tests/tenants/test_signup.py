from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from allauth.account import app_settings as allauth_settings
from allauth.account.models import EmailAddress
from django.core import mail, signing
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import schema_context

from tenants import services
from tenants.audit.models import AuditEvent
from tenants.models import Domain, Membership, PendingSignup, Tenant, User
from tenants.roles import Role
from tenants.services import provisioning, signup
from tests.conftest import public_client
from tests.factories import UserFactory

GOOD = {
    "company_name": "Acme Ltd",
    "slug": "acme",
    "full_name": "Ada Lovelace",
    "email": "Ada@Example.com",
    "password": "a-long-enough-passphrase",
}


def _link(message: mail.EmailMessage) -> str:
    links: list[str] = re.findall(r"http://localhost/signup/confirm/[^/\s]+/", str(message.body))
    assert len(links) == 1, message.body
    return links[0].removeprefix("http://localhost")


def _sign_up(client, payload, capture) -> None:
    with capture(execute=True):
        response = client.post("/signup/", payload)
    assert response.status_code == 200, response.content
    assert next(t.name for t in response.templates) == "public/signup_check_email.html"


def _confirm(client, path, capture, **data):
    with capture(execute=True):
        return client.post(path, data or {"slug": GOOD["slug"]})


def test_signup_creates_nothing_until_the_emailed_link_is_followed(
    world, db, django_capture_on_commit_callbacks
):
    client = public_client()
    _sign_up(client, GOOD, django_capture_on_commit_callbacks)

    # Nothing exists yet: no account, no workspace, nobody signed in.
    assert not User.objects.filter(email="ada@example.com").exists()
    assert not Tenant.objects.filter(slug="acme").exists()
    assert "_auth_user_id" not in client.session
    assert [(m.to, m.subject) for m in mail.outbox] == [
        (["ada@example.com"], "[Rapport] Confirm your email to create Acme Ltd")
    ]
    path = _link(mail.outbox[0])

    # Opening the link (or a mail scanner previewing it) shows what will be created.
    page = client.get(path)
    assert page.status_code == 200
    assert b"Acme Ltd" in page.content
    assert b"acme.localhost" in page.content
    assert client.head(path).status_code == 200
    assert not Tenant.objects.filter(slug="acme").exists()

    response = _confirm(client, path, django_capture_on_commit_callbacks)
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
    assert user.full_name == "Ada Lovelace"
    assert user.check_password(GOOD["password"])
    assert Membership.objects.get(tenant=tenant, user=user).role == Role.OWNER
    # The link proved the address.
    assert EmailAddress.objects.get(user=user).verified is True
    assert not PendingSignup.objects.exists()
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
    assert b'data-testid="verify-banner"' not in home.content


def _answer_and_queries(client, payload, capture):
    with CaptureQueriesContext(connection) as queries, capture(execute=False) as callbacks:
        response = client.post("/signup/", payload)
    # The statements, without their values (addresses, hashes, times) or savepoint names.
    sql = [
        re.sub(r'"s\d+_x\d+"', "SP", re.sub(r"'[^']*'", "?", q["sql"]))
        for q in queries.captured_queries
    ]
    for callback in callbacks:
        callback()
    return response, sql, len(callbacks)


def _page(response, address: str) -> str:
    """The page with the typed address and the per-request CSRF token taken out."""
    text = response.content.decode().replace(address, "ADDRESS")
    text = re.sub(r'"X-CSRFToken": "[^"]+"', "CSRF", text)
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "CSRF", text)


def test_signup_answers_an_existing_address_exactly_like_a_new_one(
    alpha, django_capture_on_commit_callbacks
):
    """Same page, same database work, same deferred mail task: neither the answer nor the time
    it takes depends on whether the address has an account."""
    existing = alpha.owner.user.email
    new = "new-person@example.com"
    users_before, tenants_before = User.objects.count(), Tenant.objects.count()

    known, known_sql, known_tasks = _answer_and_queries(
        public_client(), {**GOOD, "email": existing}, django_capture_on_commit_callbacks
    )
    unknown, unknown_sql, unknown_tasks = _answer_and_queries(
        public_client(), {**GOOD, "email": new}, django_capture_on_commit_callbacks
    )

    assert known.status_code == unknown.status_code == 200
    assert _page(known, existing) == _page(unknown, new)
    assert "exists" not in known.content.decode().lower()
    assert known_sql == unknown_sql
    assert known_tasks == unknown_tasks == 1
    assert "_auth_user_id" not in known.client.session

    # The mails differ, and only the mailbox's owner reads them.
    assert [(m.to, m.subject) for m in mail.outbox] == [
        ([existing], "[Rapport] Sign-up attempt with your email address"),
        ([new], "[Rapport] Confirm your email to create Acme Ltd"),
    ]
    notice = str(mail.outbox[0].body)
    assert "http://localhost/accounts/login/" in notice
    assert "http://localhost/accounts/password/reset/" in notice
    assert "/signup/confirm/" not in notice
    # Nothing was created for the existing address, and nothing of the attempt is kept.
    assert (User.objects.count(), Tenant.objects.count()) == (users_before, tenants_before)
    assert list(PendingSignup.objects.values_list("email", flat=True)) == [new]


def test_a_signup_link_works_once(world, db, django_capture_on_commit_callbacks):
    client = public_client()
    _sign_up(client, GOOD, django_capture_on_commit_callbacks)
    path = _link(mail.outbox[0])
    assert _confirm(client, path, django_capture_on_commit_callbacks).status_code == 302

    for replay in (public_client(), client):
        again = replay.post(path, {"slug": "acme-two"})
        assert again.status_code == 410
        assert "This link has already been used. Sign in to reach your workspace." in (
            again.content.decode()
        )
        assert replay.get(path).status_code == 410
    assert Tenant.objects.filter(slug__startswith="acme").count() == 1
    assert User.objects.filter(email="ada@example.com").count() == 1


def test_a_second_link_for_the_same_address_no_longer_creates_anything(
    world, db, django_capture_on_commit_callbacks
):
    client = public_client()
    _sign_up(client, GOOD, django_capture_on_commit_callbacks)
    _sign_up(client, {**GOOD, "slug": "acme-two"}, django_capture_on_commit_callbacks)
    first, second = (_link(m) for m in mail.outbox)
    assert _confirm(client, first, django_capture_on_commit_callbacks).status_code == 302

    later = public_client().post(second, {"slug": "acme-two"})
    assert later.status_code == 410
    assert not Tenant.objects.filter(slug="acme-two").exists()


def test_an_expired_signup_link_says_so(world, db, django_capture_on_commit_callbacks, monkeypatch):
    client = public_client()
    _sign_up(client, GOOD, django_capture_on_commit_callbacks)
    pending = PendingSignup.objects.get()
    days = allauth_settings.EMAIL_CONFIRMATION_EXPIRE_DAYS
    minted_at = time.time() - days * 86400 - 60
    with monkeypatch.context() as patched:
        # Django's signer stamps the time it reads from time.time().
        patched.setattr(time, "time", lambda: minted_at)
        token = signup.signup_link_token(pending)

    response = public_client().post(f"/signup/confirm/{token}/", {"slug": "acme"})
    assert response.status_code == 410
    assert "This link has expired. Sign up again to get a new one." in response.content.decode()
    assert not Tenant.objects.filter(slug="acme").exists()
    assert not User.objects.filter(email="ada@example.com").exists()


@pytest.mark.parametrize("token", ["not-a-token", "MTI:1abcde:forged-signature"])
def test_a_forged_signup_link_is_refused(world, db, token):
    response = public_client().post(f"/signup/confirm/{token}/", {"slug": "acme"})
    assert response.status_code == 410
    assert "This link is not valid." in response.content.decode()


def test_an_allauth_confirmation_key_is_no_signup_link(alpha, django_capture_on_commit_callbacks):
    """Signed with another salt: allauth's key for an EmailAddress id never passes for a
    pending signup with the same id."""
    client = public_client()
    _sign_up(client, GOOD, django_capture_on_commit_callbacks)
    pending = PendingSignup.objects.get()
    key = signing.dumps(pending.pk, salt=allauth_settings.SALT)
    assert public_client().post(f"/signup/confirm/{key}/", {"slug": "acme"}).status_code == 410
    assert not Tenant.objects.filter(slug="acme").exists()


def test_the_link_asks_for_another_address_when_the_chosen_one_was_taken(
    world, db, django_capture_on_commit_callbacks
):
    client = public_client()
    _sign_up(client, GOOD, django_capture_on_commit_callbacks)
    path = _link(mail.outbox[0])
    services.workspace_create(owner=world.alpha.owner.user, company_name="Quicker", slug="acme")

    page = client.get(path)
    assert page.status_code == 200
    assert page.context["choose_slug"] is True
    taken = _confirm(client, path, django_capture_on_commit_callbacks, slug="acme")
    assert taken.status_code == 400
    assert taken.context["form"].errors["slug"] == [
        "This address is already taken. Choose another."
    ]
    assert PendingSignup.objects.exists()

    done = _confirm(client, path, django_capture_on_commit_callbacks, slug="acme-ltd")
    assert done.status_code == 302
    assert Tenant.objects.get(slug="acme-ltd").name == "Acme Ltd"


def test_the_link_never_switches_a_signed_in_browser_to_the_new_account(
    alpha, django_capture_on_commit_callbacks
):
    _sign_up(public_client(), GOOD, django_capture_on_commit_callbacks)
    path = _link(mail.outbox[0])
    client = public_client()
    client.force_login(alpha.owner.user)

    response = _confirm(client, path, django_capture_on_commit_callbacks)
    assert response.status_code == 409
    assert not Tenant.objects.filter(slug="acme").exists()
    assert int(client.session["_auth_user_id"]) == alpha.owner.user.pk


def test_a_link_whose_address_got_an_account_meanwhile_creates_nothing(
    world, db, django_capture_on_commit_callbacks
):
    client = public_client()
    _sign_up(client, GOOD, django_capture_on_commit_callbacks)
    path = _link(mail.outbox[0])
    # The address joined through an invitation before the link was followed.
    UserFactory(email="ada@example.com")

    response = _confirm(client, path, django_capture_on_commit_callbacks)
    assert response.status_code == 410
    assert "This email address already has an account. Sign in instead." in (
        response.content.decode()
    )
    assert not Tenant.objects.filter(slug="acme").exists()
    assert not PendingSignup.objects.exists()


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


def _sign_up_and_follow(client, payload, capture):
    _sign_up(client, payload, capture)
    return _confirm(client, _link(mail.outbox[-1]), capture, slug=payload["slug"])


def test_signup_accepts_any_script_and_escapes_html(world, db, django_capture_on_commit_callbacks):
    payload = {
        **GOOD,
        "company_name": "<script>alert(1)</script> สมชาย 王芳",
        "full_name": "Иван <b>Петров</b>",
    }
    client = public_client()
    response = _sign_up_and_follow(client, payload, django_capture_on_commit_callbacks)
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


def _signup_failing_mid_provisioning(monkeypatch, capture) -> None:
    """Follow a signup link with a failure injected after the workspace, domain and Owner rows
    exist."""
    client = public_client()
    _sign_up(client, GOOD, capture)

    def explode(**kwargs):
        raise RuntimeError("injected failure")

    monkeypatch.setattr(provisioning, "_record_workspace_created", explode)
    with pytest.raises(RuntimeError):
        client.post(_link(mail.outbox[-1]), {"slug": GOOD["slug"]})


def test_failure_mid_provisioning_leaves_nothing_behind(
    world, db, monkeypatch, django_capture_on_commit_callbacks
):
    schemas_before = _schemas()
    _signup_failing_mid_provisioning(monkeypatch, django_capture_on_commit_callbacks)

    assert not Tenant.objects.filter(slug="acme").exists()
    assert not Domain.objects.filter(domain="acme.localhost").exists()
    assert not User.objects.filter(email="ada@example.com").exists()
    assert not Membership.objects.filter(user__email="ada@example.com").exists()
    assert _schemas() == schemas_before
    # The link was not spent: it can be followed again.
    assert PendingSignup.objects.filter(email="ada@example.com").exists()


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
    assert not PendingSignup.objects.exists()
    assert mail.outbox == []


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


def test_signup_stores_sql_looking_and_formula_looking_text_verbatim(
    world, db, django_capture_on_commit_callbacks
):
    name = "Robert'); DROP TABLE tenants_tenant;-- =SUM(A1)"
    response = _sign_up_and_follow(
        public_client(), {**GOOD, "company_name": name}, django_capture_on_commit_callbacks
    )
    assert response.status_code == 302
    assert Tenant.objects.get(slug="acme").name == name
    assert Tenant.objects.filter(slug="alpha").exists()


def test_signup_with_wrong_types_and_missing_fields_names_each_field(world, db):
    response = public_client().post("/signup/", {"slug": ["a", "b"], "email": "1"})
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert set(errors) == {"company_name", "slug", "full_name", "email", "password"}
    assert not Tenant.objects.filter(slug__in=["a", "b"]).exists()


def test_failure_after_claiming_a_spare_returns_it_to_the_pool(
    committed_spare, db, monkeypatch, django_capture_on_commit_callbacks
):
    spare = committed_spare
    schemas_before = _schemas()
    _signup_failing_mid_provisioning(monkeypatch, django_capture_on_commit_callbacks)

    spare.refresh_from_db()
    assert (spare.state, spare.slug, spare.name) == (Tenant.State.SPARE, None, "")
    assert not Domain.objects.filter(tenant=spare).exists()
    assert not Membership.objects.filter(tenant=spare).exists()
    assert not User.objects.filter(email="ada@example.com").exists()
    assert _schemas() == schemas_before
    with schema_context(spare.schema_name):
        assert not AuditEvent.objects.exists()
