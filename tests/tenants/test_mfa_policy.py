"""The workspace policy "require two-factor authentication for owners and admins" holds on
every request and every socket connect, not only when entering the workspace: sessions that
existed before it was turned on, and members promoted while it is on, are stopped too."""

from __future__ import annotations

import pytest
from allauth.mfa.models import Authenticator

from crm_platform.errors import ServiceError
from tenants import services
from tenants.models import Tenant
from tenants.roles import Role
from tests.conftest import workspace_client


def _require_mfa(tenant: Tenant) -> None:
    Tenant.objects.filter(pk=tenant.pk).update(require_mfa_for_admins=True)


def _give_totp(user) -> None:
    Authenticator.objects.create(
        user=user, type=Authenticator.Type.TOTP, data={"secret": "JBSWY3DPEHPK3PXP"}
    )


@pytest.mark.parametrize("path", ["/audit/", "/settings/", "/members/export.csv", "/members/"])
def test_existing_admin_session_is_stopped_once_the_policy_is_on(alpha, path):
    client = workspace_client(alpha.members[Role.ADMIN].user, alpha.tenant)
    assert client.get(path).status_code == 200
    _require_mfa(alpha.tenant)

    response = client.get(path)

    assert response.status_code == 403
    assert response.templates[0].name == "app/mfa_required.html"
    assert b"http://localhost/accounts/2fa/totp/activate/" in response.content
    assert b"Alpha Inc" in response.content


def test_writes_are_stopped_too(alpha):
    client = workspace_client(alpha.members[Role.ADMIN].user, alpha.tenant)
    _require_mfa(alpha.tenant)
    response = client.post("/members/invite/", {"email": "x@example.com", "role": "marketer"})
    assert response.status_code == 403
    assert not alpha.tenant.invitations.filter(email="x@example.com").exists()


def test_member_promoted_to_admin_while_the_policy_is_on_is_stopped(alpha):
    _require_mfa(alpha.tenant)
    member = alpha.members[Role.MANAGER]
    client = workspace_client(member.user, alpha.tenant)
    assert client.get("/").status_code == 200

    owner = alpha.owner
    _give_totp(owner.user)
    services.member_change_role(actor=owner, member=member, role=Role.ADMIN)

    assert client.get("/").status_code == 403


def test_other_roles_and_admins_with_mfa_are_not_affected(alpha):
    _require_mfa(alpha.tenant)
    _give_totp(alpha.members[Role.ADMIN].user)
    assert (
        workspace_client(alpha.members[Role.ADMIN].user, alpha.tenant).get("/").status_code == 200
    )
    assert (
        workspace_client(alpha.members[Role.SALES_REP].user, alpha.tenant).get("/").status_code
        == 200
    )


def test_admin_stopped_by_the_policy_may_still_sign_out(alpha):
    client = workspace_client(alpha.members[Role.ADMIN].user, alpha.tenant)
    _require_mfa(alpha.tenant)
    assert client.post("/signout/").status_code == 302


def test_policy_cannot_be_turned_on_by_someone_without_mfa(alpha):
    with pytest.raises(ServiceError) as refused:
        services.workspace_update_settings(
            actor=alpha.owner,
            name="Alpha Inc",
            time_zone="UTC",
            currency="USD",
            require_mfa_for_admins=True,
        )
    assert (refused.value.field, refused.value.code) == ("require_mfa_for_admins", "mfa_missing")
    assert Tenant.objects.get(pk=alpha.tenant.pk).require_mfa_for_admins is False
