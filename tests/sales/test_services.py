"""Sales services: each write checks permission, validates naming the field, and leaves
nothing half-done."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from crm_modules.activities.api import timeline
from crm_modules.activities.models import Activity, ActivityLink
from crm_modules.sales import services
from crm_modules.sales.models import (
    Company,
    CompanyMembership,
    Consent,
    Contact,
    ContactEmail,
    Deal,
    DealStageChange,
    Lead,
    Stage,
    Task,
)
from crm_platform.errors import PermissionDenied, ServiceError
from tenants.models import Membership, Team
from tenants.roles import Role
from tests.conftest import Workspace, beside_audit
from tests.sales.conftest import fresh, sales_events
from tests.sales.factories import (
    CompanyFactory,
    ContactFactory,
    DealFactory,
    LeadFactory,
    PipelineFactory,
)

pytestmark = pytest.mark.usefixtures("in_alpha")


# --- companies ------------------------------------------------------------------------------


def test_company_create_normalises_and_audits(alpha: Workspace) -> None:
    actor = fresh(alpha.members[Role.SALES_REP])
    company = services.company_create(
        actor=actor,
        name="  ООО  Ромашка ",
        domain="WWW.Romashka.RU",
        website="romashka.ru",
        tags=["b2b", "b2b", " retail "],
    )
    assert (company.name, company.domain, company.website) == (
        "ООО Ромашка",
        "romashka.ru",
        "https://romashka.ru",
    )
    assert company.tags == ["b2b", "retail"]
    assert company.owner_id == actor.user_id
    assert company.search_text == "ооо ромашка romashka.ru"
    assert sales_events() == ["company.created"]


def test_company_create_with_a_bad_domain_names_the_field_and_saves_nothing(
    alpha: Workspace,
) -> None:
    with pytest.raises(ServiceError) as error:
        services.company_create(actor=fresh(alpha.owner), name="Acme", domain="not a domain")
    assert error.value.field == "domain"
    assert not Company.objects.exists()
    assert sales_events() == []


def test_company_cannot_become_its_own_ancestor(alpha: Workspace) -> None:
    actor = fresh(alpha.owner)
    parent = CompanyFactory.create()
    child = CompanyFactory.create(parent=parent)
    with pytest.raises(ServiceError) as error:
        services.company_update(actor=actor, company=parent, changes={"parent": child.pk})
    assert error.value.field == "parent"
    parent.refresh_from_db()
    assert parent.parent_id is None


def test_sales_rep_edits_own_company_but_not_anothers(alpha: Workspace) -> None:
    rep = fresh(alpha.members[Role.SALES_REP])
    own = CompanyFactory.create(owner=rep.user)
    other = CompanyFactory.create(owner=alpha.owner.user, name="Theirs")
    services.company_update(actor=rep, company=own, changes={"industry": "Retail"})
    with pytest.raises(PermissionDenied):
        services.company_update(actor=rep, company=other, changes={"industry": "Retail"})
    other.refresh_from_db()
    assert other.industry == ""


def test_sales_rep_cannot_delete_and_manager_can(alpha: Workspace) -> None:
    company = CompanyFactory.create(owner=alpha.members[Role.MANAGER].user)
    with pytest.raises(PermissionDenied):
        services.company_delete(actor=fresh(alpha.members[Role.SALES_REP]), company=company)
    assert Company.objects.filter(pk=company.pk).exists()
    services.company_delete(actor=fresh(alpha.members[Role.MANAGER]), company=company)
    assert not Company.objects.filter(pk=company.pk).exists()
    assert sales_events() == ["company.deleted"]


def test_owner_must_be_a_member_of_the_workspace(alpha: Workspace, bravo: Workspace) -> None:
    with pytest.raises(ServiceError) as error:
        services.company_create(actor=fresh(alpha.owner), name="X", owner_id=bravo.owner.user_id)
    assert error.value.field == "owner"
    assert not Company.objects.exists()


# --- contacts -------------------------------------------------------------------------------


def test_contact_create_with_emails_and_phones_in_e164(alpha: Workspace) -> None:
    company = CompanyFactory.create(name="Banca")
    contact = services.contact_create(
        actor=fresh(alpha.owner),
        first_name="สมชาย",
        last_name="ใจดี",
        emails=["Somchai@Example.com", {"email": "s2@example.com", "primary": True}],
        phones=["+39 06 6982 1234", "+66 2 123 4567"],
        company=company,
    )
    assert list(contact.emails.order_by("email").values_list("email", "is_primary")) == [
        ("s2@example.com", True),
        ("somchai@example.com", False),
    ]
    assert contact.primary_email == "s2@example.com"
    assert contact.primary_phone == "+390669821234"
    assert list(contact.phones.values_list("number", flat=True).order_by("id")) == [
        "+390669821234",
        "+6621234567",
    ]
    assert list(CompanyMembership.objects.values_list("contact_id", "company_id", "ended_at")) == [
        (contact.pk, company.pk, None)
    ]
    assert "สมชาย ใจดี" in contact.search_text
    assert "banca" in contact.search_text


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("phones", {"phones": ["12345"]}),
        ("phones", {"phones": ["+39 06 6982 1234", "+390669821234"]}),
        ("emails", {"emails": ["not-an-email"]}),
        (
            "emails",
            {
                "emails": [
                    {"email": "a@example.com", "primary": True},
                    {"email": "b@example.com", "primary": True},
                ]
            },
        ),
        ("emails", {"emails": ["a@example.com", "A@example.com"]}),
        ("lifecycle_stage", {"lifecycle_stage": "champion"}),
        ("first_name", {"first_name": "x" * 101}),
    ],
)
def test_contact_create_refuses_bad_input_naming_the_field(
    alpha: Workspace, field: str, kwargs: dict[str, Any]
) -> None:
    with pytest.raises(ServiceError) as error:
        services.contact_create(actor=fresh(alpha.owner), **{"first_name": "Ann", **kwargs})
    assert error.value.field == field
    assert not Contact.objects.exists()
    assert not ContactEmail.objects.exists()
    assert sales_events() == []


def test_contact_moves_company_and_keeps_history(alpha: Workspace) -> None:
    actor = fresh(alpha.owner)
    first, second = CompanyFactory.create(name="Alpha SpA"), CompanyFactory.create(name="Beta Srl")
    contact = services.contact_create(actor=actor, first_name="Marco", company=first)

    services.contact_move_company(actor=actor, contact=contact, company=second, job_title="CTO")

    contact.refresh_from_db()
    assert contact.company_id == second.pk
    assert contact.job_title == "CTO"
    history = list(
        CompanyMembership.objects.filter(contact=contact)
        .order_by("started_at")
        .values_list("company_id", "job_title")
    )
    assert history == [(first.pk, ""), (second.pk, "CTO")]
    assert CompanyMembership.objects.get(company=first).ended_at is not None
    assert CompanyMembership.objects.get(company=second).ended_at is None
    assert "beta srl" in contact.search_text
    assert "alpha spa" not in contact.search_text
    # The move shows on the contact and on both companies.
    for record in (contact, first, second):
        assert [a.kind for a in timeline(record)] == ["company_change"]


def test_concurrent_edit_is_detected_not_overwritten(alpha: Workspace) -> None:
    actor = fresh(alpha.owner)
    contact = services.contact_create(actor=actor, first_name="Anna")
    seen = contact.updated_at
    services.contact_update(actor=actor, contact=contact, changes={"job_title": "CEO"})
    with pytest.raises(ServiceError) as error:
        services.contact_update(
            actor=actor, contact=contact, changes={"job_title": "CFO"}, expected_updated_at=seen
        )
    assert error.value.code == "conflict"
    contact.refresh_from_db()
    assert contact.job_title == "CEO"


def test_marketer_changes_tags_and_consent_but_not_names(alpha: Workspace) -> None:
    marketer = fresh(alpha.members[Role.MARKETER])
    contact = ContactFactory.create(owner=alpha.owner.user, first_name="Giulia")
    services.contact_update(actor=marketer, contact=contact, changes={"tags": ["vip"]})
    consent = services.contact_set_consent(
        actor=marketer, contact=contact, channel="email", status="given", method="Web form"
    )
    assert (consent.channel, consent.status, consent.method) == ("email", "given", "Web form")
    with pytest.raises(PermissionDenied):
        services.contact_update(actor=marketer, contact=contact, changes={"first_name": "X"})
    contact.refresh_from_db()
    assert (contact.first_name, contact.tags) == ("Giulia", ["vip"])


def test_consent_needs_how_it_was_given(alpha: Workspace) -> None:
    contact = ContactFactory.create()
    with pytest.raises(ServiceError) as error:
        services.contact_set_consent(
            actor=fresh(alpha.owner), contact=contact, channel="sms", status="given", method=" "
        )
    assert error.value.field == "method"
    assert not Consent.objects.exists()


def test_contact_delete_removes_its_timeline(alpha: Workspace) -> None:
    actor = fresh(alpha.owner)
    contact = ContactFactory.create()
    services.record_log_activity(actor=actor, record=contact, kind="note", body="hello")
    services.contact_delete(actor=actor, contact=contact)
    assert not Contact.objects.exists()
    assert not Activity.objects.exists()
    assert not ActivityLink.objects.exists()


# --- leads ----------------------------------------------------------------------------------


def test_lead_conversion_creates_contact_company_deal_and_shares_history(alpha: Workspace) -> None:
    actor = fresh(alpha.owner)
    pipeline = PipelineFactory.create()
    stage = pipeline.stages.get(position=0)
    lead = services.lead_create(
        actor=actor,
        first_name="Wang",
        last_name="Fang",
        email="wang@example.cn",
        phone="+86 10 6552 9988",
        company_name="北京科技",
        source="trade fair",
    )
    call = services.record_log_activity(actor=actor, record=lead, kind="call", subject="Intro")

    result = services.lead_convert(actor=actor, lead=lead, deal_stage=stage.pk, deal_amount="500")

    assert result.company is not None
    assert result.company.name == "北京科技"
    assert result.contact.company_id == result.company.pk
    assert result.contact.primary_email == "wang@example.cn"
    assert result.contact.primary_phone == "+861065529988"
    assert result.deal is not None
    assert result.deal.amount == Decimal("500.00")
    assert list(result.deal.contacts.all()) == [result.contact]
    lead.refresh_from_db()
    assert (lead.status, lead.contact_id, lead.deal_id) == (
        "converted",
        result.contact.pk,
        result.deal.pk,
    )
    for record in (result.contact, result.company, result.deal, lead):
        assert [a.kind for a in timeline(record)] == ["conversion", "call"]
        assert timeline(record)[1].pk == call.pk


def test_lead_conversion_failing_midway_leaves_nothing(alpha: Workspace) -> None:
    actor = fresh(alpha.owner)
    stage = PipelineFactory.create().stages.get(position=0)
    lead = services.lead_create(
        actor=actor, first_name="Ivan", company_name="Рога и копыта", source="ad"
    )
    audits = sales_events()
    # The contact and company are made first; the deal's bad amount fails after them.
    with pytest.raises(ServiceError) as error:
        services.lead_convert(actor=actor, lead=lead, deal_stage=stage.pk, deal_amount="lots")
    assert error.value.field == "amount"
    lead.refresh_from_db()
    assert lead.status == "new"
    assert lead.contact_id is None
    assert not Contact.objects.exists()
    assert not Company.objects.exists()
    assert not Deal.objects.exists()
    assert not Activity.objects.exists()
    assert sales_events() == audits == ["lead.created"]


def test_a_converted_lead_is_not_converted_twice(alpha: Workspace) -> None:
    actor = fresh(alpha.owner)
    lead = LeadFactory.create()
    services.lead_convert(actor=actor, lead=lead)
    with pytest.raises(ServiceError) as error:
        services.lead_convert(actor=actor, lead=lead)
    assert error.value.code == "converted"
    assert Contact.objects.count() == 1


def test_lead_needs_a_source(alpha: Workspace) -> None:
    with pytest.raises(ServiceError) as error:
        services.lead_create(actor=fresh(alpha.owner), first_name="Ann", source="")
    assert error.value.field == "source"
    assert not Lead.objects.exists()


# --- deals ----------------------------------------------------------------------------------


def test_deal_create_uses_the_workspace_currency_and_records_its_first_stage(
    alpha: Workspace,
) -> None:
    actor = fresh(alpha.owner)
    stage = PipelineFactory.create().stages.get(position=0)
    deal = services.deal_create(actor=actor, name="Renewal", stage=stage, amount="1234.5")
    assert (deal.amount, deal.currency, deal.status, deal.pipeline_id) == (
        Decimal("1234.50"),
        alpha.tenant.currency,
        "open",
        stage.pipeline_id,
    )
    changes: list[tuple[int | None, int]] = list(
        DealStageChange.objects.values_list("from_stage", "to_stage")
    )
    assert changes == [(None, stage.pk)]


def test_deal_stage_of_another_pipeline_is_refused(alpha: Workspace) -> None:
    actor = fresh(alpha.owner)
    deal = DealFactory.create()
    elsewhere = PipelineFactory.create().stages.get(position=1)
    with pytest.raises(ServiceError) as error:
        services.deal_move_stage(actor=actor, deal=deal, stage=elsewhere)
    assert error.value.field == "stage"
    deal.refresh_from_db()
    assert deal.stage.position == 0
    assert not DealStageChange.objects.exists()


def test_deal_stage_move_writes_history_and_one_activity_on_deal_contacts_and_company(
    alpha: Workspace, django_capture_on_commit_callbacks
) -> None:
    actor = fresh(alpha.owner)
    company = CompanyFactory.create()
    contacts = [ContactFactory.create(company=company), ContactFactory.create()]
    deal = DealFactory.create(company=company)
    deal.contacts.set(contacts)
    proposal = deal.pipeline.stages.get(position=1)

    with django_capture_on_commit_callbacks() as callbacks:
        services.deal_move_stage(actor=actor, deal=deal, stage=proposal)

    deal.refresh_from_db()
    assert deal.stage_id == proposal.pk
    change = DealStageChange.objects.get()
    assert change.from_stage is not None
    assert (change.from_stage.position, change.to_stage_id, change.changed_by_id) == (
        0,
        proposal.pk,
        actor.user_id,
    )
    activity = Activity.objects.get()
    assert activity.kind == "stage_change"
    for record in (deal, *contacts, company):
        assert timeline(record) == [activity]
    assert sales_events() == ["deal.moved"]
    assert len(beside_audit(callbacks)) == 1  # the live event on the deals topic


def test_a_lost_deal_needs_a_reason(alpha: Workspace) -> None:
    actor = fresh(alpha.owner)
    deal = DealFactory.create()
    lost = deal.pipeline.stages.get(kind=Stage.Kind.LOST)
    with pytest.raises(ServiceError) as error:
        services.deal_move_stage(actor=actor, deal=deal, stage=lost)
    assert error.value.field == "lost_reason"
    services.deal_move_stage(actor=actor, deal=deal, stage=lost, lost_reason="Price")
    deal.refresh_from_db()
    assert (deal.status, deal.lost_reason) == ("lost", "Price")
    assert deal.closed_at is not None


@pytest.mark.parametrize("amount", ["abc", "-1", "1e30", "NaN"])
def test_deal_amount_must_be_a_sane_decimal(alpha: Workspace, amount: str) -> None:
    stage = PipelineFactory.create().stages.get(position=0)
    with pytest.raises(ServiceError) as error:
        services.deal_create(actor=fresh(alpha.owner), name="D", stage=stage, amount=amount)
    assert error.value.field == "amount"
    assert not Deal.objects.exists()


# --- tasks ----------------------------------------------------------------------------------


def test_task_complete_logs_on_the_linked_record(alpha: Workspace) -> None:
    rep = fresh(alpha.members[Role.SALES_REP])
    contact = ContactFactory.create()
    task = services.task_create(actor=rep, title="Call back", contact=contact.pk)
    services.task_complete(actor=rep, task=task)
    task.refresh_from_db()
    assert task.done is True
    assert [a.kind for a in timeline(contact)] == ["task_done"]


def test_sales_rep_cannot_assign_a_task_to_someone_else(alpha: Workspace) -> None:
    rep = fresh(alpha.members[Role.SALES_REP])
    with pytest.raises(ServiceError) as error:
        services.task_create(actor=rep, title="For you", owner_id=alpha.owner.user_id)
    assert error.value.field == "owner"
    assert not Task.objects.exists()


def test_manager_assigns_a_task_to_a_rep_of_their_team_only(alpha: Workspace) -> None:
    team = Team.objects.create(tenant=alpha.tenant, name="Milano")
    rep = alpha.members[Role.SALES_REP]
    with pytest.raises(ServiceError) as error:
        services.task_create(
            actor=fresh(alpha.members[Role.MANAGER]), title="Follow up", owner_id=rep.user_id
        )
    assert error.value.field == "owner"
    assert not Task.objects.exists()

    Membership.objects.filter(pk__in=[rep.pk, alpha.members[Role.MANAGER].pk]).update(team=team)
    manager = fresh(alpha.members[Role.MANAGER])
    task = services.task_create(actor=manager, title="Follow up", owner_id=rep.user_id)
    assert task.owner_id == rep.user_id


def test_read_only_member_cannot_write(alpha: Workspace) -> None:
    reader = fresh(alpha.members[Role.READ_ONLY])
    with pytest.raises(PermissionDenied):
        services.contact_create(actor=reader, first_name="A")
    with pytest.raises(PermissionDenied):
        services.record_log_activity(
            actor=reader, record=ContactFactory.create(), kind="note", body="x"
        )
    assert Contact.objects.count() == 1
    assert not Activity.objects.exists()


def test_lead_update_and_delete(alpha: Workspace) -> None:
    actor = fresh(alpha.owner)
    lead = services.lead_create(actor=actor, first_name="Олег", source="web")
    services.lead_update(
        actor=actor, lead=lead, changes={"status": "working", "phone": "+7 495 123 4567"}
    )
    lead.refresh_from_db()
    assert (lead.status, lead.phone) == ("working", "+74951234567")
    assert "74951234567" in lead.search_text
    with pytest.raises(ServiceError) as error:
        services.lead_update(actor=actor, lead=lead, changes={"status": "converted"})
    assert error.value.field == "status"
    services.lead_delete(actor=actor, lead=lead)
    assert not Lead.objects.exists()
    assert sales_events() == ["lead.created", "lead.updated", "lead.deleted"]


def test_deal_update_reassign_and_delete(alpha: Workspace) -> None:
    actor = fresh(alpha.owner)
    rep = alpha.members[Role.SALES_REP]
    deal = DealFactory.create(owner=actor.user)
    services.deal_update(
        actor=actor,
        deal=deal,
        changes={"amount": "99.5", "currency": "eur", "owner": rep.user_id},
    )
    deal.refresh_from_db()
    assert (deal.amount, deal.currency, deal.owner_id) == (Decimal("99.50"), "EUR", rep.user_id)
    assert [a.kind for a in timeline(deal)] == ["owner_change"]
    with pytest.raises(PermissionDenied):
        services.deal_delete(actor=fresh(rep), deal=deal)
    services.deal_delete(actor=actor, deal=deal)
    assert not Deal.objects.exists()
    assert sales_events() == ["deal.updated", "deal.deleted"]


def test_sales_rep_cannot_give_their_deal_away(alpha: Workspace) -> None:
    rep = fresh(alpha.members[Role.SALES_REP])
    deal = DealFactory.create(owner=rep.user)
    with pytest.raises(ServiceError) as error:
        services.deal_update(actor=rep, deal=deal, changes={"owner": alpha.owner.user_id})
    assert error.value.field == "owner"
    deal.refresh_from_db()
    assert deal.owner_id == rep.user_id


def test_task_update_and_delete(alpha: Workspace) -> None:
    actor = fresh(alpha.members[Role.SUPPORT_AGENT])
    task = services.task_create(actor=actor, title="Ring back", due_at="2030-01-02T09:00:00+07:00")
    assert task.due_at is not None
    assert task.due_at == datetime(2030, 1, 2, 2, tzinfo=UTC)
    services.task_update(actor=actor, task=task, changes={"priority": 3, "title": "Ring back now"})
    task.refresh_from_db()
    assert (task.priority, task.title) == (3, "Ring back now")
    with pytest.raises(ServiceError) as error:
        services.task_update(actor=actor, task=task, changes={"due_at": "next tuesday"})
    assert error.value.field == "due_at"
    services.task_delete(actor=actor, task=task)
    assert not Task.objects.exists()
