"""The workspace's inbound addresses and the product's own addresses (ADR 0036).

A workspace receives at any local part of its own domain, ``<anything>@<slug>.<INBOUND_EMAIL_
DOMAIN>``, and writes from ``support@`` there, so a customer's answer comes back to it.
"""

from __future__ import annotations

from email.utils import parseaddr

from django.conf import settings

from tenants.models import Tenant

SUPPORT_LOCAL_PART = "support"


def inbound_domain() -> str:
    return str(settings.INBOUND_EMAIL_DOMAIN).lower()


def workspace_address(tenant: Tenant) -> str:
    return f"{SUPPORT_LOCAL_PART}@{tenant.slug}.{inbound_domain()}"


def slug_of(address: str) -> str | None:
    """The workspace slug an address is for, or None when it is not one of ours."""
    _, domain = address.strip().lower().rpartition("@")[::2]
    suffix = f".{inbound_domain()}"
    if not domain.endswith(suffix):
        return None
    slug = domain.removesuffix(suffix)
    if not slug or "." in slug:
        return None
    return slug


def workspace_for(address: str) -> Tenant | None:
    """The live workspace receiving at ``address`` (a spare or unknown one: None)."""
    slug = slug_of(address)
    if slug is None:
        return None
    return Tenant.objects.filter(
        slug=slug, state__in=[Tenant.State.ACTIVE, Tenant.State.SUSPENDED]
    ).first()


def own_addresses() -> set[str]:
    """The addresses the product sends notifications from: mail from them is never ingested
    (it would be the product answering itself)."""
    found = set()
    for value in (settings.DEFAULT_FROM_EMAIL, settings.SERVER_EMAIL):
        address = parseaddr(str(value))[1].lower()
        if address:
            found.add(address)
    return found


def is_own_address(address: str) -> bool:
    address = address.strip().lower()
    if address in own_addresses():
        return True
    domain = address.rpartition("@")[2]
    return domain == inbound_domain() or domain.endswith(f".{inbound_domain()}")
