"""The SMTP receiving path: smtplib talks to the aiosmtpd server (started on loopback by the
fixture) exactly as a mail server would. The server stores the message in its own thread and
connection, so what it writes is committed: these tests run without the rolled-back
transaction and delete what they created."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from contextlib import contextmanager
from email import policy
from email.message import EmailMessage
from typing import Any

import pytest
from django.apps import apps
from django.core import mail
from django.db import connection
from django.db.models import ProtectedError
from django_tenants.utils import schema_context

from crm_modules.sales.models import Contact
from crm_modules.service.mail.smtp import controller
from crm_modules.service.models import InboundMessage, OutboundEmail, Ticket
from tests.conftest import World
from tests.ops.conftest import _free_port

LABELS = ("service", "sales", "activities", "audit", "documents")


@contextmanager
def deleted_afterwards(schema_name: str) -> Iterator[None]:
    """Delete every row the block commits in the workspace's tables of ``LABELS``."""
    models = [m for label in LABELS for m in apps.get_app_config(label).get_models()]
    with schema_context(schema_name):
        before = {
            m: m._default_manager.order_by("-pk").values_list("pk", flat=True).first() or 0
            for m in models
        }
    try:
        yield
    finally:
        with schema_context(schema_name):
            # Until nothing is left: a row protected by another goes once that one is gone.
            for _pass in range(len(models)):
                left = False
                for model in models:
                    rows = model._default_manager.filter(pk__gt=before[model])
                    try:
                        rows.delete()
                    except ProtectedError:
                        left = True
                if not left:
                    break
        connection.set_schema_to_public()  # type: ignore[attr-defined]


@pytest.fixture
def smtp_port(world: World, django_db_blocker: Any, settings: Any) -> Iterator[int]:
    settings.INBOUND_EMAIL_MAX_BYTES = 200_000
    port = _free_port()
    server = controller(host="127.0.0.1", port=port)
    server.start()
    with django_db_blocker.unblock(), deleted_afterwards(world.alpha.tenant.schema_name):
        mail.outbox.clear()
        yield port
    server.stop()


def message(subject: str = "Где мой заказ?", size: int = 0) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Иван Петров <ivan@example.ru>"
    msg["To"] = "support@alpha.in.localhost"
    msg["Subject"] = subject
    msg["Message-ID"] = "<smtp-1@example.ru>"
    msg.set_content("Здравствуйте!\n" + ("x" * 69 + "\n") * (size // 70), charset="koi8-r")
    return msg


def test_mail_sent_over_smtp_becomes_a_ticket(smtp_port: int, world: World) -> None:
    with smtplib.SMTP("127.0.0.1", smtp_port) as client:
        refused = client.send_message(message())

    assert refused == {}
    with schema_context(world.alpha.tenant.schema_name):
        inbound = InboundMessage.objects.get(message_id="<smtp-1@example.ru>")
        assert (inbound.source, inbound.status) == ("smtp", "ticketed")
        assert inbound.recipient == "support@alpha.in.localhost"
        assert inbound.ticket_id is not None
        ticket = Ticket.objects.get(pk=inbound.ticket_id)
        assert (ticket.subject, ticket.channel) == ("Где мой заказ?", "email")
        assert ticket.messages.get().body.startswith("Здравствуйте!")
        assert Contact.objects.get(pk=ticket.contact_id or 0).first_name == "Иван"
        assert OutboundEmail.objects.get(ticket=ticket).automatic is True
    assert [m.to for m in mail.outbox] == [["ivan@example.ru"]]


def test_the_envelope_sender_becomes_the_return_path(smtp_port: int, world: World) -> None:
    # A bounce (null envelope sender) is ticketed but never acknowledged.
    with smtplib.SMTP("127.0.0.1", smtp_port) as client:
        client.send_message(message(), from_addr="<>")

    with schema_context(world.alpha.tenant.schema_name):
        inbound = InboundMessage.objects.get(message_id="<smtp-1@example.ru>")
        assert inbound.automatic is True
        assert OutboundEmail.objects.count() == 0
    assert mail.outbox == []


def test_an_unknown_recipient_is_refused_at_rcpt(smtp_port: int, world: World) -> None:
    with (
        smtplib.SMTP("127.0.0.1", smtp_port) as client,
        pytest.raises(smtplib.SMTPRecipientsRefused) as caught,
    ):
        client.sendmail("a@example.com", ["support@nobody.in.localhost"], b"Subject: x\r\n\r\nx")

    assert caught.value.recipients["support@nobody.in.localhost"][0] == 550
    with schema_context(world.alpha.tenant.schema_name):
        assert InboundMessage.objects.count() == 0


def test_a_message_over_the_limit_is_bounced_not_dropped(smtp_port: int, world: World) -> None:
    # A client that declares the size (ESMTP SIZE) is refused at MAIL FROM ...
    with (
        smtplib.SMTP("127.0.0.1", smtp_port) as client,
        pytest.raises(smtplib.SMTPSenderRefused) as caught,
    ):
        client.send_message(message(size=300_000))
    assert caught.value.smtp_code == 552
    # ... and one that does not, at the end of DATA. 552: the sending server returns the
    # message to its author with this reason.
    with smtplib.SMTP("127.0.0.1", smtp_port) as client:
        client.ehlo()
        assert client.mail("ivan@example.ru")[0] == 250
        assert client.rcpt("support@alpha.in.localhost")[0] == 250
        code, _reply = client.data(message(size=300_000).as_bytes(policy=policy.SMTP))
    assert code == 552
    with schema_context(world.alpha.tenant.schema_name):
        assert InboundMessage.objects.count() == 0
        assert Ticket.objects.count() == 0


def test_the_same_message_sent_twice_over_smtp_makes_one_ticket(
    smtp_port: int, world: World
) -> None:
    with smtplib.SMTP("127.0.0.1", smtp_port) as client:
        client.send_message(message())
        client.send_message(message())

    with schema_context(world.alpha.tenant.schema_name):
        assert InboundMessage.objects.count() == 1
        assert Ticket.objects.filter(channel="email").count() == 1
