"""The deals board refreshes itself live on every deal event that changes what it shows: the
events every deal-changing path publishes on the ``deals`` topic (one by one and in bulk) are
heard from the real Redis channel layer, and each one is among the events the board fragment
refetches itself on."""

from __future__ import annotations

import asyncio
import re
from decimal import Decimal
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.db import connection

from crm_modules.sales.models import Deal, Pipeline, Stage
from crm_modules.sales.services import deal_create, deal_delete, deal_move_stage, deal_update
from crm_modules.sales.services.bulk import records_bulk_apply
from crm_modules.sales.services.pipelines import stage_delete
from crm_modules.sales.services.products import line_item_add, product_create
from tenants import live_sender
from tenants.live import topic_group
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.sales.conftest import fresh
from tests.sales.factories import DealFactory, PipelineFactory

pytestmark = pytest.mark.django_db

END = "test.end"


def _change_deals_every_way(alpha: Workspace, capture: Any) -> None:
    actor = fresh(alpha.owner)
    rep = alpha.members[Role.SALES_REP].user_id
    pipeline = PipelineFactory.create()
    stages = {stage.name: stage for stage in Stage.objects.filter(pipeline=pipeline)}
    others = [DealFactory.create(pipeline=pipeline, owner_id=actor.user_id) for _ in range(3)]
    product = product_create(actor=actor, name="Seat", unit_price=Decimal("10.00"))
    with capture(execute=True):
        deal = deal_create(actor=actor, name="Board deal", stage=stages["New"].pk)
    with capture(execute=True):
        deal_update(actor=actor, deal=deal, changes={"name": "Board deal renamed"})
    with capture(execute=True):
        deal_update(actor=actor, deal=Deal.objects.get(pk=deal.pk), changes={"owner": rep})
    with capture(execute=True):
        deal_move_stage(actor=actor, deal=deal, stage=stages["Proposal"].pk)
    with capture(execute=True):
        line_item_add(actor=actor, deal=Deal.objects.get(pk=deal.pk), product=product.pk)
    ids = [other.pk for other in others]
    for action, value in (
        ("tag", "board"),
        ("owner", rep),
        ("stage", stages["Proposal"].pk),
        ("delete", ""),
    ):
        with capture(execute=True):
            records_bulk_apply(actor=actor, entity="deal", ids=ids, action=action, value=value)
    with capture(execute=True):
        stage_delete(
            actor=actor,
            pipeline=Pipeline.objects.get(pk=pipeline.pk),
            stage_id=stages["Proposal"].pk,
            move_to=stages["New"].pk,
        )
    with capture(execute=True):
        deal_delete(actor=actor, deal=Deal.objects.get(pk=deal.pk))


def _heard_on_deals(alpha: Workspace, capture: Any) -> list[str]:
    """The events every deal-changing path publishes, as a listener of the deals topic gets
    them through the channel layer."""
    layer = get_channel_layer()
    assert layer is not None
    group = topic_group(schema_name=alpha.tenant.schema_name, topic="deals")

    async def listen() -> list[str]:
        channel = await layer.new_channel()
        await layer.group_add(group, channel)
        try:
            await sync_to_async(_change_deals_every_way)(alpha, capture)
            await sync_to_async(live_sender.send)(group, {"type": "notify", "event": END})
            events: list[str] = []
            while (message := await asyncio.wait_for(layer.receive(channel), 30))["event"] != END:
                events.append(message["event"])
            return events
        finally:
            await layer.group_discard(group, channel)

    return async_to_sync(listen)()


def _board_events(alpha: Workspace) -> set[str]:
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    html = workspace_client(alpha.owner.user, alpha.tenant).get("/sales/deals/").content.decode()
    board = re.search(r'<div[^>]*data-testid="board"[^>]*>', html)
    assert board is not None
    trigger = re.search(r'hx-trigger="([^"]*)"', board.group(0))
    assert trigger is not None
    return set(re.findall(r"rapport:(\S+) from:body", trigger.group(1)))


def test_the_board_refreshes_on_every_event_a_deal_change_publishes(
    in_alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    heard = _heard_on_deals(in_alpha, django_capture_on_commit_callbacks)
    # Each path was heard (one by one, then one summary per bulk action).
    assert heard == [
        "deal.created",
        "deal.updated",
        "deal.updated",
        "deal.moved",
        "deal.updated",
        "deal.updated",
        "deal.updated",
        "deal.moved",
        "deal.deleted",
        "deal.moved",
        "deal.deleted",
    ]
    board = _board_events(in_alpha)
    assert set(heard) <= board
    assert board == {"deal.created", "deal.updated", "deal.moved", "deal.deleted"}
