"""Entering a workspace: the public host hands its session to the workspace host with a
one-time token (D5); sessions stay bound to the host they were handed to; signing out ends
every session of the user on every host."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
from allauth.mfa.models import Authenticator
from django.core import signing
from django.test import Client
from django_tenants.utils import schema_context

from tenants.audit.models import AuditEvent
from tenants.handover import SALT, handover_token_mint
from tenants.middleware import SESSION_WORKSPACE_KEY
from tenants.models import Membership, Tenant, User, UserSession
from tenants.roles import Role
from tests.conftest import public_client, workspace_client
from tests.factories import PASSWORD, MembershipFactory, UserFactory


def _enter(client: Client, slug: str = "alpha", next_path: str | None = None) -> str:
    """Follow /w/<slug>/ on the public host; return the hand-over URL's query string."""
    query = {} if next_path is None else {"next": next_path}
    response = client.get(f"/w/{slug}/", query)
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith(f"http://{slug}.localhost/handover/?")
    return urlsplit(location).query


def _token(client: Client, slug: str = "alpha") -> str:
    return parse_qs(_enter(client, slug))["token"][0]


def _workspace_browser(remote_addr: str = "127.0.0.1") -> Client:
    return Client(HTTP_HOST="alpha.localhost", REMOTE_ADDR=remote_addr)


def _redeem(browser: Client, token: str, next_path: str = "/"):
    return browser.get("/handover/", {"token": token, "next": next_path})


def _resign(token: str, *, age_seconds: int) -> str:
    """The same payload, signed as if minted age_seconds ago."""
    payload = signing.loads(token, salt=SALT)
    issued = signing.b62_encode(int(time.time()) - age_seconds)

    class Backdated(signing.TimestampSigner):
        def timestamp(self) -> str:
            return issued

    return Backdated(salt=SALT).sign_object(payload, compress=False)


def _assert_not_signed_in(browser: Client) -> None:
    response = browser.get("/members/")
    assert response.status_code == 302
    assert response["Location"].startswith("http://localhost/accounts/login/?next=")
    assert "_auth_user_id" not in browser.session


# --- entering ---------------------------------------------------------------------------------


def test_anonymous_enter_redirects_to_sign_in(alpha):
    response = public_client().get("/w/alpha/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/w/alpha/"


def test_enter_is_404_for_non_member_and_unknown_slug(alpha, bravo):
    client = public_client(bravo.owner.user)
    assert client.get("/w/alpha/").status_code == 404
    assert client.get("/w/no-such-workspace/").status_code == 404


def test_enter_is_404_for_deactivated_member(alpha):
    member = alpha.members[Role.MARKETER]
    Membership.objects.filter(pk=member.pk).update(status=Membership.Status.DEACTIVATED)
    assert public_client(member.user).get("/w/alpha/").status_code == 404


def test_enter_redirects_to_workspace_host_with_token_and_next(alpha):
    query = parse_qs(_enter(public_client(alpha.owner.user), next_path="/members/"))
    assert sorted(query) == ["next", "token"]
    assert query["next"] == ["/members/"]
    assert query["token"][0]


def test_redeeming_signs_in_on_workspace_host_bound_to_that_workspace(alpha):
    user = alpha.members[Role.MANAGER].user
    token = _token(public_client(user))

    browser = _workspace_browser("203.0.113.7")
    landed = _redeem(browser, token, "/members/")

    assert landed.status_code == 302
    assert landed["Location"] == "/members/"
    assert browser.session[SESSION_WORKSPACE_KEY] == alpha.tenant.pk
    assert browser.session["_auth_user_id"] == str(user.pk)
    assert UserSession.objects.filter(
        session_key=browser.session.session_key, user_id=user.pk
    ).exists()
    page = browser.get("/members/")
    assert page.status_code == 200
    assert page.context["membership"].pk == alpha.members[Role.MANAGER].pk


def test_sign_in_to_workspace_is_audited_with_ip(alpha):
    user = alpha.members[Role.SALES_REP].user
    token = _token(public_client(user))

    _redeem(_workspace_browser("203.0.113.7"), token)

    with schema_context(alpha.tenant.schema_name):
        events = list(
            AuditEvent.objects.filter(action="member.signed_in").values(
                "actor_id", "actor_email", "target_id", "ip_address"
            )
        )
    assert events == [
        {
            "actor_id": user.pk,
            "actor_email": user.email,
            "target_id": str(alpha.members[Role.SALES_REP].pk),
            "ip_address": "203.0.113.7",
        }
    ]


# --- tokens that must not work ------------------------------------------------------------------


def _assert_refused(response, browser: Client) -> None:
    assert response.status_code == 403
    assert response.templates[0].name == "app/handover_failed.html"
    assert b"This sign-in link is no longer valid" in response.content
    _assert_not_signed_in(browser)


def test_token_is_single_use(alpha):
    token = _token(public_client(alpha.owner.user))
    assert _redeem(_workspace_browser(), token).status_code == 302

    thief = _workspace_browser()
    _assert_refused(_redeem(thief, token), thief)


def test_forged_token_is_refused(alpha):
    token = _token(public_client(alpha.owner.user))
    payload = signing.loads(token, salt=SALT)
    forged = [
        token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        signing.dumps(payload, salt="some.other.salt"),
        signing.dumps(payload, key="x" * 50, salt=SALT),
        "",
        "not-a-token",
    ]
    for candidate in forged:
        browser = _workspace_browser()
        _assert_refused(_redeem(browser, candidate), browser)
    with schema_context(alpha.tenant.schema_name):
        assert not AuditEvent.objects.filter(action="member.signed_in").exists()


def test_token_minted_for_another_workspace_is_refused(alpha, bravo):
    user = alpha.owner.user
    MembershipFactory.create(user=user, tenant=bravo.tenant, role=Role.ADMIN)
    bravo_token = _token(public_client(user), "bravo")

    browser = _workspace_browser()
    _assert_refused(_redeem(browser, bravo_token), browser)


def test_token_for_a_user_who_is_not_an_active_member_is_refused(alpha):
    member = alpha.members[Role.SUPPORT_AGENT]
    token = handover_token_mint(user=member.user, tenant=alpha.tenant)
    Membership.objects.filter(pk=member.pk).update(status=Membership.Status.DEACTIVATED)

    browser = _workspace_browser()
    _assert_refused(_redeem(browser, token), browser)


def test_expired_token_is_refused(alpha, settings):
    token = _token(public_client(alpha.owner.user))
    old = _resign(token, age_seconds=settings.HANDOVER_MAX_AGE_SECONDS + 5)

    browser = _workspace_browser()
    _assert_refused(_redeem(browser, old), browser)


def test_recent_token_within_max_age_is_accepted(alpha, settings):
    token = _token(public_client(alpha.owner.user))
    recent = _resign(token, age_seconds=settings.HANDOVER_MAX_AGE_SECONDS // 2)

    assert _redeem(_workspace_browser(), recent).status_code == 302


def test_token_is_refused_when_max_age_is_zero(alpha, settings):
    settings.HANDOVER_MAX_AGE_SECONDS = 0
    token = _resign(_token(public_client(alpha.owner.user)), age_seconds=1)

    browser = _workspace_browser()
    _assert_refused(_redeem(browser, token), browser)


def test_token_is_invalid_after_password_change(alpha):
    user = alpha.owner.user
    token = _token(public_client(user))
    fresh = User.objects.get(pk=user.pk)
    fresh.set_password("a-brand-new-passphrase")
    fresh.save(update_fields=["password"])

    browser = _workspace_browser()
    _assert_refused(_redeem(browser, token), browser)


# --- where `next` may lead ----------------------------------------------------------------------

OFFSITE = [
    "//evil.com",
    "http://evil.com",
    "https://evil.com/x",
    "/\\evil.com",
    "javascript:alert(1)",
]


@pytest.mark.parametrize("target", OFFSITE)
def test_enter_drops_offsite_next(alpha, target):
    query = parse_qs(_enter(public_client(alpha.owner.user), next_path=target))
    assert query["next"] == ["/"]


@pytest.mark.parametrize("target", OFFSITE)
def test_handover_drops_offsite_next(alpha, target):
    token = handover_token_mint(user=alpha.owner.user, tenant=alpha.tenant)
    landed = _redeem(_workspace_browser(), token, target)
    assert landed.status_code == 302
    assert landed["Location"] == "/"


def test_handover_keeps_local_next_with_query(alpha):
    token = handover_token_mint(user=alpha.owner.user, tenant=alpha.tenant)
    landed = _redeem(_workspace_browser(), token, "/audit/?action=member.signed_in")
    assert landed["Location"] == "/audit/?action=member.signed_in"


@pytest.mark.parametrize("target", OFFSITE)
def test_login_next_cannot_leave_the_site(alpha, target):
    client = public_client()
    response = client.post(
        "/accounts/login/",
        {"login": alpha.owner.user.email, "password": PASSWORD, "next": target},
    )
    assert response.status_code == 302
    assert response["Location"] == "/workspaces/"
    assert client.session["_auth_user_id"] == str(alpha.owner.user.pk)


def test_login_next_keeps_a_local_path(alpha):
    response = public_client().post(
        "/accounts/login/",
        {"login": alpha.owner.user.email, "password": PASSWORD, "next": "/w/alpha/"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/w/alpha/"


# --- sessions are bound to their host -----------------------------------------------------------


def test_public_host_session_is_not_accepted_on_workspace_host(alpha):
    browser = public_client(alpha.owner.user)
    browser.defaults["HTTP_HOST"] = "alpha.localhost"

    response = browser.get("/members/")

    assert response.status_code == 302
    assert response["Location"] == "http://localhost/w/alpha/?next=%2Fmembers%2F"


def test_other_workspace_session_is_not_accepted_on_alpha_host(alpha, bravo):
    user = alpha.owner.user
    MembershipFactory.create(user=user, tenant=bravo.tenant, role=Role.ADMIN)
    browser = workspace_client(user, bravo.tenant)
    assert browser.get("/members/").status_code == 200
    browser.defaults["HTTP_HOST"] = "alpha.localhost"

    response = browser.get("/members/")

    assert response.status_code == 302
    assert response["Location"] == "http://localhost/w/alpha/?next=%2Fmembers%2F"


def test_anonymous_on_workspace_host_goes_to_sign_in_then_back(alpha):
    response = _workspace_browser().get("/members/")
    assert response.status_code == 302
    assert response["Location"] == (
        "http://localhost/accounts/login/?next=%2Fw%2Falpha%2F%3Fnext%3D%252Fmembers%252F"
    )


# --- signing out ends every session -------------------------------------------------------------


def _sessions_of(user: User) -> int:
    return UserSession.objects.filter(user_id=user.pk).count()


def _three_hosts(user: User, alpha_tenant: Tenant, bravo_tenant: Tenant):
    MembershipFactory.create(user=user, tenant=bravo_tenant, role=Role.ADMIN)
    return (
        public_client(user),
        workspace_client(user, alpha_tenant),
        workspace_client(user, bravo_tenant),
    )


def test_sign_out_on_workspace_host_ends_sessions_on_every_host(alpha, bravo):
    user = alpha.owner.user
    bystander = alpha.members[Role.ADMIN].user
    bystander_browser = workspace_client(bystander, alpha.tenant)
    public, on_alpha, on_bravo = _three_hosts(user, alpha.tenant, bravo.tenant)
    assert _sessions_of(user) == 3

    response = on_alpha.post("/signout/")

    assert response.status_code == 302
    assert response["Location"] == "http://localhost/"
    assert _sessions_of(user) == 0
    assert on_bravo.get("/members/").status_code == 302
    assert on_alpha.get("/members/").status_code == 302
    assert public.get("/workspaces/")["Location"] == "/accounts/login/?next=/workspaces/"
    assert _sessions_of(bystander) == 1
    assert bystander_browser.get("/members/").status_code == 200


def test_sign_out_on_public_host_ends_sessions_on_every_host(alpha, bravo):
    user = alpha.owner.user
    public, on_alpha, on_bravo = _three_hosts(user, alpha.tenant, bravo.tenant)

    response = public.post("/accounts/logout/")

    assert response.status_code == 302
    assert _sessions_of(user) == 0
    assert on_alpha.get("/members/").status_code == 302
    assert on_bravo.get("/members/").status_code == 302


def test_sign_out_by_get_is_refused(alpha):
    user = alpha.owner.user
    browser = workspace_client(user, alpha.tenant)

    response = browser.get("/signout/")

    assert response.status_code == 405
    assert _sessions_of(user) == 1
    assert browser.get("/members/").status_code == 200


def test_public_logout_by_get_does_not_sign_out(alpha):
    user = alpha.owner.user
    public = public_client(user)

    response = public.get("/accounts/logout/")

    assert response.status_code == 200
    assert _sessions_of(user) == 1
    assert public.get("/workspaces/").status_code == 200


# --- two-factor requirement ---------------------------------------------------------------------


def _require_mfa(tenant: Tenant) -> None:
    Tenant.objects.filter(pk=tenant.pk).update(require_mfa_for_admins=True)


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN])
def test_workspace_requiring_mfa_sends_admin_without_totp_to_setup(alpha, role):
    _require_mfa(alpha.tenant)
    client = public_client(alpha.members[role].user)

    response = client.get("/w/alpha/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/2fa/totp/activate/"
    assert "token=" not in response["Location"]


def test_workspace_requiring_mfa_admits_admin_with_totp(alpha):
    _require_mfa(alpha.tenant)
    user = alpha.owner.user
    Authenticator.objects.create(
        user=user, type=Authenticator.Type.TOTP, data={"secret": "JBSWY3DPEHPK3PXP"}
    )
    assert _token(public_client(user))


def test_workspace_requiring_mfa_admits_other_roles_without_totp(alpha):
    _require_mfa(alpha.tenant)
    assert _token(public_client(alpha.members[Role.SALES_REP].user))


def test_new_member_without_mfa_requirement_enters_directly(alpha):
    user = UserFactory.create()
    MembershipFactory.create(user=user, tenant=alpha.tenant, role=Role.OWNER)
    token = _token(public_client(user))
    browser = _workspace_browser()
    assert _redeem(browser, token).status_code == 302
    assert browser.get("/").status_code == 200


# --- forced sign-in ----------------------------------------------------------------------------


def test_a_link_minted_by_someone_else_does_not_switch_a_signed_in_browser(alpha):
    victim = alpha.members[Role.ADMIN]
    attacker = alpha.members[Role.SALES_REP]
    browser = workspace_client(victim.user, alpha.tenant)
    token = handover_token_mint(user=attacker.user, tenant=alpha.tenant)

    response = browser.get(f"/handover/?token={token}&next=/members/")

    assert response.status_code == 409
    assert response.templates[0].name == "app/handover_other_account.html"
    assert browser.session["_auth_user_id"] == str(victim.user.pk)
    assert browser.get("/").context["user"].pk == victim.user.pk


def test_the_same_person_entering_again_is_signed_in_as_before(alpha):
    member = alpha.members[Role.MANAGER]
    browser = workspace_client(member.user, alpha.tenant)
    token = handover_token_mint(user=member.user, tenant=alpha.tenant)
    response = browser.get(f"/handover/?token={token}&next=/members/")
    assert response.status_code == 302
    assert response["Location"] == "/members/"
