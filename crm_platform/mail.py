"""An email backend that queues each message as a Celery task after the transaction commits
(D10); the task delivers it through EMAIL_DELIVERY_BACKEND."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction


def message_to_payload(message: EmailMessage) -> dict[str, Any]:
    alternatives = [
        [content, mimetype] for content, mimetype in getattr(message, "alternatives", []) or []
    ]
    return {
        "subject": str(message.subject),
        "body": str(message.body),
        "from_email": message.from_email,
        "to": list(message.to),
        "cc": list(message.cc),
        "bcc": list(message.bcc),
        "reply_to": list(message.reply_to),
        "headers": dict(message.extra_headers),
        "alternatives": alternatives,
        # Text attachments only (a CSV export): the payload travels as JSON.
        "attachments": [
            list(attachment)
            for attachment in message.attachments or []
            if isinstance(attachment, tuple) and isinstance(attachment[1], str)
        ],
    }


def payload_to_message(payload: dict[str, Any]) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        subject=payload["subject"],
        body=payload["body"],
        from_email=payload["from_email"],
        to=payload["to"],
        cc=payload["cc"],
        bcc=payload["bcc"],
        reply_to=payload["reply_to"],
        headers=payload["headers"],
    )
    for content, mimetype in payload["alternatives"]:
        message.attach_alternative(content, mimetype)
    for name, text, mimetype in payload.get("attachments", []):
        message.attach(name, text, mimetype)
    return message


class TaskEmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        from crm_platform.tasks import deliver_email

        for message in email_messages:
            transaction.on_commit(partial(deliver_email.delay, message_to_payload(message)))
        return len(email_messages)
