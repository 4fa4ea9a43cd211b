"""The one module that imports the Stripe SDK (D12)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import stripe
from django.conf import settings

# Stripe's own default: a signature older than this is refused as a replay.
SIGNATURE_TOLERANCE_SECONDS = 300


class InvalidWebhook(Exception):
    """Forged, stale or malformed: answered 400 and nothing changes."""


def webhook_event(*, payload: bytes, signature: str) -> dict[str, Any]:
    """The event, once its signature over the raw body is verified with the endpoint secret."""
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        raise InvalidWebhook("No webhook secret is configured")
    try:
        stripe.WebhookSignature.verify_header(
            payload.decode("utf-8"), signature, secret, tolerance=SIGNATURE_TOLERANCE_SECONDS
        )
        event = json.loads(payload)
    except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError) as error:
        raise InvalidWebhook(str(error)) from error
    if not isinstance(event, dict) or not all(
        isinstance(event.get(key), str) for key in ("id", "type")
    ):
        raise InvalidWebhook("Not an event")
    data = event.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise InvalidWebhook("An event without an object")
    if not isinstance(event.get("created"), int):
        raise InvalidWebhook("An event without a creation time")
    return event


class StripeUnavailable(Exception):
    """Stripe refused the request or did not answer: nothing was changed on our side."""


class StripeNotFound(StripeUnavailable):
    """Stripe knows no such object."""


Obj = dict[str, Any]


def _client() -> stripe.StripeClient:
    base = settings.STRIPE_API_BASE
    return stripe.StripeClient(
        str(settings.STRIPE_SECRET_KEY),
        base_addresses={"api": base} if base else None,
        http_client=stripe.RequestsClient(timeout=settings.STRIPE_TIMEOUT_SECONDS),
        max_network_retries=2,
    )


def _dict(obj: Any) -> Obj:
    return dict(obj.to_dict())


def _options(idempotency_key: str) -> Any:
    return {"idempotency_key": idempotency_key}


@contextmanager
def _calling(what: str) -> Iterator[None]:
    """Stripe's errors become ours, with the message Stripe gave."""
    try:
        yield
    except stripe.InvalidRequestError as error:
        if error.http_status == 404:
            raise StripeNotFound(f"{what}: {error.user_message or error}") from error
        raise StripeUnavailable(f"{what}: {error.user_message or error}") from error
    except stripe.StripeError as error:
        raise StripeUnavailable(f"{what}: {error.user_message or error}") from error


# Plans → Products and Prices


def product_ensure(*, product_id: str, name: str, metadata: dict[str, str]) -> bool:
    """The Product ``product_id`` exists with ``name``. True when it was created now."""
    client = _client()
    try:
        with _calling("product"):
            product = _dict(client.v1.products.retrieve(product_id))
    except StripeNotFound:
        with _calling("product"):
            client.v1.products.create(
                {"id": product_id, "name": name, "metadata": metadata},
                _options(f"product-{product_id}"),
            )
        return True
    if product.get("name") != name:
        with _calling("product"):
            client.v1.products.update(product_id, {"name": name})
    return False


def price_find(lookup_key: str) -> Obj | None:
    """The active Price under ``lookup_key`` with its ``currency_options``, or None."""
    with _calling("price"):
        found = _client().v1.prices.list(
            {"lookup_keys": [lookup_key], "active": True, "expand": ["data.currency_options"]}
        )
    return _dict(found.data[0]) if found.data else None


def price_currencies(price: Obj) -> frozenset[str]:
    """The currencies (lowercase codes) a Price found by ``price_find`` has an amount in."""
    return frozenset(_amounts(price))


def _amounts(price: Obj) -> dict[str, int | None]:
    """A Price's unit amount in each of its currencies (lowercase codes)."""
    options = price.get("currency_options") or {}
    amounts = {str(code): option.get("unit_amount") for code, option in options.items()}
    amounts[str(price.get("currency", ""))] = price.get("unit_amount")
    return amounts


def price_ensure(
    *,
    lookup_key: str,
    product_id: str,
    unit_amounts: dict[str, int],
    default_currency: str,
    interval: str,
    metadata: dict[str, str],
) -> str:
    """An active Price under ``lookup_key`` billing ``unit_amounts`` (by currency code): its
    ``currency`` is ``default_currency``, the others its ``currency_options``. Answers 'kept',
    'created', or 'replaced' (Stripe's prices are immutable: a new one takes the lookup key,
    the old one is archived)."""
    amounts = {code.lower(): amount for code, amount in unit_amounts.items()}
    default = default_currency.lower()
    existing = price_find(lookup_key)
    if existing is not None and (
        existing.get("currency") == default
        and _amounts(existing) == amounts
        and (existing.get("recurring") or {}).get("interval") == interval
        and existing.get("product") == product_id
    ):
        return "kept"
    params: Any = {
        "product": product_id,
        "currency": default,
        "unit_amount": amounts[default],
        "currency_options": {
            code: {"unit_amount": amount} for code, amount in amounts.items() if code != default
        },
        "recurring": {"interval": interval},
        "lookup_key": lookup_key,
        "metadata": metadata,
    }
    if existing is not None:
        params["transfer_lookup_key"] = True
    figures = "-".join(f"{code}{amount}" for code, amount in sorted(amounts.items()))
    key = f"price-{lookup_key}-{figures}-{existing['id'] if existing else 'new'}"
    client = _client()
    with _calling("price"):
        client.v1.prices.create(params, _options(key))
    if existing is None:
        return "created"
    with _calling("price"):
        client.v1.prices.update(existing["id"], {"active": False})
    return "replaced"


def price_archive(lookup_key: str) -> bool:
    """The active Price under ``lookup_key`` archived: sold no more, while the subscriptions
    on it go on. True when there was one."""
    existing = price_find(lookup_key)
    if existing is None:
        return False
    with _calling("price"):
        _client().v1.prices.update(existing["id"], {"active": False})
    return True


# Customers, Checkout and subscriptions


def customer_create(*, name: str, email: str, tenant_id: int) -> str:
    with _calling("customer"):
        customer = _client().v1.customers.create(
            {"name": name, "email": email, "metadata": {"tenant_id": str(tenant_id)}},
            _options(f"customer-{tenant_id}"),
        )
    return str(customer.id)


def checkout_session_create(
    *,
    customer: str,
    price: str,
    currency: str,
    quantity: int,
    success_url: str,
    cancel_url: str,
    tenant_id: int,
    idempotency_key: str,
) -> Obj:
    params: Any = {
        "mode": "subscription",
        "customer": customer,
        # The Price's amount in this currency (its currency_options) is what is billed.
        "currency": currency.lower(),
        "line_items": [{"price": price, "quantity": quantity}],
        "success_url": success_url,
        "cancel_url": cancel_url,
        "client_reference_id": str(tenant_id),
        "metadata": {"tenant_id": str(tenant_id)},
        "subscription_data": {"metadata": {"tenant_id": str(tenant_id)}},
    }
    if settings.STRIPE_AUTOMATIC_TAX:
        params["automatic_tax"] = {"enabled": True}
    with _calling("checkout"):
        session = _client().v1.checkout.sessions.create(params, _options(idempotency_key))
    return _dict(session)


def checkout_session_retrieve(session_id: str) -> Obj:
    with _calling("checkout"):
        return _dict(_client().v1.checkout.sessions.retrieve(session_id))


def subscription_retrieve(subscription_id: str) -> Obj:
    with _calling("subscription"):
        return _dict(_client().v1.subscriptions.retrieve(subscription_id))


def subscriptions_of_customer(*, customer: str) -> list[Obj]:
    """The customer's subscriptions, ended ones included."""
    with _calling("subscriptions"):
        found = _client().v1.subscriptions.list({"customer": customer, "status": "all"})
    return [_dict(subscription) for subscription in found.data]


def subscription_set_quantity(*, subscription_id: str, quantity: int, idempotency_key: str) -> Obj:
    """The subscription's one item billed for ``quantity`` seats, prorated."""
    client = _client()
    with _calling("subscription"):
        subscription = client.v1.subscriptions.retrieve(subscription_id)
        item = subscription["items"]["data"][0]
        updated = client.v1.subscriptions.update(
            subscription_id,
            {
                "items": [{"id": item["id"], "quantity": quantity}],
                "proration_behavior": "create_prorations",
            },
            _options(idempotency_key),
        )
        schedule = _dict(updated).get("schedule")
        if schedule:
            _schedule_follow_quantity(client, str(schedule), quantity, idempotency_key)
    return _dict(updated)


def _schedule_follow_quantity(
    client: stripe.StripeClient, schedule_id: str, quantity: int, idempotency_key: str
) -> None:
    """A plan change waiting for the period's end keeps the seats billed now."""
    schedule = client.v1.subscription_schedules.retrieve(schedule_id)
    phases = []
    for phase in schedule["phases"]:
        entry: Any = {
            "items": [
                {"price": str(item["price"]), "quantity": quantity} for item in phase["items"]
            ],
            "start_date": phase["start_date"],
        }
        if phase.get("end_date"):
            entry["end_date"] = phase["end_date"]
        phases.append(entry)
    if len(phases) > 1:
        phases[-1].pop("end_date", None)
        phases[-1]["proration_behavior"] = "none"
    client.v1.subscription_schedules.update(
        schedule_id,
        {"phases": phases, "end_behavior": "release"},
        _options(f"{idempotency_key}-schedule"),
    )


def subscription_change_price(
    *, subscription_id: str, price: str, quantity: int, idempotency_key: str
) -> Obj:
    """The subscription's one item moved to ``price`` now, the difference prorated."""
    client = _client()
    with _calling("subscription"):
        subscription = client.v1.subscriptions.retrieve(subscription_id)
        item = subscription["items"]["data"][0]
        updated = client.v1.subscriptions.update(
            subscription_id,
            {
                "items": [{"id": item["id"], "price": price, "quantity": quantity}],
                "proration_behavior": "create_prorations",
            },
            _options(idempotency_key),
        )
    return _dict(updated)


def subscription_set_cancel_at_period_end(
    *, subscription_id: str, cancel: bool, idempotency_key: str
) -> Obj:
    """Cancel at the end of the paid period (True), or keep renewing (False)."""
    with _calling("subscription"):
        updated = _client().v1.subscriptions.update(
            subscription_id, {"cancel_at_period_end": cancel}, _options(idempotency_key)
        )
    return _dict(updated)


def subscription_schedule_change(
    *, subscription_id: str, price: str, quantity: int, interval: str, idempotency_key: str
) -> Obj:
    """A Subscription Schedule that keeps the current period as it is and moves the
    subscription to ``price`` when it ends, then lets the subscription go on by itself."""
    client = _client()
    with _calling("subscription schedule"):
        schedule = client.v1.subscription_schedules.create(
            {"from_subscription": subscription_id}, _options(f"{idempotency_key}-create")
        )
        current = schedule["phases"][0]
        updated = client.v1.subscription_schedules.update(
            schedule["id"],
            {
                "end_behavior": "release",
                "phases": [
                    {
                        "start_date": current["start_date"],
                        "end_date": current["end_date"],
                        "items": [
                            {"price": str(item["price"]), "quantity": item["quantity"]}
                            for item in current["items"]
                        ],
                    },
                    {
                        "items": [{"price": price, "quantity": quantity}],
                        "duration": {"interval": interval, "interval_count": 1},
                        "proration_behavior": "none",
                    },
                ],
            },
            _options(f"{idempotency_key}-phases"),
        )
    return _dict(updated)


def subscription_schedule_release(*, schedule_id: str, idempotency_key: str) -> None:
    """The planned change is dropped: the subscription goes on as it is."""
    with _calling("subscription schedule"):
        schedule = _client().v1.subscription_schedules.retrieve(schedule_id)
        if schedule["status"] not in ("active", "not_started"):
            return  # already applied or released
        _client().v1.subscription_schedules.release(schedule_id, options=_options(idempotency_key))


def invoice_preview(
    *,
    customer: str,
    subscription_id: str,
    price: str | None = None,
    quantity: int | None = None,
    prorate: bool = True,
) -> Obj:
    """Stripe's preview of the subscription's next invoice, as it would be after changing its
    item to ``price`` (None: the same) and ``quantity`` (None: unchanged)."""
    params: Any = {"customer": customer, "subscription": subscription_id}
    if price is not None or quantity is not None:
        item: Any = {}
        client = _client()
        with _calling("invoice preview"):
            current = client.v1.subscriptions.retrieve(subscription_id)["items"]["data"][0]
        item["id"] = current["id"]
        item["price"] = price or str(current["price"]["id"])
        item["quantity"] = quantity if quantity is not None else current["quantity"]
        params["subscription_details"] = {
            "items": [item],
            "proration_behavior": "create_prorations" if prorate else "none",
        }
    with _calling("invoice preview"):
        return _dict(_client().v1.invoices.create_preview(params))


def billing_portal_session_create(*, customer: str, return_url: str) -> str:
    """A customer portal session's URL: where the payer changes their payment method,
    billing address and tax IDs at Stripe."""
    with _calling("customer portal"):
        session = _client().v1.billing_portal.sessions.create(
            {"customer": customer, "return_url": return_url, "locale": "auto"},
            # Each visit is a new session; the key makes a retried request one session.
            _options(f"portal-{customer}-{uuid.uuid4()}"),
        )
    return str(session.url)


def customer_retrieve(customer: str) -> Obj:
    """The customer with its tax IDs and default payment method."""
    with _calling("customer"):
        found = _client().v1.customers.retrieve(
            customer, {"expand": ["tax_ids", "invoice_settings.default_payment_method"]}
        )
    return _dict(found)


def invoices_list(*, customer: str, limit: int = 24) -> list[Obj]:
    with _calling("invoices"):
        found = _client().v1.invoices.list({"customer": customer, "limit": limit})
    return [_dict(invoice) for invoice in found.data]
