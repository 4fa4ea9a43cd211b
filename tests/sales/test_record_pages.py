"""Record pages: the shared timeline, logging from the page, moving a deal, converting a lead."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm_modules.activities.api import timeline
from crm_modules.activities.models import Activity
from crm_modules.sales import services
from crm_modules.sales.models import Contact, DealStageChange, Lead
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.sales.conftest import fresh
from tests.sales.factories import (
    CompanyFactory,
    ContactFactory,
    DealFactory,
    LeadFactory,
    PipelineFactory,
)

pytestmark = pytest.mark.usefixtures("in_alpha")


def test_a_stage_change_on_a_deal_shows_on_its_contacts_page(alpha: Workspace) -> None:
    company = CompanyFactory.create(name="Ферма")
    contact = ContactFactory.create(company=company, first_name="Ольга")
    deal = DealFactory.create(company=company, name="Поставка")
    deal.contacts.set([contact])
    services.deal_move_stage(
        actor=fresh(alpha.owner), deal=deal, stage=deal.pipeline.stages.get(position=1)
    )
    client = workspace_client(alpha.members[Role.READ_ONLY].user, alpha.tenant)
    for path in (
        f"/sales/contacts/{contact.pk}/",
        f"/sales/companies/{company.pk}/",
        f"/sales/deals/{deal.pk}/",
    ):
        html = client.get(path).content.decode()
        assert html.count('data-kind="stage_change"') == 1, path
        assert "Поставка: New → Proposal" in html


def test_logging_a_call_from_the_contact_page_shows_on_its_company(alpha: Workspace) -> None:
    company = CompanyFactory.create()
    contact = ContactFactory.create(company=company)
    client = workspace_client(alpha.members[Role.SUPPORT_AGENT].user, alpha.tenant)
    response = client.post(
        f"/sales/contacts/{contact.pk}/log/",
        {"kind": "call", "subject": "<b>Asked about pricing</b>", "body": ""},
    )
    assert response.status_code == 302
    assert response["Location"] == f"/sales/contacts/{contact.pk}/"
    (activity,) = timeline(company)
    assert (activity.kind, activity.subject, activity.author_id) == (
        "call",
        "<b>Asked about pricing</b>",
        alpha.members[Role.SUPPORT_AGENT].user_id,
    )
    html = client.get(f"/sales/contacts/{contact.pk}/").content.decode()
    assert "&lt;b&gt;Asked about pricing&lt;/b&gt;" in html


def test_an_empty_log_is_refused_and_nothing_is_written(alpha: Workspace) -> None:
    contact = ContactFactory.create()
    client = workspace_client(alpha.owner.user, alpha.tenant)
    response = client.post(f"/sales/contacts/{contact.pk}/log/", {"kind": "call"})
    assert response.status_code == 400
    assert "Write a subject or some details." in response.content.decode()
    assert not Activity.objects.exists()


def test_contact_page_runs_the_same_queries_whatever_its_history(alpha: Workspace) -> None:
    actor = fresh(alpha.owner)
    contact = ContactFactory.create(company=CompanyFactory.create())
    client = workspace_client(alpha.owner.user, alpha.tenant)
    path = f"/sales/contacts/{contact.pk}/"
    client.get(path)
    services.record_log_activity(actor=actor, record=contact, kind="note", body="one")
    with CaptureQueriesContext(connection) as few:
        client.get(path)
    for n in range(30):
        services.record_log_activity(actor=actor, record=contact, kind="note", body=str(n))
    with CaptureQueriesContext(connection) as many:
        html = client.get(path).content.decode()
    assert len(many) == len(few)
    assert html.count('data-kind="note"') == 20


def test_record_pages_fetch_the_other_modules_panels_once_shown(alpha: Workspace) -> None:
    company = CompanyFactory.create()
    contact = ContactFactory.create(company=company)
    deal = DealFactory.create(company=company)
    lead = LeadFactory.create()
    client = workspace_client(alpha.members[Role.READ_ONLY].user, alpha.tenant)
    for path in (
        f"/sales/contacts/{contact.pk}/",
        f"/sales/companies/{company.pk}/",
        f"/sales/deals/{deal.pk}/",
        f"/sales/leads/{lead.pk}/",
    ):
        page = client.get(path).content.decode()
        # The page and its timeline come without the panels; the page names where they are.
        assert 'data-testid="documents-panel"' not in page, path
        assert f'hx-get="{path}panels/" hx-trigger="load"' in page, path
        panels = client.get(f"{path}panels/", HTTP_HX_REQUEST="true")
        assert panels.status_code == 200, path
        assert 'data-testid="documents-panel"' in panels.content.decode(), path
        assert "<html" not in panels.content.decode(), path
    # A record that does not exist has no panels either.
    assert client.get(f"/sales/contacts/{contact.pk + 1000}/panels/").status_code == 404


def test_moving_a_deal_with_the_form_records_history(alpha: Workspace) -> None:
    deal = DealFactory.create(owner=alpha.members[Role.SALES_REP].user)
    target = deal.pipeline.stages.get(position=1)
    client = workspace_client(alpha.members[Role.SALES_REP].user, alpha.tenant)
    response = client.post(f"/sales/deals/{deal.pk}/move/", {"stage": target.pk, "next": "board"})
    assert response.status_code == 302
    assert response["Location"] == f"/sales/deals/?pipeline={deal.pipeline_id}"
    assert list(DealStageChange.objects.values_list("to_stage", flat=True)) == [target.pk]


def test_moving_a_deal_to_another_pipelines_stage_is_refused(alpha: Workspace) -> None:
    deal = DealFactory.create(owner=alpha.owner.user)
    other = PipelineFactory.create().stages.get(position=1)
    client = workspace_client(alpha.owner.user, alpha.tenant)
    response = client.post(f"/sales/deals/{deal.pk}/move/", {"stage": other.pk})
    assert response.status_code == 400
    assert "This stage belongs to another pipeline." in response.content.decode()
    assert not DealStageChange.objects.exists()


def test_converting_a_lead_from_its_page_opens_the_contact(alpha: Workspace) -> None:
    lead = LeadFactory.create(owner=alpha.owner.user, first_name="Chiara", email="c@example.it")
    client = workspace_client(alpha.owner.user, alpha.tenant)
    response = client.post(f"/sales/leads/{lead.pk}/convert/")
    contact = Contact.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/sales/contacts/{contact.pk}/"
    assert Lead.objects.get().status == "converted"
    assert contact.primary_email == "c@example.it"


def test_new_contact_form_names_the_bad_phone(alpha: Workspace) -> None:
    client = workspace_client(alpha.owner.user, alpha.tenant)
    response = client.post("/sales/contacts/new/", {"first_name": "Wang", "phones": "12"})
    assert response.status_code == 400
    assert "is not a phone number" in response.content.decode()
    assert not Contact.objects.exists()
    response = client.post(
        "/sales/contacts/new/",
        {"first_name": "王", "last_name": "芳", "phones": "+86 10 6552 9988"},
    )
    contact = Contact.objects.get()
    assert response["Location"] == f"/sales/contacts/{contact.pk}/"
    assert contact.primary_phone == "+861065529988"
