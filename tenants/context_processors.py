from __future__ import annotations

from typing import Any

from allauth.account.models import EmailAddress
from django.conf import settings
from django.http import HttpRequest

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
        switch_url=public_url("/workspaces/"),
        billing_grace_days=settings.BILLING_GRACE_DAYS,
    )
    return context
