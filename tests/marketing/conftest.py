from __future__ import annotations

import datetime
import email
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.policy import default
from typing import Any

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from crm_modules.marketing.models import PressureSettings
from tests.conftest import Workspace
from tests.sales.conftest import fresh

__all__ = ["fresh"]


@pytest.fixture
def in_alpha(alpha: Workspace) -> Workspace:
    """Run the test's queries in workspace alpha's schema."""
    connection.set_tenant(alpha.tenant)  # type: ignore[attr-defined]
    return alpha


# --- contact rules that let a campaign through at any hour --------------------------------------

# No quiet hours (start equals end) and a cap no test reaches. The contact-pressure rule has its
# own tests (test_pressure.py, test_quiet_hours.py); the campaign tests check how sending reacts
# to its answers and must not depend on the hour of day the suite runs at.
OPEN_RULES = {
    "quiet_start": datetime.time(0),
    "quiet_end": datetime.time(0),
    "cap_messages": 10_000,
    "cap_days": 1,
}


def open_contact_rules() -> None:
    """In the current workspace schema (inside the test's transaction)."""
    PressureSettings.objects.update_or_create(pk=1, defaults=OPEN_RULES)


@contextmanager
def committed_open_contact_rules(schema_name: str) -> Iterator[None]:
    """The same, committed in ``schema_name`` for tests on the committed world; put back after."""
    with schema_context(schema_name):
        before = PressureSettings.objects.filter(pk=1).values(*OPEN_RULES).first()
        open_contact_rules()
    try:
        yield
    finally:
        with schema_context(schema_name):
            if before is None:
                PressureSettings.objects.filter(pk=1).delete()
            else:
                PressureSettings.objects.filter(pk=1).update(**before)


# --- a real SMTP server for campaign sends ----------------------------------------------------


@dataclass
class Sink:
    """Messages the local SMTP server (aiosmtpd) accepted, in order."""

    host: str
    port: int
    messages: list[email.message.EmailMessage] = field(default_factory=list)
    # Called with the recipient address on RCPT TO; returns an SMTP reply to refuse it.
    on_rcpt: Callable[[str], str | None] | None = None
    # The bytes each message arrived as (what a receiver checks a DKIM signature on).
    raw: list[bytes] = field(default_factory=list)

    def to(self) -> list[str]:
        return [str(message["To"]) for message in self.messages]


class _Handler:
    def __init__(self, sink: Sink):
        self.sink = sink

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if self.sink.on_rcpt is not None:
            refusal = self.sink.on_rcpt(address)
            if refusal:
                return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=default)
        self.sink.messages.append(message)
        self.sink.raw.append(bytes(envelope.content))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_sink(settings: Any) -> Iterator[Sink]:
    """A local SMTP server that campaigns send to through Django's SMTP backend."""
    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sink = Sink(host="127.0.0.1", port=port)
    controller = Controller(_Handler(sink), hostname="127.0.0.1", port=port)
    controller.start()
    settings.MARKETING_EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = sink.host
    settings.EMAIL_PORT = sink.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    try:
        yield sink
    finally:
        controller.stop()
