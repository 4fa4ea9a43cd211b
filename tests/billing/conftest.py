"""Billing tests run against the local Stripe stand-in (localstripe extended by
scripts/localstripe_server.py) through the real Stripe SDK. Its webhook events are read from
its event list and delivered to our endpoint signed as Stripe signs them."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import stripe
from django.conf import settings as django_settings
from django.core.management import call_command
from django.test import Client, TestCase

from tenants.models import Plan, Tenant
from tests.conftest import Workspace

ROOT = Path(__file__).resolve().parents[2]
SECRET_KEY = "sk_test_rapport_local"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LocalStripe:
    base: str
    delivered: set[str] = field(default_factory=set)

    def get(self, path: str, **params: Any) -> Any:
        response = requests.get(
            f"{self.base}{path}",
            params=params,
            headers={"Authorization": f"Bearer {SECRET_KEY}"},
            timeout=10,
        )
        response.raise_for_status()
        return response.json()

    def post_raw(self, path: str, data: dict[str, Any]) -> requests.Response:
        return requests.post(
            f"{self.base}{path}",
            data=data,
            headers={"Authorization": f"Bearer {SECRET_KEY}"},
            timeout=10,
        )

    def post(self, path: str, data: dict[str, Any]) -> Any:
        response = self.post_raw(path, data)
        response.raise_for_status()
        return response.json()

    def events(self) -> list[dict[str, Any]]:
        """Every event so far, oldest first."""
        found: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 100}
            if after:
                params["starting_after"] = after
            page = self.get("/v1/events", **params)
            found.extend(page["data"])
            if not page["has_more"]:
                return found
            after = page["data"][-1]["id"]

    def pending(self, *types: str) -> list[dict[str, Any]]:
        """Events not delivered yet (of ``types``, when given), oldest first."""
        return [
            event
            for event in self.events()
            if event["id"] not in self.delivered and (not types or event["type"] in types)
        ]

    def deliver(self, *types: str) -> list[str]:
        """POST the pending events to our webhook endpoint, signed with its secret."""
        sent = []
        for event in self.pending(*types):
            assert post_event(event) == 200
            self.delivered.add(event["id"])
            sent.append(event["type"])
        return sent

    def pay_checkout(self, url: str, card: str = "4242424242424242") -> str:
        """What the customer does on the Checkout page: the URL Stripe sends them back to."""
        response = requests.post(url, data={"card": card}, allow_redirects=False, timeout=10)
        assert response.status_code == 303, response.text
        return str(response.headers["Location"])


def sign(body: str, *, secret: str | None = None, at: int | None = None) -> str:
    timestamp = at if at is not None else int(time.time())
    signed = stripe.WebhookSignature._compute_signature(
        f"{timestamp}.{body}", str(secret or django_settings.STRIPE_WEBHOOK_SECRET)
    )
    return f"t={timestamp},v1={signed}"


def post_event(event: dict[str, Any]) -> int:
    body = json.dumps(event)
    # Applied by its task after the commit (eager Celery in tests).
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = Client(HTTP_HOST="localhost").post(
            "/stripe/webhook/",
            body,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=sign(body),
        )
    return response.status_code


@pytest.fixture(scope="session")
def local_stripe_server() -> Iterator[str]:
    """The local Stripe stand-in on a free port of 127.0.0.1 for this test run."""
    port = _free_port()
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, str(ROOT / "scripts" / "localstripe_server.py"), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.1)
    else:
        process.kill()
        raise RuntimeError("the local Stripe stand-in did not start")
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def local_stripe(local_stripe_server: str, settings: Any) -> LocalStripe:
    """The product's Stripe calls go to the stand-in; events seen before this test are not
    delivered by it."""
    settings.STRIPE_SECRET_KEY = SECRET_KEY
    settings.STRIPE_API_BASE = local_stripe_server
    stand_in = LocalStripe(base=local_stripe_server)
    # Our database rolls back after each test; the stand-in must not answer this test's
    # requests with responses remembered from an earlier one.
    requests.delete(f"{local_stripe_server}/_config/idempotency", timeout=10).raise_for_status()
    stand_in.delivered = {event["id"] for event in stand_in.events()}
    return stand_in


@pytest.fixture
def synced_plans(local_stripe: LocalStripe) -> LocalStripe:
    call_command("stripe_sync_plans", verbosity=0)
    local_stripe.delivered |= {event["id"] for event in local_stripe.events()}
    return local_stripe


@pytest.fixture
def expired(alpha: Workspace) -> Workspace:
    """Workspace alpha at the end of its trial, with nothing paid: what a subscription starts
    from."""
    Tenant.objects.filter(pk=alpha.tenant.pk).update(
        plan=Plan.TRIAL, seat_limit=10, billing_status=Tenant.BillingStatus.TRIAL_EXPIRED
    )
    alpha.tenant.refresh_from_db()
    return alpha


def subscribe(workspace: Any, stand_in: LocalStripe, **choice: str) -> None:
    """The Owner subscribes through Checkout and comes back: the workspace is paying."""
    from urllib.parse import urlsplit

    from tests.conftest import workspace_client

    client = workspace_client(workspace.owner.user, workspace.tenant)
    data = {"plan": "professional", "interval": "month", "currency": "EUR", **choice}
    response = client.post("/billing/subscribe/", data)
    assert response.status_code == 302, response
    back = urlsplit(stand_in.pay_checkout(response["Location"]))
    assert client.get(f"{back.path}?{back.query}").status_code == 302
    stand_in.deliver()
