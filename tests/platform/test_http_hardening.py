"""HTTP answers a security review asked for: HEAD answers like GET without a body, pages with
personal data are never cached, the security headers are on every answer (the unknown-host 404
included), a role refusal logs one line, and the dev server's absolute links follow its port."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from tenants.roles import Role
from tests.conftest import public_client, workspace_client

# --- HEAD ---------------------------------------------------------------------------------------


def _plain_paths(urlconf: str) -> list[str]:
    """Every URL of the URLconf that takes no argument (allauth's included ones too)."""
    found: list[str] = []

    def walk(patterns: list[Any], prefix: str) -> None:
        for entry in patterns:
            route = str(entry.pattern)
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, prefix + route)
            elif isinstance(entry, URLPattern) and "<" not in route and "^" not in route:
                found.append("/" + prefix + route.rstrip("$"))

    walk(get_resolver(urlconf).url_patterns, "")
    return found


@pytest.mark.parametrize(
    ("urlconf", "host"),
    [("crm_platform.urls_tenant", "alpha.localhost"), ("crm_platform.urls_public", "localhost")],
)
def test_head_answers_like_get_without_a_body(alpha, urlconf, host):
    owner = alpha.owner.user
    client = workspace_client(owner, alpha.tenant) if host != "localhost" else public_client(owner)
    checked = []
    for path in _plain_paths(urlconf):
        if path.startswith(("/admin/", "/accounts/logout", "/handover/", "/i18n/")):
            continue
        get = client.get(path)
        if get.status_code == 405:
            continue  # a POST-only endpoint
        head = client.head(path)
        assert (path, head.status_code) == (path, get.status_code)
        assert head.content == b"", path
        checked.append(path)
    assert len(checked) >= 6, checked


# --- headers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/", "/members/", "/members/export.csv", "/audit/", "/settings/", "/roles/"]
)
def test_workspace_pages_with_personal_data_are_never_stored(alpha, path):
    response = workspace_client(alpha.owner.user, alpha.tenant).get(path)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]


@pytest.mark.parametrize("path", ["/workspaces/", "/account/preferences/"])
def test_signed_in_public_pages_are_never_stored(alpha, path):
    response = public_client(alpha.owner.user).get(path)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


def test_anonymous_marketing_pages_stay_cacheable(world, db):
    response = Client(HTTP_HOST="localhost").get("/pricing/")
    assert response.status_code == 200
    assert "Cache-Control" not in response


@pytest.mark.parametrize("host", ["nowhere.localhost", "evil.example.com", "localhost"])
def test_security_headers_are_on_every_answer_even_the_unknown_host(world, db, host):
    response = Client(HTTP_HOST=host).get("/" if host == "localhost" else "/members/")
    assert response.status_code == (200 if host == "localhost" else 404)
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Permissions-Policy"] == (
        "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
    )


# --- logging ------------------------------------------------------------------------------------


def test_a_role_refusal_logs_one_line_without_a_traceback(alpha, caplog):
    client = workspace_client(alpha.members[Role.READ_ONLY].user, alpha.tenant)
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = client.get("/audit/")
    assert response.status_code == 403
    records = [r for r in caplog.records if r.name == "django.request"]
    assert [(r.levelname, r.getMessage()) for r in records] == [
        ("WARNING", "Forbidden (Permission denied): /audit/")
    ]
    assert records[0].exc_info is None
    assert "Traceback" not in caplog.text


# --- the dev server's port ----------------------------------------------------------------------


def _dev_setting(env: dict[str, str], expression: str) -> str:
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "from tenants.hosts import public_url; from crm_platform.security import "
        f"content_security_policy; print({expression})"
    )
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "crm_platform.settings.dev", **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def test_dev_links_follow_the_port_actually_served():
    env = {"PORT": "8123", "SITE_PORT": ""}
    assert _dev_setting(env, "public_url('/x/')") == "http://localhost:8123/x/"
    assert "http://*.localhost:8123" in _dev_setting(env, "content_security_policy()")
    assert _dev_setting({"PORT": "", "SITE_PORT": ""}, "settings.SITE_PORT") == "8000"
    # Behind a proxy the public port is named explicitly and wins.
    assert _dev_setting({"PORT": "8123", "SITE_PORT": "443"}, "settings.SITE_PORT") == "443"


def test_make_run_serves_on_the_port_its_links_use():
    sys.path.insert(0, "scripts")
    try:
        import run
    finally:
        sys.path.remove("scripts")
    env = run.serve_environment({"PORT": "8123"})
    assert (env["PORT"], env["SITE_PORT"]) == ("8123", "8123")
    assert run.serve_environment({})["SITE_PORT"] == "8000"


# --- tokens in access logs ------------------------------------------------------------------------


def test_access_log_never_holds_hand_over_invitation_or_signup_tokens():
    import crm_platform.asgi  # noqa: F401  (installs the filter, as the server does)

    logger = logging.getLogger("uvicorn.access")
    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    handler = Keep()
    # Another test may have started a server that quietened this logger: listen regardless.
    level, disabled = logger.level, logger.disabled
    logger.setLevel(logging.INFO)
    logger.disabled = False
    logger.addHandler(handler)
    try:
        # uvicorn's access line: client, method, path with query, HTTP version, status.
        for path in (
            "/handover/?token=eyJ1IjoxfQ:1abc:sig&next=%2Fmembers%2F",
            "/invitations/eyJpIjoxfQ:1xyz:sig/",
            "/signup/confirm/MTI:1pqr:sig/",
        ):
            logger.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", path, "1.1", 302)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.disabled = disabled
    assert seen == [
        '127.0.0.1:5000 - "GET /handover/?token=[redacted]&next=%2Fmembers%2F HTTP/1.1" 302',
        '127.0.0.1:5000 - "GET /invitations/[redacted]/ HTTP/1.1" 302',
        '127.0.0.1:5000 - "GET /signup/confirm/[redacted]/ HTTP/1.1" 302',
    ]
