"""Custom fields of tickets: defined like those of contacts, companies and deals (the "ticket"
entity of the sales custom fields, ADR 0050), checked by the same rules, set when a ticket is
opened and on its page by agents, read and written through the tickets API, filtered in the
inbox and the API, and kept to their workspace."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from crm_modules.sales import services as sales_services
from crm_modules.sales.models import CustomField
from crm_modules.service import services
from crm_modules.service.models import Ticket
from crm_platform.errors import PermissionDenied, ServiceError
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.service.conftest import fresh

pytestmark = pytest.mark.usefixtures("in_alpha")

FIELDS = "/api/v1/sales/custom-fields/"
TICKETS = "/api/v1/service/tickets/"


def _send(client: Client, method: str, path: str, body: dict[str, Any]) -> Any:
    return client.generic(method, path, data=json.dumps(body), content_type="application/json")


def _define(workspace: Workspace) -> dict[str, CustomField]:
    actor = fresh(workspace.owner)
    specs: list[tuple[str, str, list[str] | None]] = [
        ("tier", "select", ["gold", "silver"]),
        ("units", "number", None),
        ("renewal", "date", None),
        ("areas", "multi_select", ["billing", "login", "mobile"]),
    ]
    return {
        code: sales_services.custom_field_create(
            actor=actor, entity="ticket", code=code, label=code.title(), type=kind, options=options
        )
        for code, kind, options in specs
    }


def _worker(workspace: Workspace) -> Any:
    """A support agent (bravo has only its owner, who works tickets too)."""
    return workspace.members.get(Role.SUPPORT_AGENT) or workspace.owner


def _agent(workspace: Workspace) -> Client:
    return workspace_client(_worker(workspace).user, workspace.tenant)


def _ticket(workspace: Workspace, **kwargs: Any) -> Ticket:
    kwargs.setdefault("subject", "Не могу войти")
    return services.ticket_create(actor=fresh(_worker(workspace)), **kwargs)


# --- definitions ----------------------------------------------------------------------------


def test_an_admin_defines_a_ticket_field_through_the_api(alpha: Workspace) -> None:
    client = workspace_client(alpha.members[Role.ADMIN].user, alpha.tenant)
    response = _send(
        client,
        "POST",
        FIELDS,
        {"entity": "ticket", "code": "tier", "label": "Уровень", "type": "select",
         "options": ["gold", "silver"]},
    )  # fmt: skip
    assert response.status_code == 201, response.content
    assert (response.json()["entity"], response.json()["code"]) == ("ticket", "tier")
    listed = client.get(f"{FIELDS}?entity=ticket").json()["results"]
    assert [f["code"] for f in listed] == ["tier"]
    # The same code may be used by another kind of record.
    assert _send(
        client, "POST", FIELDS, {"entity": "deal", "code": "tier", "label": "T", "type": "text"}
    ).status_code == 201  # fmt: skip


@pytest.mark.parametrize("role", [Role.MANAGER, Role.SUPPORT_AGENT, Role.SALES_REP, Role.READ_ONLY])
def test_only_owner_and_admin_define_ticket_fields(alpha: Workspace, role: str) -> None:
    client = workspace_client(alpha.members[role].user, alpha.tenant)
    response = _send(
        client, "POST", FIELDS, {"entity": "ticket", "code": "tier", "label": "T", "type": "text"}
    )
    assert response.status_code == 403
    with pytest.raises(PermissionDenied):
        sales_services.custom_field_create(
            actor=fresh(alpha.members[role]), entity="ticket", code="x", label="X", type="text"
        )
    assert not CustomField.objects.exists()


# --- values ---------------------------------------------------------------------------------


def test_values_are_checked_and_normalised_when_a_ticket_is_opened(alpha: Workspace) -> None:
    _define(alpha)
    ticket = _ticket(
        alpha,
        custom_fields={"tier": "gold", "units": "12", "areas": ["mobile", "billing"]},
    )
    assert ticket.custom == {"tier": "gold", "units": 12, "areas": ["billing", "mobile"]}
    assert Ticket.objects.get(pk=ticket.pk).custom == ticket.custom


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"tier": "platinum"}, "custom_fields.tier"),
        ({"units": "many"}, "custom_fields.units"),
        ({"renewal": "31/01/2027"}, "custom_fields.renewal"),
        ({"no_such_field": "x"}, "custom_fields.no_such_field"),
    ],
)
def test_a_bad_value_names_the_field_and_opens_nothing(
    alpha: Workspace, values: dict[str, Any], field: str
) -> None:
    _define(alpha)
    with pytest.raises(ServiceError) as error:
        _ticket(alpha, custom_fields=values)
    assert error.value.field == field
    assert not Ticket.objects.exists()


def test_a_contact_field_is_not_a_ticket_field(alpha: Workspace) -> None:
    sales_services.custom_field_create(
        actor=fresh(alpha.owner), entity="contact", code="tier", label="Tier", type="text"
    )
    with pytest.raises(ServiceError) as error:
        _ticket(alpha, custom_fields={"tier": "gold"})
    assert error.value.field == "custom_fields.tier"


def test_an_update_keeps_the_other_values_and_none_clears(alpha: Workspace) -> None:
    _define(alpha)
    ticket = _ticket(alpha, custom_fields={"tier": "gold", "units": 3})
    agent = fresh(alpha.members[Role.SUPPORT_AGENT])
    services.ticket_update(
        actor=agent, ticket=ticket, changes={"custom_fields": {"units": 4, "tier": None}}
    )
    assert Ticket.objects.get(pk=ticket.pk).custom == {"units": 4}


def test_a_viewer_cannot_change_the_values(alpha: Workspace) -> None:
    _define(alpha)
    ticket = _ticket(alpha, custom_fields={"tier": "gold"})
    with pytest.raises(PermissionDenied):
        services.ticket_update(
            actor=fresh(alpha.members[Role.READ_ONLY]),
            ticket=ticket,
            changes={"custom_fields": {"tier": "silver"}},
        )
    client = workspace_client(alpha.members[Role.READ_ONLY].user, alpha.tenant)
    response = client.post(f"/service/{ticket.pk}/custom/", {"cf_tier": "silver"})
    assert response.status_code == 403
    response = _send(client, "PATCH", f"{TICKETS}{ticket.pk}/", {"custom_fields": {"tier": "x"}})
    assert response.status_code == 403
    assert Ticket.objects.get(pk=ticket.pk).custom == {"tier": "gold"}


# --- pages ----------------------------------------------------------------------------------


def test_the_new_ticket_page_sets_the_values(alpha: Workspace) -> None:
    _define(alpha)
    client = _agent(alpha)
    page = client.get("/service/new/").content.decode()
    assert 'name="cf_tier"' in page
    assert 'name="cf_areas"' in page
    response = client.post(
        "/service/new/",
        {"subject": "Refund", "priority": "high", "type": "question", "channel": "phone",
         "cf_tier": "silver", "cf_units": "7", "cf_areas": ["login", "billing"]},
    )  # fmt: skip
    ticket = Ticket.objects.get()
    assert response["Location"] == f"/service/{ticket.pk}/"
    assert ticket.custom == {"tier": "silver", "units": 7, "areas": ["billing", "login"]}


def test_the_new_ticket_page_names_a_bad_field(alpha: Workspace) -> None:
    _define(alpha)
    response = _agent(alpha).post(
        "/service/new/",
        {"subject": "Refund", "priority": "high", "type": "question", "channel": "phone",
         "cf_units": "lots"},
    )  # fmt: skip
    assert response.status_code == 400
    assert "Units: " in response.content.decode()
    assert not Ticket.objects.exists()


def test_the_ticket_page_shows_and_saves_the_values(alpha: Workspace) -> None:
    _define(alpha)
    ticket = _ticket(alpha, custom_fields={"tier": "gold"})
    client = _agent(alpha)
    page = client.get(f"/service/{ticket.pk}/").content.decode()
    assert 'data-testid="custom-fields"' in page
    assert f'action="/service/{ticket.pk}/custom/"' in page
    response = client.post(
        f"/service/{ticket.pk}/custom/", {"cf_tier": "silver", "cf_renewal": "2027-01-31"}
    )
    assert response["Location"] == f"/service/{ticket.pk}/"
    assert Ticket.objects.get(pk=ticket.pk).custom == {"tier": "silver", "renewal": "2027-01-31"}


def test_the_ticket_page_refuses_a_bad_value_naming_the_field(alpha: Workspace) -> None:
    _define(alpha)
    ticket = _ticket(alpha, custom_fields={"tier": "gold"})
    client = _agent(alpha)
    response = client.post(f"/service/{ticket.pk}/custom/", {"cf_tier": "platinum"}, follow=True)
    assert "Tier: " in response.content.decode()
    assert Ticket.objects.get(pk=ticket.pk).custom == {"tier": "gold"}


def test_a_viewer_sees_the_values_without_a_form(alpha: Workspace) -> None:
    _define(alpha)
    ticket = _ticket(alpha, custom_fields={"tier": "gold"})
    client = workspace_client(alpha.members[Role.READ_ONLY].user, alpha.tenant)
    page = client.get(f"/service/{ticket.pk}/").content.decode()
    assert '<dd data-field="tier">gold</dd>' in page
    assert "/custom/" not in page


def test_the_inbox_filters_by_a_custom_field(alpha: Workspace) -> None:
    _define(alpha)
    gold = _ticket(alpha, custom_fields={"tier": "gold", "areas": ["login"]})
    _ticket(alpha, custom_fields={"tier": "silver", "areas": ["login", "mobile"]})
    _ticket(alpha)
    client = _agent(alpha)
    page = client.get("/service/?view=all&cf_tier=gold").content.decode()
    assert 'data-testid="custom-filters"' in page
    assert _rows(page) == [str(gold.pk)]
    page = client.get("/service/?view=all&cf_areas=login&cf_areas=mobile").content.decode()
    assert len(_rows(page)) == 1
    page = client.get("/service/?view=all&cf_tier=platinum").content.decode()
    assert "Tier: " in page
    assert len(_rows(page)) == 3


def test_the_inbox_shows_chosen_custom_fields_as_columns(alpha: Workspace) -> None:
    _define(alpha)
    gold = _ticket(alpha, custom_fields={"tier": "gold", "areas": ["login", "mobile"]})
    bare = _ticket(alpha)
    client = _agent(alpha)

    plain = client.get("/service/?view=all").content.decode()
    assert 'data-testid="choose-columns"' in plain
    for code in ("tier", "units", "renewal", "areas"):
        assert f'name="cols" value="{code}"' in plain
    assert "data-column=" not in plain

    page = client.get("/service/?view=all&cols=tier&cols=areas").content.decode()
    assert "<th>Tier</th><th>Areas</th>" in page
    cells = re.findall(r'<tr data-ticket="(\d+)">(.*?)</tr>', page, re.S)
    by_ticket = {
        ticket: re.findall(r'data-column="(\w+)">([^<]*)</td>', row) for ticket, row in cells
    }
    assert by_ticket[str(gold.pk)] == [("tier", "gold"), ("areas", "login, mobile")]
    assert by_ticket[str(bare.pk)] == [("tier", "—"), ("areas", "—")]
    assert 'data-column="units"' not in page
    # The status filter keeps the columns.
    assert '<input type="hidden" name="cols" value="tier">' in page


def test_an_archived_ticket_field_is_no_longer_a_column(alpha: Workspace) -> None:
    fields = _define(alpha)
    _ticket(alpha, custom_fields={"tier": "gold"})
    sales_services.custom_field_archive(
        actor=fresh(alpha.owner), field=fields["tier"], archived=True
    )
    page = _agent(alpha).get("/service/?view=all&cols=tier").content.decode()
    assert 'data-column="tier"' not in page
    assert 'name="cols" value="tier"' not in page


def _rows(html: str) -> list[str]:
    return re.findall(r'<tr data-ticket="(\d+)"', html)


# --- API ------------------------------------------------------------------------------------


def test_the_api_opens_reads_and_changes_the_values(alpha: Workspace) -> None:
    _define(alpha)
    client = _agent(alpha)
    response = _send(
        client, "POST", TICKETS, {"subject": "无法登录", "custom_fields": {"tier": "gold"}}
    )
    assert response.status_code == 201, response.content
    assert response.json()["custom_fields"] == {"tier": "gold"}
    number = response.json()["id"]
    response = _send(
        client, "PATCH", f"{TICKETS}{number}/", {"custom_fields": {"units": 5, "tier": None}}
    )
    assert response.status_code == 200, response.content
    assert response.json()["custom_fields"] == {"units": 5}
    assert client.get(f"{TICKETS}{number}/").json()["custom_fields"] == {"units": 5}


def test_the_api_refuses_a_bad_value_with_400_naming_the_field(alpha: Workspace) -> None:
    _define(alpha)
    client = _agent(alpha)
    response = _send(client, "POST", TICKETS, {"subject": "X", "custom_fields": {"units": "a"}})
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["custom_fields.units"]
    assert not Ticket.objects.exists()
    ticket = _ticket(alpha, custom_fields={"tier": "gold"})
    response = _send(
        client, "PATCH", f"{TICKETS}{ticket.pk}/", {"custom_fields": {"tier": "platinum"}}
    )
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["custom_fields.tier"]
    response = _send(client, "PATCH", f"{TICKETS}{ticket.pk}/", {"custom_fields": ["gold"]})
    assert response.status_code == 400
    assert Ticket.objects.get(pk=ticket.pk).custom == {"tier": "gold"}


def test_the_api_filters_tickets_by_a_custom_field(alpha: Workspace) -> None:
    _define(alpha)
    gold = _ticket(alpha, custom_fields={"tier": "gold", "units": 10})
    _ticket(alpha, custom_fields={"tier": "silver", "units": 10})
    client = _agent(alpha)
    ids = [r["id"] for r in client.get(f"{TICKETS}?cf_tier=gold").json()["results"]]
    assert ids == [gold.pk]
    ids = [r["id"] for r in client.get(f"{TICKETS}?cf_units=10&cf_tier=gold").json()["results"]]
    assert ids == [gold.pk]
    bad = client.get(f"{TICKETS}?cf_tier=platinum")
    assert bad.status_code == 400
    assert list(bad.json()["error"]["fields"]) == ["custom_fields.tier"]


def test_tickets_are_filtered_with_the_operators_and_errors_of_the_sales_lists(
    alpha: Workspace,
) -> None:
    _define(alpha)
    sales_services.custom_field_create(
        actor=fresh(alpha.owner), entity="ticket", code="note", label="Note", type="text"
    )
    big = _ticket(
        alpha, custom_fields={"units": 12, "renewal": "2027-01-31", "note": "VPN drops at night"}
    )
    small = _ticket(alpha, custom_fields={"units": 3, "renewal": "2026-06-01", "note": "Login"})
    _ticket(alpha)
    client = _agent(alpha)
    for query, expected in (
        ("cf_units__gte=10", [big.pk]),
        ("cf_units__lte=3", [small.pk]),
        ("cf_renewal__gte=2027-01-01", [big.pk]),
        ("cf_renewal__lte=2026-06-01", [small.pk]),
        ("cf_note__contains=vpn", [big.pk]),
        ("cf_units__gte=3&cf_note__contains=LOG", [small.pk]),
    ):
        page = client.get(f"/service/?view=all&{query}").content.decode()
        assert _rows(page) == [str(pk) for pk in expected], query
        assert [r["id"] for r in client.get(f"{TICKETS}?{query}").json()["results"]] == expected
    page = client.get("/service/?view=all&cf_units__gte=10").content.decode()
    assert 'name="cf_units__gte" value="10" inputmode="decimal"' in page
    assert 'name="cf_note__contains"' in page
    for query, message in (
        ("cf_units__gte=abc", "Units: Enter a number such as 12.50."),
        ("cf_tier__gte=gold", "Tier: Only a number or a date field has a range."),
        ("cf_units__contains=1", "Units: Only a text field can be searched for words."),
        ("cf_units__near=1", "There is no custom field filter “cf_units__near”."),
    ):
        page = client.get(f"/service/?view=all&{query}").content.decode()
        error = re.search(r'data-testid="custom-filter-error">([^<]*)<', page)
        assert error is not None, query
        assert error.group(1) == message, query
        bad = client.get(f"{TICKETS}?{query}")
        assert bad.status_code == 400, query
        assert bad.json()["error"]["message"] == message, query
        code = query.removeprefix("cf_").split("__")[0]
        assert list(bad.json()["error"]["fields"]) == [f"custom_fields.{code}"], query


def _any_of_tickets(alpha: Workspace) -> dict[str, int]:
    _define(alpha)
    made = {
        "billing": _ticket(alpha, custom_fields={"tier": "gold", "areas": ["billing"]}),
        "login": _ticket(alpha, custom_fields={"tier": "silver", "areas": ["login"]}),
        "both": _ticket(alpha, custom_fields={"areas": ["billing", "login"]}),
        "mobile": _ticket(alpha, custom_fields={"tier": "gold", "areas": ["mobile"]}),
        "none": _ticket(alpha),
    }
    return {key: ticket.pk for key, ticket in made.items()}


ANY_OF = [
    # (query, the tickets listed)
    ("cf_areas__any=billing&cf_areas__any=login", {"billing", "login", "both"}),
    ("cf_areas__any=mobile", {"mobile"}),
    ("cf_areas__any=mobile&cf_areas__any=login&cf_areas__any=mobile", {"mobile", "login", "both"}),
    ("cf_areas__any=billing&cf_areas__any=login&cf_tier=gold", {"billing"}),
    # Repeating the plain parameter still asks for all of the options, as on the sales lists.
    ("cf_areas=billing&cf_areas=login", {"both"}),
    # A select is one of the options.
    ("cf_tier__any=gold&cf_tier__any=silver", {"billing", "login", "mobile"}),
]


def test_the_inbox_lists_tickets_having_any_of_several_options(alpha: Workspace) -> None:
    made = _any_of_tickets(alpha)
    client = _agent(alpha)
    for query, keys in ANY_OF:
        page = client.get(f"/service/?view=all&{query}").content.decode()
        assert 'data-testid="custom-filter-error"' not in page, query
        assert set(_rows(page)) == {str(made[key]) for key in keys}, query

    # The form offers every option of the multi select, ticked as asked, to pick several.
    page = client.get(
        "/service/?view=all&cf_areas__any=billing&cf_areas__any=mobile"
    ).content.decode()
    boxes = re.findall(r'type="checkbox" name="cf_areas__any" value="(\w+)"( checked)?', page)
    assert boxes == [("billing", " checked"), ("login", ""), ("mobile", " checked")]
    assert 'data-testid="custom-filter-all"' not in page
    # A query asking for all of several options keeps them in the form, ticked.
    page = client.get("/service/?view=all&cf_areas=billing&cf_areas=login").content.decode()
    kept = re.findall(r'type="checkbox" name="cf_areas" value="(\w+)" checked', page)
    assert kept == ["billing", "login"]


def test_the_api_lists_tickets_having_any_of_several_options(alpha: Workspace) -> None:
    made = _any_of_tickets(alpha)
    client = _agent(alpha)
    for query, keys in ANY_OF:
        response = client.get(f"{TICKETS}?{query}")
        assert response.status_code == 200, (query, response.content)
        assert {r["id"] for r in response.json()["results"]} == {made[k] for k in keys}, query


def test_any_of_refuses_an_unknown_option_or_a_field_without_options(alpha: Workspace) -> None:
    _any_of_tickets(alpha)
    client = _agent(alpha)
    many = "&".join(f"cf_areas__any=o{n}" for n in range(51))
    for query, message in (
        ("cf_areas__any=billing&cf_areas__any=cobol", "Areas: Choose values from the list."),
        ("cf_tier__any=platinum", "Tier: Choose a value from the list."),
        ("cf_units__any=3", "Units: Only a choice field can match any of several options."),
        (many, "Areas: Choose at most 50 options."),
    ):
        page = client.get(f"/service/?view=all&{query}").content.decode()
        error = re.search(r'data-testid="custom-filter-error">([^<]*)<', page)
        assert error is not None, query
        assert error.group(1) == message, query
        assert len(_rows(page)) == 5  # the inbox stays unfiltered
        bad = client.get(f"{TICKETS}?{query}")
        assert bad.status_code == 400, query
        assert bad.json()["error"]["message"] == message, query
        code = query.removeprefix("cf_").split("__")[0]
        assert list(bad.json()["error"]["fields"]) == [f"custom_fields.{code}"], query


# --- workspaces -----------------------------------------------------------------------------


def test_fields_and_values_stay_in_their_workspace(alpha: Workspace, bravo: Workspace) -> None:
    _define(alpha)
    ticket = _ticket(alpha, custom_fields={"tier": "gold"})
    connection.set_tenant(bravo.tenant)  # type: ignore[attr-defined]
    assert not CustomField.objects.exists()
    # Bravo has no field "tier": a value for it is refused there.
    with pytest.raises(ServiceError) as error:
        _ticket(bravo, custom_fields={"tier": "gold"})
    assert error.value.field == "custom_fields.tier"
    client = _agent(bravo)
    assert client.get(f"{FIELDS}?entity=ticket").json()["results"] == []
    assert client.get(f"{TICKETS}{ticket.pk}/").status_code == 404
    response = _send(client, "POST", TICKETS, {"subject": "X", "custom_fields": {"tier": "gold"}})
    assert response.status_code == 400
    assert client.get(f"{TICKETS}?cf_tier=gold").status_code == 400
    # Bravo's own field of the same code is its own.
    sales_services.custom_field_create(
        actor=fresh(bravo.owner), entity="ticket", code="tier", label="Tier", type="text"
    )
    own = _ticket(bravo, custom_fields={"tier": "anything"})
    assert [r["id"] for r in client.get(f"{TICKETS}?cf_tier=anything").json()["results"]] == [
        own.pk
    ]
    connection.set_tenant(alpha.tenant)  # type: ignore[attr-defined]
    assert Ticket.objects.get(pk=ticket.pk).custom == {"tier": "gold"}
    assert CustomField.objects.get(code="tier").type == "select"
