"""The one error type services raise for bad input or a refused action.

It names the field (when there is one) and the problem, so forms and the API can show it
next to the field; views never need to parse messages.
"""

from __future__ import annotations

from django.db import IntegrityError
from django.db.models import Model
from django.utils.functional import Promise


class ServiceError(Exception):
    def __init__(self, message: str | Promise, *, field: str | None = None, code: str = "invalid"):
        super().__init__(str(message))
        self.message = str(message)
        self.field = field
        self.code = code


class PermissionDenied(ServiceError):
    def __init__(self, message: str | Promise, *, code: str = "permission_denied"):
        super().__init__(message, field=None, code=code)


def violated_constraint(exc: IntegrityError) -> str:
    """The name of the constraint an IntegrityError violated, as PostgreSQL reports it
    (psycopg's diagnostics); "" when unknown. Map errors to fields by this name, never by
    searching the message text, which carries user data and other constraints' columns."""
    diag = getattr(exc.__cause__, "diag", None)
    return str(getattr(diag, "constraint_name", None) or "")


def column_unique_constraint(model: type[Model], field: str) -> str:
    """PostgreSQL's name for the constraint of a ``unique=True`` column: <table>_<column>_key."""
    return f"{model._meta.db_table}_{model._meta.get_field(field).column}_key"  # type: ignore[union-attr]
