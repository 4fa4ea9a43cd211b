"""The command palette: what each role is offered on every workspace page, the search endpoint's
palette options, and the minimal "new task" page its quick action opens."""

from __future__ import annotations

import pytest
from django.utils import timezone

from crm_modules.sales import services
from crm_modules.sales.models import Task
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.sales.conftest import fresh

pytestmark = pytest.mark.usefixtures("in_alpha")

ACTIONS = ["new_contact", "new_company", "new_deal", "new_task", "log_call"]


def _offered(html: str) -> list[str]:
    return [key for key in ACTIONS if f'data-action="{key}"' in html]


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (Role.OWNER, ACTIONS),
        (Role.SALES_REP, ACTIONS),
        (Role.SUPPORT_AGENT, ["new_task", "log_call"]),
        (Role.READ_ONLY, []),
    ],
)
def test_each_role_is_offered_only_the_actions_it_may_run(
    alpha: Workspace, role: Role, expected: list[str]
) -> None:
    client = workspace_client(alpha.members[role].user, alpha.tenant)
    html = client.get("/").content.decode()
    assert _offered(html) == expected
    assert 'data-search-url="/sales/search/"' in html
    assert 'data-testid="palette-open"' in html


def test_palette_options_list_records_and_contacts_only_when_asked(alpha: Workspace) -> None:
    actor = fresh(alpha.owner)
    company = services.company_create(actor=actor, name="王氏贸易")
    contact = services.contact_create(actor=actor, first_name="王", last_name="芳芳")
    client = workspace_client(alpha.owner.user, alpha.tenant)
    html = client.get("/sales/search/", {"q": "王", "palette": "1"}).content.decode()
    assert f'data-href="/sales/contacts/{contact.pk}/"' in html
    assert f'data-href="/sales/companies/{company.pk}/"' in html
    assert "<html" not in html
    only = client.get("/sales/search/", {"q": "王", "palette": "1", "only": "contacts"})
    assert f'data-result="contacts-{contact.pk}"' in only.content.decode()
    assert f'data-result="companies-{company.pk}"' not in only.content.decode()
    none = client.get("/sales/search/", {"q": "nobody-at-all", "palette": "1"}).content.decode()
    assert 'class="palette-empty"' in none


def test_palette_options_escape_names(alpha: Workspace) -> None:
    services.contact_create(actor=fresh(alpha.owner), first_name="<img src=x onerror=alert(1)>")
    client = workspace_client(alpha.owner.user, alpha.tenant)
    html = client.get("/sales/search/", {"q": "img", "palette": "1"}).content.decode()
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_new_task_page_creates_a_task_of_ones_own(alpha: Workspace) -> None:
    rep = alpha.members[Role.SALES_REP].user
    client = workspace_client(rep, alpha.tenant)
    assert client.get("/sales/tasks/new/").status_code == 200
    response = client.post(
        "/sales/tasks/new/",
        {"title": "Call Somchai back", "due_at": "2030-01-02T09:30", "priority": "3"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/sales/tasks/"
    task = Task.objects.get(title="Call Somchai back")
    assert (task.owner_id, task.priority, task.done) == (rep.pk, 3, False)
    assert task.due_at is not None
    assert timezone.localtime(task.due_at).strftime("%Y-%m-%d %H:%M") == "2030-01-02 09:30"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"title": "", "priority": "2"}, "title"),
        ({"title": "x", "due_at": "tomorrow", "priority": "2"}, "due_at"),
        ({"title": "x", "priority": "9"}, "priority"),
    ],
)
def test_new_task_refuses_bad_input_and_saves_nothing(
    alpha: Workspace, data: dict[str, str], field: str
) -> None:
    client = workspace_client(alpha.owner.user, alpha.tenant)
    response = client.post("/sales/tasks/new/", data)
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert Task.objects.count() == 0


def test_new_task_page_is_refused_to_roles_without_tasks(alpha: Workspace) -> None:
    client = workspace_client(alpha.members[Role.READ_ONLY].user, alpha.tenant)
    assert client.get("/sales/tasks/new/").status_code == 403
    assert client.post("/sales/tasks/new/", {"title": "x", "priority": "2"}).status_code == 403
    assert Task.objects.count() == 0


def test_the_palette_registry_refuses_a_second_action_with_the_same_key() -> None:
    from crm_modules.sales.module import CREATE_RECORDS
    from tenants import palette

    with pytest.raises(ValueError, match="new_contact is already registered"):
        palette.register(
            "new_contact", label="x", url_name="sales:contact_new", capability=CREATE_RECORDS
        )
    with pytest.raises(ValueError, match="unknown mode"):
        palette.register(
            "other", label="x", url_name="sales:contact_new", capability=CREATE_RECORDS, mode="x"
        )
    assert [a["key"] for a in palette.actions_for(None)] == []
