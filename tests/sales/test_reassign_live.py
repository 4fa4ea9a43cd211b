"""A record given to another owner is heard by its former owner too: when the workspace
restricts Sales reps to their own records, the rep who owned a deal or a task hears its
``*.updated`` event (their board and lists drop it), the new owner hears it, and a rep who
never owned it hears nothing, one by one and in a bulk reassignment alike.

Like the other socket tests, these run over the real Redis channel layer on the committed
``world``, change it from another thread (committed at once) and put back what they add."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django_tenants.utils import schema_context

from crm_modules.activities.models import Activity, ActivityDay
from crm_modules.sales.models import Deal, Pipeline, Task
from crm_modules.sales.services import deal_update
from crm_modules.sales.services.bulk import records_bulk_apply
from crm_modules.sales.services.tasks import task_update
from tenants import live_sender
from tenants.models import Membership, Tenant, User
from tenants.roles import Role
from tests.conftest import World
from tests.factories import MembershipFactory, UserFactory
from tests.sales.factories import DealFactory, PipelineFactory, TaskFactory
from tests.tenants.test_websocket import (
    TIMEOUT,
    _connect_member,
    _in_own_thread,
    _session_cookie,
    _socket,
    committed,
)

__all__ = ["committed"]

pytestmark = pytest.mark.django_db


@dataclass
class Reassignment:
    deals: list[int]
    task: int
    other_rep: Membership


@pytest.fixture
def reassignment(committed: World) -> Iterator[Reassignment]:
    """Three committed deals and a task of the rep, a second rep who owns none of them, and
    restricted record visibility."""
    tenant = committed.alpha.tenant
    rep = committed.alpha.members[Role.SALES_REP].user_id

    def create() -> tuple[int, int, int, list[dict[str, Any]], Reassignment]:
        other = MembershipFactory.create(
            user=UserFactory(email="second-rep@alpha.example.com"),
            tenant=tenant,
            role=Role.SALES_REP,
        )
        with schema_context(tenant.schema_name):
            last_deal = Deal.objects.order_by("-id").values_list("id", flat=True).first() or 0
            # A reassignment writes an owner-change entry on the deal's timeline.
            last_activity = (
                Activity.objects.order_by("-id").values_list("id", flat=True).first() or 0
            )
            days = [
                {"day": d.day, "author_id": d.author_id, "kind": d.kind, "count": d.count}
                for d in ActivityDay.objects.all()
            ]
            last_pipeline = (
                Pipeline.objects.order_by("-id").values_list("id", flat=True).first() or 0
            )
            pipeline = PipelineFactory.create()
            deals = [DealFactory.create(pipeline=pipeline, owner_id=rep).pk for _ in range(3)]
            task = TaskFactory.create(owner_id=rep, created_by_id=rep).pk
        Tenant.objects.filter(pk=tenant.pk).update(restrict_record_visibility=True)
        made = Reassignment(deals=deals, task=task, other_rep=other)
        return last_deal, last_pipeline, last_activity, days, made

    last_deal, last_pipeline, last_activity, days, made = _in_own_thread(create)

    def clean_up() -> None:
        Tenant.objects.filter(pk=tenant.pk).update(restrict_record_visibility=False)
        with schema_context(tenant.schema_name):
            Task.objects.filter(pk=made.task).delete()
            Activity.objects.filter(id__gt=last_activity).delete()
            # And the day counts the reports read, as they were.
            ActivityDay.objects.all().delete()
            ActivityDay.objects.bulk_create(ActivityDay(**day) for day in days)
            Deal.objects.filter(id__gt=last_deal).delete()
            Pipeline.objects.filter(id__gt=last_pipeline).delete()
        User.objects.filter(pk=made.other_rep.user_id).delete()

    try:
        yield made
    finally:
        _in_own_thread(clean_up)


async def _connect(membership: Membership) -> WebsocketCommunicator:
    socket = _socket(host="alpha.localhost", session_key=await _session_cookie(membership))
    connected, _ = await socket.connect(timeout=TIMEOUT)
    assert connected
    assert (await socket.receive_json_from(timeout=TIMEOUT))["event"] == "hello"
    return socket


def _as_owner(world: World, change: str, reassignment: Reassignment) -> None:
    """The Owner gives the rep's records to themselves (committed: events go out at once)."""
    new_owner = world.alpha.owner.user_id

    def run() -> None:
        with schema_context(world.alpha.tenant.schema_name):
            actor = Membership.objects.select_related("tenant", "user").get(pk=world.alpha.owner.pk)
            if change == "deal":
                deal = Deal.objects.get(pk=reassignment.deals[0])
                deal_update(actor=actor, deal=deal, changes={"owner": new_owner})
            elif change == "task":
                task = Task.objects.get(pk=reassignment.task)
                task_update(actor=actor, task=task, changes={"owner": new_owner})
            else:
                records_bulk_apply(
                    actor=actor,
                    entity="deal",
                    ids=reassignment.deals[1:],
                    action="owner",
                    value=new_owner,
                )

    _in_own_thread(run)
    assert live_sender.drain(10.0)


def _payload(change: str, reassignment: Reassignment) -> dict[str, object]:
    if change == "deal":
        return {"id": reassignment.deals[0]}
    if change == "task":
        return {"id": reassignment.task}
    return {"ids": reassignment.deals[1:], "count": 2}


@pytest.mark.parametrize(
    ("change", "topic", "event"),
    [
        ("deal", "deals", "deal.updated"),
        ("task", "tasks", "task.updated"),
        ("bulk", "deals", "deal.updated"),
    ],
)
async def test_the_former_owner_hears_of_their_record_given_away_and_no_other_rep_does(
    committed: World, reassignment: Reassignment, change: str, topic: str, event: str
) -> None:
    former = await _connect_member(committed, Role.SALES_REP)
    other = await _connect(reassignment.other_rep)
    owner = await _connect_member(committed, Role.OWNER)

    await database_sync_to_async(_as_owner)(committed, change, reassignment)

    expected = {"event": event, "payload": _payload(change, reassignment), "topic": topic}
    assert await former.receive_json_from(timeout=TIMEOUT) == expected
    assert await owner.receive_json_from(timeout=TIMEOUT) == expected
    assert await other.receive_nothing(timeout=0.5)
    assert await former.receive_nothing(timeout=0.5)
    for socket in (former, other, owner):
        await socket.disconnect()
