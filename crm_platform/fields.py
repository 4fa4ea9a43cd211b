"""Model fields every module needs.

``user_reference``: a record in a workspace schema that points at a global ``User`` (its owner,
its author). Django's delete collector runs in whatever schema the connection is on and would
look for the referencing tables in ``public`` when a user is deleted, so the reference is
``DO_NOTHING`` on Django's side; the database keeps its foreign-key constraint, so a user who
still owns records in any workspace cannot be deleted until they are reassigned (ADR 0008).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models


def user_reference(**kwargs: Any) -> models.ForeignKey[Any, Any]:
    kwargs.setdefault("null", True)
    kwargs.setdefault("blank", True)
    kwargs.setdefault("related_name", "+")
    return models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, **kwargs)
