"""Custom-field filters on the list pages of contacts, companies, leads and deals: one reading of
the ``cf_`` parameters for the pages, their exports and saved views, and the API."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm_modules.sales import custom_filters, services
from crm_modules.sales.models import CustomField, SavedView
from crm_modules.sales.services.deals import StageInput
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.sales.conftest import fresh

pytestmark = pytest.mark.usefixtures("in_alpha")

LISTS = {
    "contact": "/sales/contacts/",
    "company": "/sales/companies/",
    "lead": "/sales/leads/",
    "deal": "/sales/deals/list/",
}
API = {
    "contact": "/api/v1/sales/contacts/",
    "company": "/api/v1/sales/companies/",
    "lead": "/api/v1/sales/leads/",
    "deal": "/api/v1/sales/deals/",
}
ROW = {
    "contact": r'data-contact="(\d+)"',
    "company": r'data-company="(\d+)"',
    "lead": r'data-lead="(\d+)"',
    "deal": r'data-deal="(\d+)"',
}


def _define(entity: str) -> None:
    actor = fresh_owner()
    specs: list[tuple[str, str, list[str] | None]] = [
        ("note", "text", None),
        ("seats", "number", None),
        ("budget", "currency", None),
        ("renewal", "date", None),
        ("signed", "datetime", None),
        ("vip", "boolean", None),
        ("tier", "select", ["gold", "silver"]),
        ("topics", "multi_select", ["crm", "erp"]),
    ]
    for code, kind, options in specs:
        services.custom_field_create(
            actor=actor, entity=entity, code=code, label=code.title(), type=kind, options=options
        )


_OWNER: dict[str, Any] = {}


def fresh_owner() -> Any:
    return fresh(_OWNER["owner"])


@pytest.fixture(autouse=True)
def _owner(alpha: Workspace) -> None:
    _OWNER["owner"] = alpha.owner


def _create(entity: str, name: str, custom: dict[str, Any]) -> Any:
    actor = fresh_owner()
    if entity == "contact":
        return services.contact_create(actor=actor, first_name=name, custom_fields=custom)
    if entity == "company":
        return services.company_create(actor=actor, name=name, custom_fields=custom)
    if entity == "lead":
        return services.lead_create(
            actor=actor, first_name=name, source="web", custom_fields=custom
        )
    stage = _OWNER.get("stage")
    if stage is None:
        pipeline = services.pipeline_create(
            actor=actor, name="Sales", stages=[StageInput("New", 10)]
        )
        stage = _OWNER["stage"] = pipeline.stages.get()
    return services.deal_create(actor=actor, name=name, stage=stage.pk, custom_fields=custom)


def _records(entity: str) -> dict[str, Any]:
    _OWNER.pop("stage", None)
    _define(entity)
    return {
        "gold": _create(
            entity,
            "Gold",
            {
                "note": "Wants the 50% Discount",
                "seats": 12,
                "budget": "1500.50",
                "renewal": "2027-01-31",
                "signed": "2026-03-01T23:30:00+00:00",
                "vip": True,
                "tier": "gold",
                "topics": ["crm", "erp"],
            },
        ),
        "silver": _create(
            entity,
            "Silver",
            {
                "note": "цена: discount later",
                "seats": 3,
                "budget": "99",
                "renewal": "2026-06-01",
                "signed": "2026-03-02T00:30:00+00:00",
                "vip": False,
                "tier": "silver",
                "topics": ["erp"],
            },
        ),
        "blank": _create(entity, "Blank", {}),
    }


def _ids(entity: str, page: str) -> set[int]:
    return {int(pk) for pk in re.findall(ROW[entity], page)}


def _type_cases(records: dict[str, Any]) -> list[tuple[dict[str, Any], set[int]]]:
    gold, silver = records["gold"].pk, records["silver"].pk
    return [
        ({"cf_note__contains": "discount"}, {gold, silver}),
        ({"cf_note__contains": "50% disc"}, {gold}),
        ({"cf_note__contains": "ЦЕНА"}, {silver}),
        ({"cf_note": "Wants the 50% Discount"}, {gold}),
        ({"cf_seats__gte": "10"}, {gold}),
        ({"cf_seats__lte": "3"}, {silver}),
        ({"cf_seats__gte": "3", "cf_seats__lte": "12"}, {gold, silver}),
        ({"cf_budget__gte": "1500.50"}, {gold}),
        ({"cf_budget__lte": "1500.49"}, {silver}),
        ({"cf_renewal__gte": "2027-01-01"}, {gold}),
        ({"cf_renewal__lte": "2026-06-01"}, {silver}),
        ({"cf_signed__lte": "2026-03-01"}, {gold}),
        ({"cf_signed__gte": "2026-03-02"}, {silver}),
        ({"cf_vip": "true"}, {gold}),
        ({"cf_vip": "false"}, {silver}),
        ({"cf_tier": "silver"}, {silver}),
        ({"cf_topics": "crm"}, {gold}),
        ({"cf_topics": "erp"}, {gold, silver}),
        ({"cf_tier": "", "cf_seats__gte": ""}, {gold, silver, records["blank"].pk}),
    ]


def _any_cases(records: dict[str, Any]) -> list[tuple[dict[str, Any], set[int]]]:
    gold, silver = records["gold"].pk, records["silver"].pk
    return [
        ({"cf_topics__any": ["crm"]}, {gold}),
        ({"cf_topics__any": ["crm", "erp"]}, {gold, silver}),
        ({"cf_topics": ["crm", "erp"]}, {gold}),
        ({"cf_tier__any": ["gold", "silver"]}, {gold, silver}),
        ({"cf_tier__any": ["silver"], "cf_topics__any": ["crm", "erp"]}, {silver}),
    ]


@pytest.mark.parametrize("entity", list(LISTS))
def test_each_list_page_filters_by_custom_fields_of_every_type(
    alpha: Workspace, entity: str
) -> None:
    records = _records(entity)
    client = workspace_client(alpha.members[Role.READ_ONLY].user, alpha.tenant)
    for params, expected in _type_cases(records):
        response = client.get(LISTS[entity], params)
        assert response.status_code == 200, params
        assert _ids(entity, response.content.decode()) == expected, params


@pytest.mark.parametrize("entity", list(LISTS))
def test_each_list_and_its_api_take_any_of_several_options(alpha: Workspace, entity: str) -> None:
    """``cf_<code>__any`` (ADR 0069): a multi select having any of the options, a select being
    one of them; the plain parameter repeated still asks for all of them."""
    records = _records(entity)
    client = workspace_client(alpha.members[Role.READ_ONLY].user, alpha.tenant)
    for params, expected in _any_cases(records):
        response = client.get(LISTS[entity], params)
        assert response.status_code == 200, params
        assert _ids(entity, response.content.decode()) == expected, params
        listed = client.get(API[entity], params)
        assert listed.status_code == 200, params
        assert {row["id"] for row in listed.json()["results"]} == expected, params
    page = client.get(LISTS[entity], {"cf_topics__any": ["erp"]}).content.decode()
    assert 'type="checkbox" name="cf_topics__any" value="erp" checked' in page
    bad = client.get(API[entity], {"cf_seats__any": ["3"]})
    assert bad.status_code == 400
    assert bad.json()["error"]["fields"].keys() == {"custom_fields.seats"}


@pytest.mark.parametrize("checked", [True, False], ids=["checked on rows", "through the index"])
@pytest.mark.parametrize("entity", list(LISTS))
def test_conditions_find_the_same_records_checked_on_few_rows_or_through_the_index(
    alpha: Workspace, entity: str, checked: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the list's other filters leave few rows, the custom conditions are checked on them
    rather than through the GIN indexes (ADR 0086); both ways find the same records."""
    monkeypatch.setattr(custom_filters, "CHECK_ON_ROWS_MAX", 10**9 if checked else -1)
    records = _records(entity)
    client = workspace_client(alpha.owner.user, alpha.tenant)
    for params, expected in [*_type_cases(records), *_any_cases(records)]:
        mine = {**params, "mine": "1"}
        with CaptureQueriesContext(connection) as queries:
            response = client.get(LISTS[entity], mine)
        sql = " ".join(query["sql"] for query in queries.captured_queries)
        assert response.status_code == 200, params
        assert _ids(entity, response.content.decode()) == expected, params
        listed = client.get(API[entity], {**params, "owner": str(alpha.owner.user_id)})
        assert {row["id"] for row in listed.json()["results"]} == expected, params
        if any(key.startswith("cf_tier") and value for key, value in params.items()):
            assert ('."custom" @> ' in sql) is not checked, params
            assert ('."custom" -> ' in sql) is checked, params


@pytest.mark.parametrize("entity", list(LISTS))
def test_a_value_that_does_not_fit_the_field_is_refused_naming_it(
    alpha: Workspace, entity: str
) -> None:
    _records(entity)
    client = workspace_client(alpha.members[Role.READ_ONLY].user, alpha.tenant)
    for params, message in (
        ({"cf_seats__gte": "abc"}, "Seats: Enter a number such as 12.50."),
        ({"cf_renewal__lte": "31/31/2026"}, "Renewal: "),
        ({"cf_tier": "platinum"}, "Tier: Choose a value from the list."),
        ({"cf_vip": "maybe"}, "Vip: Choose yes or no."),
        ({"cf_tier__gte": "gold"}, "Tier: Only a number or a date field has a range."),
        ({"cf_seats__contains": "1"}, "Seats: Only a text field can be searched for words."),
        ({"cf_nothing": "1"}, "There is no custom field filter “cf_nothing”."),
    ):
        response = client.get(LISTS[entity], params)
        assert response.status_code == 400, params
        page = response.content.decode()
        error = re.search(r'data-testid="custom-filter-error">([^<]*)<', page)
        assert error is not None, params
        assert message in error.group(1).replace("&quot;", '"'), params
        assert _ids(entity, page) == set(), params


@pytest.mark.parametrize("entity", list(LISTS))
def test_the_page_offers_fields_in_use_with_inputs_of_their_type(
    alpha: Workspace, entity: str
) -> None:
    _define(entity)
    tier = CustomField.objects.get(entity=entity, code="tier")
    services.custom_field_archive(actor=fresh(alpha.owner), field=tier, archived=True)
    client = workspace_client(alpha.members[Role.READ_ONLY].user, alpha.tenant)
    page = client.get(LISTS[entity], {"cf_seats__gte": "2"}).content.decode()
    assert 'data-testid="custom-filters" open' in page
    assert 'name="cf_note__contains"' in page
    assert 'name="cf_seats__gte" value="2" inputmode="decimal"' in page
    assert 'type="date" id="cf_renewal__gte"' in page
    assert '<option value="silver"' not in page
    assert 'data-custom-filter="tier"' not in page
    # An archived field is not a filter any more: asked for, it is refused by name.
    response = client.get(LISTS[entity], {"cf_tier": "gold"})
    assert response.status_code == 400


@pytest.mark.parametrize("entity", list(LISTS))
def test_the_api_filters_with_the_same_operators(alpha: Workspace, entity: str) -> None:
    records = _records(entity)
    client = workspace_client(alpha.owner.user, alpha.tenant)
    got = client.get(API[entity], {"cf_seats__gte": "10", "cf_note__contains": "DISCOUNT"})
    assert [r["id"] for r in got.json()["results"]] == [records["gold"].pk]
    bad = client.get(API[entity], {"cf_seats__lte": "abc"})
    assert bad.status_code == 400
    assert list(bad.json()["error"]["fields"]) == ["custom_fields.seats"]
    assert bad.json()["error"]["message"] == "Seats: Enter a number such as 12.50."


def test_an_export_and_a_saved_view_keep_the_custom_filters(alpha: Workspace) -> None:
    records = _records("contact")
    client = workspace_client(alpha.members[Role.ADMIN].user, alpha.tenant)
    params = {"cf_seats__gte": "10", "cf_tier": "", "cf_note__contains": ""}
    page = client.get(LISTS["contact"], params).content.decode()
    assert '<input type="hidden" name="cf_seats__gte" value="10">' in page
    match = re.search(r'name="query" value="([^"]*)"', page)
    assert match is not None
    assert match.group(1) == "cf_seats__gte=10"

    response = client.post("/data/export/contacts/", {**params, "format": "csv"})
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [int(row[0]) for row in rows[1:]] == [records["gold"].pk]

    client.post(
        "/sales/views/",
        {"entity": "contact", "name": "Big", "query": match.group(1), "next": "/sales/contacts/"},
    )
    connection.set_tenant(alpha.tenant)  # type: ignore[attr-defined]
    view = SavedView.objects.get(name="Big")
    assert view.query == "cf_seats__gte=10"
    opened = client.get(f"{LISTS['contact']}?{view.query}").content.decode()
    assert _ids("contact", opened) == {records["gold"].pk}


def test_an_export_with_a_bad_custom_filter_exports_nothing(alpha: Workspace) -> None:
    _records("contact")
    client = workspace_client(alpha.members[Role.ADMIN].user, alpha.tenant)
    response = client.post("/data/export/contacts/", {"cf_seats__gte": "abc", "format": "csv"})
    assert response.status_code == 302
    assert response["Location"] == "/sales/contacts/?cf_seats__gte=abc"
    assert "Content-Disposition" not in response


def test_a_text_filter_is_read_as_typed_never_as_a_pattern(alpha: Workspace) -> None:
    _define("contact")
    odd = _create("contact", "Odd", {"note": 'say "hi" \\ 100%_done'})
    _create("contact", "Plain", {"note": "say hi 100 done"})
    client = workspace_client(alpha.owner.user, alpha.tenant)
    for text in ('"hi" \\', "100%_", "%", "_"):
        page = client.get(LISTS["contact"], {"cf_note__contains": text}).content.decode()
        assert _ids("contact", page) == {odd.pk}, text


def test_an_export_keeps_every_value_of_a_repeated_filter(alpha: Workspace, tmp_path: Any) -> None:
    """A multi select asked for two options lists the records having both: the export form
    carries both values, and the inline export, the one kept for a worker and the API's all
    export those records only."""
    from crm_modules.dataio.models import ExportJob
    from crm_modules.dataio.services import exports

    records = _records("contact")
    gold = records["gold"].pk
    client = workspace_client(alpha.members[Role.ADMIN].user, alpha.tenant)
    query = "cf_topics=crm&cf_topics=erp&q="
    page = client.get(f"{LISTS['contact']}?{query}").content.decode()
    assert _ids("contact", page) == {gold}
    assert '<input type="hidden" name="cf_topics" value="crm">' in page
    assert '<input type="hidden" name="cf_topics" value="erp">' in page

    response = client.post("/data/export/contacts/", {"cf_topics": ["crm", "erp"], "format": "csv"})
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [int(row[0]) for row in rows[1:]] == [gold]

    # Refused, the list is opened again with both values.
    bad = client.post("/data/export/contacts/", {"cf_topics": ["crm", "cobol"], "format": "csv"})
    assert bad["Location"] == "/sales/contacts/?cf_topics=crm&cf_topics=cobol"

    api = client.post(
        "/api/v1/data/exports/",
        data={"entity": "contact", "filters": {"cf_topics": ["crm", "erp"], "q": ""}},
        content_type="application/json",
    )
    assert api.status_code == 202, api.content
    assert api.json()["filters"] == {"cf_topics": ["crm", "erp"]}
    wrong = client.post(
        "/api/v1/data/exports/",
        data={"entity": "contact", "filters": {"cf_topics": [1, {}]}},
        content_type="application/json",
    )
    assert wrong.status_code == 400
    assert list(wrong.json()["error"]["fields"]) == ["filters"]

    connection.set_tenant(alpha.tenant)  # type: ignore[attr-defined]
    job = ExportJob.objects.get(pk=api.json()["id"])
    path = tmp_path / "export.csv"
    count = exports.export_write(
        actor=fresh_owner(), entity="contact", filters=job.filters, file_format="csv", path=path
    )
    written = list(csv.reader(io.StringIO(path.read_text("utf-8-sig"))))
    assert (count, [int(row[0]) for row in written[1:]]) == (1, [gold])
    book = tmp_path / "export.xlsx"
    owner = fresh_owner()
    kept = job.filters
    in_book = exports.export_write(
        actor=owner, entity="contact", filters=kept, file_format="xlsx", path=book
    )
    assert in_book == 1
