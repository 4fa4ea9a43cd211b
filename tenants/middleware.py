"""Per-request tenant resolution (D2, D5) and membership enforcement (D4)."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import Resolver404, resolve, reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django_tenants.middleware.main import TenantMainMiddleware

from crm_platform.api.errors import error_response
from crm_platform.locales import is_language
from tenants import capabilities
from tenants.hosts import public_url
from tenants.models import Membership, Tenant
from tenants.modules import customer_url_prefixes, open_paths
from tenants.permissions import allows
from tenants.policies import mfa_policy_unmet

PUBLIC_TENANT = Tenant(schema_name="public", name="Rapport", state=Tenant.State.ACTIVE)
SESSION_WORKSPACE_KEY = "rapport_workspace"
LAST_SEEN_INTERVAL = timedelta(minutes=5)
# Paths a workspace host serves before membership is known.
OPEN_PATHS = ("/handover/", "/static/")


# A deactivated member, or one of a suspended workspace, may still end their own sessions.
SIGNOUT_PATH = "/signout/"
# A workspace whose trial or subscription ended must still be able to pay: the billing pages
# (and only they) accept writes while it is read-only for that reason (ADR 0013).
BILLING_PATH = "/billing/"
# The API answers in JSON (crm_platform.api.errors), never with a page or a redirect.
API_PREFIX = "/api/"


class WorkspaceHostMiddleware(TenantMainMiddleware):  # type: ignore[misc]
    """The public host serves the public URLconf; any other host must be a live workspace."""

    def get_tenant(self, domain_model: type, hostname: str) -> Tenant:
        if hostname == settings.BASE_DOMAIN:
            return PUBLIC_TENANT
        tenant: Tenant = super().get_tenant(domain_model, hostname)
        if tenant.state == Tenant.State.SPARE:
            raise Http404("No workspace here")
        return tenant


class MembershipMiddleware:
    """Every request to a workspace host must come from an active member of that workspace.

    Anonymous → sign-in on the public host; not a member → 404 (no enumeration);
    deactivated → 403 with an explanation; suspended workspace → read-only.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        tenant: Tenant = request.tenant  # type: ignore[attr-defined]
        if tenant.is_public or request.path.startswith((*OPEN_PATHS, *open_paths())):
            return self.get_response(request)
        if request.path.startswith(customer_url_prefixes()):
            # The customers' realm (the portal): its views check their own sign-in; a member's
            # session means nothing there.
            return self.get_response(request)

        api = request.path.startswith(API_PREFIX)
        user = request.user
        # A session is bound to the workspace it was handed to; any other session is anonymous.
        if not user.is_authenticated or request.session.get(SESSION_WORKSPACE_KEY) != tenant.pk:
            if api:
                # No session: the API's own authentication (API keys) decides, in DRF.
                request.user = AnonymousUser()
                return self.get_response(request)
            return _redirect_to_sign_in(request, tenant)

        membership = (
            Membership.objects.filter(user=user, tenant=tenant).select_related("user").first()
        )
        if membership is None:
            if api:
                return error_response(404, "not_found", _("Not found."))
            raise Http404("No workspace here")
        membership.tenant = tenant
        if not membership.is_active and request.path != SIGNOUT_PATH:
            if api:
                return error_response(
                    403, "deactivated", _("Your access to this workspace has been removed.")
                )
            return render(
                request,
                "app/deactivated.html",
                {"workspace": tenant},
                status=403,
            )
        membership.tenant = tenant
        if mfa_policy_unmet(membership) and request.path != SIGNOUT_PATH:
            return render(
                request,
                "app/mfa_required.html",
                {
                    "workspace": tenant,
                    "setup_url": public_url(
                        reverse("mfa_activate_totp", urlconf=settings.PUBLIC_SCHEMA_URLCONF)
                    ),
                },
                status=403,
            )
        writes = request.method not in ("GET", "HEAD", "OPTIONS")
        if (
            tenant.is_read_only
            and writes
            and request.path != SIGNOUT_PATH
            and not _may_pay_while_read_only(request, tenant)
            and not _reads_while_unpaid(request, tenant)
        ):
            if api:
                return error_response(
                    403, "read_only", _("This workspace is read-only: nothing can be changed.")
                )
            return render(
                request,
                "app/suspended.html",
                {
                    "workspace": tenant,
                    "may_pay": allows(membership, capabilities.MANAGE_BILLING, reading=True),
                    "billing_path": BILLING_PATH,
                },
                status=403,
            )

        request.membership = membership  # type: ignore[attr-defined]
        _touch_last_seen(membership)
        _activate_time_zone(membership.user.time_zone or tenant.time_zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


class UserLanguageMiddleware:
    """A signed-in user's chosen language wins over the browser's (LocaleMiddleware)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = getattr(request.user, "language", "")
        if language and is_language(language):
            translation.activate(language)
            request.LANGUAGE_CODE = language
        tenant = getattr(request, "tenant", None)
        time_zone = getattr(request.user, "time_zone", "")
        if tenant is None or not tenant.is_public or not time_zone:
            # Workspace hosts: MembershipMiddleware picks the user's or the workspace's zone.
            return self.get_response(request)
        _activate_time_zone(time_zone)
        try:
            return self.get_response(request)
        finally:
            # The zone is thread-local: never let it reach the next request on this thread.
            timezone.deactivate()


def _may_pay_while_read_only(request: HttpRequest, tenant: Tenant) -> bool:
    """Only an ended trial or subscription, not a platform suspension, lets the billing pages
    write."""
    return (
        tenant.is_unpaid
        and tenant.state == Tenant.State.ACTIVE
        and request.path.startswith(BILLING_PATH)
    )


def _reads_while_unpaid(request: HttpRequest, tenant: Tenant) -> bool:
    """An ended trial or subscription keeps its data exportable: a view marked
    ``tenants.access.reads_only`` (an export sent by a form) answers. A platform suspension
    refuses it like every other POST."""
    if not tenant.is_unpaid or tenant.state != Tenant.State.ACTIVE:
        return False
    try:
        match = resolve(request.path_info, urlconf=getattr(request, "urlconf", None))
    except Resolver404:
        return False
    return bool(getattr(match.func, "reads_only", False))


def _activate_time_zone(name: str) -> None:
    try:
        timezone.activate(zoneinfo.ZoneInfo(name))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        timezone.activate(zoneinfo.ZoneInfo("UTC"))


def _redirect_to_sign_in(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    enter = f"/w/{tenant.slug}/?{urlencode({'next': request.get_full_path()})}"
    if request.user.is_authenticated:
        # Signed in on this host for another purpose: go through the hand-over again.
        return HttpResponseRedirect(public_url(enter))
    login = f"/accounts/login/?{urlencode({'next': enter})}"
    return HttpResponseRedirect(public_url(login))


def _touch_last_seen(membership: Membership) -> None:
    # One write per member per interval, not one per request.
    key = f"last-seen:{membership.pk}"
    if cache.add(key, 1, timeout=int(LAST_SEEN_INTERVAL.total_seconds())):
        now = timezone.now()
        Membership.objects.filter(pk=membership.pk).update(last_seen_at=now)
        membership.last_seen_at = now
