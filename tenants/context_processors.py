from __future__ import annotations

from typing import Any

from allauth.account.models import EmailAddress
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _

from tenants import capabilities
from tenants.access import can
from tenants.hosts import public_url
from tenants.selectors import trial_days_left, workspace_list_for_user


def workspace(request: HttpRequest) -> dict[str, Any]:
    tenant = getattr(request, "tenant", None)
    membership = getattr(request, "membership", None)
    context: dict[str, Any] = {"public_home": public_url("/")}
    if tenant is None or tenant.is_public or membership is None:
        return context
    user = membership.user
    context.update(
        workspace=tenant,
        membership=membership,
        trial_days_left=trial_days_left(tenant),
        my_workspaces=workspace_list_for_user(user=user),
        email_unverified=not EmailAddress.objects.filter(
            user=user,
            email__iexact=user.email,
            verified=True,
        ).exists(),
        can_manage_members=can(request, capabilities.MANAGE_MEMBERS),
        can_manage_settings=can(request, capabilities.MANAGE_SETTINGS),
        can_view_audit_log=can(request, capabilities.VIEW_AUDIT_LOG),
        can_export=can(request, capabilities.EXPORT_DATA),
        switch_url=public_url("/workspaces/"),
        nav_entries=nav_entries(request),
    )
    return context


def nav_entries(request: HttpRequest) -> list[dict[str, Any]]:
    """The primary navigation as kit/nav.html takes it: label, icon, url, current.

    Written by hand until modules register their own entries; each entry keeps the capability
    check that decides whether the member sees it."""
    candidates = [
        ("home", _("Home"), "house", True),
        ("members", _("Members"), "users", True),
        ("roles", _("Roles"), "shield", True),
        ("settings", _("Settings"), "settings", can(request, capabilities.MANAGE_SETTINGS)),
        ("audit_log", _("Audit log"), "scroll-text", can(request, capabilities.VIEW_AUDIT_LOG)),
    ]
    entries = []
    for url_name, label, icon, visible in candidates:
        if not visible:
            continue
        url = reverse(url_name)
        # The home page is current only on itself; a section owns every path below its own.
        current = request.path == url if url == "/" else request.path.startswith(url)
        entries.append({"label": label, "icon": icon, "url": url, "current": current})
    return entries
