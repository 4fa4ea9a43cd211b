"""Every URL of the public host, asked by an anonymous visitor and by a signed-in member.

Routes are read from the public URLconf when the tests are collected; each of ours needs its
expected answers in ``EXPECTED`` (the test fails naming a route that has none). The public host
never serves a workspace's pages, API or data.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils.regex_helper import normalize

from tests.conftest import Workspace, public_client
from tests.isolation.conftest import db_state
from tests.isolation.test_matrix import ENDPOINTS as WORKSPACE_PAGES

PUBLIC_URLCONF = "crm_platform.urls_public"
# Routes provided by libraries, covered by their own suites and by tests/platform.
LIBRARY_PREFIXES = {
    "accounts/": "django-allauth: sign-in, MFA, password reset (tests/platform/test_security.py)",
    "admin/": "Django admin, superusers only (tests/platform/test_staff_admin.py)",
}
SAMPLE_KWARGS = {"slug": "alpha", "token": "not-a-token"}

# (anonymous GET, anonymous POST, member GET, member POST) per route name.
EXPECTED: dict[str | None, tuple[int, int, int, int]] = {
    "landing": (200, 405, 200, 405),
    "pricing": (200, 405, 200, 405),
    "signup": (200, 400, 200, 400),
    "signup_slug_check": (200, 405, 200, 405),
    "signup_confirm": (410, 410, 410, 410),
    "preferences": (302, 302, 200, 400),
    "workspace_list": (302, 405, 200, 405),
    "workspace_new": (302, 302, 200, 400),
    "workspace_enter": (302, 405, 302, 405),
    "invitation_accept": (410, 410, 410, 410),
    "set_language": (405, 302, 405, 302),
    "stripe_webhook": (405, 400, 405, 400),
    "staff_revenue": (404, 404, 404, 404),
    # Signed per workspace (tests/service/test_inbound_webhook.py): unsigned is refused.
    "inbound_email": (405, 403, 405, 403),
}


@dataclass(frozen=True)
class Route:
    route: str
    name: str | None
    path: str

    def __str__(self) -> str:
        return f"/{self.route}"


def _walk(resolver: URLResolver, regex: str = "", route: str = "") -> Iterator[Route]:
    for entry in resolver.url_patterns:
        full_regex = regex + entry.pattern.regex.pattern.removeprefix("^").removesuffix(r"\Z")
        full_route = route + str(entry.pattern)
        if full_route.startswith(tuple(LIBRARY_PREFIXES)):
            continue
        if isinstance(entry, URLResolver):
            yield from _walk(entry, full_regex, full_route)
            continue
        assert isinstance(entry, URLPattern)
        path_format, kwargs = normalize(full_regex.removesuffix("$"))[0]
        yield Route(
            full_route, entry.name, "/" + path_format % {k: SAMPLE_KWARGS[k] for k in kwargs}
        )


ROUTES = [r for r in _walk(get_resolver(PUBLIC_URLCONF)) if r.name is not None]


def _expected(route: Route) -> tuple[int, int, int, int]:
    if route.name not in EXPECTED:
        pytest.fail(f"{route} ({route.name}): add its expected answers to EXPECTED")
    return EXPECTED[route.name]


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_anonymous_visitor_is_answered_and_changes_nothing(route: Route, alpha: Workspace) -> None:
    get_status, post_status, _, _ = _expected(route)
    before = db_state(alpha)
    assert public_client().get(route.path).status_code == get_status
    assert Client(HTTP_HOST="localhost").post(route.path).status_code == post_status
    assert db_state(alpha) == before


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_signed_in_member_is_answered(route: Route, alpha: Workspace) -> None:
    _, _, get_status, post_status = _expected(route)
    client = public_client(alpha.owner.user)
    assert client.get(route.path).status_code == get_status
    assert client.post(route.path).status_code == post_status


def test_entering_another_companys_workspace_is_not_found(
    alpha: Workspace, bravo: Workspace
) -> None:
    response = public_client(bravo.owner.user).get("/w/alpha/")
    assert response.status_code == 404


PUBLIC_PATHS = {route.path for route in ROUTES}
WORKSPACE_ONLY = sorted(
    {
        "/" + e.path_format % dict.fromkeys(e.kwargs, "1")
        for e in WORKSPACE_PAGES
        if "/" + e.path_format % dict.fromkeys(e.kwargs, "1") not in PUBLIC_PATHS
    }
    | {"/api/v1/members/", "/api/schema/", "/ws/notifications/"}
)


@pytest.mark.parametrize("path", WORKSPACE_ONLY)
def test_workspace_pages_and_api_do_not_exist_on_the_public_host(
    path: str, alpha: Workspace
) -> None:
    client = public_client(alpha.owner.user)
    assert client.get(path).status_code == 404
    assert client.post(path).status_code == 404
