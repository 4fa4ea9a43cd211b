"""The production receiving path: the signed webhook of each workspace on the public host.
Signature and its age, size (10 MB accepted, larger refused with 413), idempotency by
Message-ID, the SES/SNS notification shape, and isolation: a workspace's webhook stores
only in that workspace, and its key signs nothing for another."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from crm_modules.service.mail.webhook import sign, signing_key
from crm_modules.service.models import InboundMessage, Ticket
from tests.conftest import Workspace

MESSAGE = (
    b"From: Wang <wang@example.cn>\r\nTo: support@alpha.in.localhost\r\n"
    b"Subject: =?GB18030?B?tqm1pc7KzOI=?=\r\nMessage-ID: <hook-1@example.cn>\r\n\r\nhello\r\n"
)


def post(
    workspace: Workspace,
    body: bytes,
    *,
    key_of: Workspace | None = None,
    content_type: str = "message/rfc822",
    timestamp: int | None = None,
    signature: str | None = None,
) -> Any:
    stamp = int(time.time()) if timestamp is None else timestamp
    key = signing_key((key_of or workspace).tenant.schema_name)
    return Client(HTTP_HOST="localhost").generic(
        "POST",
        f"/service/inbound/email/{workspace.tenant.slug}/",
        body,
        content_type=content_type,
        HTTP_X_RAPPORT_TIMESTAMP=str(stamp),
        HTTP_X_RAPPORT_SIGNATURE=(
            sign(key=key, timestamp=stamp, body=body) if signature is None else signature
        ),
    )


def received(workspace: Workspace, capture: Any, *args: Any, **kwargs: Any) -> Any:
    """POST, then run what the receiving transaction queued (the processing task) in the
    workspace's schema, as the committed transaction's task would."""
    with capture() as callbacks:
        response = post(workspace, *args, **kwargs)
    with schema_context(workspace.tenant.schema_name), capture(execute=True):
        for callback in callbacks:
            callback()
    return response


def stored(workspace: Workspace) -> list[tuple[str, str]]:
    with schema_context(workspace.tenant.schema_name):
        return list(InboundMessage.objects.values_list("message_id", "source"))


def test_a_signed_message_is_stored_and_ticketed(
    alpha: Workspace, bravo: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    response = received(alpha, django_capture_on_commit_callbacks, MESSAGE)

    assert response.status_code == 202
    body = response.json()
    assert body["message_id"] == "<hook-1@example.cn>"
    assert body["duplicate"] is False
    with schema_context(alpha.tenant.schema_name):
        ticket = Ticket.objects.get()
        assert (ticket.subject, ticket.channel) == ("订单问题", "email")
    assert stored(bravo) == []


def test_the_same_message_posted_twice_is_stored_once(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    first = received(alpha, django_capture_on_commit_callbacks, MESSAGE)
    second = received(alpha, django_capture_on_commit_callbacks, MESSAGE)

    assert second.status_code == 202
    assert second.json() == {**first.json(), "duplicate": True}
    assert stored(alpha) == [("<hook-1@example.cn>", "webhook")]
    with schema_context(alpha.tenant.schema_name):
        assert Ticket.objects.count() == 1


@pytest.mark.parametrize(
    ("age", "signature"),
    [
        (0, "sha256=" + "0" * 64),
        (0, ""),
        (600, None),  # replayed: too old
    ],
)
def test_a_bad_or_old_signature_is_refused_and_nothing_is_stored(
    alpha: Workspace, age: int, signature: str | None
) -> None:
    stamp = int(time.time()) - age
    response = post(alpha, MESSAGE, timestamp=stamp, signature=signature)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "bad_signature"
    assert stored(alpha) == []


def test_one_workspaces_key_signs_nothing_for_another(alpha: Workspace, bravo: Workspace) -> None:
    response = post(bravo, MESSAGE, key_of=alpha)

    assert response.status_code == 403
    assert stored(bravo) == []
    assert stored(alpha) == []


def test_mail_addressed_to_another_workspace_stays_in_the_webhooks_workspace(
    alpha: Workspace, bravo: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    raw = MESSAGE.replace(b"support@alpha.in.localhost", b"support@bravo.in.localhost")

    assert received(alpha, django_capture_on_commit_callbacks, raw).status_code == 202

    assert stored(alpha) == [("<hook-1@example.cn>", "webhook")]
    assert stored(bravo) == []
    with schema_context(bravo.tenant.schema_name):
        assert Ticket.objects.count() == 0


def test_an_unknown_workspace_is_404(alpha: Workspace) -> None:
    response = Client(HTTP_HOST="localhost").post(
        "/service/inbound/email/nobody/", MESSAGE, content_type="message/rfc822"
    )

    assert response.status_code == 404


def test_a_ten_megabyte_message_is_accepted(alpha: Workspace) -> None:
    raw = MESSAGE + b"x" * (10 * 1024 * 1024)

    response = post(alpha, raw)

    assert response.status_code == 202
    with schema_context(alpha.tenant.schema_name):
        assert InboundMessage.objects.get().size == len(raw)


def test_a_message_over_the_limit_is_refused_with_413(alpha: Workspace, settings: Any) -> None:
    settings.INBOUND_EMAIL_MAX_BYTES = 10 * 1024 * 1024 + 100
    raw = MESSAGE + b"x" * (10 * 1024 * 1024 + 101)

    response = post(alpha, raw)

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert stored(alpha) == []


def test_an_ses_notification_inside_an_sns_envelope_is_accepted(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    notification = {
        "notificationType": "Received",
        "mail": {"destination": ["support@alpha.in.localhost"]},
        "content": base64.b64encode(MESSAGE).decode(),
    }
    body = json.dumps({"Type": "Notification", "Message": json.dumps(notification)}).encode()

    response = received(
        alpha, django_capture_on_commit_callbacks, body, content_type="application/json"
    )

    assert response.status_code == 202
    with schema_context(alpha.tenant.schema_name):
        assert Ticket.objects.get().subject == "订单问题"


def test_a_notification_without_content_is_400(alpha: Workspace) -> None:
    body = json.dumps({"notificationType": "Received", "mail": {}}).encode()

    response = post(alpha, body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "content"
    assert stored(alpha) == []


def test_malformed_mime_is_stored_as_failed_and_shown_to_admins(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    from tests.conftest import workspace_client

    raw = b"Subject: broken\r\nMessage-ID: <broken@x>\r\n\r\nno sender"
    assert received(alpha, django_capture_on_commit_callbacks, raw).status_code == 202

    with schema_context(alpha.tenant.schema_name):
        inbound = InboundMessage.objects.get()
    assert inbound.status == "failed"
    page = workspace_client(alpha.owner.user, alpha.tenant).get("/service/channels/")
    assert page.status_code == 200
    assert "The message has no sender address (From)." in page.content.decode()
    assert "support@alpha.in.localhost" in page.content.decode()
