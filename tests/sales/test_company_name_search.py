"""A contact is found by its company's name: after the company is renamed, and after
companies are merged or the merge undone (the contacts' search text is refreshed by a task)."""

from __future__ import annotations

from typing import Any

import pytest

from crm_modules.sales import selectors, services
from crm_modules.sales.models import Contact, MergeRecord
from crm_modules.sales.services.contacts import contacts_search_text_refresh
from crm_modules.sales.services.merge import companies_merge, merge_undo
from tests.conftest import Workspace, beside_audit
from tests.sales.conftest import fresh

pytestmark = pytest.mark.usefixtures("in_alpha")


def found(alpha: Workspace, term: str) -> set[int]:
    return {c.pk for c in selectors.contact_list(actor=fresh(alpha.owner), q=term)}


def test_contacts_are_found_by_the_new_name_of_a_renamed_company(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    actor = fresh(alpha.owner)
    company = services.company_create(actor=actor, name="Acme Srl")
    anna = services.contact_create(
        actor=actor, first_name="Anna", last_name="Bianchi", company=company
    )
    before = Contact.objects.get(pk=anna.pk).updated_at
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.company_update(actor=actor, company=company, changes={"name": "Облако ООО"})
    assert len(beside_audit(callbacks)) == 1
    assert found(alpha, "облако") == {anna.pk}
    assert found(alpha, "acme") == set()
    # Derived text only: the contact was not edited by anyone.
    assert Contact.objects.get(pk=anna.pk).updated_at == before


def test_an_edit_that_keeps_the_name_schedules_no_refresh(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    actor = fresh(alpha.owner)
    company = services.company_create(actor=actor, name="Acme Srl")
    with django_capture_on_commit_callbacks() as callbacks:
        services.company_update(actor=actor, company=company, changes={"city": "Milano"})
    assert beside_audit(callbacks) == []


def test_contacts_of_merged_companies_are_found_by_the_survivors_name(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    actor = fresh(alpha.owner)
    keep = services.company_create(actor=actor, name="บริษัท สยาม")
    gone = services.company_create(actor=actor, name="Siam Old Name")
    moved = services.contact_create(actor=actor, first_name="Nok", last_name="K", company=gone)
    with django_capture_on_commit_callbacks(execute=True):
        merge = companies_merge(actor=actor, survivor_id=keep.pk, other_ids=[gone.pk])
    assert found(alpha, "สยาม") == {moved.pk}
    assert found(alpha, "old name") == set()
    with django_capture_on_commit_callbacks(execute=True):
        merge_undo(actor=fresh(alpha.owner), merge=MergeRecord.objects.get(pk=merge.pk))
    assert found(alpha, "old name") == {moved.pk}
    assert found(alpha, "สยาม") == set()


def test_the_refresh_walks_a_company_in_batches(
    alpha: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    actor = fresh(alpha.owner)
    company = services.company_create(actor=actor, name="Batch Co")
    people = [
        services.contact_create(actor=actor, first_name=f"P{i}", last_name="X", company=company)
        for i in range(5)
    ]
    other = services.contact_create(actor=actor, first_name="Elsewhere", last_name="Y")
    Contact.objects.filter(pk__in=[p.pk for p in people] + [other.pk]).update(search_text="")
    monkeypatch.setattr("crm_modules.sales.services.contacts.REFRESH_BATCH", 2)
    assert contacts_search_text_refresh(company_ids=[company.pk]) == 5
    assert found(alpha, "batch co") == {p.pk for p in people}
    assert Contact.objects.get(pk=other.pk).search_text == ""
