"""Mail to an address someone typed is rate-limited per sender, per workspace and per recipient,
and signup does not say whether an address already has an account."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from crm_platform.errors import ServiceError
from tenants import services
from tenants.models import Invitation, Tenant, User
from tenants.roles import Role
from tests.conftest import public_client, workspace_client
from tests.factories import PASSWORD

HOUR, DAY = 60 * 60, 60 * 60 * 24


def _sent_to(address: str) -> int:
    return sum(address in message.to for message in mail.outbox)


def test_resending_an_invitation_over_and_over_stops_at_the_recipient_limit(
    alpha, django_capture_on_commit_callbacks
):
    client = workspace_client(alpha.owner.user, alpha.tenant)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/members/invite/", {"email": "target@example.com", "role": "marketer"})
    invitation = Invitation.objects.get(tenant=alpha.tenant, email="target@example.com")
    for _attempt in range(10):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(f"/invitations/{invitation.pk}/resend/", follow=True)
    assert _sent_to("target@example.com") == 5
    assert [str(m) for m in response.context["messages"]] == [
        "Too many invitation emails have been sent lately. Try again later."
    ]
    # The refused resends changed nothing: the last link sent is still the one that works.
    (token,) = re.findall(r"/invitations/([^/\s]+)/", str(mail.outbox[-1].body))
    assert services.invitation_from_token(token).pk == invitation.pk


def test_invitations_are_limited_per_sender(alpha, settings, django_capture_on_commit_callbacks):
    settings.TYPED_ADDRESS_MAIL_LIMITS = {
        "actor": (2, HOUR),
        "workspace": (100, DAY),
        "recipient": (5, DAY),
    }
    admin, owner = alpha.members[Role.ADMIN], alpha.owner
    for n in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            services.invitation_create(actor=admin, email=f"a{n}@example.com", role=Role.MARKETER)
    with pytest.raises(ServiceError) as refused:
        services.invitation_create(actor=admin, email="a2@example.com", role=Role.MARKETER)
    assert (refused.value.field, refused.value.code) == ("email", "rate_limited")
    assert not Invitation.objects.filter(email="a2@example.com").exists()
    # Another sender in the same workspace is not held back by this one's count.
    with django_capture_on_commit_callbacks(execute=True):
        services.invitation_create(actor=owner, email="a2@example.com", role=Role.MARKETER)
    assert [_sent_to(f"a{n}@example.com") for n in range(3)] == [1, 1, 1]


def test_invitations_are_limited_per_workspace(alpha, settings, django_capture_on_commit_callbacks):
    settings.TYPED_ADDRESS_MAIL_LIMITS = {
        "actor": (30, HOUR),
        "workspace": (2, DAY),
        "recipient": (5, DAY),
    }
    services.invitation_create(actor=alpha.owner, email="w0@example.com", role=Role.MARKETER)
    services.invitation_create(
        actor=alpha.members[Role.ADMIN], email="w1@example.com", role=Role.MARKETER
    )
    with pytest.raises(ServiceError) as refused:
        services.invitation_create(
            actor=alpha.members[Role.ADMIN], email="w2@example.com", role=Role.MARKETER
        )
    assert refused.value.code == "rate_limited"
    assert not Invitation.objects.filter(email="w2@example.com").exists()


def test_one_recipient_is_limited_across_workspaces(
    alpha, bravo, settings, django_capture_on_commit_callbacks
):
    settings.TYPED_ADDRESS_MAIL_LIMITS = {
        "actor": (30, HOUR),
        "workspace": (100, DAY),
        "recipient": (1, DAY),
    }
    with django_capture_on_commit_callbacks(execute=True):
        services.invitation_create(actor=alpha.owner, email="Victim@Example.com", role="marketer")
    with pytest.raises(ServiceError) as refused:
        services.invitation_create(actor=bravo.owner, email="victim@example.com", role="marketer")
    assert refused.value.code == "rate_limited"
    assert _sent_to("victim@example.com") == 1
    assert not Invitation.objects.filter(tenant=bravo.tenant).exists()


# --- signup does not disclose accounts ------------------------------------------------------------

SIGNUP = {
    "company_name": "Copycat Ltd",
    "slug": "copycat",
    "full_name": "Cope Cat",
    "password": PASSWORD,
}


def test_signup_with_an_existing_address_answers_like_any_signup_and_mails_the_owner(
    alpha, django_capture_on_commit_callbacks
):
    owner_email = alpha.owner.user.email
    users_before, tenants_before = User.objects.count(), Tenant.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        response = public_client().post("/signup/", {**SIGNUP, "email": owner_email.upper()})

    assert response.status_code == 200
    assert "public/signup_check_email.html" in [t.name for t in response.templates]
    body = response.content.decode()
    assert "An account with this email already exists" not in body
    assert "exists" not in body.lower()
    assert (User.objects.count(), Tenant.objects.count()) == (users_before, tenants_before)
    assert "_auth_user_id" not in response.client.session
    assert [(m.to, m.subject) for m in mail.outbox] == [
        ([owner_email], "[Rapport] Sign-up attempt with your email address")
    ]
    assert "http://localhost/accounts/login/" in str(mail.outbox[0].body)


def test_signup_notices_to_one_account_are_rate_limited(
    alpha, settings, django_capture_on_commit_callbacks
):
    settings.TYPED_ADDRESS_MAIL_LIMITS = {
        "actor": (30, HOUR),
        "workspace": (100, DAY),
        "recipient": (2, DAY),
    }
    owner_email = alpha.owner.user.email
    for _attempt in range(4):
        with django_capture_on_commit_callbacks(execute=True):
            response = public_client().post("/signup/", {**SIGNUP, "email": owner_email})
        assert "public/signup_check_email.html" in [t.name for t in response.templates]
    assert _sent_to(owner_email) == 2


def test_signup_links_to_one_new_address_are_rate_limited(
    world, db, settings, django_capture_on_commit_callbacks
):
    """The link mail goes to an address anyone can type too: the same per-recipient limit."""
    settings.TYPED_ADDRESS_MAIL_LIMITS = {
        "actor": (30, HOUR),
        "workspace": (100, DAY),
        "recipient": (2, DAY),
    }
    for _attempt in range(4):
        with django_capture_on_commit_callbacks(execute=True):
            response = public_client().post("/signup/", {**SIGNUP, "email": "Stranger@x.com"})
        assert "public/signup_check_email.html" in [t.name for t in response.templates]
    assert _sent_to("stranger@x.com") == 2
    assert not User.objects.filter(email__iexact="stranger@x.com").exists()
