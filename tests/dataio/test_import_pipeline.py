"""Imports of leads and deals: other CRMs' headers, pipelines and stages by name, amounts with
their currency, contacts and companies linked, duplicates, the error report and undo."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest

from crm_modules.dataio import mapping
from crm_modules.dataio.models import ImportJob, ImportRow
from crm_modules.dataio.services import imports
from crm_modules.sales.models import (
    Company,
    Contact,
    Deal,
    DealStageChange,
    Lead,
    Pipeline,
    Stage,
)
from crm_modules.sales.services import contact_create, deal_create, lead_create, pipeline_create
from crm_modules.sales.services.deals import StageInput
from crm_platform.errors import PermissionDenied, ServiceError
from tenants.audit.models import AuditEvent
from tenants.roles import Role
from tests.conftest import Workspace
from tests.dataio.conftest import fresh, upload, xlsx
from tests.dataio.test_imports import _body, _run
from tests.tenants.test_live_coalesced import heard_live_events, heard_live_messages

pytestmark = pytest.mark.usefixtures("s3_bucket")


def _pipelines(actor: Any) -> tuple[Pipeline, Pipeline]:
    sales = pipeline_create(
        actor=actor,
        name="Sales",
        stages=[
            StageInput("Qualified", 20),
            StageInput("Proposal", 50),
            StageInput("Won", 100, Stage.Kind.WON),
            StageInput("Lost", 0, Stage.Kind.LOST),
        ],
    )
    thai = pipeline_create(
        actor=actor,
        name="ฝ่ายขาย",
        stages=[StageInput("ใหม่", 10), StageInput("เสนอราคา", 40)],
    )
    return sales, thai


def _deal_upload(actor: Any, rows: list[list[str]]) -> ImportJob:
    return upload(actor, _body(rows), name="deals.csv", entity="deal")


PIPEDRIVE_DEALS = [
    "Deal - Title",
    "Deal - Value",
    "Deal - Currency",
    "Deal - Pipeline",
    "Deal - Stage",
    "Deal - Organization",
    "Deal - Contact person",
    "Deal - Owner",
    "Deal - Expected close date",
    "Deal - Lost reason",
]


@pytest.mark.parametrize(
    ("entity", "headers", "expected"),
    [
        ("deal", PIPEDRIVE_DEALS, [
            "name", "amount", "currency", "pipeline", "stage", "company", "contact_name",
            "owner_email", "expected_close_date", "lost_reason",
        ]),
        (  # HubSpot
            "deal",
            ["Deal Name", "Amount", "Pipeline", "Deal Stage", "Close Date", "Deal owner",
             "Associated Company", "Associated Contact"],
            ["name", "amount", "pipeline", "stage", "expected_close_date", "owner_email",
             "company", "contact_name"],
        ),
        (  # Salesforce
            "deal",
            ["Opportunity Name", "Amount", "Opportunity Currency", "Stage", "Close Date",
             "Account Name", "Opportunity Owner"],
            ["name", "amount", "currency", "stage", "expected_close_date", "company",
             "owner_email"],
        ),
        (  # Zoho
            "deal",
            ["Deal Name", "Amount", "Stage", "Closing Date", "Account Name", "Contact Name",
             "Deal Owner", "Pipeline"],
            ["name", "amount", "stage", "expected_close_date", "company", "contact_name",
             "owner_email", "pipeline"],
        ),
        (  # Rapport's own export
            "deal",
            ["id", "name", "pipeline", "stage", "status", "amount", "currency",
             "expected_close_date", "company", "owner_email", "created_at"],
            [None, "name", "pipeline", "stage", None, "amount", "currency",
             "expected_close_date", "company", "owner_email", None],
        ),
        (  # Salesforce and Zoho leads
            "lead",
            ["First Name", "Last Name", "Email", "Phone", "Company", "Lead Source",
             "Lead Status", "Lead Owner", "Description"],
            ["first_name", "last_name", "email", "phone", "company", "source", "status",
             "owner_email", "notes"],
        ),
        (  # HubSpot and Pipedrive leads
            "lead",
            ["Lead - Title", "Person - Name", "Person - Email", "Organization - Name",
             "Lead status", "Original Source", "Contact owner"],
            [None, "full_name", "email", "company", "status", "source", "owner_email"],
        ),
        (  # Rapport's own export
            "lead",
            ["id", "first_name", "last_name", "email", "phone", "company", "source", "status",
             "owner_email", "created_at"],
            [None, "first_name", "last_name", "email", "phone", "company", "source", "status",
             "owner_email", None],
        ),
    ],
)  # fmt: skip
def test_other_crms_lead_and_deal_exports_are_recognised(
    entity: str, headers: list[str], expected: list[str | None]
) -> None:
    found = mapping.auto_map(entity, headers, [])
    assert [found.get(str(index)) for index in range(len(headers))] == expected


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("1,234.50", ("1234.50", "")),
        ("1.234,50 €", ("1234.50", "EUR")),
        ("USD 1 200", ("1200", "USD")),
        ("CHF 1'000", ("1000", "CHF")),
        ("$1,200", ("1200", "USD")),
        ("1\u00a0250,5", ("1250.5", "")),
        ("฿ 3,500", ("3500", "THB")),
        ("12 eur", ("12", "EUR")),
    ],
)
def test_amounts_are_read_as_spreadsheets_write_them(cell: str, expected: tuple[str, str]) -> None:
    assert mapping.parse_amount(cell) == expected


@pytest.mark.parametrize(
    "cell", ["=SUM(A1:A3)", "+1", "@amount", "abc", "1e5", "NaN", "12.5.3", "EUR 5 USD", "€5 USD"]
)
def test_cells_that_are_not_amounts_are_refused(cell: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        mapping.parse_amount(cell)


def test_deals_are_linked_and_bad_rows_are_reported_in_place(
    in_alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    actor = fresh(in_alpha.owner)
    sales_pipeline, thai = _pipelines(actor)
    ana = contact_create(actor=actor, first_name="Ana", last_name="García", emails=["ana@x.es"])
    ivan = contact_create(actor=actor, first_name="Иван", last_name="Петров")
    existing_company = Company.objects.create(name="Ромашка", domain="romashka.ru")
    manager = in_alpha.members[Role.MANAGER]
    rows = [
        [*PIPEDRIVE_DEALS, "Deal - Contact email"],
        ["Big order", "1.234,50 €", "", "sales", "proposal", "Acme Iberia", "", manager.user.email.upper(), "2025-03-31", "", "ANA@X.ES"],  # noqa: E501
        ["Заказ", "USD 2,000", "", "Sales", "Won", "ромашка", "Иван Петров", "", "", "", ""],
        ["ขายส่ง", "3500", "THB", "ฝ่ายขาย", "เสนอราคา", "", "Ana García (ana@x.es)", "", "", "", ""],
        ["大订单", "", "", "", "qualified", "", "", "", "", "", ""],
        ["Unknown stage", "10", "", "Sales", "Negotiation", "Orphan Co", "", "", "", "", ""],
        ["Unknown pipeline", "10", "", "Renewals", "Won", "", "", "", "", "", ""],
        ["Bad amount", "ten euros", "", "Sales", "Won", "Never Made", "", "", "", "", ""],
        ["Formula", "=SUM(A1:A3)", "", "Sales", "Won", "", "", "", "", "", ""],
        ["Two currencies", "€ 10", "USD", "Sales", "Won", "", "", "", "", "", ""],
        ["No contact", "10", "", "Sales", "Won", "", "", "", "", "", "nobody@x.es"],
        ["Lost, no reason", "10", "", "Sales", "Lost", "", "", "", "", "", ""],
        ["Stranger", "10", "", "Sales", "Won", "", "", "nobody@example.com", "", "", ""],
        ["=HYPERLINK(\"http://evil\")", "5", "", "Sales", "Won", "", "", "", "", "", ""],
    ]  # fmt: skip
    job = _deal_upload(actor, rows)
    assert job.mapping["10"] == "contact_email"
    job = _run(job, actor, django_capture_on_commit_callbacks)

    assert (job.created_count, job.skipped_count, job.error_count) == (5, 0, 8)
    big = Deal.objects.get(name="Big order")
    assert (big.amount, big.currency, big.pipeline_id, big.stage.name) == (
        Decimal("1234.50"),
        "EUR",
        sales_pipeline.pk,
        "Proposal",
    )
    assert big.expected_close_date == datetime.date(2025, 3, 31)
    assert big.owner_id == manager.user_id
    assert list(big.contacts.all()) == [ana]
    assert big.company is not None
    assert big.company.name == "Acme Iberia"
    assert big.status == Deal.Status.OPEN
    order = Deal.objects.get(name="Заказ")
    assert (order.amount, order.currency, order.company_id, order.status) == (
        Decimal("2000.00"),
        "USD",
        existing_company.pk,
        Deal.Status.WON,
    )
    assert order.closed_at is not None
    assert list(order.contacts.all()) == [ivan]
    thai_deal = Deal.objects.get(name="ขายส่ง")
    assert (thai_deal.pipeline_id, thai_deal.stage.name, thai_deal.currency) == (
        thai.pk,
        "เสนอราคา",
        "THB",
    )
    assert list(thai_deal.contacts.all()) == [ana]
    chinese = Deal.objects.get(name="大订单")
    assert (chinese.stage.name, chinese.amount, chinese.currency) == (
        "Qualified",
        Decimal("0.00"),
        "USD",
    )
    # A formula is kept as the text it is (exports neutralise it), never evaluated.
    assert Deal.objects.filter(name='=HYPERLINK("http://evil")').count() == 1
    assert DealStageChange.objects.filter(deal__in=[big, order], from_stage=None).count() == 2
    assert sorted(Company.objects.values_list("name", flat=True)) == ["Acme Iberia", "Ромашка"]
    assert not Deal.objects.filter(name__in=["Unknown stage", "Bad amount", "Formula"]).exists()
    assert list(imports.import_error_lines(job)) == [
        (
            5,
            "Deal - Stage",
            "The pipeline “Sales” has no stage named “Negotiation”. Its stages are: "
            "“Qualified”, “Proposal”, “Won”, “Lost”.",
        ),
        (
            6,
            "Deal - Pipeline",
            "No pipeline is named “Renewals”. The pipelines are: “Sales”, “ฝ่ายขาย”.",
        ),
        (
            7,
            "Deal - Value",
            "“ten euros” is not an amount: write a number such as 1250.00 or 1.250,00 €.",
        ),
        (
            8,
            "Deal - Value",
            "“=SUM(A1:A3)” is not an amount: write a number such as 1250.00 or 1.250,00 €.",
        ),
        (9, "Deal - Value", "The amount is in EUR but the currency column says USD."),
        (
            10,
            "Deal - Contact email",
            "No contact has the email “nobody@x.es”: import the contacts first.",
        ),
        (11, "Deal - Lost reason", "Say why the deal was lost."),
        (12, "Deal - Owner", "No member of this workspace has the email “nobody@example.com”."),
    ]


def test_the_preview_shows_deals_as_stored_with_the_unknown_stage_in_place(
    in_alpha: Workspace,
) -> None:
    actor = fresh(in_alpha.owner)
    _pipelines(actor)
    rows = [
        ["Deal Name", "Amount", "Deal Stage"],
        ["Good", "1 000,00 €", "won"],
        ["Bad", "10", "Nope"],
    ]
    job = _deal_upload(actor, rows)
    good, bad = imports.import_preview(actor=actor, job=job)
    assert good.values == [
        ("Name", "Good", ""),
        ("Amount", "1000.00 EUR", ""),
        ("Stage (by name)", "Won", ""),
    ]
    assert bad.values[2] == (
        "Stage (by name)",
        "",
        "The pipeline “Sales” has no stage named “Nope”. Its stages are: “Qualified”, "
        "“Proposal”, “Won”, “Lost”.",
    )
    assert not Deal.objects.exists()


def test_a_stage_in_several_pipelines_needs_the_pipeline_column(
    in_alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    actor = fresh(in_alpha.owner)
    pipeline_create(actor=actor, name="Sales", stages=[StageInput("Open", 10)])
    pipeline_create(actor=actor, name="Partners", stages=[StageInput("Signed", 90)])
    pipeline_create(actor=actor, name="Renewals", stages=[StageInput("Signed", 90)])
    rows = [["Deal Name", "Stage"], ["A", "signed"]]
    job = _run(_deal_upload(actor, rows), actor, django_capture_on_commit_callbacks)
    assert list(imports.import_error_lines(job)) == [
        (
            1,
            "Stage",
            "Several pipelines have a stage named “signed” (“Partners”, “Renewals”): add a "
            "column with the pipeline's name.",
        )
    ]
    assert not Deal.objects.exists()


def test_deals_in_an_archived_pipeline_or_a_workspace_without_one_are_refused(
    in_alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    actor = fresh(in_alpha.owner)
    rows = [["Deal Name", "Pipeline", "Stage"], ["A", "", ""]]
    job = _run(_deal_upload(actor, rows), actor, django_capture_on_commit_callbacks)
    assert list(imports.import_error_lines(job)) == [
        (1, "Stage", "This workspace has no pipeline yet: create one before importing deals.")
    ]
    sales_pipeline, _thai = _pipelines(actor)
    Pipeline.objects.filter(pk=sales_pipeline.pk).update(
        archived_at=datetime.datetime.now(datetime.UTC)
    )
    rows = [["Deal Name", "Pipeline"], ["B", "SALES"]]
    job = _run(_deal_upload(actor, rows), actor, django_capture_on_commit_callbacks)
    assert list(imports.import_error_lines(job)) == [
        (1, "Pipeline", "The pipeline “Sales” is archived and takes no new deals.")
    ]
    assert not Deal.objects.exists()


def test_duplicate_deals_update_and_undo_restores_amount_stage_and_contacts(
    in_alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    actor = fresh(in_alpha.owner)
    sales_pipeline, _thai = _pipelines(actor)
    qualified = sales_pipeline.stages.get(name="Qualified")
    ana = contact_create(actor=actor, first_name="Ana", emails=["ana@x.es"])
    bob = contact_create(actor=actor, first_name="Bob", emails=["bob@x.es"])
    company = Company.objects.create(name="Acme")
    existing = deal_create(
        actor=actor,
        name="Renewal",
        stage=qualified,
        amount="100",
        currency="EUR",
        company=company,
        contacts=[ana],
    )
    rows = [
        ["Deal Name", "Amount", "Stage", "Company", "Contact email"],
        ["Renewal", "250", "Proposal", "acme", "bob@x.es"],
        ["Fresh deal", "5", "Qualified", "Newco", ""],
        ["Fresh deal", "6", "Qualified", "Newco", ""],
    ]
    job = _run(
        _deal_upload(actor, rows), actor, django_capture_on_commit_callbacks, duplicates="update"
    )
    assert (job.created_count, job.updated_count, job.skipped_count, job.error_count) == (
        1,
        1,
        1,
        0,
    )
    existing.refresh_from_db()
    # No currency named: the deal keeps its own.
    assert (existing.amount, existing.currency, existing.stage.name) == (
        Decimal("250.00"),
        "EUR",
        "Proposal",
    )
    assert sorted(existing.contacts.values_list("id", flat=True)) == sorted([ana.pk, bob.pk])

    admin = fresh(in_alpha.members[Role.ADMIN])
    with django_capture_on_commit_callbacks(execute=True):
        imports.import_undo(actor=admin, job=job)
    job.refresh_from_db()
    existing.refresh_from_db()
    assert job.status == ImportJob.Status.UNDONE
    assert (existing.amount, existing.currency, existing.stage_id) == (
        Decimal("100.00"),
        "EUR",
        qualified.pk,
    )
    assert list(existing.contacts.all()) == [ana]
    assert not Deal.objects.filter(name="Fresh deal").exists()
    assert not Company.objects.filter(name="Newco").exists()
    assert AuditEvent.objects.get(action="import.undone").data == {
        "removed": 1,
        "removed_companies": 1,
    }


def test_an_import_updating_deals_is_one_live_summary_per_change_and_batch(
    in_alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    actor = fresh(in_alpha.owner)
    sales_pipeline, _thai = _pipelines(actor)
    qualified = sales_pipeline.stages.get(name="Qualified")
    names = [f"Renewal {n}" for n in range(5)]
    for name in names:
        deal_create(actor=actor, name=name, stage=qualified, amount="100")
    rows = [["Deal Name", "Amount", "Stage"], *([name, "250", "Proposal"] for name in names)]
    job = _deal_upload(actor, rows)
    with heard_live_events() as heard:
        job = _run(job, actor, django_capture_on_commit_callbacks, duplicates="update")
    assert job.updated_count == 5
    # Each deal changed and moved: ten events one by one, two summaries before the progress.
    assert [event for event in heard if event[0] == "deals"] == [
        ("deals", "deal.updated"),
        ("deals", "deal.moved"),
    ]
    assert heard.index(("deals", "deal.moved")) < heard.index(("imports", "import.progress"))

    with heard_live_events() as heard, django_capture_on_commit_callbacks(execute=True):
        imports.import_undo(actor=actor, job=job)
    assert [event for event in heard if event[0] == "deals"] == [
        ("deals", "deal.updated"),
        ("deals", "deal.moved"),
    ]


def test_deals_an_import_creates_and_its_undo_removes_are_heard_by_their_owners_pages(
    in_alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    """The fast path writes new deals by COPY, not through ``deal_create``: open boards and
    lists still hear one ``deal.created`` per batch naming them (each member only of the
    deals within their reach), and one ``deal.deleted`` when the import is undone."""
    actor = fresh(in_alpha.owner)
    rep = in_alpha.members[Role.SALES_REP]
    _pipelines(actor)
    rows = [
        ["Deal Name", "Amount", "Stage", "Owner"],
        ["Mine 1", "10", "Qualified", ""],
        ["Rep's", "20", "Qualified", rep.user.email],
        ["Mine 2", "30", "Qualified", ""],
        ["Broken", "not a number", "Qualified", ""],
    ]
    with heard_live_messages() as heard:
        job = _run(_deal_upload(actor, rows), actor, django_capture_on_commit_callbacks)
    assert (job.created_count, job.error_count) == (3, 1)
    created = dict(Deal.objects.values_list("name", "pk"))
    mine, reps = [created["Mine 1"], created["Mine 2"]], created["Rep's"]
    summaries = [m for m in heard if m["topic"] == "deals"]
    assert [(m["event"], m["payload"]) for m in summaries] == [
        ("deal.created", {"ids": [*mine, reps], "count": 3})
    ]
    # Who may hear which deal: the rep is named for their deal only.
    assert dict(summaries[0]["owned"]) == {
        mine[0]: [actor.user_id],
        mine[1]: [actor.user_id],
        reps: [rep.user_id],
    }

    with heard_live_messages() as heard, django_capture_on_commit_callbacks(execute=True):
        imports.import_undo(actor=actor, job=job)
    assert not Deal.objects.filter(pk__in=[*mine, reps]).exists()
    assert [(m["event"], m["payload"]) for m in heard if m["topic"] == "deals"] == [
        ("deal.deleted", {"ids": [*mine, reps], "count": 3})
    ]


def test_duplicate_deals_are_skipped_or_created_anyway(
    in_alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    actor = fresh(in_alpha.owner)
    _pipelines(actor)
    rows = [["Deal Name", "Amount"], ["Same", "1"], ["Same", "2"], ["same", "3"]]
    job = _run(_deal_upload(actor, rows), actor, django_capture_on_commit_callbacks)
    assert (job.created_count, job.skipped_count) == (2, 1)
    assert sorted(Deal.objects.values_list("name", "amount")) == [
        ("Same", Decimal("1.00")),
        ("same", Decimal("3.00")),
    ]
    job = _run(
        _deal_upload(actor, rows), actor, django_capture_on_commit_callbacks, duplicates="create"
    )
    assert (job.created_count, job.skipped_count) == (3, 0)
    assert Deal.objects.count() == 5


def test_deals_from_a_workbook_with_dates_in_the_chosen_format(
    in_alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    actor = fresh(in_alpha.owner)
    _pipelines(actor)
    body = xlsx([["Deal Name", "Amount", "Closing Date"], ["Q1", 1500.5, "03/04/2025"]])
    job = upload(actor, body, name="deals.xlsx", entity="deal")
    job = _run(job, actor, django_capture_on_commit_callbacks, date_format="dmy")
    deal = Deal.objects.get()
    assert (deal.amount, deal.expected_close_date) == (
        Decimal("1500.50"),
        datetime.date(2025, 4, 3),
    )
    assert job.status == ImportJob.Status.DONE


def test_a_deal_mapping_needs_a_name_column(in_alpha: Workspace) -> None:
    actor = fresh(in_alpha.owner)
    job = _deal_upload(actor, [["Amount", "Stage"], ["1", "Won"]])
    with pytest.raises(ServiceError) as caught:
        imports.import_configure(
            actor=actor, job=job, mapping={"0": "amount"}, duplicates="skip", date_format="iso"
        )
    assert (caught.value.field, caught.value.message) == (
        "mapping",
        "Choose a column for the name of the deals.",
    )


def test_a_rep_may_not_give_imported_deals_to_others(
    in_alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    # A manager imports (import is theirs); a row naming another owner needs reassigning.
    manager = fresh(in_alpha.members[Role.MANAGER])
    _pipelines(fresh(in_alpha.owner))
    rows = [
        ["Deal Name", "Owner"],
        ["Mine", manager.user.email],
        ["Theirs", in_alpha.owner.user.email],
    ]
    job = _run(_deal_upload(manager, rows), manager, django_capture_on_commit_callbacks)
    assert job.status == ImportJob.Status.DONE
    assert dict(Deal.objects.values_list("name", "owner_id")) == {
        "Mine": manager.user_id,
        "Theirs": in_alpha.owner.user_id,
    }
    with pytest.raises(PermissionDenied):
        upload(fresh(in_alpha.members[Role.SALES_REP]), b"Deal Name\r\nA\r\n", entity="deal")


# --- leads ----------------------------------------------------------------------------------


def test_leads_are_imported_with_statuses_of_other_crms_and_bad_rows_reported(
    in_alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    actor = fresh(in_alpha.owner)
    lead_create(actor=actor, first_name="Old", email="dup@example.com", source="Web")
    rows = [
        ["First Name", "Last Name", "Email", "Phone", "Company", "Lead Source", "Lead Status"],
        ["Ana", "García", "ANA@x.es", "+34 612 345 678", "Acme", "Fair", "Working - Contacted"],
        ["Иван", "Петров", "ivan@x.ru", "", "Ромашка", "", "Closed - Not Converted"],
        ["สมชาย", "ใจดี", "", "", "", "", "new"],
        ["王", "芳", "wang@x.cn", "", "", "", "Attempted to Contact"],
        ["Dup", "", "dup@example.com", "", "", "", ""],
        ["Bad", "", "not-an-email", "", "", "", ""],
        ["Sold", "", "sold@x.es", "", "", "", "Closed - Converted"],
        ["Odd", "", "odd@x.es", "", "", "", "Maybe"],
        ["", "", "", "", "", "Web", ""],
    ]
    job = upload(actor, _body(rows), name="leads.csv", entity="lead")
    job = _run(job, actor, django_capture_on_commit_callbacks)

    assert (job.created_count, job.skipped_count, job.error_count) == (4, 1, 4)
    ana = Lead.objects.get(email="ana@x.es")
    assert (ana.first_name, ana.phone, ana.company_name, ana.source, ana.status) == (
        "Ana",
        "+34612345678",
        "Acme",
        "Fair",
        Lead.Status.WORKING,
    )
    ivan = Lead.objects.get(email="ivan@x.ru")
    assert (ivan.status, ivan.source) == (Lead.Status.DISQUALIFIED, "leads.csv")
    assert Lead.objects.get(first_name="สมชาย").status == Lead.Status.NEW
    assert Lead.objects.get(first_name="王").status == Lead.Status.WORKING
    assert Lead.objects.filter(email="dup@example.com").count() == 1
    assert list(imports.import_error_lines(job)) == [
        (6, "Email", "Enter a valid email address."),
        (
            7,
            "Lead Status",
            "A converted lead cannot be imported: import it as a contact, or choose another "
            "status.",
        ),
        (
            8,
            "Lead Status",
            "“Maybe” is not a lead status. Use one of: “New”, “Working”, “Disqualified”.",
        ),
        (9, "First Name", "Give the lead a name, an email or a company."),
    ]
    assert not Lead.objects.filter(email__in=["sold@x.es", "odd@x.es"]).exists()
    assert AuditEvent.objects.get(action="import.started").data == {
        "entity": "lead",
        "file": "leads.csv",
    }


def test_duplicate_leads_update_and_undo_restores_them(
    in_alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    actor = fresh(in_alpha.owner)
    existing = lead_create(actor=actor, first_name="Old", email="dup@example.com", source="Web")
    rows = [
        ["Name", "Email", "Lead Status", "Company"],
        ["New Name", "DUP@example.com", "Working", "Acme"],
        ["Fresh", "fresh@example.com", "", ""],
    ]
    job = upload(actor, _body(rows), name="leads.csv", entity="lead")
    job = _run(job, actor, django_capture_on_commit_callbacks, duplicates="update")
    assert (job.created_count, job.updated_count) == (1, 1)
    existing.refresh_from_db()
    assert (existing.first_name, existing.last_name, existing.status, existing.source) == (
        "New",
        "Name",
        Lead.Status.WORKING,
        "Web",
    )
    with django_capture_on_commit_callbacks(execute=True):
        imports.import_undo(actor=actor, job=job)
    existing.refresh_from_db()
    assert (existing.first_name, existing.last_name, existing.status, existing.company_name) == (
        "Old",
        "",
        Lead.Status.NEW,
        "",
    )
    assert not Lead.objects.filter(email="fresh@example.com").exists()
    assert ImportRow.objects.filter(job=job, outcome=ImportRow.Outcome.UPDATED).count() == 1


def test_a_converted_lead_is_not_updated_by_an_import(
    in_alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    actor = fresh(in_alpha.owner)
    existing = lead_create(actor=actor, first_name="Old", email="dup@example.com", source="Web")
    Lead.objects.filter(pk=existing.pk).update(status=Lead.Status.CONVERTED)
    rows = [["Name", "Email"], ["New", "dup@example.com"]]
    job = upload(actor, _body(rows), name="leads.csv", entity="lead")
    job = _run(job, actor, django_capture_on_commit_callbacks, duplicates="update")
    assert list(imports.import_error_lines(job)) == [(1, "", "A converted lead cannot be changed.")]
    existing.refresh_from_db()
    assert existing.first_name == "Old"
    assert not Contact.objects.exists()


def test_errors_are_reported_in_the_importers_language(
    in_alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    from django.utils import translation

    actor = fresh(in_alpha.owner)
    _pipelines(actor)
    job = _deal_upload(actor, [["Deal Name", "Stage"], ["A", "Nope"]])
    with translation.override("ru"):
        (row,) = imports.import_preview(actor=actor, job=job)
    assert row.values[1] == (
        "Этап (по названию)",
        "",
        "В воронке «Sales» нет этапа «Nope». Её этапы: “Qualified”, “Proposal”, “Won”, “Lost”.",
    )


def test_a_deal_import_never_reaches_another_workspaces_pipelines_or_contacts(
    alpha: Workspace, bravo: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    from django_tenants.utils import schema_context

    with schema_context(bravo.tenant.schema_name):
        other = fresh(bravo.owner)
        pipeline_create(actor=other, name="Bravo only", stages=[StageInput("Secret", 10)])
        contact_create(actor=other, first_name="Bravo", emails=["bravo@x.es"])
    with schema_context(alpha.tenant.schema_name):
        actor = fresh(alpha.owner)
        _pipelines(actor)
        rows = [
            ["Deal Name", "Pipeline", "Contact email"],
            ["A", "Bravo only", ""],
            ["B", "Sales", "bravo@x.es"],
        ]
        job = _run(_deal_upload(actor, rows), actor, django_capture_on_commit_callbacks)
        assert [line[:2] for line in imports.import_error_lines(job)] == [
            (1, "Pipeline"),
            (2, "Contact email"),
        ]
        assert not Deal.objects.exists()
    with schema_context(bravo.tenant.schema_name):
        assert not Deal.objects.exists()
        assert not ImportJob.objects.exists()
