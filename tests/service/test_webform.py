"""The web form: a hosted page any site may frame, creating a ticket in its own workspace,
with field errors, a trap for robots and a rate limit."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django_tenants.utils import schema_context

from crm_modules.sales.models import Contact
from crm_modules.service.models import Ticket
from crm_modules.service.services.webform import RATE_LIMIT
from tests.conftest import Workspace

FIELDS = {
    "name": "สมชาย ใจดี",
    "email": "somchai@example.co.th",
    "subject": "สินค้ายังไม่มาถึง",
    "message": "สั่งซื้อเมื่อวันจันทร์",
}


def visitor(workspace: Workspace) -> Client:
    return Client(HTTP_HOST=workspace.host, REMOTE_ADDR="203.0.113.7")


def tickets(workspace: Workspace) -> list[tuple[str, str]]:
    with schema_context(workspace.tenant.schema_name):
        return list(Ticket.objects.values_list("subject", "channel"))


def test_the_form_page_is_open_and_frameable(alpha: Workspace) -> None:
    response = visitor(alpha).get("/service/form/?embed=1")

    assert response.status_code == 200
    assert "frame-ancestors *" in response.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in response.headers
    assert 'name="website"' in response.content.decode()


def test_a_submission_opens_a_web_ticket_and_acknowledges_it(
    alpha: Workspace, bravo: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = visitor(alpha).post("/service/form/", FIELDS)

    assert response.status_code == 200
    assert "service/form_sent.html" in [t.name for t in response.templates]
    assert tickets(alpha) == [("สินค้ายังไม่มาถึง", "web")]
    assert tickets(bravo) == []
    with schema_context(alpha.tenant.schema_name):
        contact = Contact.objects.get(primary_email="somchai@example.co.th")
        assert (contact.first_name, contact.last_name, contact.source) == (
            "สมชาย",
            "ใจดี",
            "web form",
        )
    assert [m.to for m in mail.outbox] == [["somchai@example.co.th"]]
    assert mail.outbox[0].extra_headers["Auto-Submitted"] == "auto-replied"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"email": "not-an-address"}, "email"),
        ({"email": ""}, "email"),
        ({"subject": ""}, "subject"),
        ({"message": "   "}, "message"),
        ({"name": "evil\u202ename"}, "name"),
    ],
)
def test_bad_input_names_the_field_and_creates_nothing(
    alpha: Workspace, changes: dict[str, str], field: str
) -> None:
    response = visitor(alpha).post("/service/form/", {**FIELDS, **changes})

    assert response.status_code == 400
    form = response.context["form"]
    assert list(form.errors) == [field]
    assert 'aria-invalid="true"' in response.content.decode()
    assert tickets(alpha) == []
    with schema_context(alpha.tenant.schema_name):
        assert Contact.objects.count() == 0


def test_a_robot_filling_the_trap_is_thanked_and_nothing_is_written(alpha: Workspace) -> None:
    response = visitor(alpha).post("/service/form/", {**FIELDS, "website": "http://spam"})

    assert response.status_code == 200
    assert "service/form_sent.html" in [t.name for t in response.templates]
    assert tickets(alpha) == []


def test_too_many_submissions_from_one_address_are_refused(alpha: Workspace) -> None:
    client = visitor(alpha)
    for number in range(RATE_LIMIT):
        assert client.post("/service/form/", {**FIELDS, "subject": f"n{number}"}).status_code == 200

    response = client.post("/service/form/", {**FIELDS, "subject": "one too many"})

    assert response.status_code == 429
    assert "Too many messages" in response.content.decode()
    assert len(tickets(alpha)) == RATE_LIMIT
    assert ("one too many", "web") not in tickets(alpha)
    # Another workspace counts its own visitors.
    other = Client(HTTP_HOST="bravo.localhost", REMOTE_ADDR="203.0.113.7")
    assert other.post("/service/form/", FIELDS).status_code == 200
