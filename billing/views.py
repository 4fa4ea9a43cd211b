"""The billing page of a workspace."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from billing import changes, stripe_api, subscriptions
from billing.currency import preselected_currency
from billing.details import billing_details, portal_session_start
from billing.invoices import workspace_invoices
from billing.models import BillingAccount
from billing.plans import CURRENCIES, PLANS, Interval, Money, left_out_while, plan_spec
from billing.retention import scheduled_deletion
from crm_platform.errors import ServiceError
from tenants import capabilities
from tenants.access import requires
from tenants.models import Plan
from tenants.selectors import seats_used_summary, trial_days_left


def format_money(money: Money) -> str:
    """The amount with the active locale's separators, then the currency code."""
    amount = number_format(money.amount, decimal_pos=2, use_l10n=True, force_grouping=True)
    return f"{amount} {money.currency}"


@requires(capabilities.MANAGE_BILLING)
@require_safe
def overview(request: HttpRequest) -> HttpResponse:
    tenant = request.tenant  # type: ignore[attr-defined]
    account = BillingAccount.objects.filter(tenant=tenant).first()
    subscribed = subscriptions.has_live_subscription(tenant)
    interval = request.GET.get("interval", "")
    if interval not in Interval.values:
        # A paying workspace sees its plans in the interval it pays, unless asked otherwise.
        paid = account.interval if account is not None and subscribed else ""
        interval = paid if paid in Interval.values else Interval.MONTH
    currency = preselected_currency(
        accept_language=request.headers.get("Accept-Language", ""),
        requested=request.GET.get("currency", ""),
        workspace=tenant.currency,
    )
    # Stripe keeps a customer in the currency of its first subscription: no choice after it.
    billed_in = subscriptions.billing_currency(tenant)
    if billed_in:
        currency = billed_in
    seats = seats_used_summary(tenant=tenant)
    invoices = workspace_invoices(tenant)
    billable_seats = max(1, seats["used"])
    offers: list[dict[str, Any]] = []
    for spec in PLANS:
        price = spec.price(currency=currency, interval=interval)
        offers.append(
            {
                "spec": spec,
                "price": format_money(price),
                "total": format_money(Money(price.amount * billable_seats, currency)),
                "current": spec.code == tenant.plan
                and (account is None or not account.interval or account.interval == interval),
            }
        )
    upcoming = changes.next_invoice(tenant) if subscribed else None
    try:
        details = billing_details(tenant)
        details_unavailable = False
    except stripe_api.StripeUnavailable:
        details, details_unavailable = None, True
    context = {
        "seats": seats,
        "billable_seats": billable_seats,
        "on_trial": tenant.plan == Plan.TRIAL,
        "trial_plan": plan_spec(Plan.TRIAL),
        "days_left": trial_days_left(tenant),
        "offers": offers,
        "interval": interval,
        "intervals": Interval.choices,
        "currency": currency,
        "currencies": CURRENCIES,
        "currency_fixed": bool(billed_in),
        "account": account,
        "subscribed": subscribed,
        "interval_label": Interval(account.interval).label
        if account is not None and account.interval in Interval.values
        else "",
        "scheduled_plan": plan_spec(account.scheduled_plan).name
        if account is not None and account.scheduled_plan
        else "",
        "next_invoice": format_money(upcoming) if upcoming is not None else "",
        "max_seats": plan_spec(tenant.plan).seat_limit,
        "invoices": [{"row": row, "total": format_money(row.total)} for row in (invoices or [])],
        "invoices_unavailable": invoices is None,
        "details": details,
        "deletion": scheduled_deletion(tenant),
        "details_unavailable": details_unavailable,
        "left_out": left_out_while(tenant),
    }
    return render(request, "billing/overview.html", context)


@requires(capabilities.MANAGE_BILLING)
@require_POST
def subscribe(request: HttpRequest) -> HttpResponse:
    """Off to Stripe Checkout for the chosen plan, interval and currency."""
    try:
        url = subscriptions.checkout_start(
            actor=request.membership,  # type: ignore[attr-defined]
            plan=request.POST.get("plan", ""),
            interval=request.POST.get("interval", ""),
            currency=request.POST.get("currency", ""),
        )
    except ServiceError as error:
        messages.error(request, error.message)
        return redirect("billing:overview")
    return HttpResponseRedirect(url)


@requires(capabilities.MANAGE_BILLING)
@require_safe
def checkout_return(request: HttpRequest) -> HttpResponse:
    """Where Checkout sends the member back: the state read from Stripe, shown at once."""
    try:
        found = subscriptions.checkout_return(
            actor=request.membership,  # type: ignore[attr-defined]
            session_id=request.GET.get("session_id", ""),
        )
    except ServiceError as error:
        if error.code == "not_found":
            raise Http404(error.message) from error
        messages.error(request, error.message)
        return redirect("billing:overview")
    if found:
        messages.success(request, _("Thank you: your subscription is in place."))
    else:
        messages.info(request, _("Your payment is not complete yet; this page will show it."))
    return redirect("billing:overview")


@requires(capabilities.MANAGE_BILLING)
@require_POST
def portal(request: HttpRequest) -> HttpResponse:
    """Off to Stripe's customer portal: payment method, billing address, tax IDs."""
    try:
        url = portal_session_start(actor=request.membership)  # type: ignore[attr-defined]
    except ServiceError as error:
        messages.error(request, error.message)
        return redirect("billing:overview")
    return HttpResponseRedirect(url)
