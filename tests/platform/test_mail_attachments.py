"""Queued emails keep their text attachments (a scheduled report's CSV) through the JSON
payload that the delivery task receives."""

from __future__ import annotations

import json

from django.core.mail import EmailMessage

from crm_platform.mail import message_to_payload, payload_to_message


def test_a_text_attachment_survives_the_queue() -> None:
    message = EmailMessage("Pipeline", "Body", "a@example.com", ["b@example.com"])
    message.attach("report-1.csv", "\ufeffStage,Count\r\n'=X,2\r\n", "text/csv")
    payload = json.loads(json.dumps(message_to_payload(message)))
    delivered = payload_to_message(payload)
    assert [tuple(a) for a in delivered.attachments] == [
        ("report-1.csv", "\ufeffStage,Count\r\n'=X,2\r\n", "text/csv")
    ]
    assert (delivered.subject, delivered.body, delivered.to) == (
        "Pipeline",
        "Body",
        ["b@example.com"],
    )


def test_a_payload_queued_before_attachments_existed_still_delivers() -> None:
    payload = message_to_payload(EmailMessage("S", "B", "a@example.com", ["b@example.com"]))
    del payload["attachments"]
    assert payload_to_message(payload).attachments == []
