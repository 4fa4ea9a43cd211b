"""Validation shared by the sales services: each returns the normalised value or raises
ServiceError naming the field."""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db.models import Model
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_platform.errors import ServiceError
from tenants.models import Membership

_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9\u00a1-\uffff-]{1,63}\.)+[a-z\u00a1-\uffff]{2,63}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


def check_optional_text(raw: Any, *, field: str, max_length: int, label: str) -> str:
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise ServiceError(_("%(label)s must be text.") % {"label": label}, field=field)
    value = raw.strip()
    if len(value) > max_length:
        raise ServiceError(
            _("%(label)s can be at most %(max)d characters.") % {"label": label, "max": max_length},
            field=field,
            code="length",
        )
    return value


def check_phone(raw: str, *, field: str = "phones", region: str | None = None) -> str:
    """A phone number in E.164. Without a region the number must start with +country code."""
    text = (raw or "").strip()
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise ServiceError(
            _(
                "“%(value)s” is not a phone number; write it with its country code, "
                "like +39 06 1234 5678."
            )
            % {"value": text[:40]},
            field=field,
        ) from exc
    if not phonenumbers.is_valid_number(number):
        raise ServiceError(
            _("“%(value)s” is not a valid phone number.") % {"value": text[:40]}, field=field
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def check_domain(raw: str, *, field: str = "domain") -> str:
    value = (raw or "").strip().lower().removeprefix("www.")
    if not value:
        return ""
    if not _DOMAIN.match(value):
        raise ServiceError(_("Enter a domain such as example.com."), field=field)
    return value


def check_url(raw: str, *, field: str = "website") -> str:
    value = (raw or "").strip()
    if not value:
        return ""
    if "://" not in value:
        value = f"https://{value}"
    try:
        URLValidator(schemes=["http", "https"])(value)
    except ValidationError as exc:
        raise ServiceError(
            _("Enter a web address such as https://example.com."), field=field
        ) from exc
    if len(value) > 500:
        raise ServiceError(_("The web address is too long."), field=field, code="length")
    return value


def check_choice(raw: Any, *, field: str, choices: Iterable[str], blank: bool = True) -> str:
    value = raw or ""
    allowed = set(choices)
    if (value == "" and blank) or value in allowed:
        return str(value)
    raise ServiceError(_("Choose a value from the list."), field=field)


def check_tags(raw: Any, *, field: str = "tags") -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, str):
        raw = raw.split(",")
    if not isinstance(raw, list | tuple):
        raise ServiceError(_("Tags must be a list of words."), field=field)
    tags: list[str] = []
    for item in raw:
        if not isinstance(item, str):
            raise ServiceError(_("Tags must be a list of words."), field=field)
        tag = " ".join(item.split())
        if len(tag) > 50:
            raise ServiceError(_("A tag can be at most 50 characters."), field=field)
        if tag and tag not in tags:
            tags.append(tag)
    if len(tags) > 50:
        raise ServiceError(_("A record can have at most 50 tags."), field=field)
    return tags


def check_owner(actor: Membership, owner_id: Any, *, field: str = "owner") -> int | None:
    """The user id of an active member of the actor's workspace, or None."""
    if owner_id in (None, ""):
        return None
    try:
        user_id = int(owner_id)
    except (TypeError, ValueError):
        raise ServiceError(_("Choose a member of this workspace."), field=field) from None
    if not Membership.objects.filter(
        tenant_id=actor.tenant_id, user_id=user_id, status=Membership.Status.ACTIVE
    ).exists():
        raise ServiceError(_("Choose a member of this workspace."), field=field)
    return user_id


def check_amount(raw: Any, *, field: str = "amount") -> Decimal:
    if raw in (None, ""):
        return Decimal("0.00")
    if isinstance(raw, float | bool):
        raw = str(raw) if isinstance(raw, float) else "x"
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        raise ServiceError(_("Enter an amount such as 1250.00."), field=field) from None
    if not value.is_finite() or value < 0:
        raise ServiceError(_("Enter an amount of zero or more."), field=field)
    if value >= Decimal("1e16"):
        raise ServiceError(_("The amount is too large."), field=field)
    return value.quantize(Decimal("0.01"))


def check_currency(raw: Any, *, default: str, field: str = "currency") -> str:
    value = (raw or default or "").strip().upper() if isinstance(raw, str | None) else ""
    if not _CURRENCY.match(value):
        raise ServiceError(_("Enter a three-letter currency code such as EUR."), field=field)
    return value


def check_date(raw: Any, *, field: str) -> datetime.date | None:
    if raw in (None, ""):
        return None
    if isinstance(raw, datetime.date) and not isinstance(raw, datetime.datetime):
        return raw
    try:
        return datetime.date.fromisoformat(str(raw))
    except ValueError:
        raise ServiceError(_("Enter a date as YYYY-MM-DD."), field=field) from None


def check_datetime(raw: Any, *, field: str) -> datetime.datetime | None:
    if raw in (None, ""):
        return None
    if isinstance(raw, datetime.datetime):
        value = raw
    else:
        try:
            value = datetime.datetime.fromisoformat(str(raw))
        except ValueError:
            raise ServiceError(
                _("Enter a date and time as YYYY-MM-DD HH:MM."), field=field
            ) from None
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


def check_unchanged_since(record: Model, expected: datetime.datetime | None) -> None:
    """Concurrent edits: a form or API client that read the record at ``expected`` may not
    overwrite a later change it has not seen."""
    if expected is not None and record.updated_at != expected:  # type: ignore[attr-defined]
        raise ServiceError(
            _("Someone else changed this record after you opened it. Reload it and try again."),
            field="updated_at",
            code="conflict",
        )


_UNSPACED = re.compile(r"[\u0e00-\u0e7f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")


def unspaced_name(first: str, last: str) -> str:
    """The family name and the given name run together, for scripts written without spaces;
    empty otherwise."""
    if first and last and _UNSPACED.search(first + last):
        return f"{last}{first}"
    return ""


def searchable(*parts: Any) -> str:
    """The lower-cased text a record is found by (D20)."""
    return " ".join(str(part).lower() for part in parts if part)
