"""The API asks the same question as pages, services and sockets: ``allows``.

An endpoint declares its capability as ``capability = X`` (every method), or per viewset
action or HTTP method as ``capabilities = {"list": X, "PATCH": Y, …}``. An endpoint that declares
neither is refused, so a forgotten declaration fails closed. Object-level checks pass the
record, so a role scoped to its own records cannot reach another member's.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from tenants.capabilities import Capability
from tenants.permissions import allows, refusal_message


def declared_capability(view: Any, *keys: str | None) -> Capability:
    """The capability an endpoint needs for an action or method (the first of ``keys`` it
    declares), else its ``capability``; the isolation tests ask the same function."""
    per_key: dict[str, Capability] = getattr(view, "capabilities", None) or {}
    for key in keys:
        if key is not None and key in per_key:
            return per_key[key]
    capability: Capability | None = getattr(view, "capability", None)
    if capability is None:
        name = getattr(view, "__name__", type(view).__name__)
        raise ImproperlyConfigured(
            f"{name} declares no capability for {keys!r}: set `capability` or "
            "`capabilities` on the endpoint."
        )
    return capability


def _methods(request: Request) -> tuple[str, ...]:
    """The method, then GET for HEAD and OPTIONS: they ask what GET would answer."""
    method = str(request.method)
    return (method, "GET") if method in ("HEAD", "OPTIONS") else (method,)


class Allows(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        capability = declared_capability(view, getattr(view, "action", None), *_methods(request))
        membership = getattr(request._request, "membership", None)
        allowed = allows(membership, capability, reading=request.method in SAFE_METHODS)
        if not allowed:
            self.message = refusal_message(membership, capability)
        return allowed

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        capability = declared_capability(view, getattr(view, "action", None), *_methods(request))
        membership = getattr(request._request, "membership", None)
        allowed = allows(membership, capability, obj, reading=request.method in SAFE_METHODS)
        if not allowed:
            self.message = refusal_message(membership, capability)
        return allowed
