"""Lists sorted by a custom field (ADR 0070): ``sort=cf_<code>`` / ``sort=-cf_<code>`` on the
list pages of contacts, companies, leads and deals, their exports and saved views, and the API.
Each type orders by its kind of value, records without a value come last both ways, ties go by
id, and keyset pages neither skip nor repeat a record."""

from __future__ import annotations

import csv
import datetime
import io
import re
from decimal import Decimal
from typing import Any

import pytest

from crm_modules.sales import services
from crm_modules.sales.filters import list_for, list_order
from crm_modules.sales.keyset import ValueOrder, keyset_page
from crm_modules.sales.models import Company, Contact, CustomField, Deal, Lead
from tenants.models import Tenant, User
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
from tests.sales.test_custom_field_filters import API, LISTS, ROW

pytestmark = pytest.mark.usefixtures("in_alpha")

MODELS: dict[str, Any] = {"contact": Contact, "company": Company, "lead": Lead, "deal": Deal}
FIELDS: list[tuple[str, str, list[str] | None]] = [
    ("note", "text", None),
    ("seats", "number", None),
    ("ratio", "decimal", None),
    ("budget", "currency", None),
    ("renewal", "date", None),
    ("signed", "datetime", None),
    ("vip", "boolean", None),
    ("tier", "select", ["gold", "silver", "bronze"]),
    ("topics", "multi_select", ["crm", "erp"]),
    ("manager", "member", None),
]


def _define(alpha: Workspace, entity: str) -> None:
    for code, kind, options in FIELDS:
        services.custom_field_create(
            actor=fresh(alpha.owner),
            entity=entity,
            code=code,
            label=code.title(),
            type=kind,
            options=options,
        )


def _make(alpha: Workspace, entity: str, custom: dict[str, Any], owner: Any = None) -> Any:
    """A record with ``custom`` stored as given (a value of the wrong type included)."""
    user = (owner or alpha.owner).user
    if entity == "contact":
        return ContactFactory.create(custom=custom, owner=user)
    if entity == "company":
        return CompanyFactory.create(custom=custom, owner=user)
    if entity == "lead":
        return LeadFactory.create(custom=custom, owner=user)
    pipeline = PipelineFactory._meta.model.objects.first() or PipelineFactory.create()
    return DealFactory.create(custom=custom, owner=user, pipeline=pipeline)


def _expected(records: list[tuple[int, Any]], *, descending: bool) -> list[int]:
    """Ids in the order the list must show: by value (records without one last), ties by id,
    everything in the sort's direction."""
    valued = sorted((v, pk) for pk, v in records if v is not None)
    empty = sorted(pk for pk, v in records if v is None)
    if descending:
        return [pk for _v, pk in reversed(valued)] + list(reversed(empty))
    return [pk for _v, pk in valued] + empty


def _ids(entity: str, page: str) -> list[int]:
    return [int(pk) for pk in re.findall(ROW[entity], page)]


def _api_all(client: Any, entity: str, params: dict[str, Any]) -> list[int]:
    """Every id the API lists, following its ``next`` links; then, from the last page, its
    ``previous`` links lead back through the same pages to the first."""
    pages: list[list[int]] = []
    response = client.get(API[entity], params)
    assert response.status_code == 200, response.content
    while True:
        body = response.json()
        assert (body["previous"] is None) == (not pages)
        pages.append([row["id"] for row in body["results"]])
        if not body["next"]:
            break
        response = client.get(body["next"])
        assert response.status_code == 200
    back = len(pages) - 1
    while body["previous"]:
        response = client.get(body["previous"])
        assert response.status_code == 200
        body = response.json()
        back -= 1
        assert [row["id"] for row in body["results"]] == pages[back]
    assert back == 0
    return [pk for page in pages for pk in page]


# Per field: the stored values (None: no value) and the value each stands for in the order.
VALUES: dict[str, list[tuple[Any, Any]]] = {
    "seats": [(10, 10), (9, 9), (None, None), (-3, -3), (10, 10), ("abc", None)],
    "ratio": [("2.5", Decimal("2.5")), ("10", Decimal("10")), ("1E+1", Decimal("10"))],
    "budget": [("1500.50", Decimal("1500.50")), ("99.00", Decimal("99")), ("", None)],
    # A date-shaped impossible date (a deleted text field's value) orders as its text and
    # fails nothing; a date and time not stored as the field stores them is no value.
    "renewal": [
        ("2027-01-31", "2027-01-31"),
        ("2026-12-01", "2026-12-01"),
        (True, None),
        ("2026-02-31", "2026-02-31"),
    ],
    "signed": [
        ("2026-03-01T23:30:00+00:00", datetime.datetime(2026, 3, 1, 23, 30, tzinfo=datetime.UTC)),
        (
            "2026-03-02T00:30:00.500000+00:00",
            datetime.datetime(2026, 3, 2, 0, 30, 0, 500000, datetime.UTC),
        ),
        ("2026-03-02T00:30:00+00:00", datetime.datetime(2026, 3, 2, 0, 30, tzinfo=datetime.UTC)),
        ("2026-02-31T10:00:00+00:00", datetime.datetime(2026, 2, 28, 10, 0, tzinfo=datetime.UTC)),
        ("2026-03-05T10:00:00+02:00", None),
    ],
    "vip": [(True, True), (False, False), ("yes", None), (True, True)],
    "tier": [("silver", "silver"), ("gold", "gold"), ("", None), ("bronze", "bronze")],
    "note": [("banana", "banana"), ("apple", "apple"), (None, None), ("cherry", "cherry")],
}


@pytest.mark.parametrize("entity", list(LISTS))
def test_each_list_and_its_api_sort_by_each_type_of_field(alpha: Workspace, entity: str) -> None:
    _define(alpha, entity)
    client = workspace_client(alpha.members[Role.READ_ONLY].user, alpha.tenant)
    for code, values in VALUES.items():
        MODELS[entity].objects.all().delete()
        made = [
            (_make(alpha, entity, {} if stored is None else {code: stored}).pk, meant)
            for stored, meant in values
        ]
        for descending in (False, True):
            sort = f"{'-' if descending else ''}cf_{code}"
            expected = _expected(made, descending=descending)
            response = client.get(LISTS[entity], {"sort": sort})
            assert response.status_code == 200, sort
            assert _ids(entity, response.content.decode()) == expected, sort
            assert _api_all(client, entity, {"sort": sort}) == expected, sort


@pytest.mark.parametrize("entity", list(LISTS))
def test_keyset_pages_show_every_record_once_across_ties_and_empty_values(
    alpha: Workspace, entity: str
) -> None:
    _define(alpha, entity)
    stored = [5, None, 5, 2, None, 5, 2, 9, None, 5, 2, None, 7]
    made = [(_make(alpha, entity, {} if v is None else {"seats": v}).pk, v) for v in stored]
    actor = fresh(alpha.owner)
    client = workspace_client(alpha.owner.user, alpha.tenant)
    for descending in (False, True):
        params = {"sort": f"{'-' if descending else ''}cf_seats"}
        expected = _expected(made, descending=descending)
        for size in (1, 2, 3, 4, 5):
            order = list_order(entity, params)
            records = list_for(entity, actor=actor, params=params, order=order)
            seen: list[int] = []
            after = ""
            while True:
                page = keyset_page(records, order=order, after=after, size=size)
                seen.extend(r.pk for r in page.rows)
                if not page.next_cursor:
                    break
                after = page.next_cursor
            assert seen == expected, (params, size)
            # And back from the last page to the first.
            back: list[int] = list(page.rows and [r.pk for r in page.rows])
            while page.previous_cursor:
                page = keyset_page(records, order=order, after=page.previous_cursor, size=size)
                assert len(page.rows) == size
                back[:0] = [r.pk for r in page.rows]
            assert back == expected, (params, size)
        assert _api_all(client, entity, {**params, "page_size": 2}) == expected


def test_the_page_follows_its_next_link_in_the_custom_order(alpha: Workspace) -> None:
    _define(alpha, "contact")
    made = [
        (
            _make(alpha, "contact", {} if n % 7 == 0 else {"seats": n % 4}).pk,
            None if n % 7 == 0 else n % 4,
        )
        for n in range(1, 71)
    ]
    client = workspace_client(alpha.owner.user, alpha.tenant)
    first = client.get(LISTS["contact"], {"sort": "-cf_seats", "q": ""}).content.decode()
    match = re.search(r'href="\?([^"]*)" data-testid="next-page"', first)
    assert match is not None
    second = client.get(LISTS["contact"] + "?" + match.group(1).replace("&amp;", "&"))
    assert "sort=-cf_seats" in match.group(1)
    seen = _ids("contact", first) + _ids("contact", second.content.decode())
    assert seen == _expected(made, descending=True)


def test_a_cursor_of_another_order_or_a_forged_one_starts_from_the_first_page(
    alpha: Workspace,
) -> None:
    _define(alpha, "contact")
    made = [(_make(alpha, "contact", {"seats": n, "note": f"n{n}"}).pk, n) for n in (3, 1, 2)]
    actor = fresh(alpha.owner)
    by_note = list_order("contact", {"sort": "cf_note"})
    by_seats = list_order("contact", {"sort": "cf_seats"})
    assert isinstance(by_seats, ValueOrder)
    records = list_for("contact", actor=actor, params={}, order=by_seats)
    note_cursor = keyset_page(
        list_for("contact", actor=actor, params={}, order=by_note), order=by_note, after="", size=1
    ).next_cursor
    expected = _expected(made, descending=False)
    for after in (
        note_cursor,
        "garbage",
        by_seats.cursor("not a number", 1),
        by_seats.cursor("NaN", 1),
        by_seats.cursor("not a number", 1, backward=True),
    ):
        page = keyset_page(records, order=by_seats, after=after, size=10)
        assert [r.pk for r in page.rows] == expected


@pytest.mark.parametrize("entity", list(LISTS))
def test_a_field_that_cannot_sort_the_list_is_refused_by_the_api_and_ignored_by_the_page(
    alpha: Workspace, entity: str
) -> None:
    _define(alpha, entity)
    other = "company" if entity != "company" else "contact"
    services.custom_field_create(
        actor=fresh(alpha.owner), entity=other, code="elsewhere", label="Elsewhere", type="text"
    )
    archived = services.custom_field_create(
        actor=fresh(alpha.owner), entity=entity, code="old", label="Old", type="number"
    )
    services.custom_field_archive(actor=fresh(alpha.owner), field=archived, archived=True)
    made = [_make(alpha, entity, {"seats": n, "old": n}).pk for n in (2, 1, 3)]
    client = workspace_client(alpha.owner.user, alpha.tenant)
    default = _ids(entity, client.get(LISTS[entity]).content.decode())
    assert sorted(default) == sorted(made)
    for sort in (
        "cf_nothing",
        "-cf_old",
        "cf_topics",
        "-cf_manager",
        "cf_elsewhere",
        "cf_",
        "-cf_SEATS",
        "bogus",
    ):
        refused = client.get(API[entity], {"sort": sort})
        assert refused.status_code == 400, sort
        error = refused.json()["error"]
        assert error["fields"].keys() == {"sort"}, sort
        page = client.get(LISTS[entity], {"sort": sort})
        if sort == "bogus" and entity == "deal":
            assert page.status_code == 400  # a built-in order the deals form does not know
            continue
        assert page.status_code == 200, sort
        assert _ids(entity, page.content.decode()) == default, sort
    assert (
        client.get(API[entity], {"sort": "cf_topics"}).json()["error"]["fields"]["sort"][0]
        == "Topics: a field of this type cannot order a list."
    )
    assert (
        client.get(API[entity], {"sort": "cf_elsewhere"}).json()["error"]["fields"]["sort"][0]
        == "There is no custom field “elsewhere” to sort by."
    )


@pytest.mark.parametrize("entity", list(LISTS))
def test_a_sorted_list_keeps_a_restricted_rep_to_their_own_records(
    alpha: Workspace, entity: str
) -> None:
    _define(alpha, entity)
    rep = alpha.members[Role.SALES_REP]
    mine = [_make(alpha, entity, {"seats": n}, owner=rep).pk for n in (4, 1)]
    _make(alpha, entity, {"seats": 2}, owner=alpha.owner)
    _make(alpha, entity, {}, owner=alpha.owner)
    Tenant.objects.filter(pk=alpha.tenant.pk).update(restrict_record_visibility=True)
    client = workspace_client(rep.user, alpha.tenant)
    expected = [mine[1], mine[0]]
    page = client.get(LISTS[entity], {"sort": "cf_seats"})
    assert _ids(entity, page.content.decode()) == expected
    assert _api_all(client, entity, {"sort": "cf_seats", "page_size": 1}) == expected
    listed = list_for(entity, actor=fresh(rep), params={"sort": "-cf_seats"})
    assert [r.pk for r in listed] == list(reversed(expected))


@pytest.mark.parametrize("entity", list(LISTS))
def test_the_page_offers_the_sortable_fields_in_its_order_choice(
    alpha: Workspace, entity: str
) -> None:
    _define(alpha, entity)
    client = workspace_client(alpha.owner.user, alpha.tenant)
    page = client.get(LISTS[entity], {"sort": "-cf_budget"}).content.decode()
    for code in ("note", "seats", "ratio", "budget", "renewal", "signed", "vip", "tier"):
        assert f'<option value="cf_{code}"' in page, code
        assert f'<option value="-cf_{code}"' in page, code
    assert 'cf_topics"' not in page.replace('name="cf_topics', "")
    assert 'value="cf_manager"' not in page
    assert '<option value="-cf_budget" selected>Custom field: Budget, descending</option>' in page
    assert "Custom field: Budget, ascending" in page

    User.objects.filter(pk=alpha.owner.user_id).update(language="ru")
    translated = client.get(LISTS[entity]).content.decode()
    assert "Custom field: Budget" not in translated
    assert "Дополнительное поле: Budget, по убыванию" in translated


def test_a_saved_view_and_an_export_keep_the_custom_sort(alpha: Workspace) -> None:
    _define(alpha, "contact")
    made = [
        (_make(alpha, "contact", {"seats": n} if n else {}).pk, n or None) for n in (3, 0, 1, 2)
    ]
    client = workspace_client(alpha.members[Role.ADMIN].user, alpha.tenant)
    page = client.get(LISTS["contact"], {"sort": "-cf_seats"}).content.decode()
    match = re.search(r'name="query" value="([^"]*)"', page)
    assert match is not None
    assert match.group(1) == "sort=-cf_seats"
    saved = client.post(
        "/sales/views/",
        {"entity": "contact", "name": "Most seats", "query": match.group(1), "shared": "on"},
    )
    assert saved.status_code == 302
    assert saved["Location"] == "/sales/contacts/?sort=-cf_seats"
    shown = client.get(saved["Location"])
    assert _ids("contact", shown.content.decode()) == _expected(made, descending=True)

    response = client.post("/data/export/contacts/", {"sort": "cf_seats", "format": "csv"})
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [int(row[0]) for row in rows[1:]] == _expected(made, descending=False)


def test_a_saved_view_sorted_by_a_field_archived_since_falls_back_to_the_default_order(
    alpha: Workspace,
) -> None:
    _define(alpha, "deal")
    made = [_make(alpha, "deal", {"seats": n}).pk for n in (3, 1, 2)]
    field = CustomField.objects.get(entity="deal", code="seats")
    services.custom_field_archive(actor=fresh(alpha.owner), field=field, archived=True)
    client = workspace_client(alpha.owner.user, alpha.tenant)
    page = client.get(LISTS["deal"], {"sort": "cf_seats"})
    assert page.status_code == 200
    assert _ids("deal", page.content.decode()) == sorted(made, reverse=True)
