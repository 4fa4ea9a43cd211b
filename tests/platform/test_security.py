"""Account and deployment hardening: no account enumeration, rate-limited sign-in, production
settings that refuse to start without secrets and pass `check --deploy`, host-only cookies, and
no answer for hosts that are not live workspaces."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.core.cache import cache
from django.test import Client

from tenants.models import Domain
from tests.conftest import public_client
from tests.factories import PASSWORD

WRONG = "not-the-right-password"


def _login(client: Client, email: str, password: str):
    return client.post("/accounts/login/", {"login": email, "password": password})


def _form_errors(response) -> list[str]:
    form = response.context["form"]
    return [str(message) for message in form.non_field_errors()] + [
        f"{field}: {message}"
        for field, messages in form.errors.items()
        if field != "__all__"
        for message in messages
    ]


# --- enumeration ------------------------------------------------------------------------------


def test_login_does_not_reveal_whether_the_account_exists(alpha):
    unknown_client, known_client = public_client(), public_client()
    unknown = _login(unknown_client, "nobody-here@example.com", WRONG)
    known = _login(known_client, alpha.owner.user.email, WRONG)

    assert unknown.status_code == known.status_code == 200
    assert _form_errors(unknown) == _form_errors(known)
    assert _form_errors(known) == [
        "The email address and/or password you specified are not correct."
    ]
    assert "_auth_user_id" not in known_client.session
    assert unknown.content.count(b"are not correct") == known.content.count(b"are not correct")


def test_password_reset_does_not_reveal_whether_the_account_exists(
    alpha, django_capture_on_commit_callbacks
):
    known_email = alpha.owner.user.email
    with django_capture_on_commit_callbacks(execute=True):
        unknown = public_client().post(
            "/accounts/password/reset/", {"email": "nobody-here@example.com"}
        )
    with django_capture_on_commit_callbacks(execute=True):
        known = public_client().post("/accounts/password/reset/", {"email": known_email})

    assert unknown.status_code == known.status_code == 302
    assert unknown["Location"] == known["Location"] == "/accounts/password/reset/done/"
    # Only the account's owner gets a reset link; the unknown address is told (privately, in
    # its own inbox) that no account exists, which reveals nothing to whoever typed it.
    sent = [(m.to, m.subject, "/accounts/password/reset/key/" in m.body) for m in mail.outbox]
    assert sent == [
        (["nobody-here@example.com"], "[Rapport] Unknown Account", False),
        ([known_email], "[Rapport] Password Reset Email", True),
    ]


# --- rate limit -------------------------------------------------------------------------------


def test_login_is_rate_limited_after_repeated_failures(alpha):
    cache.clear()
    email = alpha.owner.user.email
    for _ in range(5):
        failed = _login(public_client(), email, WRONG)
        assert _form_errors(failed) == [
            "The email address and/or password you specified are not correct."
        ]

    client = public_client()
    limited = _login(client, email, PASSWORD)

    assert limited.status_code == 200
    assert _form_errors(limited) == ["Too many failed login attempts. Try again later."]
    assert "_auth_user_id" not in client.session


def test_login_rate_limit_is_per_account_and_forgets_after_a_cache_reset(alpha):
    cache.clear()
    for _ in range(5):
        _login(public_client(), alpha.owner.user.email, WRONG)

    other = public_client()
    assert _login(other, alpha.members["admin"].user.email, PASSWORD).status_code == 302

    cache.clear()
    client = public_client()
    assert _login(client, alpha.owner.user.email, PASSWORD).status_code == 302
    assert client.session["_auth_user_id"] == str(alpha.owner.user.pk)


def test_login_requests_are_limited_per_ip(alpha, settings):
    cache.clear()
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "login": "3/m/ip"}
    statuses = [
        _login(public_client(), f"person{i}@example.com", WRONG).status_code for i in range(4)
    ]
    assert statuses == [200, 200, 200, 429]


# --- production settings ------------------------------------------------------------------------

PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "crm_platform.settings.production",
    "SECRET_KEY": secrets.token_urlsafe(64),
    "DATABASE_URL": "postgresql://rapport:secret@db.internal:5432/rapport",
    "REDIS_URL": "redis://cache.internal:6379/0",
    "BASE_DOMAIN": "rapport.example.com",
}


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    inherited = {
        key: value
        for key, value in os.environ.items()
        if key not in PRODUCTION_ENV and not key.startswith(("PYTEST_", "DJANGO_"))
    }
    return subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", *args],
        cwd=django_settings.BASE_DIR,
        env={**inherited, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_production_settings_pass_check_deploy():
    result = _manage(PRODUCTION_ENV, "check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "System check identified no issues (0 silenced)."


@pytest.mark.parametrize("variable", ["SECRET_KEY", "DATABASE_URL", "REDIS_URL", "BASE_DOMAIN"])
def test_production_settings_refuse_to_start_without_a_secret(variable):
    env = {key: value for key, value in PRODUCTION_ENV.items() if key != variable}

    result = _manage(env, "check")

    assert result.returncode != 0
    assert (
        f"django.core.exceptions.ImproperlyConfigured: {variable} must be set in production."
        in result.stderr
    )


def test_production_settings_refuse_an_empty_secret():
    result = _manage({**PRODUCTION_ENV, "SECRET_KEY": ""}, "check")

    assert result.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY must be set in production." in result.stderr


def test_production_settings_refuse_a_short_secret_key():
    result = _manage({**PRODUCTION_ENV, "SECRET_KEY": "s" * 49}, "check")

    assert result.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY must be at least 50 characters long." in result.stderr


# --- cookies ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/signup/", "/accounts/login/"])
def test_public_pages_set_host_only_cookies(world, db, path):
    response = public_client().get(path)

    assert response.status_code == 200
    assert "csrftoken" in response.cookies
    for name, morsel in response.cookies.items():
        assert morsel["domain"] == "", name


def test_session_cookie_after_sign_in_is_host_only_and_http_only(alpha):
    response = _login(public_client(), alpha.owner.user.email, PASSWORD)

    assert response.status_code == 302
    cookie = response.cookies["rapport_session"]
    assert cookie["domain"] == ""
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    for name, morsel in response.cookies.items():
        assert morsel["domain"] == "", name


# --- hosts --------------------------------------------------------------------------------------


def test_unknown_workspace_host_is_404(world, db):
    response = Client(HTTP_HOST="nowhere.localhost").get("/")
    assert response.status_code == 404


def test_host_outside_base_domain_is_404(world, db):
    for host in ("evil.example.com", "alpha.localhost.evil.example.com"):
        response = Client(HTTP_HOST=host).get("/")
        assert response.status_code == 404, host


def test_spare_workspace_host_is_404(committed_spare, db):
    spare = committed_spare
    Domain.objects.create(domain="spare-pool.localhost", tenant=spare, is_primary=True)

    for path in ("/", "/handover/", "/members/"):
        response = Client(HTTP_HOST="spare-pool.localhost").get(path)
        assert response.status_code == 404, path


@pytest.mark.parametrize("host", ["alpha.localhost", "localhost", "10.0.3.17", "unknown.localhost"])
def test_health_check_answers_on_any_host_without_a_session(alpha, host):
    # Load balancers probe the node's IP address over plain HTTP.
    client = Client(HTTP_HOST=host)
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert django_settings.SESSION_COOKIE_NAME not in response.cookies
    assert client.post("/healthz").status_code == 405


def test_health_check_is_not_redirected_to_https_in_production(alpha, settings):
    settings.SECURE_SSL_REDIRECT = True
    client = Client(HTTP_HOST="10.0.3.17")
    assert client.get("/healthz").status_code == 200
    assert client.get("/pricing/", HTTP_HOST="localhost").status_code == 301


@pytest.mark.parametrize("host", ["localhost", "alpha.localhost"])
def test_every_page_carries_a_strict_content_security_policy(alpha, host):
    response = Client(HTTP_HOST=host).get("/")
    policy = response["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["form-action"] == (
        "'self' http://localhost http://*.localhost https://checkout.stripe.com"
    )


@pytest.mark.parametrize("host", ["localhost", "alpha.localhost"])
@pytest.mark.parametrize("key", ["abcdefgh\x00ijk", "ABCDEFGH'; --", "é" * 40])
def test_forged_session_cookies_are_ignored_not_errors(alpha, host, key):
    client = Client(HTTP_HOST=host)
    client.cookies[django_settings.SESSION_COOKIE_NAME] = key
    response = client.get("/workspaces/" if host == "localhost" else "/members/")
    assert response.status_code == 302  # treated as signed out
    assert "/accounts/login/" in response["Location"]
