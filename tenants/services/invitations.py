"""Invitations: create, resend, revoke and accept, with their signed links and emails."""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from crm_platform.errors import ServiceError, column_unique_constraint, violated_constraint
from crm_platform.ratelimits import check_typed_address_mail
from crm_platform.validation import (
    check_email,
    check_password,
    check_text,
)
from tenants import capabilities
from tenants.audit.services import audit_record
from tenants.hosts import public_url
from tenants.models import Invitation, Membership, Tenant, User
from tenants.notifications import notify_user
from tenants.roles import Role
from tenants.services.common import (
    FULL_NAME_MAX,
    INVITATION_SALT,
    check_role,
    lock_actor,
    require_capability,
)
from tenants.services.seats import check_seat_available, lock_tenant, seats_changed_on_commit

logger = logging.getLogger(__name__)

# Two people accepting with one address at once: the second account row is refused by these.
ACCOUNT_EMAIL_CONSTRAINTS = frozenset(
    {"user_email_ci_unique", column_unique_constraint(User, "email")}
)


def invitation_token(invitation: Invitation) -> str:
    return signing.dumps({"i": invitation.pk, "n": invitation.nonce}, salt=INVITATION_SALT)


def invitation_url(invitation: Invitation) -> str:
    return public_url(f"/invitations/{invitation_token(invitation)}/")


class InvitationInvalid(ServiceError):
    pass


def invitation_from_token(token: str) -> Invitation:
    """The pending invitation behind a link, or InvitationInvalid saying why not."""
    max_age = timedelta(days=settings.INVITATION_MAX_AGE_DAYS)
    try:
        payload = signing.loads(token, salt=INVITATION_SALT, max_age=max_age)
    except signing.SignatureExpired as exc:
        raise InvitationInvalid(
            _("This invitation has expired. Ask for a new one."), code="expired"
        ) from exc
    except signing.BadSignature as exc:
        raise InvitationInvalid(_("This invitation link is not valid."), code="invalid") from exc
    invitation = (
        Invitation.objects.select_related("tenant", "invited_by")
        .filter(pk=payload.get("i"), nonce=payload.get("n"))
        .first()
    )
    if invitation is None or invitation.tenant.state == Tenant.State.SPARE:
        raise InvitationInvalid(_("This invitation link is not valid."), code="invalid")
    if invitation.status == Invitation.Status.ACCEPTED:
        raise InvitationInvalid(_("This invitation has already been used."), code="used")
    if invitation.status == Invitation.Status.REVOKED:
        raise InvitationInvalid(_("This invitation has been revoked."), code="revoked")
    if invitation.is_expired:
        raise InvitationInvalid(
            _("This invitation has expired. Ask for a new one."), code="expired"
        )
    return invitation


def invitation_create(
    *, actor: Membership, email: str, role: str, ip_address: str | None = None
) -> Invitation:
    require_capability(actor, capabilities.MANAGE_MEMBERS)
    email = check_email(email)
    role = check_role(role)
    if role == Role.OWNER:
        require_capability(actor, capabilities.TRANSFER_OWNERSHIP)
    with transaction.atomic():
        tenant = lock_tenant(actor.tenant)
        actor = lock_actor(actor, *_invite_capabilities(role))
        existing = Membership.objects.filter(tenant=tenant, user__email__iexact=email).first()
        if existing is not None:
            if existing.is_active:
                raise ServiceError(
                    _("This person is already a member."), field="email", code="member"
                )
            raise ServiceError(
                _("This person is a deactivated member. Reactivate them from the members list."),
                field="email",
                code="deactivated",
            )
        pending = Invitation.objects.filter(
            tenant=tenant, email__iexact=email, status=Invitation.Status.PENDING
        ).first()
        if pending is not None and not pending.is_expired:
            raise ServiceError(
                _("This person has already been invited. Resend the invitation instead."),
                field="email",
                code="invited",
            )
        if pending is not None:
            # An expired invitation gives way to the new one.
            pending.status = Invitation.Status.REVOKED
            pending.save(update_fields=["status"])
        check_seat_available(tenant=tenant)
        check_typed_address_mail(actor_id=actor.user_id, tenant_id=tenant.pk, recipient=email)
        now = timezone.now()
        invitation = Invitation.objects.create(
            tenant=tenant,
            email=email,
            role=role,
            nonce=secrets.token_urlsafe(16),
            invited_by=actor.user,
            sent_at=now,
            expires_at=now + timedelta(days=settings.INVITATION_MAX_AGE_DAYS),
        )
        audit_record(
            tenant=tenant,
            actor=actor.user,
            action="invitation.created",
            target=invitation,
            target_repr=email,
            data={"role": role},
            ip_address=ip_address,
        )
        _send_invitation_email(invitation)
        seats_changed_on_commit(tenant)
    return invitation


def _invite_capabilities(role: str) -> tuple[capabilities.Capability, ...]:
    # Inviting someone as Owner hands ownership on: only an Owner may.
    if role == Role.OWNER:
        return (capabilities.MANAGE_MEMBERS, capabilities.TRANSFER_OWNERSHIP)
    return (capabilities.MANAGE_MEMBERS,)


def _lock_invitation(invitation: Invitation, tenant: Tenant) -> Invitation:
    return (
        Invitation.objects.select_for_update(of=("self",))
        .select_related("tenant", "invited_by")
        .get(pk=invitation.pk, tenant=tenant)
    )


def invitation_resend(
    *, actor: Membership, invitation: Invitation, ip_address: str | None = None
) -> Invitation:
    require_capability(actor, capabilities.MANAGE_MEMBERS)
    if invitation.status != Invitation.Status.PENDING:
        raise ServiceError(_("Only a pending invitation can be resent."), code="not_pending")
    with transaction.atomic():
        tenant = lock_tenant(actor.tenant)
        invitation = _lock_invitation(invitation, tenant)
        actor = lock_actor(actor, capabilities.MANAGE_MEMBERS)
        # Again under the lock: it may have been revoked or accepted meanwhile.
        if invitation.status != Invitation.Status.PENDING:
            raise ServiceError(_("Only a pending invitation can be resent."), code="not_pending")
        if invitation.is_expired:
            # An expired invitation holds no seat; reviving it must find one.
            check_seat_available(tenant=tenant)
        check_typed_address_mail(
            actor_id=actor.user_id, tenant_id=tenant.pk, recipient=invitation.email
        )
        now = timezone.now()
        invitation.nonce = secrets.token_urlsafe(16)
        invitation.sent_at = now
        invitation.expires_at = now + timedelta(days=settings.INVITATION_MAX_AGE_DAYS)
        invitation.save(update_fields=["nonce", "sent_at", "expires_at"])
        audit_record(
            tenant=tenant,
            actor=actor.user,
            action="invitation.resent",
            target=invitation,
            target_repr=invitation.email,
            ip_address=ip_address,
        )
        _send_invitation_email(invitation)
        seats_changed_on_commit(tenant)
    return invitation


def invitation_revoke(
    *, actor: Membership, invitation: Invitation, ip_address: str | None = None
) -> Invitation:
    require_capability(actor, capabilities.MANAGE_MEMBERS)
    with transaction.atomic():
        tenant = lock_tenant(actor.tenant)
        invitation = _lock_invitation(invitation, tenant)
        actor = lock_actor(actor, capabilities.MANAGE_MEMBERS)
        if invitation.status != Invitation.Status.PENDING:
            raise ServiceError(_("Only a pending invitation can be revoked."), code="not_pending")
        invitation.status = Invitation.Status.REVOKED
        invitation.save(update_fields=["status"])
        audit_record(
            tenant=tenant,
            actor=actor.user,
            action="invitation.revoked",
            target=invitation,
            target_repr=invitation.email,
            ip_address=ip_address,
        )
        seats_changed_on_commit(tenant)
    return invitation


def _send_invitation_email(invitation: Invitation) -> None:
    from django.core.mail import send_mail

    context = {
        "invitation": invitation,
        "workspace": invitation.tenant,
        "inviter": invitation.invited_by,
        "url": invitation_url(invitation),
        "days": settings.INVITATION_MAX_AGE_DAYS,
    }
    subject = _("You are invited to %(workspace)s on Rapport") % {
        "workspace": invitation.tenant.name
    }
    body = render_to_string("email/invitation.txt", context)
    # The email backend queues delivery as a task after commit.
    send_mail(subject, body, None, [invitation.email])


def invitation_accept(
    *, invitation: Invitation, user: User, ip_address: str | None = None
) -> Membership:
    """An existing, signed-in account accepts (one click)."""
    if user.email.lower() != invitation.email.lower():
        raise ServiceError(
            _("This invitation was sent to another email address. Sign in with that address."),
            code="wrong_account",
        )
    with transaction.atomic():
        locked = (
            Invitation.objects.select_for_update(of=("self",))
            .select_related("tenant", "invited_by")
            .get(pk=invitation.pk)
        )
        if locked.status != Invitation.Status.PENDING or locked.is_expired:
            raise InvitationInvalid(_("This invitation is no longer valid."), code="used")
        membership, created = Membership.objects.get_or_create(
            user=user, tenant=locked.tenant, defaults={"role": locked.role}
        )
        if not created and not membership.is_active:
            raise ServiceError(
                _("Your membership in this workspace is deactivated."), code="deactivated"
            )
        locked.status = Invitation.Status.ACCEPTED
        locked.accepted_at = timezone.now()
        locked.accepted_by = user
        locked.save(update_fields=["status", "accepted_at", "accepted_by"])
        # The link arrived by email: the address is proven.
        EmailAddress.objects.filter(user=user, email__iexact=user.email).update(verified=True)
        audit_record(
            tenant=locked.tenant,
            actor=user,
            action="invitation.accepted",
            target=membership,
            target_repr=user.email,
            data={"role": membership.role},
            ip_address=ip_address,
        )
        inviter = locked.invited_by
        if inviter is not None:
            with translation.override(inviter.language or settings.LANGUAGE_CODE):
                text = _("%(name)s accepted your invitation and joined %(workspace)s.") % {
                    "name": user.full_name or user.email,
                    "workspace": locked.tenant.name,
                }
            notify_user(
                tenant=locked.tenant,
                user_id=inviter.pk,
                event="notification",
                payload={"text": text, "kind": "success"},
            )
        seats_changed_on_commit(locked.tenant)
    return membership


def invitation_accept_new_account(
    *, invitation: Invitation, full_name: str, password: str, ip_address: str | None = None
) -> Membership:
    """A person without an account sets a name and password and joins."""
    full_name = check_text(
        full_name, field="full_name", max_length=FULL_NAME_MAX, label=_("Full name")
    )
    check_password(password, user=User(email=invitation.email, full_name=full_name))
    try:
        with transaction.atomic():
            user = User.objects.create_user(invitation.email, password, full_name=full_name)
            EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=True)
            return invitation_accept(invitation=invitation, user=user, ip_address=ip_address)
    except IntegrityError as exc:
        if violated_constraint(exc) not in ACCOUNT_EMAIL_CONSTRAINTS:
            raise
        raise ServiceError(
            _("An account with this email already exists. Sign in to accept the invitation."),
            code="account_exists",
        ) from exc
