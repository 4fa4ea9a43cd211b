"""The SMTP receiving path (ADR 0036): an aiosmtpd server on loopback for development and the
tests, in front of the same receiving service as the webhook.

A recipient that is not a workspace's address is refused at RCPT (550), and so is the address
of a workspace whose plan does not include service (550 5.7.1, ADR 0078: the sending server
bounces the message to its author, nothing is stored); a message larger than
``INBOUND_EMAIL_MAX_BYTES`` at DATA (552, aiosmtpd's size limit), so the sending server bounces
it to its author; a message is answered 250 only once it is stored in each recipient
workspace, and a failure to store it is a temporary error (451: the sender tries again).
"""

from __future__ import annotations

import logging
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections
from django_tenants.utils import schema_context

from crm_modules.service.mail.addresses import workspace_for
from crm_modules.service.models import InboundMessage
from crm_modules.service.plan import service_in_plan

logger = logging.getLogger(__name__)


def _workspace_schema(address: str) -> str | None:
    close_old_connections()
    tenant = workspace_for(address)
    return tenant.schema_name if tenant is not None else None


def _workspace_in_plan(address: str) -> bool:
    close_old_connections()
    tenant = workspace_for(address)
    return tenant is not None and service_in_plan(tenant)


def _store(schema_name: str, raw: bytes, recipient: str) -> None:
    from crm_modules.service.services.inbound import inbound_receive

    close_old_connections()
    with schema_context(schema_name):
        inbound_receive(raw=raw, source=InboundMessage.Source.SMTP, recipient=recipient)


class InboundHandler:
    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        schema = await sync_to_async(_workspace_schema, thread_sensitive=False)(address)
        if schema is None:
            return "550 5.1.1 No such mailbox here"
        if not await sync_to_async(_workspace_in_plan, thread_sensitive=False)(address):
            return "550 5.7.1 This mailbox does not take messages now"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        # We are the final server: the envelope sender becomes the Return-Path (RFC 5321
        # 4.4), which the loop rules read (an empty one is a bounce).
        raw = f"Return-Path: <{envelope.mail_from or ''}>\r\n".encode() + content
        delivered: set[str] = set()
        try:
            for address in envelope.rcpt_tos:
                schema = await sync_to_async(_workspace_schema, thread_sensitive=False)(address)
                if schema is None or schema in delivered:
                    continue
                await sync_to_async(_store, thread_sensitive=False)(schema, raw, address)
                delivered.add(schema)
        except Exception:
            logger.exception("inbound_smtp_store_failed")
            return "451 4.3.0 Could not store the message; try again later"
        return "250 2.0.0 Message accepted"


def controller(*, host: str | None = None, port: int | None = None, **kwargs: Any) -> Controller:
    """An SMTP server in a thread of its own (``start()``/``stop()``)."""
    return Controller(
        InboundHandler(),
        hostname=host or settings.INBOUND_SMTP_HOST,
        port=port if port is not None else settings.INBOUND_SMTP_PORT,
        data_size_limit=settings.INBOUND_EMAIL_MAX_BYTES,
        **kwargs,
    )
