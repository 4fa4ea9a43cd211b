"""Segments: a dynamic segment's JSON filter selects exactly the contacts it says (fields,
custom fields, score, stage, consent, tags, owner, company, deals); bad filters are refused
naming the part and nothing is saved; static lists; the API and pages by role; member pages
run the same queries for few and many contacts."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm_modules.marketing import selectors, services
from crm_modules.marketing.models import Segment, SegmentMember
from crm_modules.sales.api import Consent, Contact
from crm_platform.errors import PermissionDenied, ServiceError
from tenants.audit.models import AuditEvent
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.marketing.conftest import fresh
from tests.sales.factories import CompanyFactory, ContactFactory, DealFactory

pytestmark = pytest.mark.usefixtures("in_alpha")

SEGMENTS = "/api/v1/marketing/segments/"
C0 = "definition.conditions[0]"


def _send(client: Client, method: str, path: str, body: dict[str, Any]) -> Any:
    return client.generic(method, path, data=json.dumps(body), content_type="application/json")


def _members(alpha: Workspace, definition: dict[str, Any]) -> set[int]:
    marketer = fresh(alpha.members[Role.MARKETER])
    segment = services.segment_create(
        actor=marketer, name="S", kind="dynamic", definition=definition
    )
    rows = selectors.segment_contacts(actor=fresh(alpha.members[Role.OWNER]), segment=segment)
    return set(rows.values_list("pk", flat=True))


def _all(*conditions: dict[str, Any]) -> dict[str, Any]:
    return {"match": "all", "conditions": list(conditions)}


def _consent(contact: Contact, channel: str, status: str) -> None:
    Consent.objects.create(
        contact=contact, channel=channel, status=status, recorded_at=timezone.now(), method="form"
    )


def test_customers_in_milan_with_won_deals_over_5000(alpha: Workspace) -> None:
    milan = CompanyFactory.create(name="Rossi S.p.A.", city="Milano")
    rome = CompanyFactory.create(name="Bianchi", city="Roma")
    rich = ContactFactory.create(company=milan, lifecycle_stage="customer", city="Milano")
    poor = ContactFactory.create(company=milan, lifecycle_stage="customer", city="Milano")
    elsewhere = ContactFactory.create(company=rome, lifecycle_stage="customer", city="Roma")
    lead = ContactFactory.create(company=milan, lifecycle_stage="lead", city="Milano")
    for contact, amount in ((rich, "3000"), (rich, "2500"), (poor, "4000"), (elsewhere, "9000")):
        deal = DealFactory.create(status="won", amount=Decimal(amount))
        deal.contacts.add(contact)
    DealFactory.create(status="lost", amount=Decimal("9000")).contacts.add(poor)
    DealFactory.create(status="won", amount=Decimal("9000")).contacts.add(lead)

    members = _members(
        alpha,
        _all(
            {"field": "company.city", "op": "eq", "value": "milano"},
            {"field": "lifecycle_stage", "op": "eq", "value": "customer"},
            {"field": "won_amount", "op": "gt", "value": 5000},
        ),
    )

    assert members == {rich.pk}


def test_score_tags_custom_owner_and_open_deals(alpha: Workspace) -> None:
    owner = alpha.members[Role.SALES_REP].user
    hot = ContactFactory.create(score=80, tags=["vip"], custom={"plan": "gold"}, owner=owner)
    warm = ContactFactory.create(score=50, tags=["vip"], custom={"plan": "silver"}, owner=owner)
    cold = ContactFactory.create(score=90, tags=[], custom={}, owner=None)
    DealFactory.create(status="open").contacts.add(warm)

    assert _members(alpha, _all({"field": "score", "op": "gte", "value": 80})) == {hot.pk, cold.pk}
    assert _members(alpha, _all({"field": "tags", "op": "has", "value": "vip"})) == {
        hot.pk,
        warm.pk,
    }
    assert _members(alpha, _all({"field": "custom.plan", "op": "eq", "value": "gold"})) == {hot.pk}
    assert _members(alpha, _all({"field": "custom.plan", "op": "empty", "value": None})) == {
        cold.pk
    }
    assert _members(alpha, _all({"field": "owner", "op": "eq", "value": owner.pk})) == {
        hot.pk,
        warm.pk,
    }
    assert _members(alpha, _all({"field": "has_open_deal", "op": "is", "value": True})) == {warm.pk}
    assert _members(
        alpha,
        {
            "match": "any",
            "conditions": [
                {"field": "has_open_deal", "op": "is", "value": True},
                {"field": "owner", "op": "empty", "value": None},
            ],
        },
    ) == {warm.pk, cold.pk}


def test_consent_per_channel(alpha: Workspace) -> None:
    given = ContactFactory.create()
    withdrawn = ContactFactory.create()
    unknown = ContactFactory.create()
    _consent(given, "email", "given")
    _consent(given, "sms", "withdrawn")
    _consent(withdrawn, "email", "withdrawn")

    def by(value: str) -> set[int]:
        return _members(alpha, _all({"field": "consent.email", "op": "is", "value": value}))

    assert by("given") == {given.pk}
    assert by("withdrawn") == {withdrawn.pk}
    assert by("none") == {unknown.pk}


@pytest.mark.parametrize(
    ("definition", "field", "fragment"),
    [
        ("all", "definition", "object"),
        ({"match": "some", "conditions": []}, "definition", "“match”"),
        ({"match": "all", "conditions": []}, "definition", "at least one"),
        (_all({"field": "password", "op": "eq", "value": "x"}), C0, "password"),
        (_all({"field": "score", "op": "contains", "value": 1}), C0, "operator"),
        (_all({"field": "score", "op": "gt", "value": "1; DROP TABLE"}), C0, "number"),
        (_all({"field": "score", "op": "gt", "value": "NaN"}), C0, "number"),
        (_all({"field": "lifecycle_stage", "op": "eq", "value": "boss"}), C0, "Choose"),
        (_all({"field": "custom.a'b", "op": "eq", "value": "x"}), C0, "custom field"),
        (_all({"field": "tags", "op": "has", "value": "x" * 201}), C0, "200"),
        (_all({"field": "has_open_deal", "op": "is", "value": "yes"}), C0, "true"),
        (
            {
                "match": "all",
                "conditions": [{"field": "score", "op": "gt", "value": 1, "sql": "x"}],
            },
            C0,
            "object",
        ),
    ],
)
def test_a_bad_filter_is_refused_naming_the_part_and_nothing_is_saved(
    alpha: Workspace, definition: Any, field: str, fragment: str
) -> None:
    marketer = fresh(alpha.members[Role.MARKETER])

    with pytest.raises(ServiceError) as error:
        services.segment_create(actor=marketer, name="Bad", kind="dynamic", definition=definition)

    assert error.value.field == field
    assert fragment in error.value.message
    assert Segment.objects.count() == 0
    assert AuditEvent.objects.filter(action="segment.created").count() == 0


@pytest.mark.parametrize("role", [Role.SALES_REP, Role.SUPPORT_AGENT, Role.READ_ONLY])
def test_only_marketers_and_managers_create_segments(alpha: Workspace, role: str) -> None:
    with pytest.raises(PermissionDenied):
        services.segment_create(
            actor=fresh(alpha.members[role]),
            name="Mine",
            kind="dynamic",
            definition=_all({"field": "score", "op": "gt", "value": 1}),
        )
    assert Segment.objects.count() == 0


def test_api_create_returns_the_live_count_and_lists_members(alpha: Workspace) -> None:
    customers = [ContactFactory.create(lifecycle_stage="customer") for _ in range(3)]
    ContactFactory.create(lifecycle_stage="lead")
    marketer = workspace_client(alpha.members[Role.MARKETER].user, alpha.tenant)

    response = _send(
        marketer,
        "POST",
        SEGMENTS,
        {
            "name": "Клиенты",
            "kind": "dynamic",
            "definition": _all({"field": "lifecycle_stage", "op": "eq", "value": "customer"}),
        },
    )

    assert response.status_code == 201
    body = response.json()
    assert (body["name"], body["kind"], body["count"]) == ("Клиенты", "dynamic", 3)
    assert AuditEvent.objects.filter(action="segment.created").count() == 1
    reader = workspace_client(alpha.members[Role.READ_ONLY].user, alpha.tenant)
    first = reader.get(f"{SEGMENTS}{body['id']}/members/?page_size=2").json()
    assert [row["id"] for row in first["results"]] == [customers[2].pk, customers[1].pk]
    second = reader.get(first["next"]).json()
    assert [row["id"] for row in second["results"]] == [customers[0].pk]
    assert reader.get(f"{SEGMENTS}{body['id']}/").json()["count"] == 3


def test_api_refuses_a_bad_filter_naming_the_field(alpha: Workspace) -> None:
    marketer = workspace_client(alpha.members[Role.MARKETER].user, alpha.tenant)

    response = _send(
        marketer,
        "POST",
        SEGMENTS,
        {
            "name": "X",
            "kind": "dynamic",
            "definition": _all({"field": "id", "op": "eq", "value": 1}),
        },
    )

    assert response.status_code == 400
    assert "definition.conditions[0]" in json.dumps(response.json())
    assert Segment.objects.count() == 0


def test_api_sales_rep_cannot_create(alpha: Workspace) -> None:
    rep = workspace_client(alpha.members[Role.SALES_REP].user, alpha.tenant)

    response = _send(rep, "POST", SEGMENTS, {"name": "X", "kind": "static"})

    assert response.status_code == 403
    assert Segment.objects.count() == 0


def test_static_list_takes_contacts_once_and_refuses_unknown_ids(alpha: Workspace) -> None:
    marketer = fresh(alpha.members[Role.MARKETER])
    segment = services.segment_create(actor=marketer, name="Fair 2026", kind="static")
    a, b = ContactFactory.create(), ContactFactory.create()

    assert services.segment_add_contacts(actor=marketer, segment=segment, contact_ids=[a.pk]) == 1
    assert (
        services.segment_add_contacts(actor=marketer, segment=segment, contact_ids=[a.pk, b.pk])
        == 1
    )
    with pytest.raises(ServiceError) as error:
        services.segment_add_contacts(actor=marketer, segment=segment, contact_ids=[b.pk, 999_999])

    assert error.value.field == "contacts"
    assert selectors.segment_count(actor=marketer, segment=segment) == 2
    assert SegmentMember.objects.count() == 2


def test_a_static_list_has_no_filter(alpha: Workspace) -> None:
    with pytest.raises(ServiceError) as error:
        services.segment_create(
            actor=fresh(alpha.members[Role.MARKETER]),
            name="L",
            kind="static",
            definition=_all({"field": "score", "op": "gt", "value": 1}),
        )
    assert error.value.field == "definition"
    assert Segment.objects.count() == 0


def test_page_creates_a_segment_and_shows_its_count(alpha: Workspace) -> None:
    ContactFactory.create(score=70)
    ContactFactory.create(score=10)
    client = workspace_client(alpha.members[Role.MARKETER].user, alpha.tenant)
    definition = json.dumps(_all({"field": "score", "op": "gt", "value": 50}))

    response = client.post(
        "/marketing/segments/new/", {"name": "Hot", "kind": "dynamic", "definition": definition}
    )

    segment = Segment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/marketing/segments/{segment.pk}/"
    page = client.get(response["Location"])
    assert re.search(r'data-testid="segment-count">\s*1 contact ', page.content.decode())


def test_page_refuses_broken_json_and_saves_nothing(alpha: Workspace) -> None:
    client = workspace_client(alpha.members[Role.MARKETER].user, alpha.tenant)

    response = client.post(
        "/marketing/segments/new/", {"name": "Hot", "kind": "dynamic", "definition": "{oops"}
    )

    assert response.status_code == 400
    assert "not valid JSON" in response.content.decode()
    assert Segment.objects.count() == 0


def test_read_only_sees_segments_without_the_form(alpha: Workspace) -> None:
    services.segment_create(actor=fresh(alpha.members[Role.MARKETER]), name="Fair", kind="static")
    client = workspace_client(alpha.members[Role.READ_ONLY].user, alpha.tenant)

    page = client.get("/marketing/segments/").content.decode()

    assert "Fair" in page
    assert 'data-testid="new-segment"' not in page
    assert (
        client.post("/marketing/segments/new/", {"name": "X", "kind": "static"}).status_code == 403
    )
    assert Segment.objects.count() == 1


def _queries(get: Callable[[], Any]) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = get()
    assert response.status_code == 200
    return len(queries)


def test_member_pages_run_the_same_queries_for_few_and_many_contacts(alpha: Workspace) -> None:
    segment = services.segment_create(
        actor=fresh(alpha.members[Role.MARKETER]),
        name="All customers",
        kind="dynamic",
        definition=_all({"field": "lifecycle_stage", "op": "eq", "value": "customer"}),
    )
    client = workspace_client(alpha.members[Role.MANAGER].user, alpha.tenant)
    ContactFactory.create(lifecycle_stage="customer", company=CompanyFactory.create())
    path = f"/marketing/segments/{segment.pk}/"
    api = f"{SEGMENTS}{segment.pk}/members/"
    client.get(path)  # the first request of a session also loads the session's settings
    few = (_queries(lambda: client.get(path)), _queries(lambda: client.get(api)))
    for _ in range(30):
        ContactFactory.create(lifecycle_stage="customer", company=CompanyFactory.create())

    assert (_queries(lambda: client.get(path)), _queries(lambda: client.get(api))) == few
