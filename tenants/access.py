"""Capability checks for workspace views. The isolation tests read ``required_capability``
from every view to know what each role must be answered."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBase

from tenants.capabilities import Capability
from tenants.permissions import allows, refused_by_plan

View = Callable[..., HttpResponseBase]
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

logger = logging.getLogger("rapport.permissions")


def requires(capability: Capability) -> Callable[[View], View]:
    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            membership = getattr(request, "membership", None)
            if not allows(membership, capability, reading=request.method in SAFE_METHODS):
                logger.info(
                    "refused %s %s: %s lacks %s",
                    request.method,
                    request.path,
                    getattr(membership, "role", "anonymous"),
                    capability.code,
                )
                # The 403 page says whether the plan or the role refused it.
                request.refused_by_plan = refused_by_plan(membership, capability)  # type: ignore[attr-defined]
                raise PermissionDenied
            return view(request, *args, **kwargs)

        wrapped.required_capability = capability  # type: ignore[attr-defined]
        return wrapped

    return decorator


def reads_only(view: View) -> View:
    """A POST view that changes no records (an export sent by a form): a workspace read-only
    for want of payment still answers it, as it answers a GET, so its data stays exportable."""
    view.reads_only = True  # type: ignore[attr-defined]
    return view


def can(request: HttpRequest, capability: Capability, obj: Any = None) -> bool:
    return allows(getattr(request, "membership", None), capability, obj)


def client_ip(request: HttpRequest) -> str | None:
    # Behind the load balancer, SECURE_PROXY_SSL_HEADER-style trust is configured by the proxy
    # setting REMOTE_ADDR (uvicorn --proxy-headers); never parse X-Forwarded-For here.
    return request.META.get("REMOTE_ADDR") or None
