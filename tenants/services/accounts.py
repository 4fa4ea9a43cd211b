"""A person's own account: name, language and time zone."""

from __future__ import annotations

import logging

from django.utils.translation import gettext as _

from crm_platform.validation import (
    check_language,
    check_text,
    check_time_zone,
)
from tenants.models import User
from tenants.services.common import (
    FULL_NAME_MAX,
)

logger = logging.getLogger(__name__)


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
