"""Activities and notes in imports: a note column puts a note on the timeline of each record
imported, a file of activities links each to its contacts, company or deal; undo removes them."""

from __future__ import annotations

import datetime
import zoneinfo
from typing import Any

import pytest

from crm_modules.activities import api as timeline
from crm_modules.activities.models import Activity, ActivityDay, ActivityLink
from crm_modules.dataio import mapping
from crm_modules.dataio.models import ImportJob, ImportRow
from crm_modules.dataio.services import imports
from crm_modules.sales.models import Company, Contact, Deal, Lead
from crm_modules.sales.services import contact_create, deal_create, pipeline_create
from crm_modules.sales.services.deals import StageInput
from tenants.audit.models import AuditEvent
from tenants.models import Tenant
from tenants.roles import Role
from tests.conftest import Workspace
from tests.dataio.conftest import fresh, upload
from tests.dataio.test_imports import _body, _run

pytestmark = pytest.mark.usefixtures("s3_bucket")


def _links(activity: Activity) -> set[tuple[str, int]]:
    return set(
        ActivityLink.objects.filter(activity=activity).values_list("target_type", "target_id")
    )


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (  # Pipedrive
            ["Activity - Type", "Activity - Subject", "Activity - Note", "Activity - Due date",
             "Activity - Due time", "Activity - Person", "Activity - Organization",
             "Activity - Deal", "Activity - Assigned to user"],
            ["kind", "subject", "body", "occurred_at", "occurred_time", "contact_name", "company",
             "deal", "author_email"],
        ),
        (  # HubSpot
            ["Activity type", "Activity date", "Body preview", "Associated Contact",
             "Associated Company", "Associated Deal"],
            ["kind", "occurred_at", "body", "contact_name", "company", "deal"],
        ),
        (  # Salesforce tasks
            ["Subject", "Activity Date", "Description", "Type", "Email", "Account Name"],
            ["subject", "occurred_at", "body", "kind", "contact_email", "company"],
        ),
        (  # Zoho calls
            ["Subject", "Call Type", "Call Start Time", "Description", "Contact Name",
             "Call Result"],
            ["subject", "direction", "occurred_at", "body", "contact_name", "outcome"],
        ),
    ],
)  # fmt: skip
def test_other_crms_activity_exports_are_recognised(
    headers: list[str], expected: list[str | None]
) -> None:
    found = mapping.auto_map("activity", headers, [])
    assert [found.get(str(index)) for index in range(len(headers))] == expected


def test_a_notes_column_goes_on_the_timeline_of_each_record_and_undo_removes_it(
    in_alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    actor = fresh(in_alpha.owner)
    existing = contact_create(actor=actor, first_name="Old", emails=["dup@example.com"])
    rows = [
        ["Name", "Email", "Company", "Notes", "Description"],
        ["Ana García", "ana@x.es", "Acme", "Met at the fair; call in May.", "VIP"],
        ["Old Again", "dup@example.com", "", "Прислать предложение", ""],
        ["สมชาย", "somchai@x.th", "", "", ""],
        ["Too long", "long@x.es", "", "x" * 20_001, ""],
    ]
    job = upload(actor, _body(rows))
    assert job.mapping == {
        "0": "full_name",
        "1": "email",
        "2": "company",
        "3": "note",
        "4": "notes",
    }
    job = _run(job, actor, django_capture_on_commit_callbacks, duplicates="update")

    assert (job.created_count, job.updated_count, job.error_count) == (2, 1, 1)
    ana = Contact.objects.get(primary_email="ana@x.es")
    assert ana.notes == "VIP"
    (note,) = timeline.timeline(ana)
    assert (note.kind, note.body, note.author_id) == (
        "note",
        "Met at the fair; call in May.",
        actor.user_id,
    )
    assert _links(note) == {("sales.contact", ana.pk), ("sales.company", ana.company_id)}
    assert [a.body for a in timeline.timeline(existing)] == ["Прислать предложение"]
    assert timeline.timeline(Contact.objects.get(primary_email="somchai@x.th")) == []
    assert not Contact.objects.filter(primary_email="long@x.es").exists()
    assert list(imports.import_error_lines(job)) == [
        (4, "Notes", "A note can be at most 20000 characters.")
    ]
    assert ActivityDay.objects.get(kind="note").count == 2

    with django_capture_on_commit_callbacks(execute=True):
        imports.import_undo(actor=actor, job=job)
    assert not Activity.objects.exists()
    assert ActivityDay.objects.get(kind="note").count == 0
    assert Contact.objects.filter(pk=existing.pk).exists()
    assert AuditEvent.objects.get(action="import.undone").data == {
        "removed": 2,
        "removed_companies": 1,
        "removed_notes": 2,
    }


def test_notes_on_leads_and_deals(
    in_alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    actor = fresh(in_alpha.owner)
    pipeline_create(actor=actor, name="Sales", stages=[StageInput("Open", 10)])
    ana = contact_create(actor=actor, first_name="Ana", emails=["ana@x.es"])
    job = upload(actor, _body([["Email", "Notes"], ["lead@x.es", "Hot"]]), entity="lead")
    _run(job, actor, django_capture_on_commit_callbacks)
    lead = Lead.objects.get()
    assert [a.body for a in timeline.timeline(lead)] == ["Hot"]
    rows = [["Deal Name", "Contact email", "Company", "Notes"], ["Q1", "ana@x.es", "Acme", "定价"]]
    job = upload(actor, _body(rows), entity="deal")
    _run(job, actor, django_capture_on_commit_callbacks)
    deal = Deal.objects.get()
    (note,) = timeline.timeline(deal)
    assert note.body == "定价"
    assert _links(note) == {
        ("sales.deal", deal.pk),
        ("sales.company", deal.company_id),
        ("sales.contact", ana.pk),
    }


PIPEDRIVE_ACTIVITIES = [
    "Activity - Type",
    "Activity - Subject",
    "Activity - Note",
    "Activity - Due date",
    "Activity - Due time",
    "Activity - Person",
    "Activity - Organization",
    "Activity - Deal",
    "Activity - Assigned to user",
    "Email",
]


def test_an_activities_file_is_linked_to_contacts_companies_and_deals(
    in_alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    actor = fresh(in_alpha.owner)
    Tenant.objects.filter(pk=actor.tenant_id).update(time_zone="Asia/Bangkok")
    actor = fresh(in_alpha.owner)
    acme = Company.objects.create(name="Acme")
    ana = contact_create(
        actor=actor, first_name="Ana", last_name="García", emails=["ana@x.es"], company=acme
    )
    ivan = contact_create(actor=actor, first_name="Иван", last_name="Петров")
    stage = pipeline_create(actor=actor, name="Sales", stages=[StageInput("Open", 10)]).stages.get()
    deal = deal_create(actor=actor, name="Big order", stage=stage, contacts=[ivan])
    member = in_alpha.members[Role.MANAGER]
    rows = [
        PIPEDRIVE_ACTIVITIES,
        ["Call", "Intro call", "Went well", "2025-03-31", "14:05", "", "", "", member.user.email, "ANA@x.es"],  # noqa: E501
        ["meeting", "Demo", "", "2025-04-01", "9:30 AM", "Иван Петров", "", "Big order", "", ""],
        ["Email", "Offer", "Сто тысяч", "2025-04-02T08:00:00Z", "", "", "acme", "", "", ""],
        ["Fax", "Old school", "", "2025-04-03", "", "", "", "", "", "ana@x.es"],
        ["Call", "When?", "", "31.31.2025", "", "", "", "", "", "ana@x.es"],
        ["Call", "Nobody", "", "2025-04-03", "", "", "", "", "", "nobody@x.es"],
        ["Call", "Nowhere", "", "2025-04-03", "", "", "", "", "", ""],
        ["Call", "Unknown deal", "", "2025-04-03", "", "", "", "Small order", "", ""],
        ["Call", "", "", "2025-04-03", "", "", "", "", "", "ana@x.es"],
        ["Call", "Stranger", "", "2025-04-03", "", "", "", "", "x@nowhere.example.com", "ana@x.es"],
    ]  # fmt: skip
    job = upload(actor, _body(rows), name="activities.csv", entity="activity")
    assert job.mapping["9"] == "contact_email"
    job = _run(job, actor, django_capture_on_commit_callbacks)

    assert (job.created_count, job.skipped_count, job.error_count) == (3, 0, 7)
    bangkok = zoneinfo.ZoneInfo("Asia/Bangkok")
    call = Activity.objects.get(subject="Intro call")
    assert (call.kind, call.body, call.channel, call.author_id, call.occurred_at) == (
        "call",
        "Went well",
        "phone",
        member.user_id,
        datetime.datetime(2025, 3, 31, 14, 5, tzinfo=bangkok),
    )
    assert _links(call) == {("sales.contact", ana.pk), ("sales.company", acme.pk)}
    demo = Activity.objects.get(subject="Demo")
    assert demo.occurred_at == datetime.datetime(2025, 4, 1, 9, 30, tzinfo=bangkok)
    assert _links(demo) == {("sales.contact", ivan.pk), ("sales.deal", deal.pk)}
    offer = Activity.objects.get(subject="Offer")
    assert offer.occurred_at == datetime.datetime(2025, 4, 2, 8, 0, tzinfo=datetime.UTC)
    assert _links(offer) == {("sales.company", acme.pk)}
    assert [a.subject for a in timeline.timeline(ana)] == ["Intro call"]
    assert [a.subject for a in timeline.timeline(acme)] == ["Offer", "Intro call"]
    errors = list(imports.import_error_lines(job))
    assert [(number, column) for number, column, _reason in errors] == [
        (4, "Activity - Type"),
        (5, "Activity - Due date"),
        (6, "Email"),
        (7, "Email"),
        (8, "Activity - Deal"),
        (9, "Activity - Subject"),
        (10, "Activity - Assigned to user"),
    ]
    assert errors[0][2] == (
        "“Fax” is not a type of activity. Use one of: “Note”, “Call”, “Meeting”, “Email”, "
        "“Message”."
    )
    assert errors[3][2] == "Name the contact, company or deal the activity concerns."
    assert errors[4][2] == "No deal is named “Small order”: import the deals first."

    # The same file again: what is already on the timeline is skipped, not doubled.
    again = _run(
        upload(actor, _body(rows), name="activities.csv", entity="activity"),
        actor,
        django_capture_on_commit_callbacks,
    )
    assert (again.created_count, again.skipped_count) == (0, 3)
    assert Activity.objects.count() == 3

    with django_capture_on_commit_callbacks(execute=True):
        imports.import_undo(actor=actor, job=job)
    assert not Activity.objects.exists()
    assert ImportRow.objects.filter(job=job, outcome=ImportRow.Outcome.CREATED).count() == 3
    assert (
        ActivityDay.objects.filter(kind__in=["call", "meeting", "email"], count__gt=0).count() == 0
    )
    assert Contact.objects.filter(pk=ana.pk).exists()
    assert ImportJob.objects.get(pk=job.pk).status == ImportJob.Status.UNDONE


def test_an_activities_mapping_must_name_what_they_concern(in_alpha: Workspace) -> None:
    from crm_platform.errors import ServiceError

    actor = fresh(in_alpha.owner)
    job = upload(actor, _body([["Subject"], ["Hi"]]), entity="activity")
    with pytest.raises(ServiceError) as caught:
        imports.import_configure(
            actor=actor, job=job, mapping={"0": "subject"}, duplicates="skip", date_format="iso"
        )
    assert caught.value.message == (
        "Choose a column naming the contact, company or deal each activity concerns."
    )
