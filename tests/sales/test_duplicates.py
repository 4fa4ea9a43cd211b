"""Likely duplicates: found on create (service, API, page) and by the workspace-wide scan."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from crm_modules.sales import services
from crm_modules.sales.models import Company, Contact, DuplicateGroup
from crm_modules.sales.services import duplicates
from crm_modules.sales.services.duplicates import (
    company_duplicates,
    company_name_key,
    contact_duplicates,
    contact_name_key,
    duplicates_scan,
)
from crm_modules.sales.tasks import duplicates_scan_task
from crm_platform.indexes import trigram_available
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.sales.conftest import fresh

pytestmark = pytest.mark.usefixtures("in_alpha")


def _send(client: Client, method: str, path: str, body: dict[str, Any]) -> Any:
    return client.generic(method, path, data=json.dumps(body), content_type="application/json")


def _contact(alpha: Workspace, first: str, last: str = "", **kwargs: Any) -> Contact:
    return services.contact_create(
        actor=fresh(alpha.owner), first_name=first, last_name=last, **kwargs
    )


def test_name_keys_are_ascii_in_any_script_and_any_order() -> None:
    assert contact_name_key("Анна", "Иванова") == contact_name_key("Anna", "Ivanova")
    assert contact_name_key("芳", "王") == contact_name_key("Wang", "Fang") == "fang wang"
    assert contact_name_key("", "") == ""
    assert company_name_key("ООО Ромашка") == company_name_key("Romashka LLC") == "romashka"


def test_same_email_phone_and_transliterated_name_are_found(alpha: Workspace) -> None:
    anna = _contact(alpha, "Анна", "Иванова", emails=["anna@rapport.example"])
    phone = _contact(alpha, "Bruno", "Verdi", phones=["+39 06 6982 1234"])
    _contact(alpha, "Somebody", "Else")

    by_email = contact_duplicates(first_name="X", emails=["ANNA@rapport.example"])
    assert [(m.record.pk, m.reasons, m.confidence) for m in by_email] == [(anna.pk, ["email"], 95)]
    by_phone = contact_duplicates(phones=["+390669821234"])
    assert [(m.record.pk, m.reasons) for m in by_phone] == [(phone.pk, ["phone"])]
    by_name = contact_duplicates(first_name="Anna", last_name="Ivanova")
    assert [m.record.pk for m in by_name] == [anna.pk]
    both = contact_duplicates(
        first_name="Anna", last_name="Ivanova", emails=[{"email": "anna@rapport.example"}]
    )
    assert (both[0].reasons, both[0].confidence) == (["email", "name"], 100)


def test_similar_names_match_by_trigram_where_pg_trgm_is_installed(alpha: Workspace) -> None:
    giulia = _contact(alpha, "Giulia", "Bianchini")
    matches = contact_duplicates(first_name="Giulia", last_name="Bianchi")
    if trigram_available():
        assert [m.record.pk for m in matches] == [giulia.pk]
    else:
        # Without the extension only equal keys match: the check still answers, never fails.
        assert matches == []
    assert contact_duplicates(first_name="Zed", last_name="Unrelated") == []


def test_excluded_records_and_bad_input_find_nothing(alpha: Workspace) -> None:
    anna = _contact(alpha, "Anna", emails=["a@x.example"])
    assert contact_duplicates(emails=["a@x.example"], exclude_ids=[anna.pk]) == []
    assert contact_duplicates(emails=["not an email"], phones=["12"]) == []


def test_companies_match_by_domain_and_name(alpha: Workspace) -> None:
    acme = services.company_create(actor=fresh(alpha.owner), name="Acme GmbH", domain="acme.de")
    matches = company_duplicates(name="ACME", domain="www.acme.de")
    assert [(m.record.pk, m.reasons) for m in matches] == [(acme.pk, ["domain", "name"])]
    assert company_duplicates(name="", domain="bad domain!") == []


def test_api_create_answers_409_with_duplicates_then_allows_override(alpha: Workspace) -> None:
    anna = _contact(alpha, "Anna", emails=["anna@dup.example"])
    client = workspace_client(alpha.owner.user, alpha.tenant)
    body = {"first_name": "Ann", "emails": [{"email": "anna@dup.example"}]}

    response = _send(client, "POST", "/api/v1/sales/contacts/", body)
    assert response.status_code == 409
    payload = response.json()
    assert payload["error"]["code"] == "possible_duplicates"
    assert payload["duplicates"][0]["id"] == anna.pk
    assert payload["duplicates"][0]["reasons"] == ["email"]
    assert Contact.objects.filter(emails__email="anna@dup.example").count() == 1

    response = _send(client, "POST", "/api/v1/sales/contacts/", {**body, "allow_duplicates": True})
    assert response.status_code == 201, response.content
    assert Contact.objects.filter(emails__email="anna@dup.example").count() == 2


def test_api_company_create_and_duplicate_check(alpha: Workspace) -> None:
    services.company_create(actor=fresh(alpha.owner), name="Globex", domain="globex.example")
    client = workspace_client(alpha.members[Role.SALES_REP].user, alpha.tenant)
    body = {"name": "Other", "domain": "globex.example"}
    response = _send(client, "POST", "/api/v1/sales/companies/", body)
    assert response.status_code == 409
    assert Company.objects.filter(domain="globex.example").count() == 1
    check = client.get("/api/v1/sales/companies/duplicates/", {"domain": "globex.example"})
    assert check.status_code == 200
    assert [d["reasons"] for d in check.json()] == [["domain"]]
    check = client.get("/api/v1/sales/contacts/duplicates/", {"email": "nobody@x.example"})
    assert check.json() == []


def test_new_contact_page_shows_possible_duplicates_and_saves_anyway(alpha: Workspace) -> None:
    anna = _contact(alpha, "Anna", emails=["anna@page.example"])
    client = workspace_client(alpha.owner.user, alpha.tenant)
    url = reverse("sales:contact_new")
    form = {"first_name": "Anna", "emails": "anna@page.example"}

    check = client.get(reverse("sales:contact_duplicates"), form, HTTP_HX_REQUEST="true")
    assert check.status_code == 200
    assert reverse("sales:contact_detail", args=[anna.pk]) in check.content.decode()

    response = client.post(url, form)
    assert response.status_code == 400
    assert reverse("sales:contact_detail", args=[anna.pk]) in response.content.decode()
    assert Contact.objects.filter(emails__email="anna@page.example").count() == 1

    response = client.post(url, {**form, "save_anyway": "1"})
    assert response.status_code == 302
    assert Contact.objects.filter(emails__email="anna@page.example").count() == 2


def test_scan_groups_duplicates_with_confidence(alpha: Workspace) -> None:
    a = _contact(alpha, "Анна", "Иванова", emails=["same@scan.example"])
    b = _contact(alpha, "Anna", "Ivanova")
    c = _contact(alpha, "Other", "Person", emails=["same@scan.example"])
    _contact(alpha, "Lonely", "One")

    assert duplicates_scan(entity="contact") == 1
    (group,) = DuplicateGroup.objects.filter(entity="contact")
    assert group.record_ids == sorted([a.pk, b.pk, c.pk])
    assert (group.reasons, group.confidence) == (["email", "name"], 100)


def test_scan_task_runs_in_the_workspace_and_page_lists_groups(alpha: Workspace) -> None:
    services.company_create(actor=fresh(alpha.owner), name="Initech", domain="initech.example")
    services.company_create(actor=fresh(alpha.owner), name="Initech Inc", domain="")
    assert duplicates_scan_task.apply(kwargs={"entity": "company"}).get() == 1
    client = workspace_client(alpha.owner.user, alpha.tenant)
    page = client.get(reverse("sales:duplicates") + "?entity=company")
    assert page.status_code == 200
    assert "Initech Inc" in page.content.decode()


def test_scan_page_start_needs_the_capability(alpha: Workspace) -> None:
    rep = workspace_client(alpha.members[Role.SALES_REP].user, alpha.tenant)
    assert rep.get(reverse("sales:duplicates")).status_code == 403
    assert rep.post(reverse("sales:duplicates_scan"), {"entity": "contact"}).status_code == 403
    owner = workspace_client(alpha.owner.user, alpha.tenant)
    response = owner.post(reverse("sales:duplicates_scan"), {"entity": "contact"})
    assert response.status_code == 302


def _answered_without_trigrams() -> bool:
    """Without pg_trgm (the embedded server of ``make test``) only equal keys group: the scan
    still answers, and finds none among these distinct names."""
    if trigram_available():
        return False
    assert duplicates_scan(entity="contact") == 0
    assert _scan_groups() == {}
    return True


def _scan_groups() -> dict[tuple[int, ...], tuple[list[str], int]]:
    return {
        tuple(group.record_ids): (group.reasons, group.confidence)
        for group in DuplicateGroup.objects.filter(entity="contact")
    }


def test_scan_groups_similar_names_written_in_any_script(alpha: Workspace) -> None:
    anna = _contact(alpha, "Анна", "Иванова")
    anna_latin = _contact(alpha, "Anna", "Ivanov")
    somchai = _contact(alpha, "สมชาย", "ใจดี")
    somchai_longer = _contact(alpha, "สมชาย", "ใจดีมาก")
    fang = _contact(alpha, "芳", "王")
    fang_latin = _contact(alpha, "Fang", "Wangg")
    _contact(alpha, "Lonely", "One")
    if _answered_without_trigrams():
        return

    assert duplicates_scan(entity="contact") == 3
    assert _scan_groups() == {
        tuple(sorted([anna.pk, anna_latin.pk])): (["name"], 70),
        tuple(sorted([somchai.pk, somchai_longer.pk])): (["name"], 70),
        tuple(sorted([fang.pk, fang_latin.pk])): (["name"], 70),
    }


def test_scan_compares_names_within_a_block_larger_than_its_window(alpha: Workspace) -> None:
    # "mari rossi" and "maria rossi" are apart in the order of whole keys (the Marias sort
    # between them) and read backwards ("jacob rossi" sorts between them): only the block of
    # the word "rossi", ordered by the other words, puts them side by side.
    for last in ("Abbott", "Bell", "Carter", "Dixon", "Ellis", "Foster", "Grant", "Hughes"):
        _contact(alpha, "Maria", last)
    _contact(alpha, "Jacob", "Rossi")
    mari = _contact(alpha, "Mari", "Rossi")
    maria = _contact(alpha, "Maria", "Rossi")
    if _answered_without_trigrams():
        return

    assert duplicates_scan(entity="contact", window=1) == 1
    assert _scan_groups() == {(mari.pk, maria.pk): (["name"], 70)}


def test_scan_a_crowded_name_makes_no_group_and_groups_stay_small(
    alpha: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(duplicates, "MOST_ALIKE", 3)
    for _n in range(4):
        _contact(alpha, "John", "Smith")
    _contact(alpha, "John", "Smiths")
    browns = [_contact(alpha, "Sarah", f"Brown{n}") for n in range(1, 6)]
    if _answered_without_trigrams():
        return

    assert duplicates_scan(entity="contact") == 2
    groups = _scan_groups()
    # The four John Smiths say nothing; the five similar Browns make groups of at most three.
    assert sorted(len(ids) for ids in groups) == [2, 3]
    assert sorted(pk for ids in groups for pk in ids) == sorted(c.pk for c in browns)
    assert list(groups.values()) == [(["name"], 70)] * 2
