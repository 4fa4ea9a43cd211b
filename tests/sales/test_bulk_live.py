"""A bulk action on records is one live summary per kind of change, not an event per record:
open pages hear one ``deal.updated`` naming the deals that changed (never one whose change
failed), a Sales rep restricted to their own records hears of theirs only, and an open
dashboard fetches its charts once.

Like the other socket tests, these run over the real Redis channel layer on the committed
``world``, change it from another thread (committed at once) and put back what they add."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from channels.db import database_sync_to_async
from django_tenants.utils import schema_context

from crm_modules.reporting.dashboard import DEFAULT_CHARTS
from crm_modules.sales.models import Deal, Pipeline
from crm_modules.sales.services.bulk import Status, records_bulk_apply
from tenants import live_sender
from tenants.models import Membership, Tenant
from tenants.roles import Role
from tests.conftest import World
from tests.reporting.test_live import _open as _open_dashboard
from tests.sales.factories import DealFactory, PipelineFactory
from tests.tenants.test_websocket import TIMEOUT, _connect_member, _in_own_thread, committed

__all__ = ["committed"]

pytestmark = pytest.mark.django_db


@pytest.fixture
def deals(committed: World) -> Iterator[dict[str, list[int]]]:
    """50 committed deals: the first 5 the rep's, the others the owner's; the 8th already has
    the most tags a record may have, so tagging it fails. Restricted record visibility on."""
    tenant = committed.alpha.tenant
    rep = committed.alpha.members[Role.SALES_REP].user_id
    owner = committed.alpha.owner.user_id

    def create() -> tuple[int, int, list[int]]:
        with schema_context(tenant.schema_name):
            last_deal = Deal.objects.order_by("-id").values_list("id", flat=True).first() or 0
            last_pipeline = (
                Pipeline.objects.order_by("-id").values_list("id", flat=True).first() or 0
            )
            pipeline = PipelineFactory.create()
            ids = [
                DealFactory.create(
                    pipeline=pipeline,
                    owner_id=rep if n < 5 else owner,
                    tags=[f"t{t}" for t in range(50)] if n == 7 else [],
                ).pk
                for n in range(50)
            ]
            Tenant.objects.filter(pk=tenant.pk).update(restrict_record_visibility=True)
            return last_deal, last_pipeline, ids

    last_deal, last_pipeline, ids = _in_own_thread(create)

    def clean_up() -> None:
        Tenant.objects.filter(pk=tenant.pk).update(restrict_record_visibility=False)
        with schema_context(tenant.schema_name):
            Deal.objects.filter(id__gt=last_deal).delete()
            Pipeline.objects.filter(id__gt=last_pipeline).delete()

    try:
        yield {"all": ids, "reps": ids[:5], "failing": [ids[7]]}
    finally:
        _in_own_thread(clean_up)


@database_sync_to_async
def _tag_all(world: World, ids: list[int]) -> dict[int, str]:
    def run() -> dict[int, str]:
        with schema_context(world.alpha.tenant.schema_name):
            actor = Membership.objects.select_related("tenant", "user").get(pk=world.alpha.owner.pk)
            result = records_bulk_apply(
                actor=actor, entity="deal", ids=ids, action="tag", value="fair"
            )
            return {outcome.id: outcome.status for outcome in result.outcomes}

    outcomes = _in_own_thread(run)
    assert live_sender.drain(10.0)
    return outcomes


async def test_a_bulk_edit_of_50_deals_is_one_summary_of_the_49_that_changed(
    committed: World, deals: dict[str, list[int]]
) -> None:
    owner = await _connect_member(committed, Role.OWNER)
    rep = await _connect_member(committed, Role.SALES_REP)
    dashboard = await _open_dashboard(committed, Role.MANAGER)
    assert (await dashboard.receive_json_from(timeout=TIMEOUT))["event"] == "hello"

    outcomes = await _tag_all(committed, deals["all"])

    changed = [pk for pk in deals["all"] if pk not in deals["failing"]]
    assert outcomes == {
        pk: Status.FAILED if pk in deals["failing"] else Status.CHANGED for pk in deals["all"]
    }
    assert await owner.receive_json_from(timeout=TIMEOUT) == {
        "event": "deal.updated",
        "payload": {"ids": changed, "count": 49},
        "topic": "deals",
    }
    assert await owner.receive_nothing(timeout=0.5)
    # The rep sees their own deals only: the summary names those and no other.
    assert await rep.receive_json_from(timeout=TIMEOUT) == {
        "event": "deal.updated",
        "payload": {"ids": deals["reps"], "count": 5},
        "topic": "deals",
    }
    assert await rep.receive_nothing(timeout=0.5)
    # The dashboard fetches the charts a deal's change touches, once.
    assert await dashboard.receive_json_from(timeout=TIMEOUT) == {
        "event": "dashboard.refresh",
        "payload": {
            "charts": sorted(c.key for c in DEFAULT_CHARTS if "deal.updated" in c.live_events),
            "seq": 1,
        },
    }
    assert await dashboard.receive_nothing(timeout=1.0)
    for socket in (owner, rep, dashboard):
        await socket.disconnect()


async def test_a_bulk_edit_of_none_of_the_reps_deals_is_not_heard_by_the_rep(
    committed: World, deals: dict[str, list[int]]
) -> None:
    rep = await _connect_member(committed, Role.SALES_REP)
    owner = await _connect_member(committed, Role.OWNER)

    await _tag_all(committed, deals["all"][10:20])

    assert (await owner.receive_json_from(timeout=TIMEOUT))["payload"] == {
        "ids": deals["all"][10:20],
        "count": 10,
    }
    assert await rep.receive_nothing(timeout=0.5)
    for socket in (owner, rep):
        await socket.disconnect()
