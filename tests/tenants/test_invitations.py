from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import pytest
from allauth.account.models import EmailAddress
from django.contrib.messages import get_messages
from django.core import mail, signing
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from tenants import services
from tenants.audit.models import AuditEvent
from tenants.models import Invitation, Membership, Tenant, User
from tenants.roles import Role
from tests.conftest import Workspace, public_client, workspace_client
from tests.factories import InvitationFactory, MembershipFactory, UserFactory

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse

NOT_VALID = "This invitation link is not valid."
EXPIRED = "This invitation has expired. Ask for a new one."
GOOD_PASSWORD = "a-long-enough-passphrase"
LINK = re.compile(r"http://localhost/invitations/([^/\s]+)/")


def _flash(response: TestResponse) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def _audit(workspace: Workspace, action: str) -> list[AuditEvent]:
    with schema_context(workspace.tenant.schema_name):
        return list(AuditEvent.objects.filter(action=action))


def _admin(workspace: Workspace) -> Client:
    return workspace_client(workspace.members[Role.ADMIN].user, workspace.tenant)


def _invite(workspace: Workspace, email: str, role: str = Role.SALES_REP) -> TestResponse:
    response: TestResponse = _admin(workspace).post(
        "/members/invite/", {"email": email, "role": role}, REMOTE_ADDR="203.0.113.9"
    )
    return response


def _invited(
    workspace: Workspace, email: str, role: str = Role.SALES_REP
) -> tuple[Invitation, str]:
    """Invite through the members page; the invitation and the token its email carries."""
    mail.outbox.clear()
    response = _invite(workspace, email, role)
    assert response.status_code == 302
    invitation = Invitation.objects.get(
        tenant=workspace.tenant, email=email.lower(), status=Invitation.Status.PENDING
    )
    return invitation, _token_in_last_email()


def _token_in_last_email() -> str:
    (token,) = LINK.findall(str(mail.outbox[-1].body))
    return str(token)


def _open(token: str, client: Client | None = None) -> TestResponse:
    response: TestResponse = (client or public_client()).get(f"/invitations/{token}/")
    return response


def _submit(token: str, client: Client | None = None, **data: str) -> TestResponse:
    response: TestResponse = (client or public_client()).post(f"/invitations/{token}/", data)
    return response


def _assert_unavailable(response: TestResponse, message: str) -> None:
    assert response.status_code == 410
    assert response.templates[0].name == "public/invitation_invalid.html"
    assert response.context["error"] == message


def _form_errors(response: TestResponse) -> dict[str, list[str]]:
    return {field: list(errors) for field, errors in response.context["form"].errors.items()}


# --- inviting -----------------------------------------------------------------------------


def test_invite_emails_a_link_on_the_public_host_after_commit(
    alpha, settings, django_capture_on_commit_callbacks
):
    # The product's own backend: it queues delivery for after the transaction commits.
    settings.EMAIL_BACKEND = "crm_platform.mail.TaskEmailBackend"

    with django_capture_on_commit_callbacks() as callbacks:
        response = _invite(alpha, "New.Person@Example.com", Role.MARKETER)

    assert response.status_code == 302
    assert response["Location"] == "/members/"
    assert _flash(response) == ["Invitation sent to new.person@example.com."]
    invitation = Invitation.objects.get(tenant=alpha.tenant, email="new.person@example.com")
    assert invitation.role == Role.MARKETER
    assert invitation.status == Invitation.Status.PENDING
    assert invitation.invited_by == alpha.members[Role.ADMIN].user
    assert invitation.expires_at - invitation.sent_at == timedelta(days=7)
    (event,) = _audit(alpha, "invitation.created")
    assert event.target_repr == "new.person@example.com"
    assert event.data == {"role": Role.MARKETER}
    assert event.ip_address == "203.0.113.9"

    assert mail.outbox == []
    for callback in callbacks:
        callback()
    (message,) = mail.outbox
    assert message.to == ["new.person@example.com"]
    assert message.subject == "You are invited to Alpha Inc on Rapport"
    (link,) = LINK.finditer(str(message.body))
    assert f"\n{link.group(0)}\n" in message.body
    assert services.invitation_from_token(link.group(1)) == invitation
    assert "The link works once and expires in 7 days." in message.body


def test_invite_accepts_an_internationalised_domain(alpha):
    invitation, token = _invited(alpha, "ivan@пример.рф")

    assert invitation.email == "ivan@пример.рф"
    assert mail.outbox[-1].to == ["ivan@пример.рф"]
    assert _open(token).status_code == 200


def test_invite_is_refused_when_every_seat_is_taken(alpha):
    used = Membership.objects.filter(tenant=alpha.tenant, status="active").count()
    Tenant.objects.filter(pk=alpha.tenant.pk).update(seat_limit=used)

    response = _invite(alpha, "one-too-many@example.com")

    assert response.status_code == 400
    assert _form_errors(response) == {
        "email": [
            f"All {used} seats of your plan are in use. Deactivate a member, revoke an "
            "invitation or add seats to your plan."
        ]
    }
    assert not Invitation.objects.filter(tenant=alpha.tenant).exists()
    assert mail.outbox == []
    assert _audit(alpha, "invitation.created") == []


@pytest.mark.parametrize(
    ("situation", "message"),
    [
        ("pending", "This person has already been invited. Resend the invitation instead."),
        ("member", "This person is already a member."),
        (
            "deactivated",
            "This person is a deactivated member. Reactivate them from the members list.",
        ),
    ],
)
def test_invite_refuses_someone_already_invited_or_a_member(alpha, situation, message):
    email = "taken@example.com"
    if situation == "pending":
        InvitationFactory.create(tenant=alpha.tenant, email=email, invited_by=alpha.owner.user)
    else:
        status = "active" if situation == "member" else "deactivated"
        MembershipFactory.create(
            tenant=alpha.tenant, user=UserFactory.create(email=email), status=status
        )
    invitations_before = list(Invitation.objects.values_list("pk", "status", "nonce"))

    response = _invite(alpha, "Taken@EXAMPLE.com")

    assert response.status_code == 400
    assert _form_errors(response) == {"email": [message]}
    assert list(Invitation.objects.values_list("pk", "status", "nonce")) == invitations_before
    assert mail.outbox == []


def test_an_expired_invitation_gives_way_to_a_new_one(alpha):
    old = InvitationFactory.create(
        tenant=alpha.tenant,
        email="again@example.com",
        invited_by=alpha.owner.user,
        expires_at=timezone.now() - timedelta(minutes=1),
    )

    new, _ = _invited(alpha, "again@example.com")

    assert new.pk != old.pk
    old.refresh_from_db()
    assert old.status == Invitation.Status.REVOKED


@pytest.mark.parametrize(
    ("email", "message"),
    [
        ("", "This field is required."),
        ("not-an-email", "Enter a valid email address."),
        ("two@at@example.com", "Enter a valid email address."),
        ("a" * 250 + "@example.com", "Ensure this value has at most 254 characters (it has 262)."),
        ("пользователь@example.com", "Enter a valid email address."),
        ("josé@example.com", "Enter a valid email address."),
        ("王芳@example.com", "Enter a valid email address."),
    ],
    ids=["empty", "no-at", "two-ats", "over-long", "cyrillic-local", "accented-local", "han-local"],
)
def test_invite_rejects_a_bad_email_naming_the_field(alpha, email, message):
    response = _invite(alpha, email)

    assert response.status_code == 400
    assert _form_errors(response) == {"email": [message]}
    assert not Invitation.objects.filter(tenant=alpha.tenant).exists()
    assert mail.outbox == []


def test_invite_rejects_an_unknown_role(alpha):
    response = _invite(alpha, "someone@example.com", role="janitor")

    assert response.status_code == 400
    assert _form_errors(response) == {
        "role": ["Select a valid choice. janitor is not one of the available choices."]
    }
    assert not Invitation.objects.filter(tenant=alpha.tenant).exists()


def test_inviter_cannot_tell_whether_the_invited_email_has_an_account(alpha):
    UserFactory.create(email="known@example.com")

    answers = []
    for email in ("known@example.com", "unknown@example.com"):
        mail.outbox.clear()
        response = _invite(alpha, email)
        (message,) = mail.outbox
        answers.append(
            (
                response.status_code,
                response["Location"],
                [text.replace(email, "<email>") for text in _flash(response)],
                message.subject,
                LINK.sub("<link>", str(message.body)),
            )
        )

    assert answers[0] == answers[1]
    assert answers[0][:3] == (302, "/members/", ["Invitation sent to <email>."])


# --- resend and revoke --------------------------------------------------------------------


def test_resend_rotates_the_link(alpha):
    invitation, first = _invited(alpha, "rotate@example.com")

    response = _admin(alpha).post(f"/invitations/{invitation.pk}/resend/")

    assert response.status_code == 302
    assert _flash(response) == ["Invitation resent."]
    second = _token_in_last_email()
    assert second != first
    assert [m.to for m in mail.outbox] == [["rotate@example.com"]] * 2
    _assert_unavailable(_open(first), NOT_VALID)
    assert _open(second).status_code == 200
    (event,) = _audit(alpha, "invitation.resent")
    assert event.target_id == str(invitation.pk)


def test_revoked_link_says_so_and_joins_nobody(alpha):
    invitation, token = _invited(alpha, "revoked@example.com")

    response = _admin(alpha).post(f"/invitations/{invitation.pk}/revoke/")

    assert response.status_code == 302
    assert _flash(response) == ["Invitation revoked."]
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.REVOKED
    _assert_unavailable(_open(token), "This invitation has been revoked.")
    _assert_unavailable(
        _submit(token, full_name="Late Comer", password=GOOD_PASSWORD),
        "This invitation has been revoked.",
    )
    assert not User.objects.filter(email="revoked@example.com").exists()


def test_a_revoked_invitation_cannot_be_resent(alpha):
    invitation, _ = _invited(alpha, "gone@example.com")
    Invitation.objects.filter(pk=invitation.pk).update(status=Invitation.Status.REVOKED)

    response = _admin(alpha).post(f"/invitations/{invitation.pk}/resend/")

    assert _flash(response) == ["Only a pending invitation can be resent."]
    assert Invitation.objects.get(pk=invitation.pk).nonce == invitation.nonce
    assert len(mail.outbox) == 1


# --- links that no longer work ------------------------------------------------------------


def test_link_past_its_expiry_date_says_expired(alpha):
    invitation, token = _invited(alpha, "late@example.com")
    Invitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    _assert_unavailable(_open(token), EXPIRED)
    _assert_unavailable(_submit(token, full_name="Late Comer", password=GOOD_PASSWORD), EXPIRED)
    assert not User.objects.filter(email="late@example.com").exists()
    assert Invitation.objects.get(pk=invitation.pk).status == Invitation.Status.PENDING


def test_link_older_than_the_maximum_age_says_expired(alpha, settings):
    invitation, token = _invited(alpha, "old@example.com")
    # The row still says pending for days; only the signature's age refuses it.
    assert invitation.expires_at > timezone.now() + timedelta(days=6)
    settings.INVITATION_MAX_AGE_DAYS = 0

    _assert_unavailable(_open(token), EXPIRED)
    with pytest.raises(services.InvitationInvalid) as refused:
        services.invitation_from_token(token)
    assert refused.value.code == "expired"


def _forged_tokens(invitation: Invitation, token: str) -> dict[str, str]:
    return {
        "garbage": "not-a-token",
        "tampered": token[:-1] + ("A" if token[-1] != "A" else "B"),
        "other-salt": signing.dumps({"i": invitation.pk, "n": invitation.nonce}, salt="other"),
        "wrong-nonce": signing.dumps(
            {"i": invitation.pk, "n": "guessed"}, salt=services.INVITATION_SALT
        ),
        "no-such-invitation": signing.dumps(
            {"i": invitation.pk + 10_000, "n": invitation.nonce}, salt=services.INVITATION_SALT
        ),
    }


@pytest.mark.parametrize(
    "kind", ["garbage", "tampered", "other-salt", "wrong-nonce", "no-such-invitation"]
)
def test_forged_link_is_not_valid(alpha, kind):
    invitation, token = _invited(alpha, "target@example.com")
    forged = _forged_tokens(invitation, token)[kind]

    _assert_unavailable(_open(forged), NOT_VALID)
    _assert_unavailable(_submit(forged, full_name="Mallory", password=GOOD_PASSWORD), NOT_VALID)
    assert not User.objects.filter(email="target@example.com").exists()
    assert Invitation.objects.get(pk=invitation.pk).status == Invitation.Status.PENDING


def test_used_link_says_already_used(alpha):
    _, token = _invited(alpha, "once@example.com")
    accepted = _submit(token, full_name="Once Only", password=GOOD_PASSWORD)
    assert accepted.status_code == 302

    _assert_unavailable(_open(token), "This invitation has already been used.")
    _assert_unavailable(
        _submit(token, public_client(User.objects.get(email="once@example.com"))),
        "This invitation has already been used.",
    )
    assert (
        Membership.objects.filter(tenant=alpha.tenant, user__email="once@example.com").count() == 1
    )


# --- accepting with an existing account ---------------------------------------------------


def test_existing_account_joins_with_one_click(alpha):
    person = UserFactory.create(email="existing@example.com")
    EmailAddress.objects.create(user=person, email=person.email, primary=True, verified=False)
    invitation, token = _invited(alpha, "Existing@Example.com", Role.MANAGER)
    browser = public_client(person)

    page = _open(token, browser)
    assert page.status_code == 200
    assert b"Accept and join" in page.content

    response = browser.post(f"/invitations/{token}/", REMOTE_ADDR="198.51.100.4")

    assert response.status_code == 302
    assert response["Location"] == "/w/alpha/?next=%2F"
    membership = Membership.objects.get(tenant=alpha.tenant, user=person)
    assert (membership.role, membership.status) == (Role.MANAGER, Membership.Status.ACTIVE)
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.ACCEPTED
    assert invitation.accepted_by == person
    assert invitation.accepted_at is not None
    assert EmailAddress.objects.get(user=person).verified is True
    (event,) = _audit(alpha, "invitation.accepted")
    assert (event.actor_email, event.data, event.ip_address) == (
        "existing@example.com",
        {"role": Role.MANAGER},
        "198.51.100.4",
    )
    enter = browser.get(response["Location"])
    assert enter["Location"].startswith("http://alpha.localhost/handover/?token=")


def test_existing_account_signed_out_is_asked_to_sign_in(alpha):
    person = UserFactory.create(email="away@example.com")
    invitation, token = _invited(alpha, "away@example.com")

    page = _open(token)
    assert b"Sign in to accept" in page.content
    response = public_client().post(f"/invitations/{token}/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?" + urlencode(
        {"next": f"/invitations/{token}/"}
    )
    assert not Membership.objects.filter(tenant=alpha.tenant, user=person).exists()
    assert Invitation.objects.get(pk=invitation.pk).status == Invitation.Status.PENDING


def test_signed_in_as_another_account_joins_nobody(alpha):
    invited = UserFactory.create(email="right@example.com")
    other = UserFactory.create(email="wrong@example.com")
    invitation, token = _invited(alpha, "right@example.com")

    response = _submit(token, public_client(other))

    assert response.status_code == 409
    assert "public/invitation_other_account.html" in [t.name for t in response.templates]
    assert "but you are signed in as wrong@example.com" in response.content.decode()
    assert not Membership.objects.filter(tenant=alpha.tenant, user__in=[invited, other]).exists()
    assert Invitation.objects.get(pk=invitation.pk).status == Invitation.Status.PENDING
    assert _audit(alpha, "invitation.accepted") == []


def test_signed_in_as_another_account_is_not_switched_to_a_new_one(alpha):
    other = UserFactory.create(email="someone@example.com")
    invitation, token = _invited(alpha, "newcomer@example.com")
    client = public_client(other)

    page = client.get(f"/invitations/{token}/")
    submitted = client.post(
        f"/invitations/{token}/", {"full_name": "New Comer", "password": "a-long-passphrase-1"}
    )

    assert page.status_code == 409
    assert submitted.status_code == 409
    assert not User.objects.filter(email="newcomer@example.com").exists()
    assert client.session["_auth_user_id"] == str(other.pk)
    assert Invitation.objects.get(pk=invitation.pk).status == Invitation.Status.PENDING


# --- accepting as a new person ------------------------------------------------------------


def test_new_person_creates_a_verified_account_and_lands_in_the_workspace(alpha):
    invitation, token = _invited(alpha, "chiara@example.com", Role.SUPPORT_AGENT)
    browser = public_client()

    page = _open(token, browser)
    assert page.status_code == 200
    assert set(page.context["form"].fields) == {"full_name", "password"}

    response = _submit(token, browser, full_name="  สมชาย   Rossi ", password=GOOD_PASSWORD)

    assert response.status_code == 302
    assert response["Location"] == "/w/alpha/?next=%2F"
    user = User.objects.get(email="chiara@example.com")
    assert user.full_name == "สมชาย Rossi"
    assert user.check_password(GOOD_PASSWORD)
    address = EmailAddress.objects.get(user=user)
    assert (address.email, address.primary, address.verified) == (user.email, True, True)
    membership = Membership.objects.get(tenant=alpha.tenant, user=user)
    assert membership.role == Role.SUPPORT_AGENT
    assert Invitation.objects.get(pk=invitation.pk).accepted_by == user
    assert [e.actor_email for e in _audit(alpha, "invitation.accepted")] == [user.email]
    assert browser.session["_auth_user_id"] == str(user.pk)
    enter = browser.get(response["Location"])
    assert enter["Location"].startswith("http://alpha.localhost/handover/?token=")


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        ({"full_name": "", "password": GOOD_PASSWORD}, {"full_name": ["This field is required."]}),
        (
            {"full_name": "   ", "password": GOOD_PASSWORD},
            {"full_name": ["This field is required."]},
        ),
        (
            {"full_name": "x" * 151, "password": GOOD_PASSWORD},
            {"full_name": ["Ensure this value has at most 150 characters (it has 151)."]},
        ),
        ({"full_name": "Weak Pass", "password": ""}, {"password": ["This field is required."]}),
        (
            {"full_name": "Weak Pass", "password": "short"},
            {"password": ["This password is too short. It must contain at least 10 characters."]},
        ),
        (
            {"full_name": "Weak Pass", "password": "1234567890123"},
            {"password": ["This password is too common. This password is entirely numeric."]},
        ),
        (
            {"full_name": "Weak Pass", "password": "newcomer@example.com"},
            {"password": ["The password is too similar to the email address."]},
        ),
    ],
    ids=["no-name", "blank-name", "long-name", "no-password", "short", "numeric", "like-email"],
)
def test_new_person_with_bad_input_gets_field_errors_and_no_account(alpha, data, errors):
    invitation, token = _invited(alpha, "newcomer@example.com")
    browser = public_client()

    response = _submit(token, browser, **data)

    assert response.status_code == 400
    assert _form_errors(response) == errors
    assert not User.objects.filter(email="newcomer@example.com").exists()
    assert not Membership.objects.filter(
        tenant=alpha.tenant, user__email="newcomer@example.com"
    ).exists()
    assert Invitation.objects.get(pk=invitation.pk).status == Invitation.Status.PENDING
    assert "_auth_user_id" not in browser.session
