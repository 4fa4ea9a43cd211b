"""Validators every module needs: each returns the normalised value or raises ServiceError naming
the field and the problem."""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

from crm_platform.errors import ServiceError
from crm_platform.locales import is_language, is_time_zone
from tenants.models import User


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


def check_password(password: str, *, user: User | None = None, field: str = "password") -> None:
    if not password:
        raise ServiceError(_("Choose a password."), field=field, code="required")
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        raise ServiceError(" ".join(exc.messages), field=field, code="weak") from exc
