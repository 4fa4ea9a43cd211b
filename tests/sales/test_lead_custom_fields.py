"""Custom fields of leads (ADR 0055): defined on the settings page like the other record types,
asked on the new-lead page and the API, shown and edited on the lead's page, columns of the
leads list, filters of the API, and carried over by conversion to the contact, company and
deal fields with the same code and a compatible type."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection

from crm_modules.reporting.registry import get_source
from crm_modules.sales import services
from crm_modules.sales.models import Company, Contact, CustomField, Deal, Lead
from crm_modules.sales.module import CREATE_RECORDS, EDIT_RECORDS
from crm_modules.sales.services.deals import StageInput
from crm_modules.scoring.services import field_choices
from crm_platform.errors import ServiceError
from tenants.permissions import allows
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.sales.conftest import fresh

pytestmark = pytest.mark.usefixtures("in_alpha")


def _field(workspace: Workspace, entity: str = "lead", **kwargs: Any) -> CustomField:
    spec: dict[str, Any] = {"code": "budget", "label": "Бюджет", "type": "number", **kwargs}
    return services.custom_field_create(actor=fresh(workspace.owner), entity=entity, **spec)


def _lead(workspace: Workspace, **kwargs: Any) -> Lead:
    spec: dict[str, Any] = {"first_name": "Somchai", "source": "fair", **kwargs}
    return services.lead_create(actor=fresh(workspace.owner), **spec)


def test_lead_values_are_checked_normalised_updated_and_cleared(alpha: Workspace) -> None:
    _field(alpha, code="budget", type="number")
    _field(alpha, code="interest", label="ความสนใจ", type="select", options=["CRM", "ERP"])
    lead = _lead(alpha, custom_fields={"budget": "1200", "interest": "ERP"})
    assert Lead.objects.get(pk=lead.pk).custom == {"budget": 1200, "interest": "ERP"}

    actor = fresh(alpha.owner)
    lead = services.lead_update(actor=actor, lead=lead, changes={"custom_fields": {"budget": None}})
    assert Lead.objects.get(pk=lead.pk).custom == {"interest": "ERP"}
    with pytest.raises(ServiceError) as bad:
        services.lead_update(
            actor=actor, lead=lead, changes={"custom_fields": {"interest": "Blockchain"}}
        )
    assert bad.value.field == "custom_fields.interest"
    with pytest.raises(ServiceError) as unknown:
        _lead(alpha, custom_fields={"nope": "1"})
    assert unknown.value.field == "custom_fields.nope"
    assert Lead.objects.get(pk=lead.pk).custom == {"interest": "ERP"}
    assert Lead.objects.count() == 1


def test_a_contact_field_is_not_a_lead_field(alpha: Workspace) -> None:
    _field(alpha, entity="contact", code="tier", type="text")
    with pytest.raises(ServiceError) as refused:
        _lead(alpha, custom_fields={"tier": "gold"})
    assert refused.value.field == "custom_fields.tier"


def test_the_new_lead_page_asks_required_fields_and_creates_the_lead(alpha: Workspace) -> None:
    _field(alpha, code="budget", label="Бюджет", type="number", required=True)
    client = workspace_client(alpha.owner.user, alpha.tenant)
    page = client.get("/sales/leads/new/").content.decode()
    assert 'id="cf_budget"' in page
    assert 'name="company_name"' in page

    missing = client.post("/sales/leads/new/", {"first_name": "王", "source": "展会"})
    assert missing.status_code == 400
    assert "Бюджет: This field is required." in missing.content.decode()
    assert not Lead.objects.exists()

    made = client.post(
        "/sales/leads/new/",
        {"first_name": "王", "last_name": "芳", "source": "展会", "cf_budget": "900"},
    )
    assert made.status_code == 302
    lead = Lead.objects.get()
    assert made["Location"] == f"/sales/leads/{lead.pk}/"
    assert (lead.first_name, lead.source, lead.custom) == ("王", "展会", {"budget": 900})


def test_the_api_asks_required_lead_fields_but_an_import_path_does_not(alpha: Workspace) -> None:
    _field(alpha, code="budget", type="number", required=True)
    client = workspace_client(alpha.owner.user, alpha.tenant)
    refused = client.post(
        "/api/v1/sales/leads/",
        data=json.dumps({"first_name": "Ann", "source": "web"}),
        content_type="application/json",
    )
    assert refused.status_code == 400
    assert list(refused.json()["error"]["fields"]) == ["custom_fields.budget"]
    assert not Lead.objects.exists()
    # A lead made without a person filling the form (a capture form, an import) is kept.
    assert _lead(alpha).custom == {}


def test_the_api_reads_writes_patches_and_filters_lead_custom_fields(alpha: Workspace) -> None:
    _field(alpha, code="budget", type="number")
    _field(alpha, code="interest", type="multi_select", options=["CRM", "ERP", "AI"])
    client = workspace_client(alpha.owner.user, alpha.tenant)
    created = client.post(
        "/api/v1/sales/leads/",
        data=json.dumps(
            {"first_name": "Ива́н", "source": "web", "custom_fields": {"interest": ["AI", "CRM"]}}
        ),
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["custom_fields"] == {"interest": ["CRM", "AI"]}
    url = f"/api/v1/sales/leads/{body['id']}/"
    patched = client.patch(
        url,
        data=json.dumps({"custom_fields": {"budget": 5000}}),
        content_type="application/json",
    )
    assert patched.status_code == 200, patched.content
    assert patched.json()["custom_fields"] == {"interest": ["CRM", "AI"], "budget": 5000}
    assert client.get(url).json()["custom_fields"] == {"interest": ["CRM", "AI"], "budget": 5000}

    other = _lead(alpha, custom_fields={"budget": 10})
    ids = [r["id"] for r in client.get("/api/v1/sales/leads/?cf_budget=5000").json()["results"]]
    assert ids == [body["id"]]
    ids = [r["id"] for r in client.get("/api/v1/sales/leads/?cf_budget=10").json()["results"]]
    assert ids == [other.pk]
    bad = client.get("/api/v1/sales/leads/?cf_budget=lots")
    assert bad.status_code == 400
    assert list(bad.json()["error"]["fields"]) == ["custom_fields.budget"]
    wrong = client.patch(
        url,
        data=json.dumps({"custom_fields": {"interest": ["Quantum"]}}),
        content_type="application/json",
    )
    assert wrong.status_code == 400
    assert list(wrong.json()["error"]["fields"]) == ["custom_fields.interest"]
    assert Lead.objects.get(pk=body["id"]).custom == {"interest": ["CRM", "AI"], "budget": 5000}


def test_the_lead_page_shows_and_saves_its_custom_fields(alpha: Workspace) -> None:
    _field(alpha, code="budget", label="Бюджет", type="number")
    lead = _lead(alpha, custom_fields={"budget": 7})
    client = workspace_client(alpha.owner.user, alpha.tenant)
    page = client.get(f"/sales/leads/{lead.pk}/").content.decode()
    assert 'data-testid="custom-fields"' in page
    assert f'action="/sales/leads/{lead.pk}/custom/"' in page
    assert 'value="7"' in page

    saved = client.post(f"/sales/leads/{lead.pk}/custom/", {"cf_budget": "42"})
    assert saved.status_code == 302
    assert Lead.objects.get(pk=lead.pk).custom == {"budget": 42}
    client.post(f"/sales/leads/{lead.pk}/custom/", {"cf_budget": "many"})
    assert Lead.objects.get(pk=lead.pk).custom == {"budget": 42}


def test_the_leads_list_offers_custom_columns(alpha: Workspace) -> None:
    _field(alpha, code="budget", label="Бюджет", type="number")
    _lead(alpha, custom_fields={"budget": 31337})
    client = workspace_client(alpha.owner.user, alpha.tenant)
    plain = client.get("/sales/leads/").content.decode()
    assert 'name="cols" value="budget"' in plain
    assert 'data-column="budget"' not in plain
    chosen = client.get("/sales/leads/?cols=budget").content.decode()
    assert '<td data-label="Бюджет" data-column="budget">31337</td>' in chosen


def test_an_archived_lead_field_leaves_forms_lists_and_filters_but_keeps_values(
    alpha: Workspace,
) -> None:
    field = _field(alpha, code="budget", type="number")
    lead = _lead(alpha, custom_fields={"budget": 5})
    services.custom_field_archive(actor=fresh(alpha.owner), field=field, archived=True)
    client = workspace_client(alpha.owner.user, alpha.tenant)
    assert 'id="cf_budget"' not in client.get("/sales/leads/new/").content.decode()
    assert 'id="cf_budget"' not in client.get(f"/sales/leads/{lead.pk}/").content.decode()
    assert 'value="budget"' not in client.get("/sales/leads/").content.decode()
    assert client.get("/api/v1/sales/leads/?cf_budget=5").status_code == 400
    with pytest.raises(ServiceError):
        _lead(alpha, custom_fields={"budget": 1})
    assert Lead.objects.get(pk=lead.pk).custom == {"budget": 5}


def test_the_settings_page_has_a_lead_tab(alpha: Workspace) -> None:
    client = workspace_client(alpha.owner.user, alpha.tenant)
    created = client.post(
        "/sales/custom-fields/",
        {"entity": "lead", "code": "budget", "label": "งบประมาณ", "type": "number"},
    )
    assert created.status_code == 302
    assert created["Location"] == "/sales/custom-fields/?entity=lead"
    page = client.get("/sales/custom-fields/?entity=lead").content.decode()
    assert 'data-entity="lead"' in page
    assert 'data-field="budget"' in page
    assert CustomField.objects.get(code="budget").entity == "lead"
    assert 'data-field="budget"' not in client.get("/sales/custom-fields/").content.decode()


def test_reports_and_scoring_rules_read_lead_custom_fields(alpha: Workspace) -> None:
    _field(alpha, code="budget", type="number")
    leads = get_source("leads")
    assert leads is not None
    assert "custom.budget" in leads.all_fields()
    assert ("custom.budget", "Бюджет") in field_choices("lead")


@pytest.mark.parametrize("role", Role.values)
def test_each_role_reaches_the_new_lead_page_and_edits_its_own_leads_fields(
    alpha: Workspace, role: str
) -> None:
    _field(alpha, code="budget", type="number")
    member = fresh(alpha.members[role])
    lead = services.lead_create(
        actor=fresh(alpha.owner), first_name="Own", source="web", owner_id=member.user_id
    )
    client = workspace_client(member.user, alpha.tenant)
    new_page = client.post("/sales/leads/new/", {"first_name": "Mine", "source": "web"})
    saved = client.post(f"/sales/leads/{lead.pk}/custom/", {"cf_budget": "3"})
    if allows(member, CREATE_RECORDS):
        assert new_page.status_code == 302
        assert Lead.objects.filter(first_name="Mine", owner_id=member.user_id).exists()
    else:
        assert new_page.status_code == 403
        assert not Lead.objects.filter(first_name="Mine").exists()
    if allows(member, EDIT_RECORDS, lead):
        assert saved.status_code == 302
        assert Lead.objects.get(pk=lead.pk).custom == {"budget": 3}
    else:
        assert saved.status_code in (403, 404)
        assert Lead.objects.get(pk=lead.pk).custom == {}


def test_another_workspaces_lead_fields_cannot_be_saved(alpha: Workspace, bravo: Workspace) -> None:
    connection.set_tenant(bravo.tenant)  # type: ignore[attr-defined]
    _field(bravo, code="budget", type="number")
    theirs = _lead(bravo, custom_fields={"budget": 1})
    connection.set_tenant(alpha.tenant)  # type: ignore[attr-defined]
    client = workspace_client(alpha.owner.user, alpha.tenant)
    assert client.post(f"/sales/leads/{theirs.pk}/custom/", {"cf_budget": "2"}).status_code == 404
    connection.set_tenant(bravo.tenant)  # type: ignore[attr-defined]
    assert Lead.objects.get(pk=theirs.pk).custom == {"budget": 1}


# --- conversion -----------------------------------------------------------------------------


def _conversion_fields(workspace: Workspace) -> None:
    _field(workspace, code="budget", type="number")
    _field(workspace, code="channel", label="Channel", type="select", options=["fair", "web"])
    _field(workspace, code="remark", label="Remark", type="text")
    _field(workspace, code="plan", label="Plan", type="select", options=["basic", "pro"])
    _field(workspace, code="only_lead", label="Only on leads", type="text")
    _field(workspace, entity="contact", code="channel", label="Channel", type="text")
    _field(workspace, entity="contact", code="remark", label="Remark", type="long_text")
    _field(workspace, entity="contact", code="budget", label="Budget", type="date")
    _field(workspace, entity="company", code="plan", label="Plan", type="select", options=["pro"])
    _field(workspace, entity="deal", code="budget", label="Budget", type="decimal")
    _field(workspace, entity="deal", code="plan", label="Plan", type="select", options=["basic"])


def test_conversion_carries_values_to_fields_with_the_same_code_and_a_compatible_type(
    alpha: Workspace,
) -> None:
    _conversion_fields(alpha)
    actor = fresh(alpha.owner)
    stage = services.pipeline_create(
        actor=actor, name="Sales", stages=[StageInput("New", 10)]
    ).stages.get()
    values = {
        "budget": 2500,
        "channel": "fair",
        "remark": "Говорил с директором",
        "plan": "pro",
        "only_lead": "ไม่ย้าย",
    }
    lead = _lead(alpha, company_name="Acme 株式会社", custom_fields=values)

    result = services.lead_convert(actor=actor, lead=lead, deal_stage=stage.pk)

    contact = Contact.objects.get(pk=result.contact.pk)
    company = Company.objects.get(pk=result.company.pk)  # type: ignore[union-attr]
    deal = Deal.objects.get(pk=result.deal.pk)  # type: ignore[union-attr]
    # A select reads as text, text as long text; a number is not a date.
    assert contact.custom == {"channel": "fair", "remark": "Говорил с директором"}
    # The company's select offers the option: carried.
    assert company.custom == {"plan": "pro"}
    # A number carries to a decimal; an option the deal's select does not offer stays behind.
    assert deal.custom == {"budget": "2500"}
    # The converted lead keeps every value, those with no counterpart included.
    assert Lead.objects.get(pk=lead.pk).custom == values


def test_conversion_leaves_an_existing_company_as_it_is(alpha: Workspace) -> None:
    _conversion_fields(alpha)
    actor = fresh(alpha.owner)
    existing = services.company_create(actor=actor, name="Acme")
    lead = _lead(alpha, company_name="Acme", custom_fields={"plan": "pro"})
    result = services.lead_convert(actor=actor, lead=lead)
    assert result.company is not None
    assert result.company.pk == existing.pk
    assert Company.objects.get(pk=existing.pk).custom == {}


def test_a_converted_lead_shows_its_values_without_a_form(alpha: Workspace) -> None:
    _field(alpha, code="only_lead", label="Only on leads", type="text")
    lead = _lead(alpha, custom_fields={"only_lead": "ค่าที่เก็บไว้"})
    services.lead_convert(actor=fresh(alpha.owner), lead=lead)
    client = workspace_client(alpha.owner.user, alpha.tenant)
    page = client.get(f"/sales/leads/{lead.pk}/").content.decode()
    assert '<dd data-field="only_lead">ค่าที่เก็บไว้</dd>' in page
    assert f'action="/sales/leads/{lead.pk}/custom/"' not in page
    refused = client.post(f"/sales/leads/{lead.pk}/custom/", {"cf_only_lead": "changed"})
    assert refused.status_code == 302
    assert Lead.objects.get(pk=lead.pk).custom == {"only_lead": "ค่าที่เก็บไว้"}
