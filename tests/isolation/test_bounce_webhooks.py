"""The bounce and complaint webhooks (ADR 0043) are per workspace: only the views under
``WEBHOOK_PATH`` are open, and a report signed with another workspace's secret, or a forged
one, is refused on every host and changes nothing in either workspace."""

from __future__ import annotations

import hashlib
import hmac
import json

from django.test import Client
from django_tenants.utils import schema_context

from crm_modules.marketing.deliverability import pause
from crm_modules.marketing.module import WEBHOOK_PATH
from tests.conftest import Workspace
from tests.isolation.conftest import db_state
from tests.isolation.test_matrix import ENDPOINTS, OPEN

HOOK_VIEWS = {"marketing:webhook_bounces", "marketing:webhook_sns"}


def _secret(workspace: Workspace) -> str:
    with schema_context(workspace.tenant.schema_name):
        return pause.state().webhook_secret


def _signed(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_only_the_webhooks_sit_under_the_webhook_path() -> None:
    under = {e.name for e in ENDPOINTS if f"/{e.route}".startswith(WEBHOOK_PATH)}
    assert under == HOOK_VIEWS
    assert set(OPEN) >= HOOK_VIEWS


def test_each_workspace_has_its_own_secret_and_another_s_is_refused(
    alpha: Workspace, bravo: Workspace
) -> None:
    alpha_secret, bravo_secret = _secret(alpha), _secret(bravo)
    assert alpha_secret != bravo_secret
    assert len(alpha_secret) == 64
    body = json.dumps(
        {
            "id": "iso-1",
            "type": "complaint",
            "email": "r@example.com",
            "message_id": f"<campaign.{alpha.tenant.schema_name}.1@localhost>",
        }
    ).encode()
    with schema_context("public"):
        before = db_state(alpha), db_state(bravo)
    for host, secret in ((alpha.host, bravo_secret), (bravo.host, alpha_secret)):
        client = Client(HTTP_HOST=host)
        generic = client.post(
            "/marketing/hooks/bounces/",
            body,
            content_type="application/json",
            HTTP_X_RAPPORT_SIGNATURE=_signed(secret, body),
        )
        assert generic.status_code == 401
        assert generic.cookies == {}
        sns = client.post(f"/marketing/hooks/sns/?key={secret}", body, content_type="text/plain")
        assert sns.status_code == 401
    with schema_context("public"):
        assert (db_state(alpha), db_state(bravo)) == before

    # The workspace's own secret is taken (an unknown message: stored as ignored, answered 200).
    response = Client(HTTP_HOST=alpha.host).post(
        "/marketing/hooks/bounces/",
        body,
        content_type="application/json",
        HTTP_X_RAPPORT_SIGNATURE=_signed(alpha_secret, body),
    )
    assert (response.status_code, response.json()) == (200, {"outcomes": ["ignored"]})
    with schema_context("public"):
        assert db_state(bravo) == before[1]
