"""Capability checks for workspace views. The isolation tests read ``required_capability``
from every view to know what each role must be answered."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from tenants import capabilities
from tenants.capabilities import Capability

View = Callable[..., HttpResponse]


def requires(capability: Capability) -> Callable[[View], View]:
    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            membership = getattr(request, "membership", None)
            if membership is None or not capabilities.role_has(membership.role, capability.code):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        wrapped.required_capability = capability  # type: ignore[attr-defined]
        return wrapped

    return decorator


def can(request: HttpRequest, capability: Capability) -> bool:
    membership = getattr(request, "membership", None)
    return membership is not None and capabilities.role_has(membership.role, capability.code)


def client_ip(request: HttpRequest) -> str | None:
    # Behind the load balancer, SECURE_PROXY_SSL_HEADER-style trust is configured by the proxy
    # setting REMOTE_ADDR (uvicorn --proxy-headers); never parse X-Forwarded-For here.
    return request.META.get("REMOTE_ADDR") or None
