"""Trial signup, verify first (ADR 0015).

The signup form records a pending signup and answers "check your email" for every address. The
email is chosen afterwards, in a task: an address without an account gets a signed, expiring,
single-use link that creates the account and its workspace when followed; an address with an
account gets a note saying so, with links to sign in and to reset the password. The request does
the same work for both (checks, password hash, one row, one task), so neither its answer nor its
duration says whether an account exists, and no account exists before its address is proven.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from allauth.account import app_settings as allauth_settings
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core import signing
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm_platform.errors import ServiceError
from crm_platform.ratelimits import Bucket, mail_allowed
from crm_platform.validation import check_email, check_password, check_text
from tenants.currencies import CURRENCY_CODES
from tenants.hosts import public_url
from tenants.models import PendingSignup, User
from tenants.services.common import FULL_NAME_MAX, NAME_MAX
from tenants.services.provisioning import (
    SignupResult,
    account_and_workspace_create,
    check_slug_free,
)
from tenants.slugs import check_workspace_slug

logger = logging.getLogger(__name__)

# Its own salt: a key signed for allauth's email confirmation (an EmailAddress id) must never
# pass for a pending signup's id.
SIGNUP_LINK_SALT = "rapport.signup-link"


class SignupLinkInvalid(ServiceError):
    """The link is not one of ours, has expired, or was used already."""


def signup_link_max_age() -> timedelta:
    """As long as allauth's own email confirmation links live."""
    return timedelta(days=allauth_settings.EMAIL_CONFIRMATION_EXPIRE_DAYS)


def signup_request(
    *,
    company_name: str,
    slug: str,
    full_name: str,
    email: str,
    password: str,
    language: str = "",
    currency: str = "",
    ip_address: str | None = None,
) -> None:
    """Check the form, keep it as a pending signup and send the email after commit. Returns
    nothing: the caller answers "check your email" whatever the address."""
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
    with transaction.atomic():
        PendingSignup.objects.filter(created_at__lt=timezone.now() - signup_link_max_age()).delete()
        pending = PendingSignup.objects.create(
            email=email,
            full_name=full_name,
            company_name=name,
            slug=slug,
            password=make_password(password),
            language=language,
            currency=currency if currency in CURRENCY_CODES else "",
            ip_address=ip_address,
        )
    pending_id = pending.pk
    transaction.on_commit(lambda: _schedule_signup_mail(pending_id))


def _schedule_signup_mail(pending_id: int) -> None:
    from tenants.tasks import send_signup_mail

    send_signup_mail.delay(pending_id)


def signup_mail_send(*, pending_id: int) -> str:
    """Send the email a pending signup calls for; returns which one ("link", "account_exists")
    or "" when nothing was sent."""
    pending = PendingSignup.objects.filter(pk=pending_id).first()
    if pending is None:
        return ""
    # Anyone can type any address into the form: per recipient, like every email to a typed
    # address. Over the limit nothing is sent; earlier links stay valid.
    if not mail_allowed([Bucket("recipient", pending.email)]):
        return ""
    account = User.objects.filter(email__iexact=pending.email).first()
    if account is not None:
        # Nothing of the attempt is kept: the account's owner did not ask for anything.
        pending.delete()
        _send(
            to=pending.email,
            language=account.language or pending.language,
            subject=gettext_lazy("[Rapport] Sign-up attempt with your email address"),
            template="email/account_exists.txt",
            context={
                "login_url": public_url(_public_path("account_login")),
                "reset_url": public_url(_public_path("account_reset_password")),
            },
        )
        return "account_exists"
    _send(
        to=pending.email,
        language=pending.language,
        subject=gettext_lazy("[Rapport] Confirm your email to create %(workspace)s"),
        subject_args={"workspace": pending.company_name},
        template="email/signup_confirm.txt",
        context={
            "link": public_url(_public_path("signup_confirm", token=signup_link_token(pending))),
            "company_name": pending.company_name,
            "days": allauth_settings.EMAIL_CONFIRMATION_EXPIRE_DAYS,
        },
    )
    return "link"


def _public_path(name: str, **kwargs: str) -> str:
    return reverse(name, kwargs=kwargs or None, urlconf=settings.PUBLIC_SCHEMA_URLCONF)


def _send(
    *,
    to: str,
    language: str,
    subject: Promise,
    template: str,
    context: dict[str, object],
    subject_args: dict[str, str] | None = None,
) -> None:
    """Both emails leave through here, rendered in the recipient's language."""
    with translation.override(language or settings.LANGUAGE_CODE):
        text = str(subject) % subject_args if subject_args else str(subject)
        body = render_to_string(template, context)
    send_mail(text, body, None, [to])


def signup_link_token(pending: PendingSignup) -> str:
    return signing.dumps(pending.pk, salt=SIGNUP_LINK_SALT)


def signup_from_link(token: str) -> PendingSignup:
    """The pending signup a link stands for, or SignupLinkInvalid saying why not."""
    try:
        pending_id = signing.loads(
            token,
            salt=SIGNUP_LINK_SALT,
            max_age=signup_link_max_age(),
        )
    except signing.SignatureExpired as exc:
        raise SignupLinkInvalid(
            _("This link has expired. Sign up again to get a new one."), code="expired"
        ) from exc
    except signing.BadSignature as exc:
        raise SignupLinkInvalid(
            _("This link is not valid. Check that you copied the whole address."),
            code="invalid",
        ) from exc
    pending = PendingSignup.objects.filter(pk=pending_id).first()
    if pending is None:
        raise _used()
    return pending


def _used() -> SignupLinkInvalid:
    return SignupLinkInvalid(
        _("This link has already been used. Sign in to reach your workspace."), code="used"
    )


def signup_confirm(
    *, token: str, slug: str | None = None, ip_address: str | None = None
) -> SignupResult:
    """Follow the link: create the account (its address now proven) and its workspace.

    ``slug`` replaces the workspace address chosen at signup when that one was taken since.
    The link works once: the pending signup (and any other for the same address) is deleted in
    the transaction that creates the account."""
    pending = signup_from_link(token)
    chosen = check_workspace_slug(slug) if slug else pending.slug
    with transaction.atomic():
        # Check, lock, check again: two clicks on one link create one account.
        locked = PendingSignup.objects.select_for_update().filter(pk=pending.pk).first()
        if locked is None:
            raise _used()
        same_address = PendingSignup.objects.filter(email=locked.email)
        has_account = User.objects.filter(email__iexact=locked.email).exists()
        if has_account:
            same_address.delete()
        else:
            check_slug_free(chosen)
            result = account_and_workspace_create(
                email=locked.email,
                full_name=locked.full_name,
                password_hash=locked.password,
                company_name=locked.company_name,
                slug=chosen,
                email_verified=True,
                ip_address=ip_address or locked.ip_address,
                currency=locked.currency,
            )
            same_address.delete()
    if has_account:
        # Proven mailbox: saying so here discloses nothing to a stranger.
        raise SignupLinkInvalid(
            _("This email address already has an account. Sign in instead."),
            code="account_exists",
        )
    return result
