"""Every operation of the workspace API, asked by every kind of visitor.

Operations are read from the OpenAPI schema when the tests are collected, so an endpoint any
module adds is covered without editing this file's logic. An endpoint declares its capability
(``capability`` / ``capabilities``); a path parameter needs a sample in the page matrix's
``SAMPLES``; a write operation needs a valid body in ``BODIES``. Refusals must change nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import resolve
from django_tenants.utils import schema_context
from drf_spectacular.generators import SchemaGenerator

from crm_modules.sales.models import Contact, Product
from crm_modules.service.models import Macro, Ticket, TicketMessage
from crm_platform.api.permissions import declared_capability
from tenants.capabilities import Capability, Scope
from tenants.models import Membership, Team, Tenant
from tenants.permissions import allows
from tenants.roles import Role
from tests.conftest import Workspace
from tests.isolation.conftest import (
    BRAVO_AT_HOME,
    DEACTIVATED_ROLE,
    OUTSIDER,
    deactivate,
    request,
    unchanged,
)
from tests.isolation.test_matrix import SAMPLES, TENANT_URLCONF
from tests.sales.factories import (
    CompanyFactory,
    ContactFactory,
    DealFactory,
    LeadFactory,
    PipelineFactory,
)

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse

WRITES = {"POST", "PUT", "PATCH", "DELETE"}


def _open_ticket(workspace: Workspace) -> int:
    """Another ticket than the one the path names (the ticket sample makes one beside it), so
    a body naming it writes nothing before the request."""
    with schema_context(workspace.tenant.schema_name):
        newest = Ticket.objects.order_by("-id").values_list("id", flat=True)[0]
        return Ticket.objects.exclude(pk=newest).order_by("-id").values_list("id", flat=True)[0]


def _bulk_ticket(workspace: Workspace) -> int:
    """An open ticket for a bulk change (the path names none), made before the request."""
    with schema_context(workspace.tenant.schema_name):
        return Ticket.objects.create(subject="Bulk", status="open").pk


def _reply_of(workspace: Workspace) -> int:
    """The reply of the ticket the path names (made just before the body)."""
    with schema_context(workspace.tenant.schema_name):
        return (
            TicketMessage.objects.filter(kind="reply")
            .order_by("-id")
            .values_list("id", flat=True)[0]
        )


def _macro_of(workspace: Workspace) -> int:
    """The macro the ticket sample makes beside its ticket."""
    with schema_context(workspace.tenant.schema_name):
        return Macro.objects.order_by("-id").values_list("id", flat=True)[0]


def _team_of(workspace: Workspace) -> int:
    return Team.objects.create(tenant=workspace.tenant, name=f"T {uuid.uuid4().hex[:6]}").pk


def _deal_body(workspace: Workspace) -> dict[str, Any]:
    with schema_context(workspace.tenant.schema_name):
        pipeline = PipelineFactory.create()
        return {"name": "Renewal", "stage": pipeline.stages.get(position=0).pk, "amount": "10"}


def _enrolled_contact(workspace: Workspace, member: Membership) -> dict[str, Any]:
    """A contact the member owns (so every role that may enrol may enrol it), to enrol."""
    with schema_context(workspace.tenant.schema_name):
        return {"contacts": [ContactFactory.create(owner=member.user).pk]}


def _arrived_upload(workspace: Workspace, member: Membership) -> dict[str, Any]:
    """A ticket of ``member`` whose bytes are already in the bucket (moto), ready to complete."""
    from crm_modules.documents import services
    from crm_platform import s3

    schema = workspace.tenant.schema_name
    document_uuid = str(uuid.uuid4())
    body = b"%PDF-1.4\n"
    key = s3.document_key(schema_name=schema, document_uuid=document_uuid, version=1)
    s3.s3_client().put_object(
        Bucket=django_settings.AWS_STORAGE_BUCKET_NAME,
        Key=key,
        Body=body,
        ContentType="application/pdf",
    )
    ticket = services._sign(
        {
            "schema": schema,
            "user": member.user_id,
            "uuid": document_uuid,
            "number": 1,
            "document": None,
            "name": "Scan.pdf",
            "content_type": "application/pdf",
            "size": len(body),
            "record_type": "",
            "record_id": None,
        }
    )
    return {"ticket": ticket}


def _upload_in_parts(workspace: Workspace, member: Membership) -> dict[str, Any]:
    """A ticket of ``member`` for an upload in parts that S3 (moto) has opened, no part sent."""
    from crm_modules.documents import services
    from crm_platform import s3

    schema = workspace.tenant.schema_name
    document_uuid = str(uuid.uuid4())
    key = s3.document_key(schema_name=schema, document_uuid=document_uuid, version=1)
    upload_id = s3.multipart_create(schema_name=schema, key=key, content_type="application/pdf")
    ticket = services._sign(
        {
            "schema": schema,
            "user": member.user_id,
            "uuid": document_uuid,
            "number": 1,
            "document": None,
            "name": "Большой.pdf",
            "content_type": "application/pdf",
            "size": 12 * 1024**2,
            "part_size": 5 * 1024**2,
            "upload_id": upload_id,
            "record_type": "",
            "record_id": None,
        }
    )
    return {"ticket": ticket}


def _editable_record(workspace: Workspace, member: Membership) -> tuple[str, int]:
    """A record ``member`` may edit and so link documents to: a ticket for a Support agent,
    a contact of their own for the others (a Marketer edits contacts' marketing fields)."""
    with schema_context(workspace.tenant.schema_name):
        if member.role == Role.SUPPORT_AGENT:
            return "service.ticket", Ticket.objects.create(subject="Scan", status="open").pk
        return "sales.contact", ContactFactory.create(owner=member.user).pk


def _link_body(workspace: Workspace, member: Membership) -> dict[str, Any]:
    record_type, record_id = _editable_record(workspace, member)
    return {"record_type": record_type, "record_id": record_id}


def _unlink_body(workspace: Workspace, member: Membership) -> dict[str, Any]:
    """The path's document (the newest) linked to a record ``member`` may edit and to another
    one, so that it keeps a record once unlinked from the first."""
    from crm_modules.documents.models import Document, DocumentLink

    record_type, record_id = _editable_record(workspace, member)
    with schema_context(workspace.tenant.schema_name):
        document = Document.objects.order_by("-id").first()
        assert document is not None
        other = ContactFactory.create(owner=workspace.owner.user)
        for key, pk in ((record_type, record_id), ("sales.contact", other.pk)):
            DocumentLink.objects.create(document=document, record_type=key, record_id=pk)
    return {"record_type": record_type, "record_id": record_id}


def _line_item_body(workspace: Workspace) -> dict[str, Any]:
    """The product that the deal sample was given (made with the path, before any snapshot)."""
    with schema_context(workspace.tenant.schema_name):
        product = Product.objects.order_by("-id").first()
        assert product is not None
        return {"product": product.pk, "quantity": "2"}


def _merge_body(factory: Any) -> Callable[[Workspace], dict[str, Any]]:
    """Two records of the Manager (the narrowest role that may merge reaches them)."""

    def body(workspace: Workspace) -> dict[str, Any]:
        with schema_context(workspace.tenant.schema_name):
            keep, gone = factory.create_batch(2, owner=workspace.members[Role.MANAGER].user)
            return {"survivor": keep.pk, "merged": [gone.pk]}

    return body


def _bulk_body(factory: Any) -> Callable[[Workspace], dict[str, Any]]:
    """A record of the workspace's owner to tag (each role is answered per record)."""

    def body(workspace: Workspace) -> dict[str, Any]:
        with schema_context(workspace.tenant.schema_name):
            record = factory.create(owner=workspace.owner.user)
            return {"ids": [record.pk], "action": "tag", "value": "vip"}

    return body


# A valid body for every write operation ("METHOD /path/template/"); a callable is given the
# workspace and makes what the body refers to.
def _report_query(workspace: Workspace, member: Membership) -> dict[str, Any]:
    """A query of a source the member's reports read: a Marketer's, marketing's (ADR 0063)."""
    if member.role == Role.MARKETER:
        return {"definition": {"source": "attribution", "group_by": [{"field": "campaign"}]}}
    return {"definition": {"source": "deals", "group_by": [{"field": "stage"}]}}


def _dashboard_change(workspace: Workspace, member: Membership) -> dict[str, Any]:
    """A change of a card on the member's dashboard: a Marketer's holds no sales chart."""
    if member.role == Role.MARKETER:
        return {"action": "reset"}
    return {"action": "down", "card": "pipeline"}


BODIES: dict[str, dict[str, Any] | Callable[..., dict[str, Any]]] = {
    "PUT /api/v1/notes/{note_id}/": {"title": "Renamed"},
    "PATCH /api/v1/notes/{note_id}/": {"title": "Renamed"},
    "POST /api/v1/sales/companies/": {"name": "Acme 株式会社"},
    "PATCH /api/v1/sales/companies/{company_id}/": {"industry": "Retail"},
    "DELETE /api/v1/sales/companies/{company_id}/": {},
    "POST /api/v1/sales/contacts/": {"first_name": "Анна", "emails": [{"email": "a@b.example"}]},
    "PATCH /api/v1/sales/contacts/{contact_id}/": {"job_title": "CTO"},
    "DELETE /api/v1/sales/contacts/{contact_id}/": {},
    "POST /api/v1/sales/leads/": {"first_name": "สมชาย", "source": "web"},
    "PATCH /api/v1/sales/leads/{lead_id}/": {"notes": "Met at the fair"},
    "DELETE /api/v1/sales/leads/{lead_id}/": {},
    "POST /api/v1/sales/leads/{lead_id}/convert/": {},
    "POST /api/v1/sales/deals/": _deal_body,
    "PATCH /api/v1/sales/deals/{deal_id}/": {"name": "Renamed"},
    "DELETE /api/v1/sales/deals/{deal_id}/": {},
    "POST /api/v1/sales/tasks/": {"title": "Call back"},
    "PATCH /api/v1/sales/tasks/{task_id}/": {"title": "Renamed"},
    "DELETE /api/v1/sales/tasks/{task_id}/": {},
    "POST /api/v1/sales/custom-fields/": {
        "entity": "contact",
        "code": "tier",
        "label": "等级",
        "type": "select",
        "options": ["gold", "silver"],
    },
    "PATCH /api/v1/sales/custom-fields/{field_id}/": {"label": "Уровень", "archived": True},
    "DELETE /api/v1/sales/custom-fields/{field_id}/": {},
    "POST /api/v1/sales/contacts/{contact_id}/activities/": {"kind": "call", "subject": "Intro"},
    "POST /api/v1/sales/companies/{company_id}/activities/": {"kind": "note", "body": "Met"},
    "POST /api/v1/sales/deals/{deal_id}/activities/": {"kind": "meeting", "subject": "Demo"},
    "POST /api/v1/sales/leads/{lead_id}/activities/": {"kind": "email", "subject": "Hello"},
    "POST /api/v1/sales/contacts/{contact_id}/consents/": {
        "channel": "email",
        "status": "given",
        "method": "Web form",
    },
    "PATCH /api/v1/sales/pipelines/{pipeline_id}/": {"name": "Renewals"},
    "POST /api/v1/sales/pipelines/{pipeline_id}/stages/": {"name": "Demo", "probability": 40},
    "PATCH /api/v1/sales/pipelines/{pipeline_id}/stages/{stage_id}/": {"probability": 5},
    "DELETE /api/v1/sales/pipelines/{pipeline_id}/stages/{stage_id}/": {},
    "POST /api/v1/sales/products/": {"name": "Widget", "sku": "W-1", "unit_price": "9.50"},
    "PATCH /api/v1/sales/products/{product_id}/": {"name": "Gadget"},
    "POST /api/v1/sales/deals/{deal_id}/line-items/": _line_item_body,
    "PATCH /api/v1/sales/deals/{deal_id}/line-items/{item_id}/": {"quantity": "3"},
    "DELETE /api/v1/sales/deals/{deal_id}/line-items/{item_id}/": {},
    "DELETE /api/v1/documents/{document_id}/": {},
    "POST /api/v1/sales/views/": {"entity": "lead", "name": "Новые лиды", "query": "status=new"},
    "PATCH /api/v1/sales/views/{view_id}/": {"name": "รายชื่อของฉัน"},
    "DELETE /api/v1/sales/views/{view_id}/": {},
    "POST /api/v1/sales/companies/bulk/": _bulk_body(CompanyFactory),
    "POST /api/v1/sales/contacts/bulk/": _bulk_body(ContactFactory),
    "POST /api/v1/sales/leads/bulk/": _bulk_body(LeadFactory),
    "POST /api/v1/sales/deals/bulk/": _bulk_body(DealFactory),
    "POST /api/v1/sales/contacts/merge/": _merge_body(ContactFactory),
    "POST /api/v1/sales/companies/merge/": _merge_body(CompanyFactory),
    "POST /api/v1/sales/merges/{merge_id}/undo/": {},
    "POST /api/v1/scoring/rules/": {
        "entity": "contact",
        "name": "Поставщик",
        "kind": "field",
        "field": "source",
        "operator": "eq",
        "value": "fair",
        "points": 10,
    },
    "PATCH /api/v1/scoring/rules/{rule_id}/": {"points": 3},
    "DELETE /api/v1/scoring/rules/{rule_id}/": {},
    "POST /api/v1/scoring/thresholds/": {"entity": "lead", "min_score": 40, "task_title": "โทร"},
    "DELETE /api/v1/scoring/thresholds/{threshold_id}/": {},
    "POST /api/v1/scoring/recompute/": {"entity": "lead"},
    "POST /api/v1/documents/trash/{trashed_document_id}/restore/": {},
    "POST /api/v1/documents/uploads/": {
        "name": "Договор.pdf",
        "content_type": "application/pdf",
        "size": 10,
    },
    "POST /api/v1/documents/{document_id}/versions/": {
        "name": "Договор v2.pdf",
        "content_type": "application/pdf",
        "size": 10,
    },
    "POST /api/v1/documents/uploads/complete/": _arrived_upload,
    "POST /api/v1/documents/uploads/resume/": _upload_in_parts,
    "POST /api/v1/documents/uploads/abort/": _upload_in_parts,
    "POST /api/v1/documents/{document_id}/links/": _link_body,
    "POST /api/v1/documents/{document_id}/links/remove/": _unlink_body,
    "POST /api/v1/reporting/query/": _report_query,
    # The Manager's own quota: the narrowest role that may set quotas reaches it.
    "POST /api/v1/reporting/quotas/": lambda ws: {
        "owner": ws.members[Role.MANAGER].user_id,
        "month": "2026-03",
        "amount": "5000",
    },
    "DELETE /api/v1/reporting/quotas/{quota_id}/": {},
    "POST /api/v1/reporting/dashboard/": _dashboard_change,
    "POST /api/v1/data/exports/": {"entity": "contact", "format": "xlsx", "filters": {"q": "a"}},
    "POST /api/v1/service/tickets/": {"subject": "Не могу войти", "priority": "high"},
    "PATCH /api/v1/service/tickets/{ticket_id}/": {"status": "pending", "tags": ["登录"]},
    "POST /api/v1/service/tickets/{ticket_id}/replies/": {"body": "ขอบคุณครับ", "public": True},
    "POST /api/v1/service/tickets/bulk/": lambda ws: {
        "tickets": [_bulk_ticket(ws)],
        "priority": "high",
        "add_tags": ["срочно"],
    },
    "POST /api/v1/service/tickets/{ticket_id}/merge/": lambda ws: {"into": _open_ticket(ws)},
    "POST /api/v1/service/tickets/{ticket_id}/split/": lambda ws: {"message": _reply_of(ws)},
    "POST /api/v1/service/tickets/{ticket_id}/macro/": lambda ws: {"macro": _macro_of(ws)},
    "POST /api/v1/service/availability/": {"available": True},
    "POST /api/v1/service/routing/rules/": lambda ws: {
        "name": "Italiano",
        "team": _team_of(ws),
        "languages": ["it"],
    },
    "POST /api/v1/marketing/segments/": {
        "name": "Clienti di Milano",
        "kind": "dynamic",
        "definition": {
            "match": "all",
            "conditions": [{"field": "company.city", "op": "eq", "value": "Milano"}],
        },
    },
    "POST /api/v1/marketing/forms/": lambda ws: {
        "name": "Richiesta demo",
        "fields": [{"target": "email", "label": "Email", "required": True}],
        "lead_owner": ws.members[Role.SALES_REP].user_id,
    },
    "POST /api/v1/marketing/segments/{segment_id}/members/": lambda ws: {
        "contacts": [_contact_in(ws)]
    },
    "POST /api/v1/marketing/campaigns/": {
        "name": "Primavera",
        "variants": [
            {
                "subject": 'สวัสดี {{ first_name | default:"คุณ" }}',
                "blocks": [{"type": "text", "text": "春季优惠"}],
            }
        ],
    },
    "POST /api/v1/marketing/campaigns/{campaign_id}/send/": {},
    "POST /api/v1/marketing/sequences/": {
        "name": "Последовательность",
        "steps": [
            {
                "kind": "email",
                "delay_amount": 0,
                "delay_unit": "hours",
                "subject": 'สวัสดี {{ first_name | default:"คุณ" }}',
                "body": "<p>春季优惠</p>",
            },
            {
                "kind": "task",
                "delay_amount": 2,
                "delay_unit": "business_days",
                "task_title": "Chiamare",
            },
        ],
    },
    "PUT /api/v1/marketing/sequences/{sequence_id}/": {
        "name": "Benvenuto",
        "steps": [{"kind": "task", "delay_amount": 1, "task_title": "Позвонить"}],
    },
    "POST /api/v1/marketing/sequences/{sequence_id}/activate/": {},
    "POST /api/v1/marketing/sequences/{sequence_id}/enrolments/": _enrolled_contact,
    "POST /api/v1/marketing/sequences/{sequence_id}/enrolments/{enrolment_id}/pause/": {},
    "POST /api/v1/marketing/sequences/{sequence_id}/enrolments/{enrolment_id}/resume/": {},
    "POST /api/v1/marketing/sequences/{sequence_id}/enrolments/{enrolment_id}/remove/": {},
    "POST /api/v1/marketing/triggers/": {
        "name": "Клиенты Gold",
        "definition": {
            "when": {"threshold": {"field": "won_revenue", "crosses": 1000}},
            "actions": [{"type": "add_tag", "tag": "ทองคำ"}],
        },
    },
    "PATCH /api/v1/marketing/triggers/{trigger_id}/": {"name": "Oro 黄金"},
    "POST /api/v1/marketing/sender-domains/": {"domain": "posta.example.it", "local_part": "news"},
    "POST /api/v1/marketing/sender-domains/{domain_id}/check/": {},
}


# Bodies made for the member who sends them (an upload ticket names its member).
FOR_MEMBER = {
    _arrived_upload,
    _link_body,
    _unlink_body,
    _upload_in_parts,
    _enrolled_contact,
    _report_query,
    _dashboard_change,
}


def _contact_in(workspace: Workspace) -> int | None:
    """The newest contact of the workspace (the segment sample made one): a body that creates
    nothing itself, so a refusal can be checked to change nothing."""
    with schema_context(workspace.tenant.schema_name):
        return Contact.objects.order_by("-pk").values_list("pk", flat=True).first()


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    params: tuple[str, ...]
    success: int

    def __str__(self) -> str:
        return f"{self.method} {self.template}"


def _operations() -> list[Operation]:
    schema = SchemaGenerator(urlconf=TENANT_URLCONF).get_schema(request=None, public=True)
    operations = []
    for template, item in schema["paths"].items():
        for method, operation in item.items():
            codes = sorted(int(code) for code in operation["responses"] if code.startswith("2"))
            params = tuple(p["name"] for p in operation.get("parameters", []) if p["in"] == "path")
            operations.append(
                Operation(method.upper(), template, params, codes[0] if codes else 200)
            )
    return operations


OPERATIONS = _operations()


def _path(operation: Operation, workspace: Workspace, owner: Membership | None = None) -> str:
    missing = [name for name in operation.params if name not in SAMPLES]
    if missing:
        pytest.fail(f"{operation}: add a sample for {missing} to SAMPLES in test_matrix.py")
    owner = owner or workspace.owner
    path = operation.template
    for name in operation.params:
        path = path.replace("{" + name + "}", str(SAMPLES[name](workspace, owner)))
    return path


def _capability(operation: Operation, path: str) -> Capability:
    callback = resolve(path, urlconf=TENANT_URLCONF).func
    view = getattr(callback, "cls", None)
    assert view is not None, f"{operation} is not a DRF view"
    action = getattr(callback, "actions", {}).get(operation.method.lower())
    return declared_capability(view, action, operation.method)


def _body(
    operation: Operation, workspace: Workspace, member: Membership | None = None
) -> dict[str, Any] | None:
    if operation.method not in WRITES:
        return None
    if str(operation) not in BODIES:
        pytest.fail(f"{operation}: add a valid body to BODIES in test_api_matrix.py")
    body = BODIES[str(operation)]
    if not callable(body):
        return body
    if body in FOR_MEMBER:
        return body(workspace, member or workspace.owner)
    return body(workspace)


def _error(response: TestResponse) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    error: dict[str, Any] = body["error"]
    return error


def test_the_schema_lists_operations() -> None:
    assert {str(o) for o in OPERATIONS} >= {
        "GET /api/v1/members/",
        "GET /api/v1/members/{member_id}/",
        "GET /api/v1/notes/",
        "PATCH /api/v1/notes/{note_id}/",
    }


@pytest.mark.parametrize("role", Role.values)
@pytest.mark.parametrize("operation", OPERATIONS, ids=str)
def test_member_is_answered_what_their_role_allows(
    operation: Operation,
    role: str,
    alpha: Workspace,
    visit: Callable[[str | None, str], Client],
    assert_refused_without_effect: Callable[..., TestResponse],
) -> None:
    member = alpha.members[role]
    path = _path(operation, alpha, owner=member)
    capability = _capability(operation, path)
    client = visit(role, alpha.host)
    body = _body(operation, alpha, member)

    if allows(member, capability, reading=operation.method not in WRITES):
        response = request(client, operation.method, path, body)
        assert response.status_code == operation.success, response.content
    else:
        response = assert_refused_without_effect(client, operation.method, path, 403, body)
        assert _error(response)["code"] == "permission_denied"


@pytest.mark.parametrize("operation", OPERATIONS, ids=str)
def test_member_of_another_workspace_gets_not_found(
    operation: Operation,
    alpha: Workspace,
    visit: Callable[[str | None, str], Client],
    assert_refused_without_effect: Callable[..., TestResponse],
) -> None:
    path = _path(operation, alpha)
    client = visit(OUTSIDER, alpha.host)
    response = assert_refused_without_effect(
        client, operation.method, path, 404, _body(operation, alpha)
    )
    assert _error(response)["code"] == "not_found"


@pytest.mark.parametrize("operation", OPERATIONS, ids=str)
def test_anonymous_caller_gets_401(
    operation: Operation,
    alpha: Workspace,
    visit: Callable[[str | None, str], Client],
    assert_refused_without_effect: Callable[..., TestResponse],
) -> None:
    path = _path(operation, alpha)
    client = visit(None, alpha.host)
    response = assert_refused_without_effect(
        client, operation.method, path, 401, _body(operation, alpha)
    )
    assert _error(response)["code"] == "not_authenticated"


@pytest.mark.parametrize("operation", OPERATIONS, ids=str)
def test_deactivated_member_gets_403(
    operation: Operation,
    alpha: Workspace,
    visit: Callable[[str | None, str], Client],
    assert_refused_without_effect: Callable[..., TestResponse],
) -> None:
    deactivate(alpha.members[DEACTIVATED_ROLE])
    path = _path(operation, alpha)
    client = visit(DEACTIVATED_ROLE, alpha.host)
    response = assert_refused_without_effect(
        client, operation.method, path, 403, _body(operation, alpha)
    )
    assert _error(response)["code"] == "deactivated"


WITH_OBJECTS = [o for o in OPERATIONS if o.params]


@pytest.mark.parametrize("operation", WITH_OBJECTS, ids=str)
def test_objects_of_another_workspace_are_not_found_from_your_own(
    operation: Operation,
    alpha: Workspace,
    bravo: Workspace,
    visit: Callable[[str | None, str], Client],
) -> None:
    # bravo's Owner holds every capability at home, so only the object scoping can refuse.
    path = _path(operation, alpha)
    client = visit(BRAVO_AT_HOME, bravo.host)
    body = _body(operation, alpha)
    with unchanged(alpha):
        response = request(client, operation.method, path, body)
    assert response.status_code == 404
    assert _error(response)["code"] == "not_found"


def _narrow_cases() -> list[Any]:
    cases = []
    for operation in WITH_OBJECTS:
        template_path = operation.template
        for name in operation.params:
            template_path = template_path.replace("{" + name + "}", "1")
        capability = _capability(operation, template_path)
        if not capability.is_record_scoped:
            continue
        for role in sorted(capability.roles):
            if capability.scope_for(role) is not Scope.ALL:
                cases.append(pytest.param(operation, role, id=f"{operation}-{role}"))
    return cases


NARROW = _narrow_cases()


def test_the_matrix_covers_a_role_scoped_to_its_own_records() -> None:
    assert NARROW


@pytest.mark.parametrize(("operation", "role"), NARROW)
def test_another_members_record_is_not_found_by_a_role_scoped_to_its_own(
    operation: Operation,
    role: str,
    alpha: Workspace,
    visit: Callable[[str | None, str], Client],
    assert_refused_without_effect: Callable[..., TestResponse],
) -> None:
    path = _path(operation, alpha, owner=alpha.owner)
    client = visit(role, alpha.host)
    response = assert_refused_without_effect(
        client, operation.method, path, 404, _body(operation, alpha)
    )
    assert _error(response)["code"] == "not_found"


# The ids of records that have an owner; the visibility setting narrows only those.
OWNED_RECORD_PARAMS = {"company_id", "contact_id", "deal_id", "lead_id", "task_id"}


def _restricted_cases() -> list[Any]:
    cases = []
    for operation in WITH_OBJECTS:
        if not OWNED_RECORD_PARAMS & set(operation.params):
            continue
        template_path = operation.template
        for name in operation.params:
            template_path = template_path.replace("{" + name + "}", "1")
        capability = _capability(operation, template_path)
        if not capability.is_record_scoped:
            continue
        for role in sorted(capability.roles):
            if capability.restricted_scope_for(role) < capability.scope_for(role):
                cases.append(pytest.param(operation, role, id=f"{operation}-{role}"))
    return cases


# Operations on a record that only the workspace's "restrict record visibility" setting
# narrows for a role (a Sales rep reading another member's contact).
RESTRICTED = _restricted_cases()


def test_the_matrix_covers_a_role_the_visibility_setting_narrows() -> None:
    assert RESTRICTED


@pytest.mark.parametrize(("operation", "role"), RESTRICTED)
def test_a_restricted_workspace_hides_another_members_record(
    operation: Operation,
    role: str,
    alpha: Workspace,
    visit: Callable[[str | None, str], Client],
    assert_refused_without_effect: Callable[..., TestResponse],
) -> None:
    path = _path(operation, alpha, owner=alpha.owner)
    client = visit(role, alpha.host)
    Tenant.objects.filter(pk=alpha.tenant.pk).update(restrict_record_visibility=True)
    response = assert_refused_without_effect(
        client, operation.method, path, 404, _body(operation, alpha)
    )
    assert _error(response)["code"] == "not_found"
