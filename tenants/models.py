"""Platform data in the public schema (D3): accounts, workspaces, domains, seats, invitations."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser, UserManager
from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_tenants.models import DomainMixin, TenantMixin

from tenants.roles import Role


class AccountManager(UserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra_fields: Any) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(  # type: ignore[override]
        self, email: str, password: str | None = None, **extra_fields: Any
    ) -> User:
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(  # type: ignore[override]
        self, email: str, password: str | None = None, **extra_fields: Any
    ) -> User:
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra_fields)


class User(AbstractUser):
    """A global account (D4): one login for every workspace the person belongs to."""

    username = None  # type: ignore[assignment]
    first_name = None  # type: ignore[assignment]
    last_name = None  # type: ignore[assignment]
    email = models.EmailField(_("email address"), max_length=254, unique=True)
    full_name = models.CharField(_("full name"), max_length=150)
    # Blank means: follow the browser (language) or the workspace (time zone).
    language = models.CharField(_("language"), max_length=10, blank=True)
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = ["full_name"]

    objects: ClassVar[AccountManager] = AccountManager()

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.full_name or self.email

    def get_full_name(self) -> str:
        return self.full_name

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email


class Plan(models.TextChoices):
    TRIAL = "trial", _("Trial")
    STARTER = "starter", _("Starter")
    PROFESSIONAL = "professional", _("Professional")
    ENTERPRISE = "enterprise", _("Enterprise")


class Tenant(TenantMixin):  # type: ignore[misc]
    """A company's workspace: one PostgreSQL schema (D2).

    Spare tenants are pre-migrated schemas waiting in a pool; signup claims one (ADR 0002).
    """

    class State(models.TextChoices):
        SPARE = "spare", _("Spare")
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended (read-only)")

    class BillingStatus(models.TextChoices):
        """Where the workspace stands with payment, kept apart from ``state`` so that a
        platform suspension and an unpaid trial stay distinguishable (ADR 0013)."""

        TRIALING = "trialing", _("Trial")
        TRIAL_EXPIRED = "trial_expired", _("Trial ended (read-only)")
        ACTIVE = "active", _("Subscribed")
        PAST_DUE = "past_due", _("Payment overdue")
        UNPAID = "unpaid", _("Payment overdue past the grace period (read-only)")
        CANCELED = "canceled", _("Subscription canceled (read-only)")

    name = models.CharField(_("name"), max_length=100, blank=True)
    # NULL while the schema waits in the spare pool: unique, and many spares have none yet.
    slug = models.SlugField(  # noqa: DJ001
        _("workspace address"), max_length=30, null=True, blank=True
    )
    state = models.CharField(max_length=16, choices=State.choices, default=State.SPARE)
    plan = models.CharField(max_length=16, choices=Plan.choices, default=Plan.TRIAL)
    seat_limit = models.PositiveIntegerField(default=10)
    trial_ends_at = models.DateTimeField(null=True, blank=True)
    billing_status = models.CharField(
        max_length=16, choices=BillingStatus.choices, default=BillingStatus.TRIALING
    )
    time_zone = models.CharField(_("time zone"), max_length=64, default="UTC")
    currency = models.CharField(_("currency"), max_length=3, default="USD")
    require_mfa_for_admins = models.BooleanField(
        _("require two-factor authentication for owners and admins"), default=False
    )
    # Roles a module narrows for it (``Capability.restricted_scopes``) see fewer records: a Sales
    # rep only the records they or their team own.
    restrict_record_visibility = models.BooleanField(
        _("Sales reps see only their own records"), default=False, db_default=False
    )
    # The S3 key of the logo shown in the app header ("" for none), set by the documents
    # module's logo upload once the bytes are verified.
    logo_key = models.CharField(max_length=300, blank=True, default="", db_default="")
    created_at = models.DateTimeField(default=timezone.now)
    activated_at = models.DateTimeField(null=True, blank=True)

    # Declared so that type checkers know the manager (the mixin comes without types).
    objects: ClassVar[models.Manager[Tenant]] = models.Manager()

    auto_create_schema = True
    auto_drop_schema = True

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["slug"], name="tenant_slug_unique"),
        ]
        indexes: ClassVar = [models.Index(fields=["state", "created_at"])]

    def __str__(self) -> str:
        return self.name or self.schema_name

    @property
    def is_public(self) -> bool:
        return bool(self.schema_name == "public")

    @property
    def is_read_only(self) -> bool:
        return self.state == self.State.SUSPENDED or self.is_unpaid

    @property
    def is_trial_expired(self) -> bool:
        return self.billing_status == self.BillingStatus.TRIAL_EXPIRED

    @property
    def is_unpaid(self) -> bool:
        """Read-only for want of a subscription (not suspended by the platform)."""
        return self.billing_status in (
            self.BillingStatus.TRIAL_EXPIRED,
            self.BillingStatus.UNPAID,
            self.BillingStatus.CANCELED,
        )


class Domain(DomainMixin):  # type: ignore[misc]
    pass


class Team(models.Model):
    """A group of members inside a workspace (a sales team, a support squad). A role whose
    capability reaches its team's records sees what any member of the team owns."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="teams")
    name = models.CharField(_("name"), max_length=100)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint("tenant", Lower("name"), name="team_name_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A seat: a user's place in a workspace, with a role (D3)."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        DEACTIVATED = "deactivated", _("Deactivated")

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    deactivated_at = models.DateTimeField(null=True, blank=True)
    team = models.ForeignKey(
        Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="memberships"
    )

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["user", "tenant"], name="membership_unique"),
        ]
        indexes: ClassVar = [models.Index(fields=["tenant", "status"])]

    def __str__(self) -> str:
        return f"{self.user} in {self.tenant} ({self.role})"

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE

    @property
    def is_owner(self) -> bool:
        return self.role == Role.OWNER


class Invitation(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        ACCEPTED = "accepted", _("Accepted")
        REVOKED = "revoked", _("Revoked")

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(max_length=254)
    role = models.CharField(max_length=20, choices=Role.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    # Rotated on resend so that an earlier link stops working.
    nonce = models.CharField(max_length=64)
    invited_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                "tenant",
                Lower("email"),
                condition=models.Q(status="pending"),
                name="invitation_one_pending_per_email",
            ),
        ]
        indexes: ClassVar = [models.Index(fields=["tenant", "status", "expires_at"])]

    def __str__(self) -> str:
        return f"{self.email} → {self.tenant}"

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()


class PendingSignup(models.Model):
    """A trial signup waiting for its address to be proven: no account and no workspace exist
    until the emailed link is followed (ADR 0015). The password is kept hashed."""

    email = models.EmailField(max_length=254)
    full_name = models.CharField(max_length=150)
    company_name = models.CharField(max_length=100)
    slug = models.CharField(max_length=30)
    password = models.CharField(max_length=128)
    language = models.CharField(max_length=16, blank=True)
    # The currency the visitor priced the plans in (or their region's): the workspace's own.
    currency = models.CharField(max_length=3, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        # Addresses are stored lower-cased (check_email).
        indexes: ClassVar = [models.Index(fields=["email"])]

    def __str__(self) -> str:
        return f"{self.email} → {self.slug}"


class UserSession(AbstractBaseSession):
    """A session row that knows its user, so sign-out can end every session on every host."""

    user_id = models.BigIntegerField(null=True, db_index=True)

    @classmethod
    def get_session_store_class(cls) -> type:
        from tenants.sessions import SessionStore

        return SessionStore


class WorkspaceAlarm(models.Model):
    """The earliest time a periodic sweep of one kind has work in a workspace, so that the
    sweep enters only the workspaces that need it rather than every schema each minute
    (tenants/alarms.py). Keyed by schema name: writers in a workspace know only that."""

    schema_name = models.CharField(max_length=63)
    kind = models.CharField(max_length=40)
    due_at = models.DateTimeField()
    # Bumped by every writer, so that a sweep resetting the alarm after its visit never
    # overwrites a time set while it worked.
    version = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "schema_name"], name="one_alarm_per_kind")
        ]
        indexes = [models.Index(fields=["kind", "due_at"], name="alarm_due")]

    def __str__(self) -> str:
        return f"{self.kind} in {self.schema_name} at {self.due_at:%Y-%m-%d %H:%M}"
