"""The narrow table of contact name keys that the duplicate check searches (ADR 0064): it follows
every way contacts are written, and the check over it ranks and excludes as before."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from crm_modules.sales import services
from crm_modules.sales.models import Contact, ContactNameKey
from crm_modules.sales.services.duplicates import (
    MAX_MATCHES,
    contact_duplicates,
    contact_name_key,
)
from crm_platform.indexes import trigram_available
from tests.conftest import Workspace
from tests.sales.conftest import fresh

pytestmark = pytest.mark.usefixtures("in_alpha")


def _keys() -> dict[int, str]:
    return dict(ContactNameKey.objects.values_list("contact_id", "name_key"))


def _contact(alpha: Workspace, first: str, last: str = "", **kwargs: Any) -> Contact:
    return services.contact_create(
        actor=fresh(alpha.owner), first_name=first, last_name=last, **kwargs
    )


def test_the_table_follows_creates_renames_and_deletes(alpha: Workspace) -> None:
    anna = _contact(alpha, "Анна", "Иванова")
    assert _keys() == {anna.pk: "anna ivanova"}

    services.contact_update(
        actor=fresh(alpha.owner), contact=anna, changes={"last_name": "Petrova"}
    )
    assert _keys() == {anna.pk: "anna petrova"}

    services.contact_delete(actor=fresh(alpha.owner), contact=Contact.objects.get(pk=anna.pk))
    assert _keys() == {}


def test_bulk_and_raw_writes_keep_the_table_and_score_writes_leave_it(alpha: Workspace) -> None:
    made = Contact.objects.bulk_create(
        [
            Contact(first_name="Wang", last_name="Fang", name_key=contact_name_key("Wang", "Fang")),
            Contact(first_name="Giulia", last_name="Rossi", name_key="giulia rossi"),
        ]
    )
    assert _keys() == {made[0].pk: "fang wang", made[1].pk: "giulia rossi"}

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE sales_contact SET name_key = 'giulia russo' WHERE id = %s", [made[1].pk]
        )
        # A score write does not name name_key: the key row is not rewritten (its tuple stays).
        cursor.execute(
            "SELECT xmin::text FROM sales_contactnamekey WHERE contact_id = %s", [made[0].pk]
        )
        before = cursor.fetchone()
        cursor.execute("UPDATE sales_contact SET score = score + 5 WHERE id = %s", [made[0].pk])
        cursor.execute(
            "SELECT xmin::text FROM sales_contactnamekey WHERE contact_id = %s", [made[0].pk]
        )
        assert cursor.fetchone() == before
    assert _keys() == {made[0].pk: "fang wang", made[1].pk: "giulia russo"}

    Contact.objects.filter(pk=made[0].pk).delete()
    assert _keys() == {made[1].pk: "giulia russo"}


def test_the_ten_most_similar_names_are_kept_and_exclusions_refilled(alpha: Workspace) -> None:
    twins = [_contact(alpha, "Marco", "Bianchi") for _ in range(3)]
    near = [_contact(alpha, "Marco", f"Bianchi{n}") for n in range(MAX_MATCHES)]
    _contact(alpha, "Somebody", "Else")

    matches = contact_duplicates(first_name="Marco", last_name="Bianchi")
    if not trigram_available():
        # Without the extension only equal keys match: the check still answers, never fails.
        assert sorted(m.record.pk for m in matches) == sorted(c.pk for c in twins)
        after = contact_duplicates(
            first_name="Marco", last_name="Bianchi", exclude_ids=[twins[2].pk]
        )
        assert sorted(m.record.pk for m in after) == sorted(c.pk for c in twins[:2])
        return
    # The ten most similar names: the equal keys, then of the equally near ones the newest;
    # shown newest first (all have the same confidence).
    kept = [*twins, *near[-7:]]
    assert [m.record.pk for m in matches] == sorted((c.pk for c in kept), reverse=True)
    assert all(m.reasons == ["name"] and m.confidence == 70 for m in matches)

    # Excluded records leave their places to the next most similar names.
    excluded = [twins[2].pk, twins[1].pk]
    after = contact_duplicates(first_name="Marco", last_name="Bianchi", exclude_ids=excluded)
    kept = [twins[0], *near[-9:]]
    assert [m.record.pk for m in after] == sorted((c.pk for c in kept), reverse=True)


def test_email_phone_and_name_hits_of_one_contact_make_one_match(alpha: Workspace) -> None:
    # Equal name keys: the same answer with or without pg_trgm.
    bruno = _contact(
        alpha, "Bruno", "Verdi", emails=["bruno@verdi.example"], phones=["+39 06 6982 1200"]
    )
    matches = contact_duplicates(
        first_name="Bruno",
        last_name="Verdi",
        emails=["BRUNO@verdi.example", "bruno@verdi.example"],
        phones=["+390669821200"],
    )
    assert [(m.record.pk, m.reasons, m.confidence) for m in matches] == [
        (bruno.pk, ["email", "phone", "name"], 100)
    ]
