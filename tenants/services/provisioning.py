"""Creating workspaces: the spare-schema pool, signup and the workspace row with its domain."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_platform.errors import ServiceError, column_unique_constraint, violated_constraint
from crm_platform.schema_migration_worker import migration_target, pending_schemas
from crm_platform.validation import (
    check_email,
    check_password,
    check_text,
)
from tenants.audit.services import audit_record
from tenants.currencies import CURRENCY_CODES
from tenants.hosts import workspace_hostname
from tenants.models import Domain, Membership, Plan, Tenant, User
from tenants.roles import Role
from tenants.selectors import workspace_slug_taken
from tenants.services.common import (
    FULL_NAME_MAX,
    NAME_MAX,
)
from tenants.slugs import check_workspace_slug

logger = logging.getLogger(__name__)


def spare_workspace_create(*, copy_of: Tenant | None = None) -> Tenant:
    """One spare schema for the pool: migrated (slow: every migration of every module), or,
    with ``copy_of``, copied from that pristine spare with pg_dump (ADR 0049). A copy that
    fails (no PostgreSQL client programs) falls back to migrating."""
    tenant = Tenant(schema_name=f"ws_{secrets.token_hex(8)}", state=Tenant.State.SPARE)
    if copy_of is not None:
        from crm_platform.backups import BackupError, schema_copy

        try:
            schema_copy(source=copy_of.schema_name, target=tenant.schema_name)
        except BackupError as exc:
            logger.warning("Copying a spare schema failed, migrating instead: %s", exc)
    # With the schema already there, django-tenants creates and migrates nothing.
    tenant.save(verbosity=0)
    return tenant


# Spares looked at for one that has this version's migrations (a signup's claim, a copy).
CLAIM_CANDIDATES = 5


def _current_spare() -> tuple[Tenant | None, int]:
    """The oldest spare that nobody has locked and that has every migration this version
    knows, locked for this transaction, and how many of the spares looked at were behind.

    During a rollout the previous version may still create spares (its beat tops the pool up
    with its own migrations). Such a spare is left for ``migrate_all``'s catch-up pass: it is
    never handed to a customer, nor copied into a new spare (docs/operations.md)."""
    spares = Tenant.objects.filter(state=Tenant.State.SPARE)
    # Read without locking: each caller then locks only the spare it takes, so concurrent
    # signups each get one of a small pool.
    candidates = list(
        spares.order_by("created_at", "pk").values_list("pk", "schema_name")[:CLAIM_CANDIDATES]
    )
    if not candidates:
        return None, 0
    behind = pending_schemas([name for _, name in candidates], target=migration_target())
    for pk, name in candidates:
        if name in behind:
            continue
        # Another signup may have taken it since it was read.
        spare = spares.select_for_update(skip_locked=True).filter(pk=pk).first()
        if spare is not None:
            return spare, len(behind)
    return None, len(behind)


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
            # The first spare is migrated; the others copy a current spare, locked while it is
            # read so that no signup claims and changes it meanwhile.
            with transaction.atomic():
                template, _ = _current_spare()
                spare_workspace_create(copy_of=template)
            created += 1
        return created
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(hashtext('rapport.spare_pool'))")


def _claim_schema() -> Tenant:
    """A spare workspace with every migration this version knows, locked for this transaction;
    created on the spot if there is none (the schema is then created inside the transaction
    and rolls back with it)."""
    spare, behind = _current_spare()
    if spare is not None:
        return spare
    if not behind:
        logger.warning(
            "Spare workspace pool is empty (or every spare is being claimed); migrating a new"
            " schema during signup"
        )
    else:
        logger.warning(
            "No free spare workspace has this version's migrations; migrating a new schema"
            " during signup",
            extra={"spares_behind": behind},
        )
    return spare_workspace_create()


@dataclass(frozen=True)
class SignupResult:
    tenant: Tenant
    user: User
    membership: Membership


def workspace_create(
    *,
    owner: User,
    company_name: str,
    slug: str,
    ip_address: str | None = None,
    currency: str = "",
) -> Tenant:
    """Provision a workspace for an existing account, which becomes its Owner."""
    name = check_text(
        company_name, field="company_name", max_length=NAME_MAX, label=_("Company name")
    )
    slug = check_workspace_slug(slug)
    check_slug_free(slug)
    try:
        with transaction.atomic():
            tenant = _provision(
                owner=owner, name=name, slug=slug, ip_address=ip_address, currency=currency
            )
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
    """A new account and its trial workspace at once, all or nothing.

    For seeds, benchmarks and tests only: a visitor's signup goes through ``signup_request``
    and the emailed link (``signup_confirm``), so that no account exists before its address is
    proven and the answer never says whether one already does."""
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
    return account_and_workspace_create(
        email=email,
        full_name=full_name,
        password_hash=make_password(password),
        company_name=name,
        slug=slug,
        email_verified=False,
        ip_address=ip_address,
    )


def account_and_workspace_create(
    *,
    email: str,
    full_name: str,
    password_hash: str,
    company_name: str,
    slug: str,
    email_verified: bool,
    ip_address: str | None,
    currency: str = "",
) -> SignupResult:
    """Create the account (with an already hashed password) and provision its workspace from
    the spare pool, in one transaction; the inputs are already checked."""
    try:
        with transaction.atomic():
            user = User.objects.create_user(email, None, full_name=full_name)
            user.password = password_hash
            user.save(update_fields=["password"])
            EmailAddress.objects.create(
                user=user, email=email, primary=True, verified=email_verified
            )
            tenant = _provision(
                owner=user, name=company_name, slug=slug, ip_address=ip_address, currency=currency
            )
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


def _slug_constraints() -> frozenset[str]:
    return frozenset({"tenant_slug_unique", column_unique_constraint(Domain, "domain")})


def _email_constraints() -> frozenset[str]:
    return frozenset({"user_email_ci_unique", column_unique_constraint(User, "email")})


def _integrity_to_error(exc: IntegrityError) -> ServiceError:
    constraint = violated_constraint(exc)
    if constraint in _slug_constraints():
        return ServiceError(
            _("This address is already taken. Choose another."), field="slug", code="taken"
        )
    if constraint in _email_constraints():
        return AccountExists(
            _("This email address already has an account. Sign in instead."),
            field="email",
            code="account_exists",
        )
    raise exc


class AccountExists(ServiceError):
    """The address already has an account: nothing was created."""


def _provision(
    *, owner: User, name: str, slug: str, ip_address: str | None, currency: str = ""
) -> Tenant:
    tenant = _claim_schema()
    now = timezone.now()
    # The currency the founder priced the plans in: reports and billing start in it.
    if currency in CURRENCY_CODES:
        tenant.currency = currency
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
            "currency",
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
