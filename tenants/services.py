"""Writes for workspaces, seats, members and invitations. Views, commands, tasks and the admin
all call these functions; each validates first, then mutates atomically, then records an audit
event and sends notifications after commit."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django_tenants.utils import schema_context

from crm_platform.csv_export import csv_text
from crm_platform.errors import PermissionDenied, ServiceError
from crm_platform.locales import is_language, is_time_zone
from tenants import capabilities
from tenants.audit.services import audit_record
from tenants.currencies import CURRENCY_CODES
from tenants.hosts import public_url, workspace_hostname
from tenants.models import Domain, Invitation, Membership, Plan, Tenant, User
from tenants.notifications import disconnect_user, notify_user
from tenants.roles import ALL_ROLES, Role
from tenants.selectors import member_list, seats_used, workspace_slug_taken
from tenants.slugs import check_workspace_slug

logger = logging.getLogger(__name__)

INVITATION_SALT = "rapport.invitation"
NAME_MAX = 100
FULL_NAME_MAX = 150


# --- validation helpers -------------------------------------------------------------------


def check_email(raw: str, *, field: str = "email") -> str:
    email = (raw or "").strip()
    if not email:
        raise ServiceError(_("Enter an email address."), field=field, code="required")
    if len(email) > 254:
        raise ServiceError(_("The email address is too long."), field=field, code="length")
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ServiceError(_("Enter a valid email address."), field=field) from exc
    return email.lower()


def check_text(raw: str, *, field: str, max_length: int, label: str) -> str:
    value = " ".join((raw or "").split())
    if not value:
        raise ServiceError(
            _("%(label)s is required.") % {"label": label}, field=field, code="required"
        )
    if len(value) > max_length:
        raise ServiceError(
            _("%(label)s can be at most %(max)d characters.") % {"label": label, "max": max_length},
            field=field,
            code="length",
        )
    return value


def check_time_zone(value: str, *, field: str = "time_zone") -> str:
    if not is_time_zone(value):
        raise ServiceError(_("Choose a time zone from the list."), field=field)
    return value


def check_language(value: str, *, field: str = "language") -> str:
    if not is_language(value):
        raise ServiceError(_("Choose a language from the list."), field=field)
    return value


def check_role(raw: str) -> str:
    if raw not in ALL_ROLES:
        raise ServiceError(_("Choose a valid role."), field="role")
    return raw


def check_password(password: str, *, user: User | None = None, field: str = "password") -> None:
    if not password:
        raise ServiceError(_("Choose a password."), field=field, code="required")
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        raise ServiceError(" ".join(exc.messages), field=field, code="weak") from exc


def _require(membership: Membership, capability: capabilities.Capability) -> None:
    if not membership.is_active or not capabilities.role_has(membership.role, capability.code):
        raise PermissionDenied(_("Your role does not allow this."))


# --- provisioning ---------------------------------------------------------------------------


def spare_workspace_create() -> Tenant:
    """Create and migrate one spare schema for the pool (slow: runs migrations)."""
    tenant = Tenant(schema_name=f"ws_{secrets.token_hex(8)}", state=Tenant.State.SPARE)
    tenant.save(verbosity=0)
    return tenant


def spare_pool_replenish(*, target: int | None = None) -> int:
    """Top the pool of spare workspaces up to target; returns how many were created."""
    target = settings.SPARE_WORKSPACE_POOL_SIZE if target is None else target
    # One replenisher at a time across all workers.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(hashtext('rapport.spare_pool'))")
        (locked,) = cursor.fetchone()
    if not locked:
        return 0
    try:
        created = 0
        while Tenant.objects.filter(state=Tenant.State.SPARE).count() < target:
            spare_workspace_create()
            created += 1
        return created
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(hashtext('rapport.spare_pool'))")


def _claim_schema() -> Tenant:
    """A spare pre-migrated workspace, locked for this transaction; created on the spot if the
    pool is empty (the schema is then created inside the transaction and rolls back with it)."""
    spare = (
        Tenant.objects.select_for_update(skip_locked=True)
        .filter(state=Tenant.State.SPARE)
        .order_by("created_at", "pk")
        .first()
    )
    if spare is not None:
        return spare
    logger.warning("Spare workspace pool is empty; migrating a new schema during signup")
    return spare_workspace_create()


@dataclass(frozen=True)
class SignupResult:
    tenant: Tenant
    user: User
    membership: Membership


def workspace_create(
    *, owner: User, company_name: str, slug: str, ip_address: str | None = None
) -> Tenant:
    """Provision a workspace for an existing account, which becomes its Owner."""
    name = check_text(
        company_name, field="company_name", max_length=NAME_MAX, label=_("Company name")
    )
    slug = check_workspace_slug(slug)
    check_slug_free(slug)
    try:
        with transaction.atomic():
            tenant = _provision(owner=owner, name=name, slug=slug, ip_address=ip_address)
    except IntegrityError as exc:
        raise _integrity_to_error(exc) from exc
    transaction.on_commit(_schedule_pool_replenish)
    return tenant


def workspace_signup(
    *,
    company_name: str,
    slug: str,
    full_name: str,
    email: str,
    password: str,
    ip_address: str | None = None,
) -> SignupResult:
    """Trial signup: a new account and its workspace, all or nothing."""
    name = check_text(
        company_name, field="company_name", max_length=NAME_MAX, label=_("Company name")
    )
    slug = check_workspace_slug(slug)
    full_name = check_text(
        full_name, field="full_name", max_length=FULL_NAME_MAX, label=_("Full name")
    )
    email = check_email(email)
    check_password(password, user=User(email=email, full_name=full_name))
    check_slug_free(slug)
    if User.objects.filter(email__iexact=email).exists():
        raise ServiceError(
            _("An account with this email already exists. Sign in to create a workspace."),
            field="email",
            code="taken",
        )
    try:
        with transaction.atomic():
            user = User.objects.create_user(email, password, full_name=full_name)
            EmailAddress.objects.create(user=user, email=email, primary=True, verified=False)
            tenant = _provision(owner=user, name=name, slug=slug, ip_address=ip_address)
    except IntegrityError as exc:
        raise _integrity_to_error(exc) from exc
    transaction.on_commit(_schedule_pool_replenish)
    membership = Membership.objects.get(user=user, tenant=tenant)
    return SignupResult(tenant=tenant, user=user, membership=membership)


def check_slug_free(slug: str) -> None:
    if workspace_slug_taken(slug=slug):
        raise ServiceError(
            _("This address is already taken. Choose another."), field="slug", code="taken"
        )


def _integrity_to_error(exc: IntegrityError) -> ServiceError:
    text = str(exc)
    if "tenant_slug_unique" in text or "domain" in text:
        return ServiceError(
            _("This address is already taken. Choose another."), field="slug", code="taken"
        )
    if "user_email_ci_unique" in text or "email" in text:
        return ServiceError(
            _("An account with this email already exists. Sign in to create a workspace."),
            field="email",
            code="taken",
        )
    raise exc


def _provision(*, owner: User, name: str, slug: str, ip_address: str | None) -> Tenant:
    tenant = _claim_schema()
    now = timezone.now()
    tenant.name = name
    tenant.slug = slug
    tenant.state = Tenant.State.ACTIVE
    tenant.plan = Plan.TRIAL
    tenant.seat_limit = settings.TRIAL_SEAT_LIMIT
    tenant.trial_ends_at = now + timedelta(days=settings.TRIAL_DAYS)
    tenant.activated_at = now
    tenant.save(
        update_fields=[
            "name",
            "slug",
            "state",
            "plan",
            "seat_limit",
            "trial_ends_at",
            "activated_at",
        ]
    )
    Domain.objects.create(domain=workspace_hostname(slug), tenant=tenant, is_primary=True)
    Membership.objects.create(user=owner, tenant=tenant, role=Role.OWNER)
    _record_workspace_created(tenant=tenant, owner=owner, ip_address=ip_address)
    return tenant


def _record_workspace_created(*, tenant: Tenant, owner: User, ip_address: str | None) -> None:
    audit_record(
        tenant=tenant,
        actor=owner,
        action="workspace.created",
        target_repr=tenant.name,
        data={"slug": tenant.slug, "plan": tenant.plan},
        ip_address=ip_address,
    )


def _schedule_pool_replenish() -> None:
    if settings.SPARE_WORKSPACE_POOL_SIZE <= 0:
        return
    from tenants.tasks import replenish_spare_pool

    replenish_spare_pool.delay()


# --- seats --------------------------------------------------------------------------------


def _check_seat_available(*, tenant: Tenant) -> None:
    """Call with the tenant row locked (select_for_update) so two admins cannot both take the
    last seat."""
    if seats_used(tenant=tenant) >= tenant.seat_limit:
        raise ServiceError(
            _(
                "All %(limit)d seats of your plan are in use. Deactivate a member, revoke an "
                "invitation or add seats to your plan."
            )
            % {"limit": tenant.seat_limit},
            field="email",
            code="seat_limit",
        )


def _lock_tenant(tenant: Tenant) -> Tenant:
    return Tenant.objects.select_for_update().get(pk=tenant.pk)


# --- invitations --------------------------------------------------------------------------


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
    _require(actor, capabilities.MANAGE_MEMBERS)
    email = check_email(email)
    role = check_role(role)
    if role == Role.OWNER:
        _require(actor, capabilities.TRANSFER_OWNERSHIP)
    tenant = actor.tenant
    with transaction.atomic():
        tenant = _lock_tenant(tenant)
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
        _check_seat_available(tenant=tenant)
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
    return invitation


def invitation_resend(
    *, actor: Membership, invitation: Invitation, ip_address: str | None = None
) -> Invitation:
    _require(actor, capabilities.MANAGE_MEMBERS)
    if invitation.status != Invitation.Status.PENDING:
        raise ServiceError(_("Only a pending invitation can be resent."), code="not_pending")
    with transaction.atomic():
        tenant = _lock_tenant(actor.tenant)
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk, tenant=tenant)
        if invitation.is_expired:
            # An expired invitation holds no seat; reviving it must find one.
            _check_seat_available(tenant=tenant)
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
    return invitation


def invitation_revoke(
    *, actor: Membership, invitation: Invitation, ip_address: str | None = None
) -> Invitation:
    _require(actor, capabilities.MANAGE_MEMBERS)
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().get(
            pk=invitation.pk, tenant=actor.tenant
        )
        if invitation.status != Invitation.Status.PENDING:
            raise ServiceError(_("Only a pending invitation can be revoked."), code="not_pending")
        invitation.status = Invitation.Status.REVOKED
        invitation.save(update_fields=["status"])
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action="invitation.revoked",
            target=invitation,
            target_repr=invitation.email,
            ip_address=ip_address,
        )
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
        raise ServiceError(
            _("An account with this email already exists. Sign in to accept the invitation."),
            code="account_exists",
        ) from exc


# --- members ------------------------------------------------------------------------------


def _active_owner_count(tenant: Tenant) -> int:
    return Membership.objects.filter(
        tenant=tenant, role=Role.OWNER, status=Membership.Status.ACTIVE
    ).count()


def _check_may_manage(actor: Membership, target: Membership) -> None:
    _require(actor, capabilities.MANAGE_MEMBERS)
    if target.tenant_id != actor.tenant_id:
        raise PermissionDenied(_("This member belongs to another workspace."))
    if target.role == Role.OWNER:
        _require(actor, capabilities.TRANSFER_OWNERSHIP)


def member_change_role(
    *, actor: Membership, member: Membership, role: str, ip_address: str | None = None
) -> Membership:
    role = check_role(role)
    _check_may_manage(actor, member)
    if role == Role.OWNER:
        _require(actor, capabilities.TRANSFER_OWNERSHIP)
    with transaction.atomic():
        _lock_tenant(actor.tenant)
        member = Membership.objects.select_for_update().select_related("user").get(pk=member.pk)
        old_role = member.role
        if old_role == role:
            return member
        if old_role == Role.OWNER and member.is_active and _active_owner_count(member.tenant) <= 1:
            raise ServiceError(
                _("A workspace needs at least one Owner. Make someone else Owner first."),
                field="role",
                code="last_owner",
            )
        member.role = role
        member.save(update_fields=["role"])
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action="member.role_changed",
            target=member,
            target_repr=member.user.email,
            data={"from": old_role, "to": role},
            ip_address=ip_address,
        )
        _notify_role(tenant=actor.tenant, member=member)
    return member


def _notify_role(*, tenant: Tenant, member: Membership) -> None:
    """Tell the member's open pages their new role, named in their own language."""
    with translation.override(member.user.language or settings.LANGUAGE_CODE):
        label = str(Role(member.role).label)
    notify_user(
        tenant=tenant,
        user_id=member.user_id,
        event="role.changed",
        payload={"role": member.role, "role_label": label},
    )


def member_deactivate(
    *, actor: Membership, member: Membership, ip_address: str | None = None
) -> Membership:
    _check_may_manage(actor, member)
    if member.pk == actor.pk:
        raise ServiceError(_("You cannot deactivate yourself."), code="self")
    with transaction.atomic():
        _lock_tenant(actor.tenant)
        member = Membership.objects.select_for_update().select_related("user").get(pk=member.pk)
        if not member.is_active:
            return member
        if member.role == Role.OWNER and _active_owner_count(member.tenant) <= 1:
            raise ServiceError(_("The last Owner cannot be deactivated."), code="last_owner")
        member.status = Membership.Status.DEACTIVATED
        member.deactivated_at = timezone.now()
        member.save(update_fields=["status", "deactivated_at"])
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action="member.deactivated",
            target=member,
            target_repr=member.user.email,
            ip_address=ip_address,
        )
        disconnect_user(tenant=actor.tenant, user_id=member.user_id, reason="deactivated")
    return member


def member_reactivate(
    *, actor: Membership, member: Membership, ip_address: str | None = None
) -> Membership:
    _check_may_manage(actor, member)
    with transaction.atomic():
        tenant = _lock_tenant(actor.tenant)
        member = Membership.objects.select_for_update().select_related("user").get(pk=member.pk)
        if member.is_active:
            return member
        _check_seat_available(tenant=tenant)
        member.status = Membership.Status.ACTIVE
        member.deactivated_at = None
        member.save(update_fields=["status", "deactivated_at"])
        audit_record(
            tenant=tenant,
            actor=actor.user,
            action="member.reactivated",
            target=member,
            target_repr=member.user.email,
            ip_address=ip_address,
        )
    return member


def ownership_transfer(
    *, actor: Membership, member: Membership, ip_address: str | None = None
) -> Membership:
    """Make member the Owner; the acting Owner becomes an Admin."""
    _require(actor, capabilities.TRANSFER_OWNERSHIP)
    if member.pk == actor.pk:
        raise ServiceError(_("You already own this workspace."), code="self")
    if member.tenant_id != actor.tenant_id or not member.is_active:
        raise ServiceError(_("Ownership can only go to an active member."), field="member")
    with transaction.atomic():
        _lock_tenant(actor.tenant)
        member = Membership.objects.select_for_update().select_related("user").get(pk=member.pk)
        me = Membership.objects.select_for_update().select_related("user").get(pk=actor.pk)
        old_role = member.role
        member.role = Role.OWNER
        member.save(update_fields=["role"])
        me.role = Role.ADMIN
        me.save(update_fields=["role"])
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action="ownership.transferred",
            target=member,
            target_repr=member.user.email,
            data={"from": old_role, "previous_owner": me.user.email},
            ip_address=ip_address,
        )
        for changed in (member, me):
            _notify_role(tenant=actor.tenant, member=changed)
    return member


def member_record_sign_in(*, membership: Membership, ip_address: str | None) -> None:
    audit_record(
        tenant=membership.tenant,
        actor=membership.user,
        action="member.signed_in",
        target=membership,
        target_repr=membership.user.email,
        ip_address=ip_address,
    )


def members_export(*, actor: Membership, ip_address: str | None = None) -> str:
    """The workspace's members as CSV; the export itself is audited."""
    _require(actor, capabilities.EXPORT_DATA)
    members = list(member_list(tenant=actor.tenant))
    text = csv_text(
        ["name", "email", "role", "status", "joined", "last_seen"],
        (
            [
                m.user.full_name,
                m.user.email,
                m.role,
                m.status,
                m.created_at.isoformat(),
                m.last_seen_at.isoformat() if m.last_seen_at else "",
            ]
            for m in members
        ),
    )
    audit_record(
        tenant=actor.tenant,
        actor=actor.user,
        action="members.exported",
        data={"rows": len(members)},
        ip_address=ip_address,
    )
    return text


def account_update_preferences(
    *, user: User, full_name: str, language: str, time_zone: str
) -> User:
    full_name = check_text(
        full_name, field="full_name", max_length=FULL_NAME_MAX, label=_("Full name")
    )
    # Blank means: follow the browser (language) or the workspace (time zone).
    language = check_language(language) if language else ""
    time_zone = check_time_zone(time_zone) if time_zone else ""
    user.full_name = full_name
    user.language = language
    user.time_zone = time_zone
    user.save(update_fields=["full_name", "language", "time_zone"])
    return user


def account_set_language(*, user: User, language: str) -> User:
    user.language = check_language(language)
    user.save(update_fields=["language"])
    return user


# --- workspace settings and lifecycle -----------------------------------------------------


def workspace_update_settings(
    *,
    actor: Membership,
    name: str,
    time_zone: str,
    currency: str,
    require_mfa_for_admins: bool,
    ip_address: str | None = None,
) -> Tenant:
    _require(actor, capabilities.MANAGE_SETTINGS)
    name = check_text(name, field="name", max_length=NAME_MAX, label=_("Workspace name"))
    check_time_zone(time_zone)
    if currency not in CURRENCY_CODES:
        raise ServiceError(_("Choose a currency from the list."), field="currency")
    with transaction.atomic():
        tenant = _lock_tenant(actor.tenant)
        new = {
            "name": name,
            "time_zone": time_zone,
            "currency": currency,
            "require_mfa_for_admins": require_mfa_for_admins,
        }
        changes = {
            field: {"from": getattr(tenant, field), "to": value}
            for field, value in new.items()
            if getattr(tenant, field) != value
        }
        if not changes:
            return tenant
        for field, value in new.items():
            setattr(tenant, field, value)
        tenant.save(update_fields=list(changes))
        audit_record(
            tenant=tenant,
            actor=actor.user,
            action="settings.updated",
            target_repr=tenant.name,
            data=changes,
            ip_address=ip_address,
        )
    return tenant


def workspace_suspend(*, tenant: Tenant, actor: User) -> Tenant:
    """Make the workspace read-only (platform staff)."""
    return _workspace_change_state(
        tenant=tenant,
        actor=actor,
        allowed_from=Tenant.State.ACTIVE,
        to=Tenant.State.SUSPENDED,
        action="workspace.suspended",
        refusal=_("Only an active workspace can be suspended."),
    )


def workspace_reactivate(*, tenant: Tenant, actor: User) -> Tenant:
    return _workspace_change_state(
        tenant=tenant,
        actor=actor,
        allowed_from=Tenant.State.SUSPENDED,
        to=Tenant.State.ACTIVE,
        action="workspace.reactivated",
        refusal=_("Only a suspended workspace can be reactivated."),
    )


def _workspace_change_state(
    *, tenant: Tenant, actor: User, allowed_from: str, to: str, action: str, refusal: str
) -> Tenant:
    with transaction.atomic():
        tenant = _lock_tenant(tenant)
        if tenant.state != allowed_from:
            raise ServiceError(refusal, code="state")
        tenant.state = to
        tenant.save(update_fields=["state"])
        audit_record(tenant=tenant, actor=actor, action=action, target_repr=tenant.name)
    return tenant


def workspace_delete(*, tenant: Tenant, actor: User | None) -> None:
    """Drop the schema and every platform row of the workspace (domains, seats, invitations)."""
    if tenant.is_public:
        raise ServiceError(_("The public schema cannot be deleted."), code="public")
    schema, slug = tenant.schema_name, tenant.slug
    with transaction.atomic():
        tenant = _lock_tenant(tenant)
        with schema_context("public"):
            tenant.delete(force_drop=True)
    logger.info(
        "workspace deleted",
        extra={"schema": schema, "slug": slug, "actor": actor.email if actor else "system"},
    )
