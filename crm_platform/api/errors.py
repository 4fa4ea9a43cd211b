"""One JSON error shape for every API answer that is not a success:

    {"error": {"code": "invalid", "message": "…", "fields": {"email": ["…"]}}}

``fields`` names each field and its problems (empty when the error is not about a field).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from crm_platform.errors import PermissionDenied, ServiceError


def error_body(
    code: str, message: str, fields: dict[str, list[str]] | None = None
) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def error_response(
    status_code: int, code: str, message: str, fields: dict[str, list[str]] | None = None
) -> JsonResponse:
    """For answers made before DRF runs (the membership middleware)."""
    return JsonResponse(error_body(code, message, fields), status=status_code)


def _flatten(detail: Any) -> list[str]:
    if isinstance(detail, list):
        return [message for item in detail for message in _flatten(item)]
    if isinstance(detail, dict):
        return [message for value in detail.values() for message in _flatten(value)]
    return [str(detail)]


def _fields(detail: Any) -> dict[str, list[str]]:
    if not isinstance(detail, dict):
        return {}
    return {str(name): _flatten(value) for name, value in detail.items()}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, PermissionDenied):
        return Response(error_body(exc.code, exc.message), status=status.HTTP_403_FORBIDDEN)
    if isinstance(exc, ServiceError):
        fields = {exc.field: [exc.message]} if exc.field else {}
        return Response(error_body(exc.code, exc.message, fields), status=400)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # an unexpected error: Django's 500 handling and logging take over
    if not isinstance(exc, exceptions.APIException):
        return response
    if isinstance(exc, exceptions.ValidationError):
        fields = _fields(exc.detail)
        message = _("Some fields are not valid.") if fields else " ".join(_flatten(exc.detail))
        code = "invalid"
    else:
        fields = {}
        message = " ".join(_flatten(exc.detail))
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else exc.default_code
    response.data = error_body(str(code), message, fields)
    return response
