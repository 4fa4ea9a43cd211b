"""The local Stripe stand-in: localstripe (a development dependency) extended with what the
product uses and localstripe lacks, following Stripe's documented object shapes (ADR 0016):

- Prices (``/v1/prices``) with ``lookup_key``, ``recurring``, ``unit_amount`` and
  ``currency_options[<cur>][unit_amount|tax_behavior]`` (multi-currency prices, ADR 0084),
  usable wherever localstripe takes a Plan; ``currency_options`` is shown only when expanded
  (``expand=["currency_options"]``, ``["data.currency_options"]`` on a list); subscription
  items carry their ``price``;
- a subscription's ``currency`` (``subscriptions.create(currency=...)``, else its prices'
  own): every item, invoice line, proration, invoice preview and schedule phase is priced
  from its price's amount in that currency. Inside, each currency option is a localstripe
  Plan of its own under a hidden id (``PriceInCurrency``), which the subscription's items
  bill from; every object shown names the Price and has its shape;
- Checkout Sessions (``/v1/checkout/sessions``) in subscription mode, with ``currency``, and
  a page to complete them that attaches a test card, creates the subscription in the
  session's currency and sends ``checkout.session.completed``;
- ``customer.subscription.updated`` and ``invoice.paid`` events, which localstripe never sends;
- hosted invoice pages (``hosted_invoice_url`` / ``invoice_pdf``);
- ``Idempotency-Key``: a POST repeated with the same key answers the first response again;
- invoice previews (``/v1/invoices/create_preview``) of a change given with prices, with
  ``subscription_details.proration_behavior`` and ``proration_date``, in ``currency`` (which
  must be the subscription's) or the subscription's, leaving nothing behind;
- prorations as Stripe documents them (to the second: a credit for the unused time, a
  charge for the same time at the new price and quantity), on a change and in its preview;
- Subscription Schedules (``/v1/subscription_schedules``: create ``from_subscription``,
  retrieve, update ``phases``, ``release``), the way Stripe changes a subscription at the end
  of its period; the renewal step applies the next phase, and ends a subscription set to
  cancel at the period's end;
- customer portal sessions (``/v1/billing_portal/sessions``) with a page of the stand-in where
  the customer changes their card, billing address and tax IDs, then returns;
- objects kept in memory only (no pickle in /tmp shared with other processes).

Run: ``python scripts/localstripe_server.py --port 8420 [--webhook-url URL --webhook-secret S]``.
"""

from __future__ import annotations

import argparse
import html
import re
import socket
import time
from typing import Any

from aiohttp import web
from localstripe import resources, server
from localstripe.errors import UserError
from localstripe.resources import (
    Customer,
    Event,
    Invoice,
    PaymentMethod,
    Plan,
    StripeObject,
    Subscription,
    SubscriptionItem,
    store,
)
from localstripe.webhooks import register_webhook, schedule_webhook

BASE_URL = {"value": "http://127.0.0.1:8420"}

# In memory only: the objects are gone when the process stops, as with moto's S3 server.
resources.Store.dump_to_disk = lambda self: None
resources.Store.try_load_from_disk = lambda self: None


def _amount(value: Any, field: str) -> int:
    amount = resources.try_convert_to_int(value)
    if not isinstance(amount, int) or amount < 0:
        raise UserError(400, f"Bad {field}: a whole number of minor units is required")
    return amount


def _currency(value: Any, field: str) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[a-zA-Z]{3}", value):
        raise UserError(400, f"Bad {field}: a three-letter ISO currency code is required")
    return value.lower()


def _currency_options(options: Any, default: str) -> dict[str, dict[str, Any]]:
    """``currency_options[<cur>][unit_amount|tax_behavior]``, checked, by currency."""
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise UserError(400, "Bad currency_options")
    checked = {}
    for key, option in options.items():
        currency = _currency(key, "currency_options")
        if currency == default:
            raise UserError(400, f"currency_options[{currency}]: the price's own currency")
        if not isinstance(option, dict) or set(option) - {"unit_amount", "tax_behavior"}:
            raise UserError(400, f"currency_options[{currency}]: only unit_amount, tax_behavior")
        behavior = option.get("tax_behavior") or "unspecified"
        if behavior not in ("inclusive", "exclusive", "unspecified"):
            raise UserError(400, f"currency_options[{currency}][tax_behavior]: bad value")
        checked[currency] = {
            "unit_amount": _amount(
                option.get("unit_amount"), f"currency_options[{currency}][unit_amount]"
            ),
            "tax_behavior": behavior,
        }
    return checked


class Price(Plan):  # type: ignore[misc]
    """A recurring price. Stored under ``plan:`` too, so localstripe's subscriptions and
    invoices use it as the plan it is compatible with, in its own currency; each of its
    ``currency_options`` is a :class:`PriceInCurrency` of its own."""

    object = "price"
    _id_prefix = "price_"

    def __init__(
        self,
        currency: Any = None,
        unit_amount: Any = None,
        recurring: Any = None,
        product: Any = None,
        lookup_key: Any = None,
        transfer_lookup_key: Any = None,
        metadata: Any = None,
        nickname: Any = None,
        active: Any = True,
        tax_behavior: Any = None,
        currency_options: Any = None,
        **kwargs: Any,
    ) -> None:
        if kwargs:
            raise UserError(400, "Unexpected " + ", ".join(kwargs.keys()))
        if not isinstance(recurring, dict) or not isinstance(product, str):
            raise UserError(400, "Only recurring prices of an existing product are supported")
        currency = _currency(currency, "currency")
        options = _currency_options(currency_options, currency)
        if lookup_key is not None and not isinstance(lookup_key, str):
            raise UserError(400, "Bad lookup_key")
        if lookup_key:
            holder: Any = _price_with_lookup_key(lookup_key)
            if holder is not None:
                if str(transfer_lookup_key).lower() != "true":
                    raise UserError(400, f"A price already uses the lookup key {lookup_key}")
                holder.lookup_key = None
        super().__init__(
            amount=unit_amount,
            currency=currency,
            interval=recurring.get("interval"),
            interval_count=recurring.get("interval_count", 1),
            product=product,
            metadata=metadata,
            nickname=nickname,
            active=active,
        )
        store["plan:" + self.id] = self
        self.unit_amount = self.amount
        self.recurring = {
            "interval": self.interval,
            "interval_count": self.interval_count,
            "usage_type": "licensed",
        }
        self.lookup_key = lookup_key or None
        self.tax_behavior = tax_behavior or "unspecified"
        self.type = "recurring"
        self._in_currency: dict[str, Any] = {currency: self}
        for other, option in options.items():
            self._in_currency[other] = PriceInCurrency(self, other, option)

    def _in(self, currency: str) -> Any:
        """The plan that bills this price in ``currency``."""
        found = self._in_currency.get(currency.lower())
        if found is None:
            raise UserError(400, f"The price {self.id} has no amount in {currency}")
        return found

    def _currency_options_export(self) -> dict[str, dict[str, Any]]:
        return {
            currency: {
                "custom_unit_amount": None,
                "tax_behavior": plan.tax_behavior,
                "unit_amount": plan.amount,
                "unit_amount_decimal": str(plan.amount),
            }
            for currency, plan in sorted(self._in_currency.items())
        }

    def _export(self, expand: Any = None) -> Any:
        """``currency_options`` only when expanded, as Stripe answers."""
        paths = list(expand or [])
        exported = super()._export(expand=[path for path in paths if path != "currency_options"])
        if "currency_options" in paths:
            exported["currency_options"] = self._currency_options_export()
        return exported

    def _update(self, **data: Any) -> None:
        if "active" in data:
            data["active"] = resources.try_convert_to_bool(data["active"])
            if not isinstance(data["active"], bool):
                raise UserError(400, "Bad active")
        super()._update(**data)

    @classmethod
    def _api_list_all(
        cls,
        url: str,
        lookup_keys: Any = None,
        active: Any = None,
        product: Any = None,
        currency: Any = None,
        limit: Any = None,
        starting_after: Any = None,
        **kwargs: Any,
    ) -> Any:
        if kwargs:
            raise UserError(400, "Unexpected " + ", ".join(kwargs.keys()))
        li = PriceList(url, limit=limit, starting_after=starting_after)
        li._list = [value for key, value in store.items() if key.startswith("price:")]
        if lookup_keys is not None:
            keys = set(lookup_keys if isinstance(lookup_keys, list) else [lookup_keys])
            li._list = [obj for obj in li._list if obj.lookup_key in keys]
        if active is not None:
            wanted = str(active).lower() == "true"
            li._list = [obj for obj in li._list if obj.active == wanted]
        if product is not None:
            li._list = [obj for obj in li._list if obj.product == product]
        if currency is not None:
            li._list = [obj for obj in li._list if obj.currency == currency]
        return li


class PriceList(resources.List):  # type: ignore[misc]
    """A page of prices; ``expand=["data.currency_options"]`` shows each one's currencies."""

    def _export(self, expand: Any = None) -> Any:
        paths = list(expand or [])
        exported = super()._export(
            expand=[path for path in paths if path != "data.currency_options"]
        )
        if "data.currency_options" in paths:
            for entry in exported["data"]:
                entry["currency_options"] = store["price:" + entry["id"]]._currency_options_export()
        return exported


class PriceInCurrency(Plan):  # type: ignore[misc]
    """One of a Price's ``currency_options``: the localstripe Plan that subscription items,
    invoice lines and prorations in that currency are billed from. Kept under a hidden id
    of its own; every object shown names its Price instead (its export is the Price's)."""

    object = "plan"

    def __init__(self, price: Price, currency: str, option: dict[str, Any]) -> None:
        # Not Plan.__init__: no object of its own at Stripe, so no id shown, no plan.created.
        self.id = f"{price.id}~{currency}"
        self.created = price.created
        self.livemode = False
        self.metadata = price.metadata
        self.product = price.product
        self.active = True
        self.amount = option["unit_amount"]
        self.currency = currency
        self.tax_behavior = option["tax_behavior"]
        self.interval = price.interval
        self.interval_count = price.interval_count
        self.trial_period_days = None
        self.nickname = price.nickname
        self.usage_type = "licensed"
        self.billing_scheme = "per_unit"
        self.tiers = None
        self.tiers_mode = None
        self._price = price
        store["plan:" + self.id] = self

    def _export(self, expand: Any = None) -> Any:
        return self._price._export(expand=expand)


def _price_of(plan: Any) -> Any:
    """The Price a plan bills (a plain localstripe Plan is its own)."""
    return getattr(plan, "_price", plan)


def _plan_in(plan_id: str, currency: str | None) -> str:
    """The id of the plan billing ``plan_id``'s price in ``currency`` (None: its own)."""
    plan = Plan._api_retrieve(plan_id)
    if currency is None:
        return plan_id
    price = _price_of(plan)
    if isinstance(price, Price):
        return str(price._in(currency).id)
    if plan.currency != currency.lower():
        raise UserError(400, f"The plan {plan_id} has no amount in {currency}")
    return plan_id


def _price_with_lookup_key(lookup_key: str) -> Price | None:
    for key, value in store.items():
        if key.startswith("price:") and value.lookup_key == lookup_key:
            return value  # type: ignore[no-any-return]
    return None


def _items_with_plans(items: Any, currency: str | None) -> Any:
    """Stripe's ``items[].price`` → localstripe's ``items[].plan``: the plan that bills the
    price in ``currency`` (None: the price's own currency)."""
    if isinstance(items, list):
        for item in items:
            if isinstance(item, dict) and "price" in item:
                item["plan"] = _plan_in(str(item.pop("price")), currency)
    return items


# Subscription items show their price, and their period (where Stripe puts it today).
SubscriptionItem.price = property(lambda self: self.plan)
# A subscription is billed in one currency: the one its items' plans bill in.
Subscription.currency = property(lambda self: self.items._list[0].plan.currency)
SubscriptionItem.current_period_start = property(lambda self: self._current_period()["start"])
SubscriptionItem.current_period_end = property(lambda self: self._current_period()["end"])

_subscription_create = Subscription._api_create.__func__
_subscription_update = Subscription._api_update.__func__
# Parameters the product sends that localstripe does not model; their effect is the default.
_IGNORED_ON_UPDATE = ("proration_behavior", "payment_behavior")
_IGNORED_ON_CREATE = ("default_payment_method", "automatic_tax")


def _create_subscription(cls: Any, /, currency: Any = None, **data: Any) -> Any:
    """Stripe's ``currency`` (each price must have an amount in it); without it, the
    currency of the prices."""
    for key in _IGNORED_ON_CREATE:
        data.pop(key, None)
    wanted = None if currency is None else _currency(currency, "currency")
    data["items"] = _items_with_plans(data.get("items"), wanted)
    return _subscription_create(cls, **data)


def _half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded to the nearest integer, halves away from zero."""
    sign = -1 if numerator < 0 else 1
    return sign * ((2 * abs(numerator) + denominator) // (2 * denominator))


def _prorations(
    subscription: Any, old_plan: Any, old_quantity: int, plan_id: str, quantity: int, at: int
) -> list[Any]:
    """Stripe's prorations for moving the subscription's item from ``old_plan`` x
    ``old_quantity`` to ``plan_id`` x ``quantity`` at ``at``, calculated to the second as
    Stripe documents them: a credit for the unused time of what was billed, and a charge for
    the same time at the new price and quantity (none when the billing interval changes:
    Stripe then starts a new period and bills it whole). Created as pending invoice items:
    they go on the next invoice."""
    new_plan = Plan._api_retrieve(plan_id)
    start, end = int(subscription.current_period_start), int(subscription.current_period_end)
    length = end - start
    remaining = min(max(end - at, 0), length)
    if length <= 0 or remaining == 0:
        return []
    at = end - remaining
    common = {
        "proration": True,
        "subscription": subscription.id,
        "customer": subscription.customer,
        "period_start": at,
        "period_end": end,
    }
    lines = [
        resources.InvoiceItem(
            amount=-_half_up(old_plan.amount * old_quantity * remaining, length),
            currency=old_plan.currency,
            description=f"Unused time on {old_quantity} x {_price_of(old_plan).id}",
            plan=old_plan.id,
            **common,
        )
    ]
    if (new_plan.interval, new_plan.interval_count) == (old_plan.interval, old_plan.interval_count):
        lines.append(
            resources.InvoiceItem(
                amount=_half_up(new_plan.amount * quantity * remaining, length),
                currency=new_plan.currency,
                description=f"Remaining time on {quantity} x {_price_of(new_plan).id}",
                plan=new_plan.id,
                **common,
            )
        )
    return lines


def _update_subscription(cls: Any, id: str, /, **data: Any) -> Any:
    behavior = data.get("proration_behavior", "create_prorations")
    for key in _IGNORED_ON_UPDATE:
        data.pop(key, None)
    before = None
    if "items" in data:
        current = Subscription._api_retrieve(id).items._list[0]
        data["items"] = _items_with_plans(data["items"], current.plan.currency)
        before = (current.plan, current.quantity, int(time.time()))
    known = set(store.keys())
    subscription = _subscription_update(cls, id, **data)
    if before is not None:
        now = subscription.items._list[0]
        if (now.plan.id, now.quantity) != (before[0].id, before[1]):
            # localstripe credits the whole of every paid invoice instead: its items go, and
            # Stripe's prorations take their place (none with proration_behavior=none).
            for key in set(store.keys()) - known:
                if key.startswith("invoiceitem:") and store[key].proration:
                    del store[key]
            if behavior != "none":
                _prorations(
                    subscription, before[0], before[1], now.plan.id, now.quantity, before[2]
                )
    schedule_webhook(Event("customer.subscription.updated", subscription))
    return subscription


Subscription._api_create = classmethod(_create_subscription)
Subscription._api_update = classmethod(_update_subscription)

# Stripe sends invoice.paid along with invoice.payment_succeeded.
_invoice_paid = Invoice._on_payment_success


def _on_payment_success(self: Any) -> None:
    subscription = Subscription._api_retrieve(self.subscription) if self.subscription else None
    before = subscription.status if subscription is not None else None
    _invoice_paid(self)
    schedule_webhook(Event("invoice.paid", self))
    if subscription is not None and subscription.status != before:
        schedule_webhook(Event("customer.subscription.updated", subscription))


Invoice._on_payment_success = _on_payment_success

# localstripe sends no invoice.payment_failed when a card charge for an invoice is declined.
_pay_invoice = Invoice._api_pay_invoice.__func__


def _pay_invoice_reporting_failure(cls: Any, id: str, /) -> Any:
    invoice = _pay_invoice(cls, id)
    if invoice.status == "open":
        schedule_webhook(Event("invoice.payment_failed", invoice))
    return invoice


Invoice._api_pay_invoice = classmethod(_pay_invoice_reporting_failure)
Invoice.hosted_invoice_url = property(lambda self: f"{BASE_URL['value']}/invoice/{self.id}")
Invoice.invoice_pdf = property(lambda self: f"{BASE_URL['value']}/invoice/{self.id}/pdf")
Invoice.number = property(lambda self: self.id.upper().replace("IN_", "RAP-")[:16])


class CheckoutSession(StripeObject):  # type: ignore[misc]
    """A Checkout Session in subscription mode: completed on its page, not by the API."""

    object = "checkout.session"
    _id_prefix = "cs_test_"

    def __init__(
        self,
        mode: Any = None,
        customer: Any = None,
        line_items: Any = None,
        success_url: Any = None,
        cancel_url: Any = None,
        client_reference_id: Any = None,
        metadata: Any = None,
        subscription_data: Any = None,
        automatic_tax: Any = None,
        customer_update: Any = None,
        tax_id_collection: Any = None,
        locale: Any = None,
        currency: Any = None,
        **kwargs: Any,
    ) -> None:
        if kwargs:
            raise UserError(400, "Unexpected " + ", ".join(kwargs.keys()))
        if mode != "subscription":
            raise UserError(400, "Only mode=subscription is supported")
        if not isinstance(customer, str):
            raise UserError(400, "A customer is required")
        Customer._api_retrieve(customer)
        if not isinstance(line_items, list) or len(line_items) != 1:
            raise UserError(400, "Exactly one line item is supported")
        item = line_items[0]
        price = Price._api_retrieve(str(item.get("price")))
        # Stripe's ``currency``: each price must have an amount in it; else the price's own.
        billed = price._in(price.currency if currency is None else _currency(currency, "currency"))
        quantity = resources.try_convert_to_int(item.get("quantity", 1))
        if not isinstance(quantity, int) or quantity < 1:
            raise UserError(400, "Bad quantity")
        if not isinstance(success_url, str) or not isinstance(cancel_url, str):
            raise UserError(400, "success_url and cancel_url are required")
        super().__init__()
        self.mode = mode
        self.customer = customer
        self.success_url = success_url
        self.cancel_url = cancel_url
        self.client_reference_id = client_reference_id
        self.metadata = metadata or {}
        self.currency = billed.currency
        self.amount_total = billed.amount * quantity
        self.status = "open"
        self.payment_status = "unpaid"
        self.subscription = None
        self.url = f"{BASE_URL['value']}/checkout/{self.id}"
        self.expires_at = int(time.time()) + 24 * 3600
        self._price = price.id
        self._quantity = quantity
        self._subscription_metadata = (subscription_data or {}).get("metadata") or {}
        enabled = (automatic_tax or {}).get("enabled") if isinstance(automatic_tax, dict) else None
        self.automatic_tax = {
            "enabled": str(enabled).lower() == "true",
            "liability": None,
            "status": None,
        }

    def _complete(self, card_number: str) -> None:
        if self.status != "open":
            raise UserError(400, "This Checkout Session is no longer open")
        method = PaymentMethod(
            type="card",
            card={"number": card_number, "exp_month": "12", "exp_year": "2040", "cvc": "123"},
        )
        PaymentMethod._api_attach(method.id, customer=self.customer)
        customer = Customer._api_retrieve(self.customer)
        customer.invoice_settings["default_payment_method"] = method.id
        subscription = Subscription._api_create(
            customer=self.customer,
            currency=self.currency,
            items=[{"price": self._price, "quantity": self._quantity}],
            metadata=self._subscription_metadata,
            payment_behavior="error_if_incomplete",
        )
        self.subscription = subscription.id
        self.status = "complete"
        self.payment_status = "paid"
        schedule_webhook(Event("checkout.session.completed", self))

    def _expire(self) -> None:
        """Stripe's ``POST /v1/checkout/sessions/{id}/expire``: only an open session."""
        if self.status != "open":
            raise UserError(400, "Only Checkout Sessions with a status of open can be expired")
        self.status = "expired"
        self.url = None  # type: ignore[assignment]
        schedule_webhook(Event("checkout.session.expired", self))


_PAGE = """<!doctype html><html><head><meta name="viewport" content="width=device-width">
<title>Checkout (local Stripe)</title></head><body style="font-family:sans-serif;max-width:30em;
margin:2em auto;padding:0 1em"><h1>Checkout</h1><p>{amount} {currency}</p>
<form method="post"><label>Card number <input name="card" value="4242424242424242"
inputmode="numeric" style="font-size:1.2em;width:100%"></label>
<p><button type="submit" data-testid="checkout-pay" style="font-size:1.2em;padding:.5em 1em">
Pay and subscribe</button> <a href="{cancel}">Cancel</a></p></form></body></html>"""


async def checkout_page(request: web.Request) -> web.Response:
    session = CheckoutSession._api_retrieve(request.match_info["id"])
    body = _PAGE.format(
        amount=session.amount_total / 100,
        currency=html.escape(session.currency.upper()),
        cancel=html.escape(session.cancel_url),
    )
    return web.Response(text=body, content_type="text/html")


async def checkout_pay(request: web.Request) -> web.Response:
    session = CheckoutSession._api_retrieve(request.match_info["id"])
    form = await request.post()
    session._complete(str(form.get("card") or "4242424242424242"))
    target = session.success_url.replace("{CHECKOUT_SESSION_ID}", session.id)
    raise web.HTTPSeeOther(target)


async def expire_checkout(request: web.Request) -> web.Response:
    session = CheckoutSession._api_retrieve(request.match_info["id"])
    session._expire()
    return server.json_response(session._export())  # type: ignore[no-any-return]


async def invoice_page(request: web.Request) -> web.Response:
    invoice = Invoice._api_retrieve(request.match_info["id"])
    text = f"Invoice {invoice.number}: {invoice.total / 100:.2f} {invoice.currency.upper()}"
    return web.Response(text=f"{text} ({invoice.status})\n")


async def renew_subscription(request: web.Request) -> web.Response:
    """Stripe's test clocks, reduced to one step: the subscription's next period is invoiced
    and charged to the default payment method now (a failed charge makes it past due). A
    subscription set to cancel at the period's end ends instead; a schedule's next phase takes
    effect first."""
    subscription = Subscription._api_retrieve(request.match_info["id"])
    before = subscription.status
    if subscription.cancel_at_period_end:
        return server.json_response(  # type: ignore[no-any-return]
            Subscription._api_delete(subscription.id)._export()
        )
    schedule_id = getattr(subscription, "schedule", None)
    if schedule_id:
        SubscriptionSchedule._api_retrieve(schedule_id)._advance(subscription)
        before = None  # the items changed: always report the update
    subscription._create_invoice()
    if subscription.status != before:
        schedule_webhook(Event("customer.subscription.updated", subscription))
    return server.json_response(subscription._export())  # type: ignore[no-any-return]


async def set_card(request: web.Request) -> web.Response:
    """What the customer does in Stripe's portal: another card becomes the default."""
    customer = Customer._api_retrieve(request.match_info["id"])
    form = await request.post()
    method = PaymentMethod(
        type="card",
        card={"number": str(form.get("card")), "exp_month": "12", "exp_year": "2040", "cvc": "123"},
    )
    PaymentMethod._api_attach(method.id, customer=customer.id)
    customer.invoice_settings["default_payment_method"] = method.id
    return server.json_response(method._export())  # type: ignore[no-any-return]


def _plan_of(item: dict[str, Any], subscription: Any) -> str:
    """The plan (price) id an item of a change names: its price, else the subscription item
    it updates keeps its own."""
    price = item.get("price") or item.get("plan")
    if isinstance(price, str):
        return price
    if subscription is not None:
        for current in subscription.items._list:
            if current.id == item.get("id") or len(subscription.items._list) == 1:
                return str(current.plan.id)
    raise UserError(400, "Each item needs a price")


def _preview_currency(currency: Any, subscription: Any) -> str | None:
    """The currency a preview is priced in: Stripe's ``currency``, else the subscription's;
    a subscription's preview cannot be in another currency than the subscription."""
    if currency is None:
        return None if subscription is None else str(subscription.currency)
    wanted = _currency(currency, "currency")
    if subscription is not None and wanted != subscription.currency:
        raise UserError(400, f"currency: the subscription is billed in {subscription.currency}")
    return wanted


async def create_preview(request: web.Request) -> web.Response:
    """Stripe's ``POST /v1/invoices/create_preview``: the next invoice if the subscription
    changed as described, leaving nothing behind. A change of its item is prorated as Stripe
    documents it (to the second, at ``subscription_details.proration_date`` or now): with
    ``create_prorations`` the next invoice holds the prorations and the next period at the new
    price and quantity; with ``none`` only the next period; with ``always_invoice`` only the
    prorations, which Stripe would invoice at once."""
    data = await server.get_post_data(request) or {}
    customer = data.get("customer")
    subscription_id = data.get("subscription")
    details = data.get("subscription_details") or {}
    if not isinstance(details, dict):
        raise UserError(400, "Bad subscription_details")
    subscription = Subscription._api_retrieve(subscription_id) if subscription_id else None
    if subscription is not None and customer is None:
        customer = subscription.customer
    currency = _preview_currency(data.get("currency"), subscription)
    items = details.get("items")
    change = None
    if items is not None:
        if subscription is None:
            raise UserError(400, "A change needs the subscription it changes")
        if not isinstance(items, list) or len(items) != 1 or not isinstance(items[0], dict):
            raise UserError(400, "Exactly one item is supported")
        quantity = resources.try_convert_to_int(items[0].get("quantity", 1))
        if not isinstance(quantity, int) or quantity < 1:
            raise UserError(400, "Bad quantity")
        change = (_plan_in(_plan_of(items[0], subscription), currency), quantity)
    behavior = details.get("proration_behavior", "create_prorations")
    if behavior not in ("create_prorations", "none", "always_invoice"):
        raise UserError(400, "Bad proration_behavior")
    at = resources.try_convert_to_int(details.get("proration_date", int(time.time())))
    if not isinstance(at, int):
        raise UserError(400, "Bad proration_date")
    before = set(store.keys())
    try:
        if subscription is None:
            invoice = Invoice._get_next_invoice(customer=customer, upcoming=True)
        else:
            current = subscription.items._list[0]
            # Unchanged, the next period as it is; built here as a simulation, because
            # localstripe's own upcoming invoice marks the pending items as invoiced.
            change = change or (current.plan.id, current.quantity)
            if behavior != "none" and (current.plan.id, current.quantity) != change:
                _prorations(subscription, current.plan, current.quantity, *change, at)
            next_period = (
                []
                if behavior == "always_invoice"
                else [
                    SubscriptionItem(
                        subscription=subscription_id,
                        plan=change[0],
                        quantity=change[1],
                        tax_rates=[],
                    )
                ]
            )
            invoice = Invoice(
                customer=customer,
                subscription=subscription_id,
                items=next_period,
                date=int(subscription.current_period_end),
                simulation=True,
                upcoming=True,
            )
        exported = invoice._export()
    finally:
        for key in set(store.keys()) - before:
            del store[key]
    exported["id"] = f"upcoming_{invoice.id}"
    exported["subscription"] = subscription_id
    if subscription is not None:
        exported["period_end"] = subscription.current_period_end
        exported["next_payment_attempt"] = subscription.current_period_end
    return server.json_response(exported)  # type: ignore[no-any-return]


class SubscriptionSchedule(StripeObject):  # type: ignore[misc]
    """A subscription's planned changes, in phases (Stripe's Subscription Schedules). Only
    schedules made ``from_subscription`` are supported, as the product makes them."""

    object = "subscription_schedule"
    _id_prefix = "sub_sched_"

    def __init__(self, from_subscription: Any = None, **kwargs: Any) -> None:
        if kwargs:
            raise UserError(400, "Unexpected " + ", ".join(kwargs.keys()))
        if not isinstance(from_subscription, str):
            raise UserError(400, "Only schedules from_subscription are supported")
        subscription = Subscription._api_retrieve(from_subscription)
        if getattr(subscription, "schedule", None):
            raise UserError(400, "The subscription is already attached to a schedule")
        if subscription.cancel_at_period_end:
            raise UserError(400, "The subscription is set to cancel at the period's end")
        super().__init__()
        item = subscription.items._list[0]
        self.subscription = subscription.id
        self.customer = subscription.customer
        self.status = "active"
        self.end_behavior = "release"
        self.released_at: int | None = None
        self.released_subscription: str | None = None
        self.metadata: dict[str, Any] = {}
        self.phases = [
            {
                "start_date": subscription.current_period_start,
                "end_date": subscription.current_period_end,
                "items": [{"price": _price_of(item.plan).id, "quantity": item.quantity}],
                "currency": subscription.currency,
                "proration_behavior": "create_prorations",
            }
        ]
        subscription.schedule = self.id

    def _update(self, **data: Any) -> None:
        if self.status != "active":
            raise UserError(400, "This schedule is no longer active")
        phases = data.pop("phases", None)
        end_behavior = data.pop("end_behavior", None)
        metadata = data.pop("metadata", None)
        proration = data.pop("proration_behavior", None)
        if data:
            raise UserError(400, "Unexpected " + ", ".join(data.keys()))
        if proration not in (None, "create_prorations", "none", "always_invoice"):
            raise UserError(400, "Bad proration_behavior")
        if end_behavior is not None:
            if end_behavior not in ("release", "cancel"):
                raise UserError(400, "Bad end_behavior")
            self.end_behavior = end_behavior
        if isinstance(metadata, dict):
            self.metadata.update(metadata)
        if phases is not None:
            self.phases = [self._phase(phase, index) for index, phase in enumerate(phases)]

    def _phase(self, phase: Any, index: int) -> dict[str, Any]:
        if not isinstance(phase, dict) or not isinstance(phase.get("items"), list):
            raise UserError(400, f"phases[{index}]: items are required")
        # A schedule's phases bill in the currency of its subscription.
        currency = Subscription._api_retrieve(self.subscription).currency
        items = []
        for item in phase["items"]:
            price = item.get("price") if isinstance(item, dict) else None
            if not isinstance(price, str):
                raise UserError(400, f"phases[{index}]: each item needs a price")
            _plan_in(price, currency)
            quantity = resources.try_convert_to_int(item.get("quantity", 1))
            if not isinstance(quantity, int) or quantity < 1:
                raise UserError(400, f"phases[{index}]: bad quantity")
            items.append({"price": price, "quantity": quantity})
        previous_end = self.phases[index - 1]["end_date"] if 0 < index <= len(self.phases) else None
        start = resources.try_convert_to_int(phase.get("start_date", previous_end))
        end = resources.try_convert_to_int(phase.get("end_date"))
        iterations = resources.try_convert_to_int(phase.get("iterations"))
        if not isinstance(start, int) and index == 0:
            start = self.phases[0]["start_date"]
        return {
            "start_date": start,
            "end_date": end,
            "iterations": iterations,
            "items": items,
            "currency": currency,
            "proration_behavior": phase.get("proration_behavior", "create_prorations"),
        }

    def _advance(self, subscription: Any) -> None:
        """The period ended: the next phase's items take over (without prorations, the old
        period was paid in full); after the last phase the schedule lets the subscription go."""
        if self.status != "active" or len(self.phases) < 2:
            return
        self.phases = self.phases[1:]
        item = self.phases[0]["items"][0]
        current = subscription.items._list[0]
        plan = _plan_in(item["price"], current.plan.currency)
        subscription.items = resources.List(
            "/v1/subscription_items?subscription=" + subscription.id
        )
        subscription.items._list.append(
            SubscriptionItem(
                subscription=subscription.id,
                plan=plan,
                quantity=item["quantity"],
                metadata=current.metadata,
                tax_rates=[],
            )
        )
        subscription.quantity = item["quantity"]
        if len(self.phases) == 1:
            self._release()

    def _release(self) -> None:
        subscription = Subscription._api_retrieve(self.subscription)
        subscription.schedule = None
        self.status = "released"
        self.released_at = int(time.time())
        self.released_subscription = subscription.id


async def release_schedule(request: web.Request) -> web.Response:
    schedule = SubscriptionSchedule._api_retrieve(request.match_info["id"])
    if schedule.status != "active":
        raise UserError(400, "This schedule is no longer active")
    schedule._release()
    schedule_webhook(Event("subscription_schedule.released", schedule))
    return server.json_response(schedule._export())  # type: ignore[no-any-return]


# Every subscription says which schedule manages it (None: none).
Subscription.schedule = None

_OVERRIDES = {("POST", "/v1/invoices/create_preview"): create_preview}


@web.middleware
async def override_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Routes localstripe registers at import time that the stand-in answers itself."""
    own = _OVERRIDES.get((request.method, request.path))
    return await (own or handler)(request)


class BillingPortalSession(StripeObject):  # type: ignore[misc]
    """A customer portal session: a short-lived link to the stand-in's portal page."""

    object = "billing_portal.session"
    _id_prefix = "bps_"

    def __init__(
        self,
        customer: Any = None,
        return_url: Any = None,
        configuration: Any = None,
        locale: Any = None,
        **kwargs: Any,
    ) -> None:
        if kwargs:
            raise UserError(400, "Unexpected " + ", ".join(kwargs.keys()))
        if not isinstance(customer, str):
            raise UserError(400, "A customer is required")
        Customer._api_retrieve(customer)
        if return_url is not None and not isinstance(return_url, str):
            raise UserError(400, "Bad return_url")
        super().__init__()
        self.customer = customer
        self.return_url = return_url
        self.configuration = configuration or "bpc_local"
        self.locale = locale
        self.on_behalf_of = None
        self.flow = None
        self.url = f"{BASE_URL['value']}/portal/{self.id}"


_PORTAL = """<!doctype html><html><head><meta name="viewport" content="width=device-width">
<title>Billing (local Stripe)</title></head><body style="font-family:sans-serif;max-width:30em;
margin:2em auto;padding:0 1em"><h1>{name}</h1><p>{email}</p>
<h2>Payment method</h2><p data-testid="portal-card">{card}</p>
<form method="post" action="/portal/{id}/card"><label>Card number <input name="card"
value="4242424242424242" inputmode="numeric"></label> <button type="submit">Update card</button>
</form><h2>Billing address</h2><p data-testid="portal-address">{address}</p>
<form method="post" action="/portal/{id}/address">
<label>Address <input name="line1"></label><br><label>City <input name="city"></label><br>
<label>Postal code <input name="postal_code"></label><br>
<label>Country <input name="country" maxlength="2"></label><br>
<button type="submit">Save address</button></form>
<h2>Tax IDs</h2><ul data-testid="portal-tax-ids">{tax_ids}</ul>
<form method="post" action="/portal/{id}/tax_id"><label>Type <select name="type">
<option>eu_vat</option><option>au_abn</option><option>nz_gst</option><option>es_cif</option>
</select></label> <label>Number <input name="value"></label>
<button type="submit">Add tax ID</button></form>
<p><a href="{back}" data-testid="portal-return">Return</a></p></body></html>"""


def _portal_customer(request: web.Request) -> tuple[Any, Any]:
    session = BillingPortalSession._api_retrieve(request.match_info["id"])
    return session, Customer._api_retrieve(session.customer)


async def portal_page(request: web.Request) -> web.Response:
    session, customer = _portal_customer(request)
    method_id = customer.invoice_settings.get("default_payment_method")
    card = "No card"
    if method_id:
        method = PaymentMethod._api_retrieve(method_id)
        card = f"{method.card['brand']} ending {method.card['last4']}"
    address = ", ".join(str(value) for value in (customer.address or {}).values() if value)
    tax_ids = "".join(
        f"<li>{html.escape(tax.type)} {html.escape(tax.value)}</li>"
        for tax in customer.tax_ids._list
    )
    body = _PORTAL.format(
        id=html.escape(session.id),
        name=html.escape(customer.name or ""),
        email=html.escape(customer.email or ""),
        card=html.escape(card),
        address=html.escape(address or "No address"),
        tax_ids=tax_ids,
        back=html.escape(session.return_url or "/"),
    )
    return web.Response(text=body, content_type="text/html")


async def portal_card(request: web.Request) -> web.Response:
    session, customer = _portal_customer(request)
    form = await request.post()
    method = PaymentMethod(
        type="card",
        card={"number": str(form.get("card")), "exp_month": "12", "exp_year": "2040", "cvc": "123"},
    )
    PaymentMethod._api_attach(method.id, customer=customer.id)
    Customer._api_update(customer.id, invoice_settings={"default_payment_method": method.id})
    raise web.HTTPSeeOther(f"/portal/{session.id}")


async def portal_address(request: web.Request) -> web.Response:
    session, customer = _portal_customer(request)
    form = await request.post()
    address = {
        key: str(form.get(key) or "")
        for key in ("line1", "city", "postal_code", "country")
        if form.get(key)
    }
    Customer._api_update(customer.id, address=address)
    raise web.HTTPSeeOther(f"/portal/{session.id}")


async def portal_tax_id(request: web.Request) -> web.Response:
    session, customer = _portal_customer(request)
    form = await request.post()
    Customer._api_add_tax_id(customer.id, type=form.get("type"), value=form.get("value"))
    schedule_webhook(Event("customer.updated", customer))
    raise web.HTTPSeeOther(f"/portal/{session.id}")


_IDEMPOTENT: dict[str, tuple[int, bytes]] = {}


@web.middleware
async def idempotency_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    key = request.headers.get("Idempotency-Key")
    if request.method != "POST" or not key:
        return await handler(request)  # type: ignore[no-any-return]
    remembered = _IDEMPOTENT.get(key)
    if remembered is not None:
        status, body = remembered
        return web.Response(status=status, body=body, content_type="application/json")
    response = await handler(request)
    if isinstance(response, web.Response) and response.body is not None:
        _IDEMPOTENT[key] = (response.status, bytes(response.body))  # type: ignore[arg-type]
    return response  # type: ignore[no-any-return]


async def forget_idempotency_keys(request: web.Request) -> web.Response:
    """Tests whose database rolls back start over: keys used before are forgotten."""
    _IDEMPOTENT.clear()
    return web.Response()


_PUBLIC_PREFIXES = ("/checkout/", "/invoice/", "/portal/")


@web.middleware
async def auth_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """The pages a customer's browser opens need no API key."""
    if request.path.startswith(_PUBLIC_PREFIXES):
        return await handler(request)  # type: ignore[no-any-return]
    return await server.auth_middleware(request, handler)  # type: ignore[no-any-return]


def build_app() -> web.Application:
    app: web.Application = server.app
    middlewares = app.middlewares
    middlewares[middlewares.index(server.auth_middleware)] = auth_middleware
    middlewares.append(idempotency_middleware)
    middlewares.append(override_middleware)
    app.router.add_route("POST", "/v1/checkout/sessions", server.api_create(CheckoutSession, ""))
    app.router.add_route(
        "GET", "/v1/checkout/sessions/{id}", server.api_retrieve(CheckoutSession, "")
    )
    app.router.add_post("/v1/checkout/sessions/{id}/expire", expire_checkout)
    for method, url, make in (
        ("POST", "/v1/prices", server.api_create),
        ("GET", "/v1/prices/{id}", server.api_retrieve),
        ("POST", "/v1/prices/{id}", server.api_update),
        ("GET", "/v1/prices", server.api_list_all),
    ):
        app.router.add_route(method, url, make(Price, url))
    for method, url, make in (
        ("POST", "/v1/subscription_schedules", server.api_create),
        ("GET", "/v1/subscription_schedules/{id}", server.api_retrieve),
        ("POST", "/v1/subscription_schedules/{id}", server.api_update),
    ):
        app.router.add_route(method, url, make(SubscriptionSchedule, url))
    app.router.add_post("/v1/subscription_schedules/{id}/release", release_schedule)
    app.router.add_route(
        "POST", "/v1/billing_portal/sessions", server.api_create(BillingPortalSession, "")
    )
    app.router.add_get("/portal/{id}", portal_page)
    app.router.add_post("/portal/{id}/card", portal_card)
    app.router.add_post("/portal/{id}/address", portal_address)
    app.router.add_post("/portal/{id}/tax_id", portal_tax_id)
    app.router.add_delete("/_config/idempotency", forget_idempotency_keys)
    app.router.add_post("/_config/subscriptions/{id}/renew", renew_subscription)
    app.router.add_post("/_config/customers/{id}/card", set_card)
    app.router.add_get("/checkout/{id}", checkout_page)
    app.router.add_post("/checkout/{id}", checkout_pay)
    app.router.add_get("/invoice/{id}", invoice_page)
    app.router.add_get("/invoice/{id}/pdf", invoice_page)
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8420)
    parser.add_argument("--webhook-url", default="")
    parser.add_argument("--webhook-secret", default="")
    args = parser.parse_args()
    BASE_URL["value"] = f"http://{args.host}:{args.port}"
    if args.webhook_url and args.webhook_secret:
        register_webhook("rapport", args.webhook_url, args.webhook_secret, None)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    web.run_app(build_app(), sock=sock, print=None, access_log=None)


if __name__ == "__main__":
    main()
