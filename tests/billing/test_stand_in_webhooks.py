"""The local Stripe stand-in signs and posts its webhooks as Stripe does: what it sends to
the endpoint it was given (as `make run` configures it) is accepted by our webhook view."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client, TestCase

from billing import stripe_api
from billing.models import StripeEvent
from tests.billing.conftest import ROOT, SECRET_KEY
from tests.ops.conftest import _free_port

Received = list[tuple[bytes, str]]


@pytest.fixture
def receiver() -> Iterator[tuple[str, Received]]:
    received: Received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((body, self.headers["Stripe-Signature"]))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return None

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/stripe/webhook/", received
    server.shutdown()


@pytest.fixture
def stand_in_with_webhook(receiver: tuple[str, Received]) -> Iterator[str]:
    port = _free_port()
    process = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            str(ROOT / "scripts" / "localstripe_server.py"),
            "--port",
            str(port),
            "--webhook-url",
            receiver[0],
            "--webhook-secret",
            str(django_settings.STRIPE_WEBHOOK_SECRET),
        ],
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
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=10)


def test_the_stand_in_s_signed_webhooks_are_accepted(
    db: None, stand_in_with_webhook: str, receiver: tuple[str, Received], settings: Any
) -> None:
    settings.STRIPE_SECRET_KEY = SECRET_KEY
    settings.STRIPE_API_BASE = stand_in_with_webhook
    customer = stripe_api.customer_create(name="Webhook Co", email="w@example.com", tenant_id=1)

    deadline = time.monotonic() + 30  # the stand-in posts a second after the change
    while not receiver[1] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert receiver[1], "the stand-in posted no webhook"
    body, signature = receiver[1][0]

    with TestCase.captureOnCommitCallbacks(execute=True):
        response = Client(HTTP_HOST="localhost").post(
            "/stripe/webhook/",
            body,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=signature,
        )

    assert response.status_code == 200
    stored = StripeEvent.objects.get()
    assert stored.type == "customer.created"
    assert stored.payload["data"]["object"]["id"] == customer
    tampered = body.replace(b"Webhook Co", b"Webhook Xo")
    refused = Client(HTTP_HOST="localhost").post(
        "/stripe/webhook/",
        tampered,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=signature,
    )
    assert refused.status_code == 400
