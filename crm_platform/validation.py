"""Validators every module needs: each returns the normalised value or raises ServiceError naming
the field and the problem."""

from __future__ import annotations

import re
import unicodedata

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


# Characters that change how the text around them is shown: embeddings, overrides and
# isolates (a name could reverse the text after it in a list, an email subject or a CSV file).
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
# Control characters (terminal escapes, NUL), lone surrogates and private-use code points.
FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cs", "Co"})


# Terminal escape sequences (CSI: ESC [ … final byte, or its one-byte form U+009B): stripping
# only the ESC would leave "[31m" behind.
ANSI_SEQUENCE = re.compile(r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]")


def _forbidden(char: str) -> bool:
    return char in BIDI_CONTROLS or unicodedata.category(char) in FORBIDDEN_CATEGORIES


def normalise_text(raw: str, *, strip: bool = False) -> str:
    """The one normalisation of every name-like field (people, companies, workspaces): NFC,
    every run of whitespace (tabs and line breaks included) becomes one space, and no control
    or text-direction character is left in. Raises ValueError naming the first such character;
    with ``strip`` (text stored before this rule) removes them, and terminal escape sequences
    whole, instead.

    Joiners (U+200C, U+200D) stay: several scripts and emoji sequences need them."""
    text = raw or ""
    if strip:
        text = ANSI_SEQUENCE.sub("", text)
        text = "".join(" " if char.isspace() else char for char in text)
        text = "".join(char for char in text if not _forbidden(char))
    value = unicodedata.normalize("NFC", " ".join(text.split()))
    for char in value:
        if _forbidden(char):
            raise ValueError(f"U+{ord(char):04X}")
    return value


def check_text(raw: str, *, field: str, max_length: int, label: str) -> str:
    try:
        value = normalise_text(raw)
    except ValueError as exc:
        raise ServiceError(
            _("%(label)s cannot contain control or text-direction characters (%(char)s).")
            % {"label": label, "char": exc.args[0]},
            field=field,
            code="invalid_characters",
        ) from exc
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
