"""Lead custom fields in imports and exports (ADR 0055): import targets, a new field from a
column, an update that undo restores, export columns; and the default values an import gives
to the cells it leaves empty."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django_tenants.utils import schema_context

from crm_modules.dataio.services import import_fields, imports
from crm_modules.sales.models import Contact, CustomField, Lead
from crm_modules.sales.services import custom_field_archive, custom_field_create, lead_create
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.dataio.conftest import fresh, upload
from tests.dataio.test_imports import _body, _run

pytestmark = pytest.mark.usefixtures("s3_bucket")


def _lead_upload(actor: Any, rows: list[list[str]]) -> Any:
    return upload(actor, _body(rows), name="leads.csv", entity="lead")


def test_a_lead_import_fills_lead_custom_fields_and_undo_restores_an_update(
    in_alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    actor = fresh(in_alpha.owner)
    custom_field_create(actor=actor, entity="lead", code="budget", label="Бюджет", type="number")
    custom_field_create(
        actor=actor, entity="lead", code="interest", label="ความสนใจ", type="select",
        options=["CRM", "ERP"],
    )  # fmt: skip
    existing = lead_create(
        actor=actor, email="old@x.es", source="fair", custom_fields={"budget": 1}
    )
    job = _lead_upload(
        actor,
        [
            ["Email", "Бюджет", "interest"],
            ["new@x.es", "500", "CRM"],
            ["old@x.es", "900", ""],
            ["bad@x.es", "lots", "ERP"],
        ],
    )
    assert job.mapping == {"0": "email", "1": "custom:budget", "2": "custom:interest"}
    job = _run(job, actor, django_capture_on_commit_callbacks, duplicates="update")
    assert (job.created_count, job.updated_count, job.error_count) == (1, 1, 1)
    assert Lead.objects.get(email="new@x.es").custom == {"budget": 500, "interest": "CRM"}
    assert Lead.objects.get(pk=existing.pk).custom == {"budget": 900}
    assert not Lead.objects.filter(email="bad@x.es").exists()

    with django_capture_on_commit_callbacks(execute=True):
        imports.import_undo(actor=actor, job=job)
    assert Lead.objects.get(pk=existing.pk).custom == {"budget": 1}
    assert not Lead.objects.filter(email="new@x.es").exists()


def test_a_new_lead_field_is_made_from_an_unmapped_column(
    in_alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    admin = fresh(in_alpha.members[Role.ADMIN])
    job = _lead_upload(
        admin, [["Email", "ระดับ"], ["a@x.es", "สูง"], ["b@x.es", "ต่ำ"], ["c@x.es", "สูง"]]
    )
    field = import_fields.import_field_create(actor=admin, job=job, column=1, label="ระดับ", type="")
    assert (field.entity, field.type) == ("lead", "select")
    job.refresh_from_db()
    assert job.mapping["1"] == f"custom:{field.code}"
    _run(job, admin, django_capture_on_commit_callbacks)
    assert {lead.email: lead.custom for lead in Lead.objects.all()} == {
        "a@x.es": {field.code: "สูง"},
        "b@x.es": {field.code: "ต่ำ"},
        "c@x.es": {field.code: "สูง"},
    }


def test_an_import_gives_defaults_to_the_cells_it_leaves_empty(
    in_alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    actor = fresh(in_alpha.owner)
    custom_field_create(
        actor=actor, entity="contact", code="tier", label="Tier", type="text",
        default_value="bronze",
    )  # fmt: skip
    custom_field_create(
        actor=actor, entity="contact", code="seats", label="Seats", type="number",
        default_value=1,
    )  # fmt: skip
    custom_field_create(
        actor=actor, entity="lead", code="tier", label="Tier", type="text", default_value="cold"
    )
    contacts = upload(actor, _body([["Email", "tier"], ["a@x.es", "gold"], ["b@x.es", ""]]))
    assert contacts.mapping == {"0": "email", "1": "custom:tier"}
    _run(contacts, actor, django_capture_on_commit_callbacks)
    assert {c.primary_email: c.custom for c in Contact.objects.all()} == {
        "a@x.es": {"tier": "gold", "seats": 1},
        "b@x.es": {"tier": "bronze", "seats": 1},
    }
    leads = _lead_upload(actor, [["Email", "tier"], ["l@x.es", ""]])
    _run(leads, actor, django_capture_on_commit_callbacks)
    assert Lead.objects.get(email="l@x.es").custom == {"tier": "cold"}

    # An update sets what the row gives and nothing from the defaults.
    contact = Contact.objects.get(primary_email="a@x.es")
    Contact.objects.filter(pk=contact.pk).update(custom={"tier": "gold"})
    again = upload(actor, _body([["Email", "tier"], ["a@x.es", ""]]))
    _run(again, actor, django_capture_on_commit_callbacks, duplicates="update")
    assert Contact.objects.get(pk=contact.pk).custom == {"tier": "gold"}


def test_the_leads_export_has_a_column_per_lead_field_in_use(alpha: Workspace) -> None:
    with schema_context(alpha.tenant.schema_name):
        actor = fresh(alpha.owner)
        custom_field_create(actor=actor, entity="lead", code="budget", label="B", type="number")
        old = custom_field_create(actor=actor, entity="lead", code="old", label="O", type="text")
        custom_field_create(actor=actor, entity="contact", code="tier", label="T", type="text")
        lead_create(
            actor=actor,
            first_name="Иван",
            source="fair",
            custom_fields={"budget": 70, "old": "=cmd()"},
        )
        custom_field_archive(actor=actor, field=old, archived=True)
        assert CustomField.objects.filter(entity="lead").count() == 2
    client = workspace_client(alpha.members[Role.ADMIN].user, alpha.tenant)
    response = client.post("/data/export/leads/", {"format": "csv"})
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][-1] == "budget"
    assert "old" not in rows[0]
    assert "tier" not in rows[0]
    assert rows[1][rows[0].index("first_name")] == "Иван"
    assert rows[1][-1] == "70"
