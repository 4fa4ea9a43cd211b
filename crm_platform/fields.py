"""Model fields every module needs.

``user_reference``: a record in a workspace schema that points at a global ``User`` (its owner,
its author). Django's delete collector runs in whatever schema the connection is on and would
look for the referencing tables in ``public`` when a user is deleted, so the reference is
``DO_NOTHING`` on Django's side (ADR 0008). It has no database foreign key either: PostgreSQL
keeps two triggers on ``tenants_user`` for every foreign key into it, and with one key per
reference in every workspace the user table would carry hundreds of thousands of triggers
(ADR 0090). Accounts are never deleted while they hold records; erasing a person keeps the row
and removes what identifies them.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models


def user_reference(**kwargs: Any) -> models.ForeignKey[Any, Any]:
    kwargs.setdefault("null", True)
    kwargs.setdefault("blank", True)
    kwargs.setdefault("related_name", "+")
    kwargs.setdefault("db_constraint", False)
    return models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, **kwargs)
