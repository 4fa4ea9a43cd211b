"""A new custom field from an unmapped column, on the mapping page: admins only, the type
guessed from the values (the admin may choose another), mapped at once, audited."""

from __future__ import annotations

from typing import Any

import pytest
from django_tenants.utils import schema_context

from crm_modules.dataio import mapping
from crm_modules.dataio.models import ImportJob
from crm_modules.dataio.services import import_fields
from crm_modules.sales.models import Contact, CustomField
from crm_platform.errors import PermissionDenied, ServiceError
from tenants.audit.models import AuditEvent
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.dataio.conftest import fresh, upload
from tests.dataio.test_imports import _body, _run

pytestmark = pytest.mark.usefixtures("s3_bucket")

ROWS = [
    ["Email", "Tier", "Employees", "Renewal", "Churn risk", "Remarks", "ระดับ"],
    ["a@x.es", "Gold", "12", "31/03/2025", "yes", "Likes golf", "สูง"],
    ["b@x.es", "Silver", "7", "01/04/2025", "no", "", "ต่ำ"],
    ["c@x.es", "Gold", "", "02/04/2025", "no", "Prefers email", "สูง"],
]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["12", "7", "-3"], "number"),
        (["1.5", "2", "3.25"], "decimal"),
        (["2025-03-31", "2024-01-01"], "date"),
        (["yes", "no", "Yes"], "boolean"),
        (["a@x.es", "b@y.com"], "email"),
        (["https://x.es", "www.y.com"], "url"),
        (["Gold", "Silver", "Gold"], "select"),
        (["Gold", "Silver", "Bronze"], "text"),
        (["x" * 201], "long_text"),
        ([], "text"),
        (["1", "0", "1"], "number"),
    ],
)
def test_a_columns_type_is_guessed_from_its_values(values: list[str], expected: str) -> None:
    assert mapping.guess_field_type(values, "iso") == expected


def test_an_admin_creates_a_field_from_a_column_and_the_import_fills_it(
    in_alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    admin = fresh(in_alpha.members[Role.ADMIN])
    job = upload(admin, _body(ROWS))
    assert job.mapping == {"0": "email"}

    tier = import_fields.import_field_create(
        actor=admin, job=job, column="1", label="Tier", type=""
    )
    renewal = import_fields.import_field_create(
        actor=admin, job=job, column=3, label="Renewal", type="text"
    )
    thai = import_fields.import_field_create(actor=admin, job=job, column=6, label="ระดับ", type="")
    again = import_fields.import_field_create(
        actor=admin, job=job, column=5, label="Tier", type="long_text"
    )

    assert [(f.code, f.type, f.options) for f in (tier, renewal, thai, again)] == [
        ("tier", "select", ["Gold", "Silver"]),
        ("renewal", "text", []),
        ("field", "select", ["สูง", "ต่ำ"]),
        ("tier_2", "long_text", []),
    ]
    job.refresh_from_db()
    assert job.mapping == {
        "0": "email",
        "1": "custom:tier",
        "3": "custom:renewal",
        "5": "custom:tier_2",
        "6": "custom:field",
    }
    assert list(
        AuditEvent.objects.filter(action="import.field_created")
        .order_by("id")
        .values_list("actor_id", "data")
    ) == [
        (admin.user_id, {"column": "Tier", "field": "tier", "type": "select"}),
        (admin.user_id, {"column": "Renewal", "field": "renewal", "type": "text"}),
        (admin.user_id, {"column": "ระดับ", "field": "field", "type": "select"}),
        (admin.user_id, {"column": "Remarks", "field": "tier_2", "type": "long_text"}),
    ]
    assert AuditEvent.objects.filter(action="custom_field.created").count() == 4

    job = _run(job, admin, django_capture_on_commit_callbacks)
    assert job.created_count == 3
    assert Contact.objects.get(primary_email="a@x.es").custom == {
        "tier": "Gold",
        "renewal": "31/03/2025",
        "field": "สูง",
        "tier_2": "Likes golf",
    }


def test_the_columns_values_sent_as_options_are_dropped_for_a_field_that_is_not_a_select(
    in_alpha: Workspace,
) -> None:
    """The mapping page fills the options box with the column's values whatever the type the
    admin chooses; a text field is created without them, not refused."""
    admin = fresh(in_alpha.members[Role.ADMIN])
    job = upload(admin, _body(ROWS))

    field = import_fields.import_field_create(
        actor=admin, job=job, column="1", label="Tier", type="text", options=["Gold", "Silver"]
    )

    assert (field.code, field.type, field.options) == ("tier", "text", [])
    job.refresh_from_db()
    assert job.mapping["1"] == "custom:tier"


@pytest.mark.parametrize(
    ("column", "label", "kind", "message"),
    [
        ("1", "", "text", "Label is required."),
        ("1", "Tier", "colour", "Choose a value from the list."),
        ("9", "Tier", "text", "Unknown column."),
        ("x", "Tier", "text", "Unknown column."),
        ("5", "Remarks", "select", "A select needs at least one option."),
        ("1", "Tier\u202e", "text", "Label cannot contain control or text-direction characters"),
    ],
)
def test_a_bad_field_is_refused_and_nothing_is_created(
    in_alpha: Workspace, column: str, label: str, kind: str, message: str
) -> None:
    admin = fresh(in_alpha.members[Role.ADMIN])
    rows = [
        ["Email", "Tier", "Employees", "Renewal", "Churn risk", "Remarks"],
        ["a@x.es", "", "", "", "", ""],
    ]
    job = upload(admin, _body(rows))
    with pytest.raises(ServiceError) as caught:
        import_fields.import_field_create(
            actor=admin, job=job, column=column, label=label, type=kind
        )
    assert caught.value.message.startswith(message)
    assert not CustomField.objects.exists()
    job.refresh_from_db()
    assert job.mapping == {"0": "email"}
    assert not AuditEvent.objects.filter(
        action__in=["import.field_created", "custom_field.created"]
    ).exists()


def test_no_field_once_the_import_started_or_for_activities(
    in_alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    admin = fresh(in_alpha.members[Role.ADMIN])
    activities = upload(admin, _body([["Email", "Subject"], ["a@x.es", "Call"]]), entity="activity")
    with pytest.raises(ServiceError, match=r"These records have no custom fields\."):
        import_fields.import_field_create(actor=admin, job=activities, column=1, label="T", type="")
    job = _run(upload(admin, _body(ROWS)), admin, django_capture_on_commit_callbacks)
    with pytest.raises(ServiceError, match=r"This import has already started\."):
        import_fields.import_field_create(actor=admin, job=job, column=1, label="T", type="")
    assert not CustomField.objects.exists()


def test_a_manager_who_imports_may_not_define_fields(in_alpha: Workspace) -> None:
    manager = fresh(in_alpha.members[Role.MANAGER])
    job = upload(manager, _body(ROWS))
    with pytest.raises(PermissionDenied):
        import_fields.import_field_create(actor=manager, job=job, column=1, label="T", type="")
    assert not CustomField.objects.exists()


def test_the_mapping_page_offers_the_new_field_to_admins_only(alpha: Workspace) -> None:
    with schema_context(alpha.tenant.schema_name):
        admin = fresh(alpha.members[Role.ADMIN])
        job = upload(admin, _body(ROWS))
        ImportJob.objects.filter(pk=job.pk).update(created_by=alpha.members[Role.MANAGER].user)
    detail = f"/data/imports/{job.pk}/"

    admin_client = workspace_client(admin.user, alpha.tenant)
    page = admin_client.get(detail).content.decode()
    assert page.count("Create a new custom field from this column") == 6
    assert 'data-testid="new-field-0"' not in page  # mapped already
    assert '<option value="select" selected>' in page
    assert "Gold&#10;Silver" in page

    manager_client = workspace_client(alpha.members[Role.MANAGER].user, alpha.tenant)
    page = manager_client.get(detail).content.decode()
    assert "Create a new custom field from this column" not in page
    response = manager_client.post(f"{detail}field/", {"column": "1", "label": "Tier"})
    assert response.status_code == 403

    response = admin_client.post(f"{detail}field/", {"column": "1", "label": "", "type": "text"})
    assert response.status_code == 400
    assert "Label is required." in response.content.decode()
    response = admin_client.post(
        f"{detail}field/",
        {
            "column": "1",
            "label": "Tier",
            "type": "select",
            "options": "Gold\r\nSilver\r\n\r\nPlatinum",
        },
    )
    assert response.status_code == 302
    with schema_context(alpha.tenant.schema_name):
        field = CustomField.objects.get()
        assert (field.code, field.options) == ("tier", ["Gold", "Silver", "Platinum"])
        assert ImportJob.objects.get(pk=job.pk).mapping["1"] == "custom:tier"
