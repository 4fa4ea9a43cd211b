"""The import pages and the list exports, through the browser's channel (the test client)."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
import requests
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import schema_context

from crm_modules.dataio.models import ExportJob, ImportJob
from crm_modules.dataio.services import exports
from crm_modules.sales.models import Contact
from crm_modules.sales.services import contact_create
from tenants.audit.models import AuditEvent
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.dataio.conftest import fresh

pytestmark = pytest.mark.usefixtures("s3_bucket")

PIPEDRIVE = (
    "Person - Name,Person - Email - Work,Person - Phone - Work\r\n"
    "Ana García,ana@garcia.es,+34 612 345 678\r\n"
    "Bad Row,not-an-email,\r\n"
).encode()


def test_a_file_is_uploaded_mapped_previewed_imported_and_reported(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    client = workspace_client(alpha.members[Role.MANAGER].user, alpha.tenant)
    assert client.get("/data/imports/").status_code == 200

    response = client.post(
        "/data/imports/upload/",
        {"entity": "contact", "file": SimpleUploadedFile("pipedrive.csv", PIPEDRIVE)},
    )
    assert response.status_code == 302
    with schema_context(alpha.tenant.schema_name):
        job = ImportJob.objects.get()
    detail = f"/data/imports/{job.pk}/"
    assert response["Location"] == detail

    page = client.get(detail)
    assert page.status_code == 200
    assert b'data-testid="preview"' in page.content
    assert "Enter a valid email address." in page.content.decode()
    assert 'value="email" selected' in page.content.decode()

    response = client.post(
        f"{detail}mapping/",
        {
            "column_0": "full_name",
            "column_1": "email",
            "column_2": "phone",
            "duplicates": "skip",
            "date_format": "iso",
        },
    )
    assert response.status_code == 302
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"{detail}start/").status_code == 302

    page = client.get(f"{detail}progress/")
    assert page.status_code == 200
    assert b'data-status="done"' in page.content
    report = client.get(f"{detail}errors.csv")
    assert report["Content-Type"] == "text/csv; charset=utf-8"
    assert list(csv.reader(io.StringIO(report.content.decode("utf-8-sig")))) == [
        ["Row", "Column", "Reason"],
        ["2", "Person - Email - Work", "Enter a valid email address."],
    ]
    with schema_context(alpha.tenant.schema_name):
        assert list(Contact.objects.values_list("first_name", "last_name")) == [("Ana", "García")]


def test_a_file_over_the_limit_is_refused_before_it_is_read(alpha: Workspace) -> None:
    client = workspace_client(alpha.owner.user, alpha.tenant)
    response = client.post(
        "/data/imports/upload/",
        {"entity": "contact", "file": SimpleUploadedFile("x.csv", b"Email\r\n")},
        CONTENT_LENGTH=str(2 * 1024**3),
    )
    assert response.status_code == 413
    assert "The file is larger than the limit of 512 MB." in response.content.decode()


def test_a_bad_file_is_answered_with_its_problem(alpha: Workspace) -> None:
    client = workspace_client(alpha.owner.user, alpha.tenant)
    response = client.post(
        "/data/imports/upload/", {"entity": "contact", "file": SimpleUploadedFile("x.csv", b"")}
    )
    assert response.status_code == 400
    assert "The file is empty." in response.content.decode()
    with schema_context(alpha.tenant.schema_name):
        assert not ImportJob.objects.exists()


def _contacts(alpha: Workspace) -> None:
    with schema_context(alpha.tenant.schema_name):
        actor = fresh(alpha.owner)
        contact_create(actor=actor, first_name='=HYPERLINK("http://x")', last_name="Evil")
        contact_create(
            actor=actor, first_name="Ada", last_name="Lovelace", emails=["ada@example.com"]
        )
        contact_create(actor=actor, first_name="王", last_name="芳", lifecycle_stage="customer")


def test_a_list_is_exported_with_its_filters_and_formulas_neutralised(alpha: Workspace) -> None:
    _contacts(alpha)
    client = workspace_client(alpha.members[Role.ADMIN].user, alpha.tenant)
    page = client.get("/sales/contacts/", {"q": "evil"})
    assert b'data-testid="export-contact"' in page.content
    assert b'name="q" value="evil"' in page.content

    response = client.post("/data/export/contacts/", {"q": "evil", "format": "csv"})

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="contacts-')
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["id", "first_name", "last_name", "email"]
    assert [row[1:3] for row in rows[1:]] == [['\'=HYPERLINK("http://x")', "Evil"]]
    everyone = client.post("/data/export/contacts/", {"format": "csv", "stage": "customer"})
    rows = list(csv.reader(io.StringIO(everyone.content.decode("utf-8-sig"))))
    assert [row[1:3] for row in rows[1:]] == [["王", "芳"]]
    with schema_context(alpha.tenant.schema_name):
        assert list(
            AuditEvent.objects.filter(action="records.exported")
            .order_by("id")
            .values_list("data", flat=True)
        ) == [
            {"entity": "contact", "format": "csv", "filters": {"q": "evil"}},
            {"entity": "contact", "format": "csv", "filters": {"stage": "customer"}},
        ]


def test_an_export_keeps_the_lists_score_filter_and_order(alpha: Workspace) -> None:
    _contacts(alpha)
    with schema_context(alpha.tenant.schema_name):
        for last_name, score in (("Evil", 10), ("Lovelace", 70), ("芳", 40)):
            Contact.objects.filter(last_name=last_name).update(score=score)
    client = workspace_client(alpha.members[Role.ADMIN].user, alpha.tenant)
    filters = {"min_score": "20", "sort": "score"}
    page = client.get("/sales/contacts/", filters).content.decode()
    assert page.index("Lovelace") < page.index("王")
    assert "Evil" not in page

    response = client.post("/data/export/contacts/", {**filters, "format": "csv"})

    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [row[2] for row in rows[1:]] == ["Lovelace", "芳"]


def test_a_list_is_exported_as_a_workbook(alpha: Workspace) -> None:
    from openpyxl import load_workbook

    _contacts(alpha)
    client = workspace_client(alpha.owner.user, alpha.tenant)
    response = client.post("/data/export/contacts/", {"format": "xlsx"})
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).worksheets[0]
    values = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert list(values[0][:3]) == ["id", "first_name", "last_name"]
    names = sorted(str(row[1]) for row in values[1:])
    assert names == sorted(['\'=HYPERLINK("http://x")', "Ada", "王"])
    assert all(sheet.cell(row=r, column=2).data_type == "s" for r in range(2, 5))


def test_a_long_list_is_exported_in_the_background_and_offered_when_ready(
    alpha: Workspace, django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _contacts(alpha)
    monkeypatch.setattr(exports, "INLINE_ROWS", 1)
    client = workspace_client(alpha.owner.user, alpha.tenant)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/data/export/contacts/", {"format": "csv"})

    assert response.status_code == 302
    assert response["Location"] == "/data/exports/"
    with schema_context(alpha.tenant.schema_name):
        job = ExportJob.objects.get()
    assert (job.status, job.row_count) == (ExportJob.Status.DONE, 3)
    assert job.file_key.startswith(f"workspaces/{alpha.tenant.schema_name}/exports/")
    assert f"/data/exports/{job.pk}/download/".encode() in client.get("/data/exports/").content
    download = client.get(f"/data/exports/{job.pk}/download/")
    assert download.status_code == 302
    body = requests.get(download["Location"], timeout=10)
    assert body.status_code == 200
    assert "Ada" in body.content.decode("utf-8-sig")
    other = workspace_client(alpha.members[Role.ADMIN].user, alpha.tenant)
    assert other.get(f"/data/exports/{job.pk}/download/").status_code == 404


def test_a_sales_rep_may_neither_export_nor_import(alpha: Workspace) -> None:
    _contacts(alpha)
    client = workspace_client(alpha.members[Role.SALES_REP].user, alpha.tenant)
    assert b'data-testid="export-contact"' not in client.get("/sales/contacts/").content
    assert client.post("/data/export/contacts/", {"format": "csv"}).status_code == 403
    assert client.get("/data/imports/").status_code == 403
    with schema_context(alpha.tenant.schema_name):
        assert not AuditEvent.objects.filter(action="records.exported").exists()


def test_an_export_keeps_the_deal_lists_date_amount_owner_filters_and_order(
    alpha: Workspace,
) -> None:
    import datetime
    from decimal import Decimal

    from tests.sales.factories import DealFactory, PipelineFactory

    rep = alpha.members[Role.SALES_REP].user
    with schema_context(alpha.tenant.schema_name):
        pipeline = PipelineFactory.create(name="Main")
        for name, amount, close, owner in (
            ("Too early", "5000", datetime.date(2026, 1, 31), rep),
            ("Small", "900", datetime.date(2026, 2, 10), rep),
            ("Big", "7500", datetime.date(2026, 2, 20), rep),
            ("Middle", "3000", datetime.date(2026, 3, 1), rep),
            ("Not the rep's", "4000", datetime.date(2026, 2, 15), alpha.owner.user),
            ("No date", "4000", None, rep),
        ):
            DealFactory.create(
                name=name,
                pipeline=pipeline,
                amount=Decimal(amount),
                expected_close_date=close,
                owner=owner,
            )
    client = workspace_client(alpha.members[Role.ADMIN].user, alpha.tenant)
    filters = {
        "close_from": "2026-02-01",
        "close_to": "2026-03-31",
        "amount_min": "1000",
        "amount_max": "10000.50",
        "owner": str(rep.pk),
        "sort": "-amount",
    }
    page = client.get("/sales/deals/list/", filters).content.decode()
    assert b'data-testid="export-deal"' in page.encode()
    assert page.index("Big") < page.index("Middle")
    assert "Small" not in page
    assert "Too early" not in page
    assert "Not the rep" not in page
    assert "No date" not in page

    response = client.post("/data/export/deals/", {**filters, "format": "csv"})

    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [row[1] for row in rows[1:]] == ["Big", "Middle"]
    by_close = client.post("/data/export/deals/", {"sort": "close", "format": "csv"})
    rows = list(csv.reader(io.StringIO(by_close.content.decode("utf-8-sig"))))
    # Sorted by close date, as the page shows it: deals without a date are left out.
    assert [row[1] for row in rows[1:]] == [
        "Too early",
        "Small",
        "Not the rep's",
        "Big",
        "Middle",
    ]
    with schema_context(alpha.tenant.schema_name):
        assert list(
            AuditEvent.objects.filter(action="records.exported")
            .order_by("id")
            .values_list("data", flat=True)
        ) == [
            {"entity": "deal", "format": "csv", "filters": filters},
            {"entity": "deal", "format": "csv", "filters": {"sort": "close"}},
        ]


def test_a_deal_export_ignores_a_value_the_list_page_refuses(alpha: Workspace) -> None:
    from decimal import Decimal

    from tests.sales.factories import DealFactory

    with schema_context(alpha.tenant.schema_name):
        DealFactory.create(name="Any", amount=Decimal("10"))
    client = workspace_client(alpha.members[Role.ADMIN].user, alpha.tenant)
    bad = {"amount_min": "=1+1", "close_from": "yesterday-ish"}
    assert client.get("/sales/deals/list/", bad).status_code == 400

    response = client.post("/data/export/deals/", {**bad, "format": "csv"})

    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [row[1] for row in rows[1:]] == ["Any"]


def test_a_csv_export_writes_each_kind_of_value_as_text(alpha: Workspace, tmp_path: Any) -> None:
    """The CSV is written by PostgreSQL: lists, dates, custom fields of every shape, quotes,
    commas, every script and formulas come out as the workbook export writes them."""
    from crm_modules.sales.services import company_create
    from crm_modules.sales.services.custom_fields import custom_field_create

    with schema_context(alpha.tenant.schema_name):
        actor = fresh(alpha.owner)
        for code, kind, options in (
            ("tier", "multi_select", ["Gold", "Silver"]),
            ("vip", "boolean", None),
            ("seats", "number", None),
            ("motto", "text", None),
        ):
            custom_field_create(
                actor=actor, entity="contact", code=code, label=code, type=kind, options=options
            )
        company = company_create(actor=actor, name="Acme, “Iberia”", domain="acme.es")
        contact_create(
            actor=actor,
            first_name='Ana "La Jefa"',
            last_name="García, Ruiz",
            emails=["ana@garcia.es"],
            phones=["+34 612 345 678"],
            company=company.pk,
            tags=["vip", "-minus"],
            custom_fields={"tier": ["Gold", "Silver"], "vip": True, "seats": 12, "motto": "=1+1"},
        )
        contact_create(actor=actor, first_name="สมชาย", last_name="@ใจดี")
        Contact.objects.update(created_at="2026-03-04T05:06:07+00:00")

        path = tmp_path / "contacts.csv"
        count = exports.export_write(
            actor=actor, entity="contact", filters={}, file_format="csv", path=path
        )
        book = tmp_path / "contacts.xlsx"
        exports.export_write(
            actor=actor, entity="contact", filters={}, file_format="xlsx", path=book
        )

    assert count == 2
    text = path.read_bytes().decode("utf-8")
    assert text.startswith("\ufeffid,first_name,")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert rows[0][-4:] == ["tier", "vip", "seats", "motto"]
    ana = next(row for row in rows[1:] if row[2] == "García, Ruiz")
    assert ana[1:8] == [
        'Ana "La Jefa"',
        "García, Ruiz",
        "ana@garcia.es",
        "'+34612345678",
        "",
        "Acme, “Iberia”",
        "acme.es",
    ]
    assert ana[10] == "vip, -minus"
    assert ana[17] == "2026-03-04 05:06"
    assert ana[-4:] == ["Gold, Silver", "True", "12", "'=1+1"]
    somchai = next(row for row in rows[1:] if row[1] == "สมชาย")
    assert somchai[2] == "'@ใจดี"
    assert somchai[-4:] == ["", "", "", ""]

    from openpyxl import load_workbook

    sheet = load_workbook(book).worksheets[0]
    as_text = [
        ["" if cell is None else str(cell) for cell in row]
        for row in sheet.iter_rows(values_only=True)
    ]
    assert sorted(as_text[1:]) == sorted(rows[1:])


def test_a_csv_export_runs_with_the_debug_cursor(alpha: Workspace, tmp_path: Any) -> None:
    """With DEBUG on (make run) or queries captured, Django wraps cursors in its debug wrapper,
    whose COPY takes no parameters: the export still writes the file."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with schema_context(alpha.tenant.schema_name):
        actor = fresh(alpha.owner)
        contact_create(actor=actor, first_name="Lucia", last_name="Bianchi")
        path = tmp_path / "contacts.csv"
        with CaptureQueriesContext(connection):
            count = exports.export_write(
                actor=actor,
                entity="contact",
                filters={"q": "bianchi"},
                file_format="csv",
                path=path,
            )
    assert count == 1
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    assert [row[1:3] for row in rows[1:]] == [["Lucia", "Bianchi"]]
