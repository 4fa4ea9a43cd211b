"""The deals list (filters, sorts, keyset pages) and the pipeline administration page."""

from __future__ import annotations

import datetime
import json
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm_modules.sales import services
from crm_modules.sales.models import Deal, DealStageChange, Pipeline, Stage
from crm_platform.errors import ServiceError
from tenants.audit.models import AuditEvent
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.sales.conftest import fresh
from tests.sales.factories import DealFactory, PipelineFactory

pytestmark = pytest.mark.usefixtures("in_alpha")


def _ids(html: str) -> list[int]:
    import re

    return [int(n) for n in re.findall(r'<tr data-deal="(\d+)"', html)]


def test_deal_list_filters_by_each_field(alpha: Workspace) -> None:
    rep = alpha.members[Role.SALES_REP].user
    one, two = PipelineFactory.create(), PipelineFactory.create()
    proposal = one.stages.get(position=1)
    wanted = DealFactory.create(
        pipeline=one,
        stage=proposal,
        owner=rep,
        amount=Decimal("500"),
        expected_close_date=datetime.date(2026, 3, 10),
    )
    DealFactory.create(pipeline=two, owner=rep, amount=Decimal("500"))  # other pipeline
    DealFactory.create(pipeline=one, owner=rep, amount=Decimal("500"))  # other stage
    DealFactory.create(pipeline=one, stage=proposal, owner=alpha.owner.user)  # other owner
    DealFactory.create(  # outside the amount range
        pipeline=one, stage=proposal, owner=rep, amount=Decimal("5000"),
        expected_close_date=datetime.date(2026, 3, 11),
    )  # fmt: skip
    DealFactory.create(  # outside the date range
        pipeline=one, stage=proposal, owner=rep, amount=Decimal("400"),
        expected_close_date=datetime.date(2026, 4, 1),
    )  # fmt: skip
    won = DealFactory.create(pipeline=one, stage=one.stages.get(kind="won"), status="won")
    client = workspace_client(alpha.members[Role.READ_ONLY].user, alpha.tenant)
    query = (
        f"pipeline={one.pk}&stage={proposal.pk}&owner={rep.pk}&status=open"
        "&close_from=2026-03-01&close_to=2026-03-31&amount_min=100&amount_max=1000"
    )
    response = client.get(f"/sales/deals/list/?{query}")
    assert response.status_code == 200
    assert _ids(response.content.decode()) == [wanted.pk]
    html = client.get("/sales/deals/list/?status=won").content.decode()
    assert _ids(html) == [won.pk]


@pytest.mark.parametrize(
    ("query", "label"),
    [
        ("close_from=31/12/2026", "Closing from"),
        ("amount_min=lots", "Amount from"),
        ("status=maybe", "Status"),
        ("stage=999999", "Stage"),
    ],
)
def test_bad_filters_are_named(alpha: Workspace, query: str, label: str) -> None:
    client = workspace_client(alpha.owner.user, alpha.tenant)
    response = client.get(f"/sales/deals/list/?{query}")
    assert response.status_code == 400
    assert f"{label}: " in response.content.decode()


def test_deal_list_sorts_by_amount_across_keyset_pages(alpha: Workspace) -> None:
    pipeline = PipelineFactory.create()
    amounts = [Decimal(n * 7 % 60) for n in range(60)]
    for amount in amounts:
        DealFactory.create(pipeline=pipeline, amount=amount)
    client = workspace_client(alpha.owner.user, alpha.tenant)
    response = client.get("/sales/deals/list/?sort=-amount")
    first = _ids(response.content.decode())
    assert len(first) == 50
    cursor = response.context["page"].next_cursor
    second = _ids(client.get(f"/sales/deals/list/?sort=-amount&after={cursor}").content.decode())
    seen = [Deal.objects.get(pk=pk).amount for pk in first + second]
    assert seen == sorted(amounts, reverse=True)
    assert len(set(first + second)) == 60


def test_deal_list_runs_the_same_queries_for_few_and_many_deals(alpha: Workspace) -> None:
    client = workspace_client(alpha.owner.user, alpha.tenant)
    pipeline = PipelineFactory.create()
    DealFactory.create(pipeline=pipeline, owner=alpha.owner.user)
    client.get("/sales/deals/list/?sort=name")
    with CaptureQueriesContext(connection) as few:
        client.get("/sales/deals/list/?sort=name")
    for _n in range(30):
        DealFactory.create(pipeline=pipeline, owner=alpha.owner.user)
    with CaptureQueriesContext(connection) as many:
        client.get("/sales/deals/list/?sort=name")
    assert len(many) == len(few)


# --- pipeline administration -----------------------------------------------------------------


def test_an_admin_builds_a_pipeline_from_the_page(alpha: Workspace) -> None:
    client = workspace_client(alpha.members[Role.ADMIN].user, alpha.tenant)
    response = client.post("/sales/pipelines/", {"name": "Renewals"})
    pipeline = Pipeline.objects.get(name="Renewals")
    assert response["Location"] == f"/sales/pipelines/{pipeline.pk}/"
    path = f"/sales/pipelines/{pipeline.pk}/"
    client.post(path, {"op": "add_stage", "name": "Demo", "probability": "40", "kind": "open"})
    demo = pipeline.stages.get(name="Demo")
    assert (demo.position, demo.probability) == (3, 40)
    client.post(path, {"op": "up", "stage": demo.pk})
    client.post(path, {"op": "up", "stage": demo.pk})
    names = list(pipeline.stages.order_by("position").values_list("name", flat=True))
    assert names == ["New", "Demo", "Won", "Lost"]
    client.post(
        path, {"op": "edit_stage", "stage": demo.pk, "name": "Live demo", "probability": "55"}
    )
    demo.refresh_from_db()
    assert (demo.name, demo.probability) == ("Live demo", 55)
    client.post(path, {"op": "rename", "name": "Renewals 2027"})
    pipeline.refresh_from_db()
    assert pipeline.name == "Renewals 2027"
    assert client.get(path).status_code == 200
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"pipeline.created", "stage.created", "stage.updated", "pipeline.updated"} <= actions


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"op": "add_stage", "name": "X", "probability": "140"}, "from 0 to 100"),
        ({"op": "add_stage", "name": "", "probability": "10"}, "Stage name"),
        ({"op": "rename", "name": ""}, "Name"),
        ({"op": "explode"}, "Choose what to change."),
    ],
)
def test_bad_pipeline_changes_are_named_and_change_nothing(
    alpha: Workspace, data: dict[str, str], message: str
) -> None:
    pipeline = PipelineFactory.create(name="Sales")
    client = workspace_client(alpha.owner.user, alpha.tenant)
    response = client.post(f"/sales/pipelines/{pipeline.pk}/", data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert pipeline.stages.count() == 4
    assert Pipeline.objects.get().name == "Sales"


@pytest.mark.parametrize("role", [Role.MANAGER, Role.SALES_REP, Role.READ_ONLY])
def test_only_admins_manage_pipelines(alpha: Workspace, role: str) -> None:
    pipeline = PipelineFactory.create()
    client = workspace_client(alpha.members[role].user, alpha.tenant)
    response = client.post(f"/sales/pipelines/{pipeline.pk}/", {"op": "rename", "name": "X"})
    assert response.status_code == 403
    with pytest.raises(ServiceError):
        services.pipeline_rename(actor=fresh(alpha.members[role]), pipeline=pipeline, name="X")


def test_a_stage_holding_deals_is_deleted_only_by_moving_them(alpha: Workspace) -> None:
    pipeline = PipelineFactory.create()
    new, proposal = pipeline.stages.get(position=0), pipeline.stages.get(position=1)
    deals = [DealFactory.create(pipeline=pipeline, stage=new) for _n in range(3)]
    client = workspace_client(alpha.owner.user, alpha.tenant)
    path = f"/sales/pipelines/{pipeline.pk}/"
    response = client.post(path, {"op": "delete_stage", "stage": new.pk})
    assert response.status_code == 400
    assert "This stage holds deals" in response.content.decode()
    assert Stage.objects.filter(pk=new.pk).exists()
    other = PipelineFactory.create().stages.get(position=0)
    response = client.post(path, {"op": "delete_stage", "stage": new.pk, "move_to": other.pk})
    assert response.status_code == 400
    assert Stage.objects.filter(pk=new.pk).exists()
    response = client.post(path, {"op": "delete_stage", "stage": new.pk, "move_to": proposal.pk})
    assert response.status_code == 302
    assert not Stage.objects.filter(pk=new.pk).exists()
    assert set(
        Deal.objects.filter(pk__in=[d.pk for d in deals]).values_list("stage", flat=True)
    ) == {proposal.pk}
    assert DealStageChange.objects.filter(to_stage=proposal).count() == 3
    assert list(pipeline.stages.order_by("position").values_list("position", flat=True)) == [
        0,
        1,
        2,
    ]


def test_an_empty_stage_is_deleted_but_the_last_open_one_is_kept(alpha: Workspace) -> None:
    pipeline = PipelineFactory.create()
    actor = fresh(alpha.owner)
    services.stage_delete(
        actor=actor, pipeline=pipeline, stage_id=pipeline.stages.get(position=1).pk
    )
    with pytest.raises(ServiceError, match="at least one open stage"):
        services.stage_delete(
            actor=actor, pipeline=pipeline, stage_id=pipeline.stages.get(name="New").pk
        )


def test_an_archived_pipeline_keeps_its_deals_and_takes_no_new_ones(alpha: Workspace) -> None:
    keep = PipelineFactory.create()
    pipeline = PipelineFactory.create(name="Old")
    deal = DealFactory.create(pipeline=pipeline)
    client = workspace_client(alpha.owner.user, alpha.tenant)
    client.post(f"/sales/pipelines/{pipeline.pk}/", {"op": "archive"})
    pipeline.refresh_from_db()
    assert pipeline.archived_at is not None
    assert Deal.objects.filter(pk=deal.pk).exists()
    board = client.get("/sales/deals/").content.decode()
    assert ">Old<" not in board
    with pytest.raises(ServiceError, match="archived"):
        services.deal_create(
            actor=fresh(alpha.owner), name="New", stage=pipeline.stages.get(position=0).pk
        )
    with pytest.raises(ServiceError, match="at least one active pipeline"):
        services.pipeline_archive(actor=fresh(alpha.owner), pipeline=keep, archived=True)
    client.post(f"/sales/pipelines/{pipeline.pk}/", {"op": "restore"})
    pipeline.refresh_from_db()
    assert pipeline.archived_at is None


def _send(client: Any, method: str, path: str, body: dict[str, Any]) -> Any:
    return client.generic(method, path, data=json.dumps(body), content_type="application/json")


def test_pipelines_are_administered_through_the_api(alpha: Workspace) -> None:
    keep = PipelineFactory.create()
    pipeline = PipelineFactory.create()
    new = pipeline.stages.get(position=0)
    proposal = pipeline.stages.get(position=1)
    deal = DealFactory.create(pipeline=pipeline, stage=new)
    client = workspace_client(alpha.members[Role.ADMIN].user, alpha.tenant)
    base = f"/api/v1/sales/pipelines/{pipeline.pk}/"
    body = _send(client, "PATCH", base, {"name": "Renewals"}).json()
    assert body["name"] == "Renewals"
    response = _send(client, "POST", f"{base}stages/", {"name": "Demo", "probability": 130})
    assert response.status_code == 400
    assert response.json()["error"]["fields"].keys() == {"probability"}
    response = _send(client, "POST", f"{base}stages/", {"name": "Demo", "probability": 30})
    assert response.status_code == 201
    demo = Stage.objects.get(name="Demo")
    stages = _send(client, "PATCH", f"{base}stages/{demo.pk}/", {"move": "earlier"}).json()[
        "stages"
    ]
    assert [s["name"] for s in stages] == ["New", "Proposal", "Won", "Demo", "Lost"]
    response = _send(client, "DELETE", f"{base}stages/{new.pk}/", {})
    assert response.status_code == 400
    assert "move_to" in response.json()["error"]["fields"]
    response = _send(client, "DELETE", f"{base}stages/{new.pk}/?move_to={proposal.pk}", {})
    assert response.status_code == 204
    assert Deal.objects.get(pk=deal.pk).stage_id == proposal.pk
    other = keep.stages.get(position=0)
    assert _send(client, "DELETE", f"{base}stages/{other.pk}/", {}).status_code == 404
    body = _send(client, "PATCH", base, {"archived": True}).json()
    assert body["archived_at"] is not None
    manager = workspace_client(alpha.members[Role.MANAGER].user, alpha.tenant)
    assert _send(manager, "PATCH", base, {"name": "X"}).status_code == 403
