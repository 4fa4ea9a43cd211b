"""Sales pages: search in every script, keyset pagination, constant query counts."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm_modules.sales import selectors, services
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.sales.conftest import fresh
from tests.sales.factories import CompanyFactory, ContactFactory, DealFactory, PipelineFactory

pytestmark = pytest.mark.usefixtures("in_alpha")

NAMES = [
    ("Giulia", "Romano", "giulia"),
    ("Анна", "Смирнова", "смирн"),
    ("สมชาย", "ใจดี", "ใจดี"),
    ("王", "芳芳", "王 芳"),
]


@pytest.mark.parametrize(("first", "last", "term"), NAMES)
def test_contact_search_finds_a_substring_in_each_script(
    alpha: Workspace, first: str, last: str, term: str
) -> None:
    actor = fresh(alpha.owner)
    wanted = services.contact_create(actor=actor, first_name=first, last_name=last)
    services.contact_create(actor=actor, first_name="Other", last_name="Person")
    found = list(selectors.contact_list(actor=actor, q=term.upper()))
    assert found == [wanted]


def test_a_chinese_name_is_found_written_family_name_first(alpha: Workspace) -> None:
    actor = fresh(alpha.owner)
    wang = services.contact_create(actor=actor, first_name="芳", last_name="王")
    services.contact_create(actor=actor, first_name="王", last_name="李")
    assert list(selectors.contact_list(actor=actor, q="王芳")) == [wang]


@pytest.mark.parametrize("term", ["王", "芳", "王芳", "科技", "カタ", "김"])
def test_one_and_two_character_cjk_terms_find_what_a_substring_test_finds(
    alpha: Workspace, term: str
) -> None:
    actor = fresh(alpha.owner)
    services.contact_create(actor=actor, first_name="芳", last_name="王")
    services.contact_create(actor=actor, first_name="明", last_name="李", emails=["li@kejì.cn"])
    services.contact_create(actor=actor, first_name="カタカナ", last_name="山田")
    services.contact_create(actor=actor, first_name="민준", last_name="김")
    services.contact_create(actor=actor, first_name="Wang", last_name="Fang")
    company = services.company_create(actor=actor, name="北京科技")
    services.contact_create(actor=actor, first_name="Ada", last_name="Lovelace", company=company)
    by_substring = {c.pk for c in selectors.contact_list(actor=actor) if term in c.search_text}
    found = list(selectors.contact_list(actor=actor, q=term))
    assert by_substring
    assert {c.pk for c in found} == by_substring


def test_short_cjk_terms_are_answered_by_the_stored_pieces_not_by_a_scan(alpha: Workspace) -> None:
    actor = fresh(alpha.owner)
    contact = services.contact_create(actor=actor, first_name="芳", last_name="王")
    contact.refresh_from_db()
    assert sorted(contact.search_grams) == sorted(["王", "芳", "王芳"])

    def condition(term: str) -> str:
        return str(selectors.contact_list(actor=actor, q=term).query).split(" WHERE ", 1)[1]

    assert "search_grams" in condition("王芳")
    assert "LIKE" not in condition("王芳").upper()
    # Longer terms and other scripts keep the trigram-served substring test.
    assert "search_grams" not in condition("王芳芳")
    assert "search_grams" not in condition("li")


def test_chinese_and_thai_are_found_inside_words_without_spaces(alpha: Workspace) -> None:
    actor = fresh(alpha.owner)
    company = services.company_create(actor=actor, name="北京字节跳动科技有限公司")
    thai = services.company_create(actor=actor, name="บริษัทไทยพาณิชย์จำกัด")
    assert list(selectors.company_list(actor=actor, q="跳动")) == [company]
    assert list(selectors.company_list(actor=actor, q="ไทยพาณิชย์")) == [thai]


def test_contacts_are_found_by_email_phone_and_company(alpha: Workspace) -> None:
    actor = fresh(alpha.owner)
    company = CompanyFactory.create(name="Rossi SpA")
    contact = services.contact_create(
        actor=actor,
        first_name="Marta",
        emails=["marta@rossi.it"],
        phones=["+39 06 6982 1234"],
        company=company,
    )
    for term in ("marta@rossi", "390669821234", "+3906698", "rossi spa"):
        assert list(selectors.contact_list(actor=actor, q=term)) == [contact], term


def _queries(client_get: object) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client_get()  # type: ignore[operator]
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize(
    "path", ["/sales/contacts/", "/sales/companies/", "/sales/deals/", "/sales/tasks/?mine=0"]
)
def test_list_pages_run_the_same_number_of_queries_for_few_and_many_rows(
    alpha: Workspace, path: str
) -> None:
    client = workspace_client(alpha.owner.user, alpha.tenant)
    pipeline = PipelineFactory.create()
    company = CompanyFactory.create()
    ContactFactory.create_batch(2, company=company)
    DealFactory.create_batch(2, pipeline=pipeline, company=company)
    client.get(path)  # the first request of a session also stamps it
    few = _queries(lambda: client.get(path))
    ContactFactory.create_batch(30, company=CompanyFactory.create())
    CompanyFactory.create_batch(30)
    DealFactory.create_batch(30, pipeline=pipeline, company=CompanyFactory.create())
    assert _queries(lambda: client.get(path)) == few


def test_contact_list_pages_by_keyset(alpha: Workspace) -> None:
    contacts = ContactFactory.create_batch(55, owner=alpha.owner.user)
    client = workspace_client(alpha.owner.user, alpha.tenant)
    first = client.get("/sales/contacts/")
    html = first.content.decode()
    assert html.count("data-contact=") == 50
    assert f'data-contact="{contacts[-1].pk}"' in html
    assert f'data-contact="{contacts[0].pk}"' not in html
    cursor = first.context["page"].next_cursor
    second = client.get(f"/sales/contacts/?after={cursor}").content.decode()
    assert second.count("data-contact=") == 5
    assert f'data-contact="{contacts[0].pk}"' in second


def test_a_forged_cursor_starts_from_the_first_page(alpha: Workspace) -> None:
    ContactFactory.create_batch(3)
    client = workspace_client(alpha.owner.user, alpha.tenant)
    response = client.get("/sales/contacts/?after=%27%3B--")
    assert response.status_code == 200
    assert response.content.decode().count("data-contact=") == 3


def test_deal_board_shows_count_and_sum_per_stage(alpha: Workspace) -> None:
    pipeline = PipelineFactory.create()
    DealFactory.create_batch(3, pipeline=pipeline)
    client = workspace_client(alpha.members[Role.READ_ONLY].user, alpha.tenant)
    response = client.get(f"/sales/deals/?pipeline={pipeline.pk}")
    columns = response.context["columns"]
    assert [(c["stage"].name, c["count"], str(c["total"])) for c in columns] == [
        ("New", 3, "3000.00"),
        ("Proposal", 0, "0"),
        ("Won", 0, "0"),
        ("Lost", 0, "0"),
    ]


def test_each_board_column_shows_its_newest_cards_and_counts_them_all(alpha: Workspace) -> None:
    from datetime import UTC, datetime, timedelta

    pipeline = PipelineFactory.create()
    new, proposal = list(pipeline.stages.order_by("position"))[:2]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    shown = selectors.BOARD_CARDS_PER_STAGE
    for n in range(shown + 5):
        DealFactory.create(
            pipeline=pipeline, stage=new, name=f"N{n}", stage_entered_at=start + timedelta(hours=n)
        )
    # Entered at the same moment: the newer record first.
    same = [
        DealFactory.create(pipeline=pipeline, stage=proposal, stage_entered_at=start) for _ in "ab"
    ]
    # Another pipeline's deals are on its own board only.
    DealFactory.create_batch(2)
    columns = selectors.deal_board(actor=fresh(alpha.owner), pipeline=pipeline)
    first, second = columns[0], columns[1]
    assert first["count"] == shown + 5
    assert [deal.name for deal in first["deals"]] == [f"N{n}" for n in range(shown + 4, 4, -1)]
    assert second["count"] == 2
    assert [deal.pk for deal in second["deals"]] == sorted((d.pk for d in same), reverse=True)
    assert [column["count"] for column in columns[2:]] == [0, 0]


def test_html_in_names_is_escaped(alpha: Workspace) -> None:
    services.contact_create(actor=fresh(alpha.owner), first_name="<script>alert(1)</script>")
    html = workspace_client(alpha.owner.user, alpha.tenant).get("/sales/contacts/").content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@pytest.mark.parametrize(
    "term", ["芳芳", "ใจดี", "смирн", "ROMANO", "giulia@", "example.cn", "+8610", "ไทยพาณิชย์"]
)
def test_global_search_finds_records_in_every_script(alpha: Workspace, term: str) -> None:
    actor = fresh(alpha.owner)
    company = services.company_create(actor=actor, name="บริษัทไทยพาณิชย์จำกัด", domain="example.cn")
    contacts = [
        services.contact_create(actor=actor, first_name="王", last_name="芳芳", company=company),
        services.contact_create(actor=actor, first_name="สมชาย", last_name="ใจดี"),
        services.contact_create(actor=actor, first_name="Анна", last_name="Смирнова"),
        services.contact_create(
            actor=actor,
            first_name="Giulia",
            last_name="Romano",
            emails=["giulia@example.it"],
            phones=["+86 10 6552 9988"],
        ),
    ]
    client = workspace_client(alpha.members[Role.READ_ONLY].user, alpha.tenant)
    html = client.get("/sales/search/", {"q": term}).content.decode()
    found = {c.pk for c in contacts if f'data-result="contacts-{c.pk}"' in html}
    expected = {
        "芳芳": {contacts[0].pk},
        "ใจดี": {contacts[1].pk},
        "смирн": {contacts[2].pk},
        "ROMANO": {contacts[3].pk},
        "giulia@": {contacts[3].pk},
        "example.cn": set(),
        "+8610": {contacts[3].pk},
        # The contact's search text carries its company's name.
        "ไทยพาณิชย์": {contacts[0].pk},
    }[term]
    assert found == expected
    assert (f'data-result="companies-{company.pk}"' in html) is (term in ("example.cn", "ไทยพาณิชย์"))


def test_global_search_runs_the_same_queries_for_few_and_many_matches(alpha: Workspace) -> None:
    ContactFactory.create()
    client = workspace_client(alpha.owner.user, alpha.tenant)
    client.get("/sales/search/?q=person")
    with CaptureQueriesContext(connection) as few:
        client.get("/sales/search/?q=person")
    ContactFactory.create_batch(15)
    with CaptureQueriesContext(connection) as many:
        html = client.get("/sales/search/?q=person").content.decode()
    assert len(many) == len(few)
    assert html.count('data-result="contacts-') == 10


@pytest.mark.parametrize("scan", [3, 1000])
def test_global_search_shows_the_newest_matches_whether_the_term_is_rare_or_common(
    alpha: Workspace, monkeypatch: pytest.MonkeyPatch, scan: int
) -> None:
    """Under the scan cap the matches come from the index and the newest are fetched by id; at
    the cap (a common term) the newest are walked to. Both show the same ten, newest first."""
    monkeypatch.setattr(selectors, "NEWEST_MATCHES_SCAN", scan)
    DealFactory.create_batch(3, name="Other deal")
    matching = [DealFactory.create(name=f"王芳 {n}") for n in range(12)]
    DealFactory.create(name="Newest other deal")
    client = workspace_client(alpha.owner.user, alpha.tenant)
    with CaptureQueriesContext(connection) as queries:
        html = client.get("/sales/search/", {"q": "王芳"}).content.decode()
    shown = [d.pk for d in matching if f'data-result="deals-{d.pk}"' in html]
    assert shown == [d.pk for d in matching][-10:]
    order = [html.index(f'data-result="deals-{pk}"') for pk in shown]
    assert order == sorted(order, reverse=True)
    deal_reads = [q["sql"] for q in queries.captured_queries if 'FROM "sales_deal"' in q["sql"]]
    assert len(deal_reads) == 2
    assert "ORDER BY" not in deal_reads[0]
    # The second read: the ids found (a rare term) or the walk newest first (a common one).
    assert (' "sales_deal"."id" IN (' in deal_reads[1]) is (scan == 1000)


@pytest.mark.parametrize("term", ["芳", "nowhere"])
def test_a_search_with_no_match_reads_each_record_type_once(alpha: Workspace, term: str) -> None:
    DealFactory.create_batch(3)
    client = workspace_client(alpha.owner.user, alpha.tenant)
    with CaptureQueriesContext(connection) as queries:
        html = client.get("/sales/search/", {"q": term}).content.decode()
    assert 'data-result="' not in html
    for table in ("sales_contact", "sales_company", "sales_deal", "sales_lead"):
        reads = [q["sql"] for q in queries.captured_queries if f'FROM "{table}"' in q["sql"]]
        assert len(reads) == 1
        # Trigram terms are asked for newest first; a piece of Chinese reads its index first.
        assert ("ORDER BY" in reads[0]) is (term == "nowhere")


def test_my_tasks_split_into_overdue_today_and_upcoming(alpha: Workspace) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from tests.sales.factories import TaskFactory

    me = alpha.members[Role.SALES_REP].user
    now = timezone.now()
    overdue = TaskFactory.create(owner=me, due_at=now - timedelta(hours=2))
    upcoming = TaskFactory.create(owner=me, due_at=now + timedelta(days=3))
    TaskFactory.create(owner=alpha.owner.user, due_at=now - timedelta(hours=2))
    TaskFactory.create(owner=me, due_at=now - timedelta(hours=2), done=True)
    client = workspace_client(me, alpha.tenant)

    def shown(query: str) -> list[int]:
        return [t.pk for t in client.get(f"/sales/tasks/?{query}").context["page"].rows]

    assert shown("mine=1&when=overdue") == [overdue.pk]
    assert shown("mine=1&when=upcoming") == [upcoming.pk]
    assert shown("mine=1") == [upcoming.pk, overdue.pk]
