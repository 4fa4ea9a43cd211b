"""Required ticket custom fields on tickets nobody could ask them of (ADR 0058): a ticket from
email starts without them, and it is solved or closed only once a member has filled them — on
the ticket page (status form, reply and solve), by bulk changes, by a macro and through the API.
Each refusal names the fields and changes nothing; the inbox and the ticket page show the
ticket still needs them."""

from __future__ import annotations

import json
import re
from email.message import EmailMessage
from email.policy import SMTP
from typing import Any

import pytest
from django.core import mail

from crm_modules.sales import services as sales_services
from crm_modules.sales.models import CustomField
from crm_modules.service import services
from crm_modules.service.models import Macro, OutboundEmail, Ticket, TicketMessage
from crm_modules.service.services import macros, merge
from crm_modules.service.services.inbound import inbound_receive
from crm_platform.errors import ServiceError
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.service.conftest import fresh

pytestmark = pytest.mark.usefixtures("in_alpha")

TICKETS = "/api/v1/service/tickets/"


def _fields(alpha: Workspace) -> dict[str, CustomField]:
    """Two required ticket fields (one a select) and an optional one."""
    owner = fresh(alpha.owner)
    return {
        "order": sales_services.custom_field_create(
            actor=owner, entity="ticket", code="order", label="Номер заказа", type="text",
            required=True,
        ),
        "cause": sales_services.custom_field_create(
            actor=owner, entity="ticket", code="cause", label="สาเหตุ", type="select",
            options=["bug", "billing"], required=True,
        ),
        "note": sales_services.custom_field_create(
            actor=owner, entity="ticket", code="note", label="Note", type="text"
        ),
    }  # fmt: skip


@pytest.fixture
def from_email(django_capture_on_commit_callbacks: Any) -> Any:
    """Open a ticket as inbound mail does (the ticketing runs after the mail's commit)."""

    def receive(subject: str = "Заказ не пришёл", message_id: str = "<r1@example.ru>") -> Ticket:
        message = EmailMessage(policy=SMTP)
        message["From"] = "Ольга <olga@example.ru>"
        message["To"] = "support@alpha.in.localhost"
        message["Subject"] = subject
        message["Message-ID"] = message_id
        message.set_content("Где мой заказ?")
        with django_capture_on_commit_callbacks(execute=True):
            inbound, _created = inbound_receive(
                raw=message.as_bytes(), source="smtp", recipient="x"
            )
        inbound.refresh_from_db()
        assert inbound.ticket_id is not None
        return Ticket.objects.get(pk=inbound.ticket_id)

    return receive


def _agent(alpha: Workspace) -> Any:
    return alpha.members[Role.SUPPORT_AGENT]


def _fill(alpha: Workspace, ticket: Ticket, **values: Any) -> Ticket:
    return services.ticket_update(
        actor=fresh(_agent(alpha)), ticket=ticket, changes={"custom_fields": values}
    )


def _status(ticket: Ticket) -> str:
    return Ticket.objects.values_list("status", flat=True).get(pk=ticket.pk)


# --- the service ----------------------------------------------------------------------------


def test_an_email_ticket_starts_without_its_required_fields(
    alpha: Workspace, from_email: Any
) -> None:
    _fields(alpha)
    ticket = from_email()
    assert (ticket.channel, ticket.custom) == ("email", {})


@pytest.mark.parametrize("target", ["solved", "closed"])
def test_a_ticket_missing_required_fields_is_not_finished_and_the_refusal_names_them(
    alpha: Workspace, from_email: Any, target: str
) -> None:
    _fields(alpha)
    ticket = from_email()
    _fill(alpha, ticket, note="позвонить")

    with pytest.raises(ServiceError) as refused:
        services.ticket_change_status(actor=fresh(_agent(alpha)), ticket=ticket, status=target)

    assert refused.value.code == "required_fields"
    assert refused.value.field == "custom_fields.order"
    assert "Номер заказа" in refused.value.message
    assert "สาเหตุ" in refused.value.message
    assert "Note" not in refused.value.message
    assert _status(ticket) == "new"


def test_once_filled_the_ticket_is_solved_and_other_statuses_never_ask(
    alpha: Workspace, from_email: Any
) -> None:
    _fields(alpha)
    ticket = from_email()
    agent = fresh(_agent(alpha))
    # Working on the ticket needs nothing: only finishing it does.
    for status in ("open", "pending", "on_hold"):
        services.ticket_change_status(actor=agent, ticket=ticket, status=status)
        assert _status(ticket) == status
    with pytest.raises(ServiceError):
        services.ticket_change_status(actor=agent, ticket=ticket, status="solved")
    _fill(alpha, ticket, order="A-17")
    with pytest.raises(ServiceError) as refused:
        services.ticket_change_status(actor=agent, ticket=ticket, status="solved")
    assert "Номер заказа" not in refused.value.message
    assert refused.value.field == "custom_fields.cause"

    _fill(alpha, ticket, cause="bug")
    services.ticket_change_status(actor=agent, ticket=ticket, status="solved")

    assert _status(ticket) == "solved"


def test_an_archived_or_optional_field_does_not_hold_a_ticket_back(
    alpha: Workspace, from_email: Any
) -> None:
    fields = _fields(alpha)
    owner = fresh(alpha.owner)
    sales_services.custom_field_archive(actor=owner, field=fields["order"], archived=True)
    sales_services.custom_field_update(
        actor=owner, field=fields["cause"], changes={"required": False}
    )
    ticket = from_email()

    services.ticket_change_status(actor=fresh(_agent(alpha)), ticket=ticket, status="solved")

    assert _status(ticket) == "solved"


def test_a_field_made_required_after_solving_does_not_hold_back_closing(
    alpha: Workspace,
    from_email: Any,
) -> None:
    ticket = from_email()
    agent = fresh(_agent(alpha))
    services.ticket_change_status(actor=agent, ticket=ticket, status="solved")
    _fields(alpha)

    services.ticket_change_status(actor=agent, ticket=ticket, status="closed")

    assert _status(ticket) == "closed"


def test_a_reply_that_solves_is_refused_whole_and_nobody_is_mailed(
    alpha: Workspace, from_email: Any
) -> None:
    _fields(alpha)
    ticket = from_email()
    mail.outbox.clear()
    before = TicketMessage.objects.filter(ticket=ticket).count()
    emails = OutboundEmail.objects.count()

    with pytest.raises(ServiceError) as refused:
        services.ticket_reply(
            actor=fresh(_agent(alpha)), ticket=ticket, body="Готово", status="solved"
        )

    assert refused.value.code == "required_fields"
    assert TicketMessage.objects.filter(ticket=ticket).count() == before
    assert OutboundEmail.objects.count() == emails
    assert _status(ticket) == "new"
    # A reply that does not finish the ticket goes out as always.
    services.ticket_reply(actor=fresh(_agent(alpha)), ticket=ticket, body="Смотрим")
    assert TicketMessage.objects.filter(ticket=ticket).count() == before + 1


def test_merging_an_email_ticket_is_not_finishing_it(alpha: Workspace, from_email: Any) -> None:
    """The merged ticket closes as a pointer to the one that carries on, which keeps asking."""

    _fields(alpha)
    source = from_email()
    target = from_email(subject="Ещё вопрос", message_id="<r2@example.ru>")

    merge.ticket_merge(actor=fresh(_agent(alpha)), ticket=source, into_id=target.pk)

    assert (_status(source), _status(target)) == ("closed", "new")


# --- bulk -----------------------------------------------------------------------------------


def test_bulk_solving_names_every_ticket_that_lacks_fields_and_changes_none(
    alpha: Workspace,
    from_email: Any,
) -> None:
    _fields(alpha)
    filled = _fill(alpha, from_email(), order="A-1", cause="bug")
    empty_one = from_email(subject="Первый", message_id="<r2@example.ru>")
    empty_two = from_email(subject="Второй", message_id="<r3@example.ru>")
    ids = [filled.pk, empty_one.pk, empty_two.pk]

    with pytest.raises(ServiceError) as refused:
        services.tickets_bulk(actor=fresh(_agent(alpha)), ticket_ids=ids, status="solved")

    assert refused.value.code == "required_fields"
    assert f"#{empty_one.pk}" in refused.value.message
    assert f"#{empty_two.pk}" in refused.value.message
    assert f"#{filled.pk}," not in refused.value.message
    assert "Номер заказа" in refused.value.message
    assert {_status(t) for t in (filled, empty_one, empty_two)} == {"new"}


def test_bulk_solving_from_the_inbox_is_refused_with_the_fields_named(
    alpha: Workspace, from_email: Any
) -> None:
    _fields(alpha)
    filled = _fill(alpha, from_email(), order="A-1", cause="bug")
    empty = from_email(subject="Пусто", message_id="<r2@example.ru>")
    client = workspace_client(_agent(alpha).user, alpha.tenant)

    response = client.post(
        "/service/bulk/",
        {"ids": [filled.pk, empty.pk], "action": "status", "status": "solved"},
        follow=True,
    )

    page = response.content.decode()
    assert f"#{empty.pk}" in page
    assert "Номер заказа" in page
    assert (_status(filled), _status(empty)) == ("new", "new")
    client.post("/service/bulk/", {"ids": [filled.pk], "action": "status", "status": "solved"})
    assert _status(filled) == "solved"


def test_bulk_solving_through_the_api_is_refused_naming_the_tickets(
    alpha: Workspace, from_email: Any
) -> None:
    _fields(alpha)
    empty = from_email()
    client = workspace_client(_agent(alpha).user, alpha.tenant)

    response = client.post(
        f"{TICKETS}bulk/",
        {"tickets": [empty.pk], "status": "closed"},
        content_type="application/json",
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "required_fields"
    assert f"#{empty.pk}" in error["message"]
    assert list(error["fields"]) == ["tickets"]
    assert _status(empty) == "new"


# --- macros ---------------------------------------------------------------------------------


def test_a_solving_macro_is_refused_whole(alpha: Workspace, from_email: Any) -> None:
    _fields(alpha)
    ticket = from_email()
    macro = Macro.objects.create(
        name="Done", body="Решено!", status="solved", priority="high", add_tags=["done"]
    )
    before = TicketMessage.objects.filter(ticket=ticket).count()

    with pytest.raises(ServiceError) as refused:
        macros.macro_apply(actor=fresh(_agent(alpha)), ticket=ticket, macro=macro)

    assert refused.value.code == "required_fields"
    ticket.refresh_from_db()
    # Nothing of the macro stays: not its priority, its tags nor its reply.
    assert (ticket.status, ticket.priority, ticket.tags) == ("new", "normal", [])
    assert TicketMessage.objects.filter(ticket=ticket).count() == before


def test_a_solving_macro_without_text_from_the_page_and_the_api(
    alpha: Workspace, from_email: Any
) -> None:
    _fields(alpha)
    ticket = from_email()
    macro = Macro.objects.create(name="Close", body="", status="closed")
    client = workspace_client(_agent(alpha).user, alpha.tenant)

    page = client.post(f"/service/{ticket.pk}/macro/", {"macro": macro.pk}, follow=True)
    api = client.post(
        f"{TICKETS}{ticket.pk}/macro/", {"macro": macro.pk}, content_type="application/json"
    )

    assert "สาเหตุ" in page.content.decode()
    assert api.status_code == 400
    assert api.json()["error"]["code"] == "required_fields"
    assert _status(ticket) == "new"
    _fill(alpha, ticket, order="A-2", cause="billing")
    client.post(f"/service/{ticket.pk}/macro/", {"macro": macro.pk})
    assert _status(ticket) == "closed"


# --- the ticket page and the inbox ----------------------------------------------------------


def test_the_ticket_page_refuses_solving_and_says_which_fields_to_fill(
    alpha: Workspace, from_email: Any
) -> None:
    _fields(alpha)
    ticket = from_email()
    client = workspace_client(_agent(alpha).user, alpha.tenant)

    page = client.get(f"/service/{ticket.pk}/").content.decode()
    banner = re.search(r'data-testid="needs-fields">(.*?)</p>', page, re.S)
    assert banner is not None
    assert "Номер заказа" in banner.group(1)
    assert "สาเหตุ" in banner.group(1)
    assert "Note" not in banner.group(1)

    refused = client.post(
        f"/service/{ticket.pk}/fields/",
        {"status": "solved", "priority": "normal", "type": "question", "tags": ""},
    )
    assert refused.status_code == 400
    assert "Номер заказа" in refused.content.decode()
    assert _status(ticket) == "new"

    replied = client.post(
        f"/service/{ticket.pk}/reply/",
        {"kind": "reply", "body": "Готово", "status": "solved", "seen": ""},
    )
    assert replied.status_code == 400
    assert "สาเหตุ" in replied.content.decode()
    assert not TicketMessage.objects.filter(ticket=ticket, body="Готово").exists()

    filled = client.post(
        f"/service/{ticket.pk}/custom/", {"cf_order": "A-3", "cf_cause": "bug", "cf_note": ""}
    )
    assert filled.status_code == 302
    assert 'data-testid="needs-fields"' not in client.get(f"/service/{ticket.pk}/").content.decode()
    solved = client.post(
        f"/service/{ticket.pk}/fields/",
        {"status": "solved", "priority": "normal", "type": "question", "tags": ""},
    )
    assert solved.status_code == 302
    assert _status(ticket) == "solved"


def test_the_inbox_marks_the_open_tickets_that_need_fields(
    alpha: Workspace, from_email: Any
) -> None:
    _fields(alpha)
    empty = from_email()
    filled = _fill(alpha, from_email(subject="Полный", message_id="<r2@example.ru>"),
                   order="A-4", cause="bug")  # fmt: skip
    client = workspace_client(_agent(alpha).user, alpha.tenant)

    page = client.get("/service/?view=all").content.decode()

    rows = dict(re.findall(r'<tr data-ticket="(\d+)">(.*?)</tr>', page, re.S))
    assert 'data-testid="needs-fields"' in rows[str(empty.pk)]
    assert 'data-testid="needs-fields"' not in rows[str(filled.pk)]


# --- the API --------------------------------------------------------------------------------


def test_the_api_refuses_solving_names_the_field_and_solves_when_given_the_values(
    alpha: Workspace,
    from_email: Any,
) -> None:
    _fields(alpha)
    ticket = from_email()
    client = workspace_client(_agent(alpha).user, alpha.tenant)
    path = f"{TICKETS}{ticket.pk}/"

    refused = client.patch(path, json.dumps({"status": "solved"}), content_type="application/json")
    reply = client.post(
        f"{path}replies/",
        {"body": "Готово", "status": "solved"},
        content_type="application/json",
    )

    assert refused.status_code == 400
    error = refused.json()["error"]
    assert (error["code"], list(error["fields"])) == ("required_fields", ["custom_fields.order"])
    assert "Номер заказа" in error["message"]
    assert "สาเหตุ" in error["message"]
    assert reply.status_code == 400
    assert reply.json()["error"]["code"] == "required_fields"
    assert _status(ticket) == "new"
    # The values and the status in one request: filled first, then solved.
    solved = client.patch(
        path,
        json.dumps({"custom_fields": {"order": "A-5", "cause": "billing"}, "status": "solved"}),
        content_type="application/json",
    )
    assert solved.status_code == 200, solved.content
    assert (solved.json()["status"], solved.json()["custom_fields"]) == (
        "solved",
        {"order": "A-5", "cause": "billing"},
    )
