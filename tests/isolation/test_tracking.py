"""The campaign tracking URLs answer visitors who are not members (recipients' mail clients),
so the signed token is their only key: a token of another workspace, a forged or altered one,
or a recipient not yet sent to is not found, records nothing and never redirects."""

from __future__ import annotations

import datetime
from collections.abc import Callable

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from crm_modules.marketing.campaigns import tokens
from crm_modules.marketing.models import CampaignEvent, CampaignRecipient
from tenants.roles import Role
from tests.conftest import Workspace
from tests.isolation.conftest import BRAVO_AT_HOME, OUTSIDER, db_state
from tests.isolation.test_matrix import SAMPLES


def _recipient(workspace: Workspace, *, sent: bool = True) -> int:
    from crm_modules.marketing.models import Campaign, CampaignVariant
    from crm_modules.sales.api import Contact

    campaign_id = int(SAMPLES["campaign_id"](workspace, workspace.owner))  # type: ignore[call-overload]
    with schema_context(workspace.tenant.schema_name):
        campaign = Campaign.objects.get(pk=campaign_id)
        contact = Contact.objects.order_by("-pk").first()
        assert contact is not None
        return CampaignRecipient.objects.create(
            campaign=campaign,
            contact=contact,
            variant=CampaignVariant.objects.get(campaign=campaign),
            email="r@example.com",
            status="sent" if sent else "queued",
            sent_at=timezone.now() - datetime.timedelta(minutes=5) if sent else None,
        ).pk


def _paths(schema: str, recipient_id: int) -> list[str]:
    return [
        f"/marketing/t/o/{tokens.open_token(schema, recipient_id)}/",
        f"/marketing/t/c/{tokens.click_token(schema, recipient_id, 0)}/",
    ]


BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120 Safari/537.36"


@pytest.mark.parametrize("who", [None, Role.OWNER, OUTSIDER])
def test_a_valid_token_works_for_anyone_on_its_own_workspace_host(
    who: str | None, alpha: Workspace, visit: Callable[[str | None, str], Client]
) -> None:
    recipient_id = _recipient(alpha)
    opened, clicked = (
        visit(who, alpha.host).get(path, HTTP_USER_AGENT=BROWSER)
        for path in _paths(alpha.tenant.schema_name, recipient_id)
    )
    assert opened.status_code == 200
    assert opened["Content-Type"] == "image/gif"
    assert clicked.status_code == 302
    assert clicked["Location"] == "https://example.com/"
    with schema_context(alpha.tenant.schema_name):
        row = CampaignRecipient.objects.get(pk=recipient_id)
        assert row.opened_at is not None
        assert row.clicked_at is not None


def test_a_token_of_another_workspace_is_not_found_here(
    alpha: Workspace, bravo: Workspace, visit: Callable[[str | None, str], Client]
) -> None:
    recipient_id = _recipient(alpha)
    # Signing in (made before the snapshot) stamps the user's last login.
    at_bravo = visit(BRAVO_AT_HOME, bravo.host)
    before = db_state(alpha)
    for path in _paths(alpha.tenant.schema_name, recipient_id):
        # alpha's token on bravo's host: bravo's salt does not verify it.
        response = at_bravo.get(path, HTTP_USER_AGENT=BROWSER)
        assert response.status_code == 404
    for path in _paths(bravo.tenant.schema_name, recipient_id):
        response = Client(HTTP_HOST=alpha.host).get(path, HTTP_USER_AGENT=BROWSER)
        assert response.status_code == 404
    assert db_state(alpha) == before


@pytest.mark.parametrize(
    "mangle",
    [
        lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        lambda token: "9" + token,
        lambda token: token.split(":")[0],
        lambda token: "https:%2F%2Fevil.example",
    ],
)
def test_an_altered_token_is_not_found_and_records_nothing(
    mangle: Callable[[str], str], alpha: Workspace
) -> None:
    recipient_id = _recipient(alpha)
    schema = alpha.tenant.schema_name
    before = db_state(alpha)
    for kind, token in (
        ("o", tokens.open_token(schema, recipient_id)),
        ("c", tokens.click_token(schema, recipient_id, 0)),
    ):
        response = Client(HTTP_HOST=alpha.host).get(
            f"/marketing/t/{kind}/{mangle(token)}/", HTTP_USER_AGENT=BROWSER
        )
        assert response.status_code == 404
        assert "Location" not in response
    assert db_state(alpha) == before


def test_a_recipient_not_yet_sent_to_has_no_tracking(alpha: Workspace) -> None:
    recipient_id = _recipient(alpha, sent=False)
    for path in _paths(alpha.tenant.schema_name, recipient_id):
        assert Client(HTTP_HOST=alpha.host).get(path, HTTP_USER_AGENT=BROWSER).status_code == 404
    with schema_context(alpha.tenant.schema_name):
        assert not CampaignEvent.objects.filter(recipient_id=recipient_id).exists()


def test_campaign_tasks_run_for_another_workspace_touch_nothing_here(
    alpha: Workspace, bravo: Workspace
) -> None:
    """A task carries its workspace's schema (tenant_schemas_celery): run in bravo with an id of
    alpha's campaign, it finds nothing and changes nothing in alpha."""
    from crm_modules.marketing.campaigns import tasks
    from crm_modules.marketing.models import Campaign

    recipient_id = _recipient(alpha, sent=False)
    with schema_context(alpha.tenant.schema_name):
        campaign_id = CampaignRecipient.objects.get(pk=recipient_id).campaign_id
        Campaign.objects.filter(pk=campaign_id).update(status="sending")
    before = db_state(alpha)
    with schema_context(bravo.tenant.schema_name):
        assert tasks.campaign_queue.run(campaign_id) == 0
        assert tasks.campaign_send.run(campaign_id) == 0
        assert tasks.campaign_pick_winner.run(campaign_id) == ""
    assert db_state(alpha) == before
