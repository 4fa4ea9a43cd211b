"""Imports through the services, against real PostgreSQL and a real S3 API: mapping,
validation, duplicates, relations, resuming after a dead worker, the error report, undo."""

from __future__ import annotations

import csv
from typing import Any

import pytest

from crm_modules.dataio import mapping
from crm_modules.dataio.models import ImportJob, ImportRow
from crm_modules.dataio.services import imports
from crm_modules.dataio.services.rows import Runner
from crm_modules.sales.models import Company, Contact, ContactEmail, CustomField
from crm_modules.sales.services import contact_create
from crm_platform.errors import PermissionDenied, ServiceError
from tenants.audit.models import AuditEvent
from tenants.roles import Role
from tests.conftest import Workspace
from tests.dataio.conftest import fresh, upload, xlsx

pytestmark = pytest.mark.usefixtures("s3_bucket")

PIPEDRIVE = [
    [
        "Person - Name",
        "Person - Email - Work",
        "Person - Phone - Work",
        "Person - Organization",
        "Person - Owner",
        "Person - Labels",
    ],
    [
        "Ana García",
        "ana@garcia.es",
        "+34 612 345 678",
        "Acme Iberia",
        "OWNER@alpha.example.com",
        "vip",
    ],
    ["Иван Петров", "ivan@example.ru", "+7 912 345-67-89", "Ромашка", "", ""],
    ["王芳", "wang@example.cn", "+86 138 0013 8000", "北京科技", "", ""],
    ["สมชาย ใจดี", "somchai@example.th", "+66 81 234 5678", "acme iberia", "", ""],
    ["Existing Person", "DUP@example.com", "", "", "", ""],
    ["Bad Row", "not-an-email", "", "", "", ""],
]


def _body(rows: list[list[str]], delimiter: str = ",") -> bytes:
    lines = []
    for row in rows:
        out: list[str] = []
        writer = csv.writer(_Collect(out), delimiter=delimiter)
        writer.writerow(row)
        lines.append(out[0])
    return "".join(lines).encode()


class _Collect:
    def __init__(self, out: list[str]) -> None:
        self.out = out

    def write(self, text: str) -> None:
        self.out.append(text)


def _run(
    job: ImportJob, actor: Any, capture: Any, *, duplicates: str = "skip", date_format: str = "iso"
) -> ImportJob:
    imports.import_configure(
        actor=actor, job=job, mapping=job.mapping, duplicates=duplicates, date_format=date_format
    )
    with capture(execute=True):
        imports.import_start(actor=actor, job=job)
    job.refresh_from_db()
    return job


def _existing(actor: Any, **extra: Any) -> Contact:
    return contact_create(actor=actor, first_name="Old", emails=["dup@example.com"], **extra)


def test_a_pipedrive_export_is_mapped_by_its_headers(in_alpha: Workspace) -> None:
    job = upload(fresh(in_alpha.owner), _body(PIPEDRIVE))
    assert job.mapping == {
        "0": "full_name",
        "1": "email",
        "2": "phone",
        "3": "company",
        "4": "owner_email",
        "5": "tags",
    }
    assert job.file_format == "csv"
    assert job.headers == PIPEDRIVE[0]
    assert [number for number, _cells in job.sample] == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (  # HubSpot
            ["First Name", "Last Name", "Email", "Phone Number", "Company Name", "Contact owner"],
            ["first_name", "last_name", "email", "phone", "company", "owner_email"],
        ),
        (  # Salesforce
            ["First Name", "Last Name", "Email", "Mobile Phone", "Account Name", "Mailing City"],
            ["first_name", "last_name", "email", "phone_2", "company", "city"],
        ),
        (  # Zoho
            ["First Name", "Last Name", "Email", "Mobile", "Account Name", "Mailing Zip"],
            ["first_name", "last_name", "email", "phone_2", "company", "postal_code"],
        ),
        (  # Rapport's own export
            [
                "id",
                "first_name",
                "last_name",
                "email",
                "phone",
                "company_domain",
                "lifecycle_stage",
            ],
            [
                None,
                "first_name",
                "last_name",
                "email",
                "phone",
                "company_domain",
                "lifecycle_stage",
            ],
        ),
    ],
)
def test_other_crms_exports_are_recognised(headers: list[str], expected: list[str | None]) -> None:
    found = mapping.auto_map("contact", headers, [])
    assert [found.get(str(i)) for i in range(len(headers))] == expected


def test_custom_fields_are_targets_recognised_by_code_or_label(in_alpha: Workspace) -> None:
    field = CustomField.objects.create(
        entity="contact", code="vat_id", label="VAT number", type="text"
    )
    found = mapping.auto_map("contact", ["Email", "VAT Number"], [field])
    assert found == {"0": "email", "1": "custom:vat_id"}


def test_the_preview_shows_rows_as_stored_with_each_problem_in_place(in_alpha: Workspace) -> None:
    actor = fresh(in_alpha.owner)
    job = upload(actor, _body(PIPEDRIVE))

    preview = imports.import_preview(actor=actor, job=job)

    first = {label: (value, problem) for label, value, problem in preview[0].values}
    assert first["Email"] == ("ana@garcia.es", "")
    assert first["Phone"] == ("+34612345678", "")
    assert first["Full name (split into first and last)"] == ("", "")
    bad = {label: (value, problem) for label, value, problem in preview[5].values}
    assert bad["Email"] == ("", "Enter a valid email address.")
    assert not Contact.objects.filter(first_name="Ana").exists()


def test_an_import_creates_links_skips_duplicates_and_reports_bad_rows(
    in_alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    actor = fresh(in_alpha.owner)
    _existing(actor)
    job = _run(upload(actor, _body(PIPEDRIVE)), actor, django_capture_on_commit_callbacks)

    assert job.status == ImportJob.Status.DONE
    assert (job.total_rows, job.processed_rows) == (6, 6)
    assert (job.created_count, job.updated_count, job.skipped_count, job.error_count) == (
        4,
        0,
        1,
        1,
    )
    ana = Contact.objects.get(primary_email="ana@garcia.es")
    assert (ana.first_name, ana.last_name, ana.primary_phone, ana.tags) == (
        "Ana",
        "García",
        "+34612345678",
        ["vip"],
    )
    assert ana.owner_id == actor.user_id
    assert ana.company is not None
    assert ana.company.name == "Acme Iberia"
    somchai = Contact.objects.get(primary_email="somchai@example.th")
    assert somchai.company_id == ana.company_id  # linked by name, whatever the case
    assert Contact.objects.get(primary_email="wang@example.cn").first_name == "王芳"
    assert sorted(Company.objects.values_list("name", flat=True)) == sorted(
        ["Acme Iberia", "Ромашка", "北京科技"]
    )
    assert ContactEmail.objects.filter(email="dup@example.com").count() == 1
    assert not Contact.objects.filter(first_name="Bad").exists()
    assert list(imports.import_error_lines(job)) == [
        (6, "Person - Email - Work", "Enter a valid email address.")
    ]
    assert list(
        AuditEvent.objects.filter(action__startswith="import.")
        .order_by("id")
        .values_list("action", "data")
    ) == [
        ("import.started", {"entity": "contact", "file": "people.csv"}),
        ("import.finished", {"created": 4, "updated": 0, "skipped": 1, "errors": 1}),
    ]


def test_duplicates_can_update_the_existing_record_and_undo_restores_it(
    in_alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    actor = fresh(in_alpha.owner)
    existing = _existing(actor, job_title="Buyer")
    rows = [
        ["First name", "Email", "Phone", "Company"],
        ["New", "dup@example.com", "+39 06 1234 5678", ""],
        ["Fresh", "fresh@example.com", "", "Newco"],
    ]
    job = _run(
        upload(actor, _body(rows)), actor, django_capture_on_commit_callbacks, duplicates="update"
    )

    assert (job.created_count, job.updated_count) == (1, 1)
    existing.refresh_from_db()
    assert (existing.first_name, existing.primary_phone, existing.job_title) == (
        "New",
        "+390612345678",
        "Buyer",
    )

    admin = fresh(in_alpha.members[Role.ADMIN])
    with django_capture_on_commit_callbacks(execute=True):
        imports.import_undo(actor=admin, job=job)
    job.refresh_from_db()
    existing.refresh_from_db()

    assert job.status == ImportJob.Status.UNDONE
    assert (existing.first_name, existing.primary_phone) == ("Old", "")
    assert list(existing.phones.all()) == []
    assert not Contact.objects.filter(primary_email="fresh@example.com").exists()
    assert not Company.objects.filter(name="Newco").exists()
    undone = AuditEvent.objects.filter(action="import.undone").get()
    assert undone.data == {"removed": 1, "removed_companies": 1}
    assert (undone.actor_id, job.undone_by_id) == (admin.user_id, admin.user_id)
    with pytest.raises(ServiceError):
        imports.import_undo(actor=actor, job=job)


def test_create_anyway_makes_a_second_record(
    in_alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    actor = fresh(in_alpha.owner)
    _existing(actor)
    rows = [["Name", "Email"], ["Twin", "dup@example.com"], ["Twin again", "dup@example.com"]]
    job = _run(
        upload(actor, _body(rows)), actor, django_capture_on_commit_callbacks, duplicates="create"
    )
    assert job.created_count == 2
    assert ContactEmail.objects.filter(email="dup@example.com").count() == 3


def test_a_duplicate_inside_the_file_is_skipped(
    in_alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    actor = fresh(in_alpha.owner)
    rows = [["Name", "Phone"], ["One", "+39 06 1234 5678"], ["Two", "+390612345678"]]
    job = _run(upload(actor, _body(rows, ";")), actor, django_capture_on_commit_callbacks)
    assert (job.created_count, job.skipped_count) == (1, 1)


def test_a_row_the_database_refuses_is_reported_and_the_rest_of_its_batch_stored(
    in_alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    """A value the checks let through but PostgreSQL refuses (a NUL character in a job title)
    makes the batch's single write fail: the batch is applied again row by row, so the good
    rows are stored and the bad one is reported, with nothing of it written."""
    actor = fresh(in_alpha.owner)
    rows = [
        ["Name", "Email", "Job Title", "Company"],
        ["Ana García", "ana@garcia.es", "CEO", "Acme Iberia"],
        ["Null Byte", "nul@example.com", "Head\x00of sales", "Nul Company"],
        ["Иван Петров", "ivan@example.ru", "Директор", "Ромашка"],
    ]
    job = _run(upload(actor, _body(rows)), actor, django_capture_on_commit_callbacks)

    assert job.status == ImportJob.Status.DONE
    assert (job.created_count, job.error_count) == (2, 1)
    assert sorted(Contact.objects.values_list("primary_email", flat=True)) == [
        "ana@garcia.es",
        "ivan@example.ru",
    ]
    assert not ContactEmail.objects.filter(email="nul@example.com").exists()
    assert sorted(Company.objects.values_list("name", flat=True)) == ["Acme Iberia", "Ромашка"]
    [(number, column, reason)] = list(imports.import_error_lines(job))
    assert (number, column) == (2, "")
    assert reason.startswith("The database refused this row: ")
    assert ImportRow.objects.filter(job=job, outcome=ImportRow.Outcome.CREATED).count() == 2


def test_an_import_undo_is_refused_after_seven_days(
    in_alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    import datetime

    from django.utils import timezone

    actor = fresh(in_alpha.owner)
    job = _run(
        upload(actor, _body([["Email"], ["a@example.com"]])),
        actor,
        django_capture_on_commit_callbacks,
    )
    ImportJob.objects.filter(pk=job.pk).update(
        finished_at=timezone.now() - datetime.timedelta(days=8)
    )
    job.refresh_from_db()
    with pytest.raises(ServiceError) as caught:
        imports.import_undo(actor=actor, job=job)
    assert "7 days" in caught.value.message
    assert Contact.objects.filter(primary_email="a@example.com").exists()


class WorkerDied(BaseException):
    """Stands for the process being killed: nothing in the task catches it."""


def test_a_worker_killed_mid_import_resumes_without_applying_a_row_twice(
    in_alpha: Workspace, django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crm_modules.dataio import tasks

    actor = fresh(in_alpha.owner)
    rows = [["Email"]] + [[f"person{i}@example.com"] for i in range(1, 8)]
    monkeypatch.setattr(imports, "BATCH_ROWS", 3)
    original = Runner.apply_batch
    calls = {"n": 0}

    def dies_on_second_batch(self: Any, batch: Any) -> Any:
        calls["n"] += 1
        result = original(self, batch)
        if calls["n"] == 2:
            raise WorkerDied
        return result

    monkeypatch.setattr(Runner, "apply_batch", dies_on_second_batch)
    job = upload(actor, _body(rows))
    imports.import_configure(
        actor=actor, job=job, mapping=job.mapping, duplicates="create", date_format="iso"
    )
    with pytest.raises(WorkerDied), django_capture_on_commit_callbacks(execute=True):
        imports.import_start(actor=actor, job=job)
    job.refresh_from_db()
    assert (job.status, job.processed_rows, job.created_count) == ("running", 3, 3)
    assert Contact.objects.count() == 3  # the second batch left nothing behind

    monkeypatch.setattr(Runner, "apply_batch", original)
    tasks.import_run(job.pk)  # Celery delivers the unacknowledged task again
    job.refresh_from_db()

    assert (job.status, job.processed_rows, job.created_count) == ("done", 7, 7)
    assert ImportRow.objects.filter(job=job).count() == 7
    emails = list(ContactEmail.objects.values_list("email", flat=True))
    assert sorted(emails) == sorted(f"person{i}@example.com" for i in range(1, 8))


def test_ambiguous_dates_are_read_in_the_format_chosen(
    in_alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    actor = fresh(in_alpha.owner)
    CustomField.objects.create(entity="contact", code="birthday", label="Birthday", type="date")
    rows = [["Email", "Birthday"], ["a@example.com", "03/04/1990"]]
    job = _run(
        upload(actor, _body(rows)), actor, django_capture_on_commit_callbacks, date_format="dmy"
    )
    assert Contact.objects.get(primary_email="a@example.com").custom == {"birthday": "1990-04-03"}

    job = _run(
        upload(actor, _body([["Email", "Birthday"], ["b@example.com", "03/04/1990"]])),
        actor,
        django_capture_on_commit_callbacks,
    )
    assert list(imports.import_error_lines(job)) == [
        (
            1,
            "Birthday",
            "“03/04/1990” is not a date in the format YYYY-MM-DD (2024-03-31); choose the "
            "file's date format on the mapping page.",
        )
    ]


def test_unknown_owners_and_ragged_rows_are_reported_and_not_imported(
    in_alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    actor = fresh(in_alpha.owner)
    rows = [
        ["Email", "Owner"],
        ["a@example.com", "nobody@example.com"],
        ["b@example.com", "", "surplus"],
        ["c@example.com"],
    ]
    job = _run(upload(actor, _body(rows)), actor, django_capture_on_commit_callbacks)
    assert list(imports.import_error_lines(job)) == [
        (1, "Owner", "No member of this workspace has the email “nobody@example.com”."),
        (2, "", "The row has 3 cells but the header only 2 columns."),
    ]
    assert list(Contact.objects.values_list("primary_email", flat=True)) == ["c@example.com"]


def test_companies_are_imported_from_a_workbook_and_matched_by_domain(
    in_alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    actor = fresh(in_alpha.owner)
    Company.objects.create(name="Acme", domain="acme.com")
    body = xlsx(
        [
            ["Company name", "Company Domain Name", "Number of Employees", "Industry"],
            ["Acme Corp", "www.ACME.com", 250, "Tools"],
            ["Globex", "globex.com", 12, "Energy"],
            ["", "nameless.com", 1, ""],
        ]
    )
    job = upload(actor, body, name="companies.xlsx", entity="company")
    assert job.mapping == {"0": "name", "1": "domain", "2": "size", "3": "industry"}
    job = _run(job, actor, django_capture_on_commit_callbacks, duplicates="update")

    assert (job.created_count, job.updated_count, job.error_count) == (1, 1, 1)
    acme = Company.objects.get(domain="acme.com")
    assert (acme.name, acme.size, acme.industry) == ("Acme Corp", "201-1000", "Tools")
    assert Company.objects.get(domain="globex.com").size == "11-50"
    assert list(imports.import_error_lines(job)) == [(3, "Company name", "Name is required.")]


def test_a_mapping_must_name_who_the_rows_are(in_alpha: Workspace) -> None:
    actor = fresh(in_alpha.owner)
    job = upload(actor, _body([["Email", "City"], ["a@example.com", "Roma"]]))
    with pytest.raises(ServiceError) as caught:
        imports.import_configure(
            actor=actor, job=job, mapping={"1": "city"}, duplicates="skip", date_format="iso"
        )
    assert caught.value.field == "mapping"
    with pytest.raises(ServiceError) as caught:
        imports.import_configure(
            actor=actor,
            job=job,
            mapping={"0": "email", "1": "email"},
            duplicates="skip",
            date_format="iso",
        )
    assert caught.value.field == "column_1"


def test_a_sales_rep_cannot_import(in_alpha: Workspace) -> None:
    with pytest.raises(PermissionDenied):
        upload(fresh(in_alpha.members[Role.SALES_REP]), b"Email\r\na@example.com\r\n")
    assert not ImportJob.objects.exists()
