"""The payer's details as Stripe holds them (payment method, billing address, tax IDs), read
for the billing page; they are changed in Stripe's customer portal, never here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

from billing import stripe_api
from billing.models import BillingAccount
from billing.subscriptions import stripe_failed
from crm_platform.errors import ServiceError
from tenants import capabilities
from tenants.hosts import workspace_url
from tenants.models import Membership, Tenant
from tenants.permissions import require

_ADDRESS_LINES = ("line1", "line2", "postal_code", "city", "state", "country")


@dataclass(frozen=True)
class TaxId:
    kind: str
    value: str
    verified: bool


@dataclass(frozen=True)
class BillingDetails:
    name: str
    email: str
    address: list[str] = field(default_factory=list)
    tax_ids: list[TaxId] = field(default_factory=list)
    # "Visa ending 4242", or "" without a card.
    card_brand: str = ""
    card_last4: str = ""


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def billing_details(tenant: Tenant) -> BillingDetails | None:
    """None without a Stripe customer. Raises StripeUnavailable when Stripe cannot answer."""
    account = BillingAccount.objects.filter(tenant=tenant).first()
    if account is None:
        return None
    customer = stripe_api.customer_retrieve(account.stripe_customer_id)
    if customer.get("id") != account.stripe_customer_id:
        return None
    address: dict[str, Any] = customer.get("address") or {}
    tax_ids = [
        TaxId(
            kind=_text(tax.get("type")),
            value=_text(tax.get("value")),
            verified=(tax.get("verification") or {}).get("status") == "verified",
        )
        for tax in ((customer.get("tax_ids") or {}).get("data") or [])
        if isinstance(tax, dict)
    ]
    method = (customer.get("invoice_settings") or {}).get("default_payment_method")
    card = method.get("card") if isinstance(method, dict) else None
    return BillingDetails(
        name=_text(customer.get("name")),
        email=_text(customer.get("email")),
        address=[_text(address.get(key)) for key in _ADDRESS_LINES if _text(address.get(key))],
        tax_ids=tax_ids,
        card_brand=_text(card.get("brand")).capitalize() if isinstance(card, dict) else "",
        card_last4=_text(card.get("last4")) if isinstance(card, dict) else "",
    )


def portal_session_start(*, actor: Membership) -> str:
    """The URL of a Stripe customer portal session for the workspace's customer, returning to
    the billing page."""
    require(actor, capabilities.MANAGE_BILLING)
    account = BillingAccount.objects.filter(tenant=actor.tenant).first()
    if account is None:
        raise ServiceError(
            _("The payment details are kept by Stripe once the workspace subscribes."),
            code="no_customer",
        )
    try:
        return stripe_api.billing_portal_session_create(
            customer=account.stripe_customer_id,
            return_url=workspace_url(actor.tenant.slug or "", "/billing/"),
        )
    except stripe_api.StripeUnavailable as error:
        raise stripe_failed() from error
