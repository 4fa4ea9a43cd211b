"""A contact's preferred language (one of the five, or unset): set by staff or by the customer
on the portal, validated naming the field; routing rules by language read it before the
ticket's own language; the acknowledgement, the satisfaction survey and the portal pages are in
it."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail

from crm_modules.sales import services as sales
from crm_modules.sales.models import Contact
from crm_modules.service import services
from crm_modules.service.services import routing
from crm_platform.errors import ServiceError
from tenants.models import Team
from tenants.roles import Role
from tests.conftest import Workspace
from tests.isolation.conftest import db_state
from tests.service.conftest import customer, fresh, portal_client
from tests.service.test_inbound import deliver, email

__all__ = ["deliver"]

pytestmark = pytest.mark.usefixtures("in_alpha")


@pytest.mark.parametrize("value", ["xx", "english", "<script>", "ru; DROP TABLE", 7])
def test_only_one_of_the_five_languages_is_accepted(alpha: Workspace, value: Any) -> None:
    olga = customer("olga@example.ru")
    with pytest.raises(ServiceError) as refused:
        sales.contact_update(actor=fresh(alpha.owner), contact=olga, changes={"language": value})
    assert refused.value.field == "language"
    olga.refresh_from_db()
    assert olga.language == ""


@pytest.mark.parametrize("value", ["ru", "it", "th", "zh-hans", "en", ""])
def test_a_language_of_the_product_or_none_is_kept(alpha: Workspace, value: str) -> None:
    olga = customer("olga@example.ru")
    sales.contact_update(actor=fresh(alpha.owner), contact=olga, changes={"language": value})
    olga.refresh_from_db()
    assert olga.language == value


def test_routing_by_language_reads_the_contact_first_then_the_ticket(alpha: Workspace) -> None:
    russian = Team.objects.create(tenant=alpha.tenant, name="Russian")
    other = Team.objects.create(tenant=alpha.tenant, name="Everyone")
    manager = fresh(alpha.members[Role.MANAGER])
    routing.routing_rule_save(actor=manager, name="RU", team_id=russian.pk, languages="ru")
    routing.routing_rule_save(actor=manager, name="Rest", team_id=other.pk)
    agent = fresh(alpha.members[Role.SUPPORT_AGENT])

    def team_of(contact: Contact | None, language: str = "") -> int | None:
        ticket = services.ticket_create(
            actor=agent,
            subject="Help",
            contact_id=contact.pk if contact else None,
            language=language,
        )
        ticket.refresh_from_db()
        return ticket.team_id

    olga = customer("olga@example.ru", language="ru")
    giulia = customer("giulia@example.it", language="it")
    nobody = customer("anon@example.com")
    assert team_of(olga) == russian.pk
    # The contact's language wins over the ticket's; the ticket's is the fallback.
    assert team_of(giulia, "ru") == other.pk
    assert team_of(nobody, "ru") == russian.pk
    assert team_of(None, "ru") == russian.pk
    assert team_of(nobody) == other.pk


def test_the_acknowledgement_is_in_the_contacts_language(deliver: Any) -> None:
    customer("maria@example.it", language="ru")
    deliver(email(sender="Maria <maria@example.it>"))
    [ack] = mail.outbox
    assert ack.body.startswith("Мы получили ваше сообщение")

    mail.outbox.clear()
    deliver(email(sender="Ann <ann@example.com>", message_id="<m9@example.com>"))
    [ack] = mail.outbox
    assert ack.body.startswith("We received your message")


@pytest.mark.parametrize(
    ("language", "subject"),
    [
        ("ru", "Как мы справились? Обращение №"),
        ("", "How did we do? Ticket #"),
    ],
)
def test_the_satisfaction_survey_is_in_the_contacts_language(
    alpha: Workspace, django_capture_on_commit_callbacks: Any, language: str, subject: str
) -> None:
    agent = fresh(alpha.members[Role.SUPPORT_AGENT])
    olga = customer("olga@example.ru", language=language)
    ticket = services.ticket_create(actor=agent, subject="Принтер", contact_id=olga.pk)
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_change_status(actor=agent, ticket=ticket, status="solved")
    [survey] = mail.outbox
    assert survey.subject.startswith(subject)


def test_the_portal_speaks_the_customers_language_and_they_can_change_it(
    alpha: Workspace,
) -> None:
    olga = customer("olga@example.ru", first_name="Olga", language="ru")
    client = portal_client(alpha, olga)
    response = client.get("/portal/me/", HTTP_ACCEPT_LANGUAGE="en")
    assert response["Content-Language"] == "ru"
    assert "Мои данные" in response.content.decode()

    response = client.post(
        "/portal/me/", {"first_name": "Olga", "language": "th"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 302
    olga.refresh_from_db()
    assert olga.language == "th"
    assert client.get("/portal/", HTTP_ACCEPT_LANGUAGE="en")["Content-Language"] == "th"

    before = db_state(alpha)
    response = client.post("/portal/me/", {"first_name": "Olga", "language": "klingon"})
    assert response.status_code == 400
    assert b'data-testid="error-language"' in response.content
    assert db_state(alpha) == before
