"""The one error type services raise for bad input or a refused action.

It names the field (when there is one) and the problem, so forms and the API can show it
next to the field; views never need to parse messages.
"""

from __future__ import annotations

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
