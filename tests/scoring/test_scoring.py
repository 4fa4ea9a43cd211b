"""Lead scoring: weighted rules computed in SQL, explained per record, recomputed when an input
or a rule changes, thresholds that act, and rules on deleted fields that fail safe."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest
from django.db import connection
from django.db.models import Max, Min
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from crm_modules.activities import api as timeline
from crm_modules.sales import services as sales_services
from crm_modules.sales.models import Contact, Lead, Task
from crm_modules.scoring import services
from crm_modules.scoring.models import ScoringRule
from crm_platform.errors import PermissionDenied, ServiceError
from tenants.audit.models import AuditEvent
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.sales.conftest import fresh
from tests.sales.factories import CompanyFactory, ContactFactory, LeadFactory

pytestmark = pytest.mark.usefixtures("in_alpha")


def _send(client: Client, method: str, path: str, body: dict[str, Any]) -> Any:
    return client.generic(method, path, data=json.dumps(body), content_type="application/json")


def _rule(alpha: Workspace, **data: Any) -> ScoringRule:
    return services.rule_create(actor=fresh(alpha.owner), data={"entity": "contact", **data})


@pytest.fixture
def after_commit(django_capture_on_commit_callbacks: Any) -> Any:
    """Run what the services leave for after commit (the background scoring) at once."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def _score(contact: Contact) -> tuple[int, dict[str, int]]:
    contact.refresh_from_db()
    return contact.score, contact.score_breakdown


def test_field_engagement_and_consent_rules_add_up_and_explain(alpha: Workspace) -> None:
    actor = fresh(alpha.owner)
    big = CompanyFactory.create(industry="Retail", size="201-1000")
    small = CompanyFactory.create(industry="Energy", size="1-10")
    hot = ContactFactory.create(company=big, owner=alpha.owner.user)
    cold = ContactFactory.create(company=small, owner=alpha.owner.user)
    industry = _rule(
        alpha,
        name="Retail",
        kind="field",
        field="company.industry",
        operator="eq",
        value="retail",
        points=10,
    )
    size = _rule(
        alpha,
        name="Over 200",
        kind="field",
        field="company.size",
        operator="in",
        value="201-1000, 1001+",
        points=15,
    )
    meeting = _rule(
        alpha, name="Meeting", kind="engagement", activity_kind="meeting", days=14, points=20
    )
    unsubscribed = _rule(alpha, name="Unsubscribed", kind="consent", channel="email", points=-30)
    timeline.activity_log(kind="meeting", author=None, concerns=[hot])
    old = timeline.activity_log(
        kind="meeting",
        author=None,
        concerns=[cold],
        occurred_at=timezone.now() - datetime.timedelta(days=30),
    )
    assert old.pk
    sales_services.contact_set_consent(
        actor=actor, contact=cold, channel="email", status="withdrawn", method="Unsubscribed"
    )

    assert services.scores_recompute(entity="contact") >= 2

    assert _score(hot) == (
        45,
        {str(industry.pk): 10, str(size.pk): 15, str(meeting.pk): 20},
    )
    assert _score(cold) == (-30, {str(unsubscribed.pk): -30})
    client = workspace_client(alpha.owner.user, alpha.tenant)
    body = client.get(f"/api/v1/sales/contacts/{hot.pk}/").json()
    assert body["score"] == 45
    assert body["score_explanation"] == [
        {"rule": meeting.pk, "name": "Meeting", "points": 20},
        {"rule": size.pk, "name": "Over 200", "points": 15},
        {"rule": industry.pk, "name": "Retail", "points": 10},
    ]
    page = client.get(reverse("sales:contact_detail", args=[hot.pk])).content.decode()
    assert 'data-testid="score-value">45<' in page
    assert "Over 200: <strong>+15</strong>" in page


def test_recompute_is_one_update_per_batch(alpha: Workspace) -> None:
    ContactFactory.create_batch(5)
    _rule(
        alpha,
        name="Tagged",
        kind="field",
        field="tags",
        operator="contains",
        value="vip",
        points=5,
    )
    _rule(alpha, name="Quiet", kind="inactivity", days=30, points=-5)
    with CaptureQueriesContext(connection) as queries:
        services.scores_recompute(entity="contact")
    updates = [q["sql"] for q in queries if q["sql"].startswith("UPDATE")]
    assert len(updates) == 1


def test_each_rule_is_evaluated_once_a_record_and_batches_touch_only_their_records(
    alpha: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    vips = ContactFactory.create_batch(5, tags=["vip"])
    tagged = _rule(
        alpha, name="Tagged", kind="field", field="tags", operator="contains", value="vip", points=5
    )
    meeting = _rule(
        alpha, name="Meeting", kind="engagement", activity_kind="meeting", days=14, points=20
    )
    timeline.activity_log(kind="meeting", author=None, concerns=[vips[0]])

    # Only the records asked for are written, even when others would change too.
    assert services.scores_recompute(entity="contact", ids=[vips[0].pk, vips[2].pk]) == 2
    assert _score(vips[0]) == (25, {str(tagged.pk): 5, str(meeting.pk): 20})
    assert _score(vips[2]) == (5, {str(tagged.pk): 5})
    assert _score(vips[1]) == (0, {})

    monkeypatch.setattr(services, "BATCH", 2)
    with CaptureQueriesContext(connection) as queries:
        assert services.scores_recompute(entity="contact") == 3
    updates = [q["sql"] for q in queries if q["sql"].startswith("UPDATE")]
    bounds = Contact.objects.aggregate(low=Min("pk"), high=Max("pk"))
    assert len(updates) == len(range(bounds["low"], bounds["high"] + 1, 2))
    # The timeline condition appears once in each statement: the score and the breakdown are
    # both read from one evaluation per record.
    assert all(sql.count("activities_activitylink") == 1 for sql in updates)
    assert [_score(contact)[0] for contact in vips] == [25, 5, 5, 5, 5]
    assert services.scores_recompute(entity="contact") == 0


def test_an_input_change_rescores_the_record_in_the_background(
    alpha: Workspace, after_commit: Any
) -> None:
    actor = fresh(alpha.owner)
    cto = _rule(
        alpha,
        name="CTO",
        kind="field",
        field="job_title",
        operator="contains",
        value="cto",
        points=25,
    )
    call = _rule(alpha, name="Call", kind="engagement", activity_kind="call", days=7, points=5)
    contact = sales_services.contact_create(actor=actor, first_name="Ada", last_name="L")
    assert _score(contact)[0] == 0
    with after_commit():
        sales_services.contact_update(actor=actor, contact=contact, changes={"job_title": "CTO"})
    assert _score(contact)[0] == 25
    with after_commit():
        sales_services.record_log_activity(
            actor=actor, record=contact, kind="call", subject="Intro"
        )
    assert _score(contact) == (30, {str(cto.pk): 25, str(call.pk): 5})


def test_a_rule_change_rescores_everyone_and_deleting_it_removes_its_points(
    alpha: Workspace, after_commit: Any
) -> None:
    contact = ContactFactory.create(source="fair")
    with after_commit():
        rule = _rule(
            alpha, name="Fair", kind="field", field="source", operator="eq", value="fair", points=7
        )
    assert _score(contact)[0] == 7
    with after_commit():
        services.rule_update(actor=fresh(alpha.owner), rule=rule, changes={"points": 9})
    assert _score(contact)[0] == 9
    with after_commit():
        services.rule_delete(actor=fresh(alpha.owner), rule=rule)
    assert _score(contact) == (0, {})
    assert AuditEvent.objects.filter(action="scoring.rule_deleted").exists()


def test_rule_on_a_deleted_custom_field_is_marked_and_gives_no_points(
    alpha: Workspace, after_commit: Any
) -> None:
    actor = fresh(alpha.owner)
    field = sales_services.custom_field_create(
        actor=actor, entity="contact", code="employees", label="Employees", type="number"
    )
    contact = sales_services.contact_create(
        actor=actor, first_name="Big", custom_fields={"employees": 500}
    )
    with after_commit():
        rule = _rule(
            alpha,
            name="Large",
            kind="field",
            field="custom.employees",
            operator="gt",
            value="200",
            points=15,
        )
    assert _score(contact)[0] == 15

    with after_commit():
        sales_services.custom_field_delete(actor=actor, field=field)

    assert _score(contact) == (0, {})
    assert "deleted" in services.rule_problem(ScoringRule.objects.get(pk=rule.pk))
    client = workspace_client(alpha.owner.user, alpha.tenant)
    body = client.get(f"/api/v1/scoring/rules/{rule.pk}/").json()
    assert "deleted" in body["problem"]
    page = client.get(reverse("scoring:rules"))
    assert page.status_code == 200
    assert 'data-testid="rule-problem"' in page.content.decode()


def test_an_archived_custom_field_is_not_offered_but_its_rules_keep_giving_points(
    alpha: Workspace, after_commit: Any
) -> None:
    actor = fresh(alpha.owner)
    field = sales_services.custom_field_create(
        actor=actor, entity="contact", code="employees", label="Employees", type="number"
    )
    sales_services.custom_field_create(
        actor=actor, entity="contact", code="seats", label="Seats", type="number"
    )
    contact = sales_services.contact_create(
        actor=actor, first_name="Big", custom_fields={"employees": 500}
    )
    with after_commit():
        rule = _rule(
            alpha,
            name="Large",
            kind="field",
            field="custom.employees",
            operator="gt",
            value="200",
            points=15,
        )

    sales_services.custom_field_archive(actor=actor, field=field, archived=True)

    offered = [code for code, _label in services.field_choices("contact")]
    assert "custom.seats" in offered
    assert "custom.employees" not in offered
    page = workspace_client(alpha.owner.user, alpha.tenant).get(reverse("scoring:rules"))
    assert 'value="custom.seats"' in page.content.decode()
    assert 'value="custom.employees"' not in page.content.decode()
    with pytest.raises(ServiceError) as caught:
        _rule(
            alpha,
            name="Copy",
            kind="field",
            field="custom.employees",
            operator="gt",
            value="1",
            points=5,
        )
    assert caught.value.field == "field"
    assert "archived" in caught.value.message
    assert ScoringRule.objects.count() == 1
    # The stored rule keeps scoring, and can still be changed.
    with after_commit():
        services.rule_update(actor=fresh(alpha.owner), rule=rule, changes={"points": 20})
    assert _score(contact)[0] == 20
    assert services.rule_problem(ScoringRule.objects.get(pk=rule.pk)) == ""


def test_threshold_moves_the_stage_and_gives_the_owner_a_task(
    alpha: Workspace, after_commit: Any
) -> None:
    actor = fresh(alpha.owner)
    services.threshold_create(
        actor=actor,
        data={
            "entity": "contact",
            "min_score": 20,
            "lifecycle_stage": "qualified",
            "task_title": "Call this hot lead",
        },
    )
    contact = ContactFactory.create(owner=alpha.owner.user, source="webinar")
    with after_commit():
        services.rule_create(
            actor=actor,
            data={
                "entity": "contact",
                "name": "Webinar",
                "kind": "field",
                "field": "source",
                "operator": "eq",
                "value": "webinar",
                "points": 20,
            },
        )
    contact.refresh_from_db()
    assert (contact.score, contact.lifecycle_stage) == (20, "qualified")
    assert list(Task.objects.filter(contact=contact).values_list("title", "owner")) == [
        ("Call this hot lead", alpha.owner.user.pk)
    ]
    # Computing again does not act twice: the score did not cross the threshold again.
    services.scores_recompute(entity="contact")
    assert Task.objects.filter(contact=contact).count() == 1


def test_leads_are_scored_and_sorted_by_score_in_the_api(
    alpha: Workspace, after_commit: Any
) -> None:
    low = LeadFactory.create(source="web")
    high = LeadFactory.create(source="referral")
    with after_commit():
        services.rule_create(
            actor=fresh(alpha.owner),
            data={
                "entity": "lead",
                "name": "Referral",
                "kind": "field",
                "field": "source",
                "operator": "eq",
                "value": "referral",
                "points": 40,
            },
        )
    client = workspace_client(alpha.owner.user, alpha.tenant)
    ids = [
        row["id"]
        for row in client.get("/api/v1/sales/leads/", {"ordering": "-score"}).json()["results"]
    ]
    assert ids.index(high.pk) < ids.index(low.pk)
    filtered = client.get("/api/v1/sales/leads/", {"min_score": 40}).json()["results"]
    assert [row["id"] for row in filtered] == [high.pk]
    assert filtered[0]["score_explanation"][0]["points"] == 40


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "", "kind": "field", "points": 1}, "name"),
        (
            {
                "name": "X",
                "kind": "field",
                "field": "nope",
                "operator": "eq",
                "value": "a",
                "points": 1,
            },
            "field",
        ),
        (
            {
                "name": "X",
                "kind": "field",
                "field": "source",
                "operator": "gt",
                "value": "a",
                "points": 1,
            },
            "operator",
        ),
        (
            {
                "name": "X",
                "kind": "field",
                "field": "source",
                "operator": "eq",
                "value": "",
                "points": 1,
            },
            "value",
        ),
        ({"name": "X", "kind": "engagement", "days": 0, "points": 1}, "days"),
        ({"name": "X", "kind": "consent", "channel": "fax", "points": 1}, "channel"),
        ({"name": "X", "kind": "consent", "channel": "email", "points": "many"}, "points"),
    ],
)
def test_bad_rules_name_the_field_and_create_nothing(
    alpha: Workspace, data: dict[str, Any], field: str
) -> None:
    with pytest.raises(ServiceError) as error:
        _rule(alpha, **data)
    assert error.value.field == field
    assert not ScoringRule.objects.exists()


def test_only_admins_define_rules_in_every_channel(alpha: Workspace) -> None:
    data = {"entity": "lead", "name": "X", "kind": "consent", "channel": "email", "points": -5}
    for role in (Role.MANAGER, Role.SALES_REP, Role.MARKETER, Role.READ_ONLY):
        with pytest.raises(PermissionDenied):
            services.rule_create(actor=fresh(alpha.members[role]), data=data)
        client = workspace_client(alpha.members[role].user, alpha.tenant)
        assert _send(client, "POST", "/api/v1/scoring/rules/", data).status_code == 403
        assert client.get(reverse("scoring:rules")).status_code == 403
        assert client.post(reverse("scoring:rule_new"), data).status_code == 403
        # Everyone may read the rules that explain a score.
        assert client.get("/api/v1/scoring/rules/").status_code == 200
    assert not ScoringRule.objects.exists()
    admin = workspace_client(alpha.members[Role.ADMIN].user, alpha.tenant)
    assert _send(admin, "POST", "/api/v1/scoring/rules/", data).status_code == 201
    response = admin.post(reverse("scoring:rule_new"), {**data, "name": "Y"})
    assert response.status_code == 302
    assert ScoringRule.objects.count() == 2


def test_lead_record_page_shows_its_score(alpha: Workspace) -> None:
    lead = LeadFactory.create(source="referral")
    Lead.objects.filter(pk=lead.pk).update(score=12, score_breakdown={"999999": 12})
    client = workspace_client(alpha.owner.user, alpha.tenant)
    page = client.get(reverse("sales:lead_detail", args=[lead.pk])).content.decode()
    assert 'data-testid="score-value">12<' in page
    assert "A rule deleted since" in page


def test_contact_and_lead_lists_sort_and_filter_by_score(alpha: Workspace) -> None:
    low, high = ContactFactory.create_batch(2)
    Contact.objects.filter(pk=low.pk).update(score=5)
    Contact.objects.filter(pk=high.pk).update(score=70)
    lead = LeadFactory.create()
    Lead.objects.filter(pk=lead.pk).update(score=33)
    client = workspace_client(alpha.members[Role.READ_ONLY].user, alpha.tenant)

    page = client.get(reverse("sales:contact_list"), {"sort": "score"}).content.decode()
    assert page.index(f'data-contact="{high.pk}"') < page.index(f'data-contact="{low.pk}"')
    page = client.get(reverse("sales:contact_list"), {"min_score": "50"}).content.decode()
    assert f'data-contact="{high.pk}"' in page
    assert f'data-contact="{low.pk}"' not in page
    assert client.get(reverse("sales:contact_list"), {"min_score": "many"}).status_code == 200
    leads = client.get(reverse("sales:lead_list"), {"sort": "score", "min_score": "30"})
    assert f'data-lead="{lead.pk}"' in leads.content.decode()


@pytest.mark.parametrize(
    ("path", "factory"), [("contacts", ContactFactory), ("leads", LeadFactory)]
)
def test_an_api_page_explains_its_scores_in_the_same_queries_whatever_its_size(
    alpha: Workspace, path: str, factory: Any
) -> None:
    rule = {"kind": "field", "field": "source", "operator": "eq"}
    first = _rule(alpha, name="Вход", value="x", points=5, **rule)
    second = _rule(alpha, name="ที่สอง", value="y", points=-20, **rule)
    model = Contact if path == "contacts" else Lead

    def scored(count: int) -> None:
        for _ in range(count):
            record = factory.create()
            breakdown = {str(first.pk): 5, str(second.pk): -20, "999999": 1}
            model.objects.filter(pk=record.pk).update(score=-14, score_breakdown=breakdown)

    client = workspace_client(alpha.owner.user, alpha.tenant)
    scored(1)
    client.get(f"/api/v1/sales/{path}/")
    with CaptureQueriesContext(connection) as few:
        client.get(f"/api/v1/sales/{path}/")
    scored(12)
    with CaptureQueriesContext(connection) as many:
        rows = client.get(f"/api/v1/sales/{path}/").json()["results"]
    assert len(many) == len(few)
    assert len(rows) == 13
    for row in rows:
        assert row["score_explanation"] == [
            {"rule": second.pk, "name": "ที่สอง", "points": -20},
            {"rule": first.pk, "name": "Вход", "points": 5},
            {"rule": 999999, "name": "A rule deleted since", "points": 1},
        ]
