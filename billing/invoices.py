"""The workspace's invoices, read from Stripe for the billing page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from billing import stripe_api
from billing.models import BillingAccount
from billing.plans import Money
from tenants.models import Tenant


@dataclass(frozen=True)
class InvoiceRow:
    number: str
    created: datetime
    total: Money
    status: str
    hosted_url: str
    pdf_url: str


def _url(value: object) -> str:
    """Only links Stripe would give: absolute http(s) URLs."""
    text = str(value or "")
    return text if text.startswith(("https://", "http://")) else ""


def workspace_invoices(tenant: Tenant, *, limit: int = 24) -> list[InvoiceRow] | None:
    """Newest first; [] without a Stripe customer; None when Stripe cannot be reached."""
    account = BillingAccount.objects.filter(tenant=tenant).first()
    if account is None:
        return []
    try:
        found = stripe_api.invoices_list(customer=account.stripe_customer_id, limit=limit)
    except stripe_api.StripeUnavailable:
        return None
    rows = []
    for invoice in found:
        if invoice.get("customer") != account.stripe_customer_id:
            continue  # never show another customer's invoice
        status = str(invoice.get("status") or "")
        if status == "draft":
            continue
        rows.append(
            InvoiceRow(
                number=str(invoice.get("number") or invoice.get("id") or ""),
                created=datetime.fromtimestamp(int(invoice.get("created") or 0), tz=UTC),
                total=Money(
                    Decimal(int(invoice.get("total") or 0)) / 100,
                    str(invoice.get("currency") or "").upper(),
                ),
                status=status,
                hosted_url=_url(invoice.get("hosted_invoice_url")),
                pdf_url=_url(invoice.get("invoice_pdf")),
            )
        )
    rows.sort(key=lambda row: row.created, reverse=True)
    return rows
