"""The stage totals the kanban reads: after every way of writing deals they equal a recount of
the deals, per stage and owner, in the same transaction."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.db.models import Count, Sum
from django_tenants.utils import schema_context

from crm_modules.sales import services
from crm_modules.sales.models import Deal, DealStageTotal
from crm_modules.sales.services.bulk import records_bulk_apply
from crm_modules.sales.services.bulk_import_pipeline import DealDraft, deals_bulk_create
from tenants.roles import Role
from tests.concurrency import race
from tests.conftest import Workspace, World
from tests.sales.conftest import fresh
from tests.sales.factories import DealFactory, PipelineFactory

# (stage, owner, status, currency) → (deals, amount)
Totals = dict[tuple[int, int | None, str, str], tuple[int, Decimal]]


def recount() -> Totals:
    return {
        (row["stage_id"], row["owner_id"], row["status"], row["currency"]): (row["n"], row["s"])
        for row in Deal.objects.order_by()
        .values("stage_id", "owner_id", "status", "currency")
        .annotate(n=Count("id"), s=Sum("amount"))
    }


def kept() -> Totals:
    return {
        (t.stage_id, t.owner_id, t.status, t.currency): (t.deals, t.amount)
        for t in DealStageTotal.objects.all()
        if t.deals or t.amount
    }


def totals_written() -> int:
    """Rows of the totals table this transaction inserted or updated."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(n_tup_ins + n_tup_upd), 0) FROM pg_stat_xact_user_tables "
            "WHERE relname = 'sales_dealstagetotal' AND schemaname = current_schema()"
        )
        return int(cursor.fetchone()[0])


@pytest.mark.usefixtures("in_alpha")
def test_every_way_of_writing_deals_keeps_the_totals_equal_to_a_recount(
    alpha: Workspace,
) -> None:
    actor = fresh(alpha.owner)
    rep = alpha.members[Role.SALES_REP].user
    pipeline = PipelineFactory.create()
    first, second, *_rest, won, lost = list(pipeline.stages.order_by("position"))

    deal = services.deal_create(actor=actor, name="Создать", stage=first, amount="1200.50")
    other = services.deal_create(
        actor=actor, name="王芳", stage=first, amount="300", owner_id=rep.pk
    )
    unowned = DealFactory.create(pipeline=pipeline, stage=first, amount=Decimal("7"), owner=None)
    assert kept() == recount()
    assert kept()[(first.pk, actor.user_id, "open", deal.currency)] == (1, Decimal("1200.50"))

    services.deal_move_stage(actor=actor, deal=deal, stage=second)
    services.deal_update(actor=actor, deal=other, changes={"amount": "450.25"})
    services.deal_update(actor=actor, deal=other, changes={"owner": actor.user_id})
    services.deal_move_stage(actor=actor, deal=other, stage=lost, lost_reason="Price")
    assert kept() == recount()
    assert kept()[(lost.pk, actor.user_id, "lost", deal.currency)] == (1, Decimal("450.25"))

    deals_bulk_create(
        actor=actor,
        drafts=[
            DealDraft(
                fields={"name": f"Import {n}", "amount": Decimal(n), "currency": "USD"},
                owner_id=rep.pk if n % 2 else actor.user_id,
                stage=won if n % 3 else first,
            )
            for n in range(1, 31)
        ],
    )
    assert kept() == recount()

    records_bulk_apply(
        actor=actor,
        entity="deal",
        ids=list(Deal.objects.filter(stage=won).values_list("id", flat=True)[:5]),
        action="owner",
        value=str(rep.pk),
    )
    Deal.objects.filter(stage=first).update(amount=Decimal("1.01"))
    # A status or currency changed in place moves the deal between rows of its stage.
    Deal.objects.filter(pk=deal.pk).update(status=Deal.Status.WON, currency="EUR")
    services.deal_delete(actor=actor, deal=unowned)
    Deal.objects.filter(stage=won, owner=rep).delete()
    assert kept() == recount()


@pytest.mark.usefixtures("in_alpha")
def test_an_update_that_moves_no_deal_and_changes_no_sum_writes_no_total(
    alpha: Workspace,
) -> None:
    actor = fresh(alpha.owner)
    deal = DealFactory.create(owner=alpha.owner.user)
    before = totals_written()
    services.deal_update(actor=actor, deal=deal, changes={"name": "Renamed", "tags": ["vip"]})
    Deal.objects.update(search_text="x")
    assert totals_written() == before
    services.deal_update(actor=actor, deal=deal, changes={"amount": "5"})
    assert totals_written() == before + 1


@pytest.mark.usefixtures("in_alpha")
def test_the_board_reads_its_sums_from_the_totals(alpha: Workspace) -> None:
    """Sums the deals' own amounts could not give show the board reads the kept totals."""
    from crm_modules.sales import selectors

    deal = DealFactory.create(owner=alpha.owner.user, amount=Decimal("10"))
    DealStageTotal.objects.filter(stage_id=deal.stage_id).update(amount=Decimal("99"))
    board = selectors.deal_board(actor=fresh(alpha.owner), pipeline=deal.pipeline)
    assert board[0]["total"] == Decimal("99")
    assert board[0]["count"] == 1


def test_deals_written_at_once_from_two_connections_are_all_counted(
    world: World, django_db_blocker: Any
) -> None:
    """Real concurrent transactions on the committed workspace, each adding deals to the same
    stage and owner: the second upsert waits for the first, and neither is lost."""
    alpha = world.alpha
    schema = alpha.tenant.schema_name
    with django_db_blocker.unblock():
        with schema_context(schema):
            pipeline = PipelineFactory.create()
            stage = pipeline.stages.order_by("position")[0]

        def add(go: Callable[[], object]) -> None:
            go()
            DealFactory.create_batch(5, pipeline=pipeline, stage=stage, owner=alpha.owner.user)

        try:
            race([add, add], schema=schema)
            with schema_context(schema):
                total = DealStageTotal.objects.get(stage_id=stage.pk, owner=alpha.owner.user)
                assert (total.deals, total.amount) == (10, Decimal("10000.00"))
        finally:
            with schema_context(schema):
                Deal.objects.filter(pipeline=pipeline).delete()
                DealStageTotal.objects.filter(stage_id__in=pipeline.stages.values("id")).delete()
                pipeline.delete()
