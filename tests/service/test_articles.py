"""The knowledge base: articles in categories, drafts and published, internal or public, in the
product's languages with linked translations; search in Latin, Cyrillic, Thai and Chinese;
suggestions while an agent replies and while a customer writes on the portal."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from crm_modules.service import selectors
from crm_modules.service.models import Article, ArticleCategory
from crm_modules.service.services import articles as services
from crm_platform.errors import ServiceError
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.isolation.conftest import db_state
from tests.service.conftest import fresh

pytestmark = pytest.mark.usefixtures("in_alpha")


def _write(alpha: Workspace, title: str, body: str = "Text", **changes: str) -> Article:
    changes.setdefault("language", "en")
    changes.setdefault("state", "published")
    changes.setdefault("visibility", "public")
    return services.article_save(
        actor=fresh(alpha.members[Role.SUPPORT_AGENT]),
        changes={"title": title, "body": body, **changes},
    )


def _ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'data-article="(\d+)"', html)]


@pytest.mark.parametrize(
    ("title", "term"),
    [
        ("Resetting your password", "PASSWORD"),
        ("Сброс пароля", "пароля"),
        ("การรีเซ็ตรหัสผ่าน", "รหัสผ่าน"),
        ("重置密码的方法", "密码的"),
    ],
)
def test_search_finds_articles_in_every_script(alpha: Workspace, title: str, term: str) -> None:
    found = _write(alpha, title, language="en")
    _write(alpha, "Something else entirely")
    actor = fresh(alpha.members[Role.READ_ONLY])
    assert list(selectors.article_list(actor=actor, q=term)) == [found]
    assert list(selectors.public_articles(q=term)) == [found]


def test_a_translation_is_linked_and_one_per_language(alpha: Workspace) -> None:
    agent = fresh(alpha.members[Role.SUPPORT_AGENT])
    category = services.article_category_create(actor=agent, name="Billing")
    original = _write(alpha, "Invoices", category=str(category.pk))
    italian = services.article_save(
        actor=agent,
        translation_of=original,
        changes={"title": "Fatture", "body": "Testo", "language": "it"},
    )
    original.refresh_from_db()
    assert italian.group == original.group == original.pk
    assert italian.category_id == category.pk
    assert selectors.article_translations(article=original) == [italian]

    before = db_state(alpha)
    with pytest.raises(ServiceError) as refused:
        services.article_save(
            actor=agent,
            translation_of=original,
            changes={"title": "Altre fatture", "body": "Testo", "language": "it"},
        )
    assert refused.value.field == "language"
    assert db_state(alpha) == before

    client = workspace_client(alpha.members[Role.READ_ONLY].user, alpha.tenant)
    html = client.get(f"/service/articles/{original.pk}/").content.decode()
    assert f'href="/service/articles/{italian.pk}/" lang="it"' in html
    assert 'data-testid="article-form"' not in html  # a reader cannot edit


def test_bad_input_names_the_field(alpha: Workspace) -> None:
    agent = fresh(alpha.members[Role.SUPPORT_AGENT])
    cases = [
        ({"title": "", "body": "x", "language": "en"}, "title"),
        ({"title": "T", "body": "", "language": "en"}, "body"),
        ({"title": "T", "body": "x", "language": "xx"}, "language"),
        ({"title": "T", "body": "x", "language": "en", "state": "gone"}, "state"),
        ({"title": "T", "body": "x", "language": "en", "visibility": "all"}, "visibility"),
        ({"title": "T", "body": "x", "language": "en", "category": "999999"}, "category"),
    ]
    for changes, field in cases:
        with pytest.raises(ServiceError) as refused:
            services.article_save(actor=agent, changes=changes)
        assert refused.value.field == field
    assert not Article.objects.exists()

    client = workspace_client(agent.user, alpha.tenant)
    response = client.post("/service/articles/new/", {"title": "", "body": "x", "language": "en"})
    assert response.status_code == 400
    assert b'data-testid="error-title"' in response.content


def test_an_agent_writes_and_publishes_an_article_from_the_pages(alpha: Workspace) -> None:
    agent = alpha.members[Role.SUPPORT_AGENT]
    client = workspace_client(agent.user, alpha.tenant)
    category = ArticleCategory.objects.create(name="Network")
    response = client.post(
        "/service/articles/new/",
        {
            "title": "Router blinking red",
            "body": "Unplug it for ten seconds.",
            "language": "en",
            "state": "draft",
            "visibility": "public",
            "category": str(category.pk),
        },
    )
    article = Article.objects.get()
    assert response.status_code == 302
    assert (article.state, article.visibility, article.category_id) == (
        "draft",
        "public",
        category.pk,
    )
    assert article.created_by_id == agent.user_id
    assert list(selectors.public_articles()) == []  # a draft is not public yet

    client.post(
        f"/service/articles/{article.pk}/edit/",
        {
            "title": "Router blinking red",
            "body": "Unplug it for ten seconds.",
            "language": "en",
            "state": "published",
            "visibility": "public",
            "category": str(category.pk),
        },
    )
    assert list(selectors.public_articles()) == [article]
    html = Client(HTTP_HOST=alpha.host).get("/portal/articles/").content.decode()
    assert _ids(html) == [article.pk]


def test_agents_get_suggestions_while_replying_internal_ones_included(alpha: Workspace) -> None:
    public = _write(alpha, "Reset the router")
    internal = _write(alpha, "Router firmware rollback", visibility="internal")
    _write(alpha, "Change the invoice address")
    client = workspace_client(alpha.members[Role.SUPPORT_AGENT].user, alpha.tenant)

    html = client.get(
        "/service/articles/suggest/",
        {
            "subject": "Internet down",
            "body": "I tried to reset the router and the router firmware rollback",
        },
        HTTP_HX_REQUEST="true",
    ).content.decode()

    assert sorted(_ids(html)) == sorted([public.pk, internal.pk])
    assert f'href="/service/articles/{public.pk}/"' in html

    # Customers only see public ones while writing on the portal.
    html = (
        Client(HTTP_HOST=alpha.host)
        .get(
            "/portal/articles/suggest/",
            {
                "subject": "router",
                "description": "I tried to reset the router, also firmware rollback",
            },
        )
        .content.decode()
    )
    assert _ids(html) == [public.pk]
    assert f'href="/portal/articles/{public.pk}/"' in html


def test_suggestions_work_in_thai_and_chinese(alpha: Workspace) -> None:
    thai = _write(alpha, "รีเซ็ตรหัสผ่าน", language="th")
    chinese = _write(alpha, "重置密码", language="zh-hans")
    found = selectors.article_suggestions(
        text="ฉันต้องการรีเซ็ตรหัสผ่านของฉัน", articles=selectors.public_articles()
    )
    assert found == [thai]
    found = selectors.article_suggestions(
        text="我忘了，怎么重置密码？", articles=selectors.public_articles()
    )
    assert found == [chinese]


def test_the_ticket_page_asks_for_suggestions(alpha: Workspace) -> None:
    from crm_modules.service import services as tickets

    ticket = tickets.ticket_create(
        actor=fresh(alpha.members[Role.SUPPORT_AGENT]), subject="Router down"
    )
    client = workspace_client(alpha.members[Role.SUPPORT_AGENT].user, alpha.tenant)
    html = client.get(f"/service/{ticket.pk}/").content.decode()
    assert 'hx-get="/service/articles/suggest/?subject=Router%20down"' in html
