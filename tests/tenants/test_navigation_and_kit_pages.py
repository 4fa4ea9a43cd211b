"""The primary navigation (entries, capability checks, the current page) and the pages built
from the UI kit: the members page's confirmations and the living style page."""

from __future__ import annotations

import html
import re

import pytest

from tenants.models import User
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client

NAV = re.compile(r'<nav id="sidenav" class="nav" aria-label="Workspace" data-nav>(.*?)</nav>', re.S)
LINK = re.compile(
    r'<a class="nav-link" href="([^"]+)" data-nav-entry="[a-z_]+"( aria-current="page")?>'
    r"<svg [^>]*>.*?</svg>"
    r'<span class="nav-label">([^<]+)</span></a>',
    re.S,
)


def _nav(workspace: Workspace, role: str, path: str) -> list[tuple[str, bool, str]]:
    client = workspace_client(workspace.members[role].user, workspace.tenant)
    response = client.get(path)
    assert response.status_code == 200
    match = NAV.search(response.content.decode())
    assert match is not None
    return [(url, bool(current), label) for url, current, label in LINK.findall(match.group(1))]


@pytest.mark.parametrize(
    ("role", "labels"),
    [
        # "Notes" is the test-only module's entry, shown to the roles that may see notes.
        (Role.OWNER, ["Home", "Notes", "Members", "Roles", "Settings", "Audit log"]),
        (Role.ADMIN, ["Home", "Notes", "Members", "Roles", "Settings", "Audit log"]),
        (Role.MANAGER, ["Home", "Notes", "Members", "Roles"]),
        (Role.READ_ONLY, ["Home", "Members", "Roles"]),
    ],
)
def test_navigation_shows_only_what_the_role_may_open(alpha, role, labels):
    # The workspace core's entries and the test module's; each product module's own entries
    # are checked in its tests.
    ours = {"Home", "Notes", "Members", "Roles", "Settings", "Audit log"}
    shown = [label for _url, _current, label in _nav(alpha, role, "/roles/")]
    assert [label for label in shown if label in ours] == labels


@pytest.mark.parametrize(
    ("path", "current"),
    [
        ("/", "/"),
        ("/members/", "/members/"),
        ("/members/?q=kai&page=1", "/members/"),
        ("/roles/", "/roles/"),
        ("/settings/", "/settings/"),
        ("/audit/", "/audit/"),
        ("/style/", None),
    ],
)
def test_navigation_marks_exactly_the_current_section(alpha, path, current):
    entries = _nav(alpha, Role.OWNER, path)

    marked = [url for url, is_current, _label in entries if is_current]
    assert marked == ([current] if current else [])


def _speaking(workspace: Workspace, role: str, language: str) -> User:
    # A fresh row: the session-wide fixture objects must not carry this test's change.
    User.objects.filter(pk=workspace.members[role].user_id).update(language=language)
    return User.objects.get(pk=workspace.members[role].user_id)


def test_navigation_speaks_the_members_language(alpha):
    user = _speaking(alpha, Role.SALES_REP, "zh-hans")
    client = workspace_client(user, alpha.tenant)

    body = client.get("/").content.decode()

    assert 'aria-label="工作区"' in body
    assert '<span class="nav-label">成员</span>' in body


def _dialog(body: str, dialog_id: str) -> str:
    match = re.search(rf'<dialog [^>]*id="{dialog_id}".*?</dialog>', body, re.S)
    assert match is not None, dialog_id
    return html.unescape(match.group(0))


def test_destructive_member_actions_confirm_and_name_whom_they_act_on(alpha):
    target = alpha.members[Role.SALES_REP]
    body = workspace_client(alpha.owner.user, alpha.tenant).get("/members/").content.decode()

    deactivate = _dialog(body, f"deactivate-{target.pk}")
    assert f"Deactivate {target.user.full_name}?" in deactivate
    assert f"{target.user.email} loses access to this workspace at once" in deactivate
    owner = _dialog(body, f"make-owner-{target.pk}")
    assert f"Make {target.user.full_name} the owner?" in owner
    assert f"{target.user.email} becomes the owner of {alpha.tenant.name}" in owner
    # Each dialog sits inside the form it confirms, which app.js holds back until confirmed.
    for action, dialog_id in (
        ("deactivate", f"deactivate-{target.pk}"),
        ("make-owner", f"make-owner-{target.pk}"),
    ):
        form = re.search(
            rf'<form method="post" action="/members/{target.pk}/{action}/" class="inline"'
            rf" data-confirm>(.*?)</form>",
            body,
            re.S,
        )
        assert form is not None, action
        assert f'id="{dialog_id}"' in form.group(1)
        assert "data-confirmed>" in form.group(1)


def test_no_dialog_for_oneself_and_none_for_a_viewer(alpha):
    owner_body = workspace_client(alpha.owner.user, alpha.tenant).get("/members/").content.decode()
    assert f'id="deactivate-{alpha.owner.pk}"' not in owner_body

    viewer = alpha.members[Role.READ_ONLY]
    viewer_body = workspace_client(viewer.user, alpha.tenant).get("/members/").content.decode()
    # The command palette is the only dialog on the page: no confirmation dialogs.
    assert re.findall(r'<dialog[^>]*\bid="([^"]+)"', viewer_body) == ["palette"]
    assert "data-confirm" not in viewer_body


def test_an_admin_is_not_offered_ownership_transfer(alpha):
    target = alpha.members[Role.SALES_REP]
    admin = alpha.members[Role.ADMIN]
    body = workspace_client(admin.user, alpha.tenant).get("/members/").content.decode()

    assert f'id="deactivate-{target.pk}"' in body
    assert "make-owner-" not in body


@pytest.mark.parametrize("role", [Role.OWNER, Role.READ_ONLY])
def test_style_page_shows_every_component_in_every_state(alpha, role):
    response = workspace_client(alpha.members[role].user, alpha.tenant).get("/style/")

    assert response.status_code == 200
    body = response.content.decode()
    for marker in (
        '<div class="page-header">',
        '<nav id="sidenav" class="nav"',
        'class="filter-bar"',
        '<table class="table"',
        'aria-busy="true"',  # loading table and chart
        '<tr class="table-empty">',
        '<div class="empty-state empty-state-error" role="alert">',
        'class="badge badge-danger"',
        'class="toast toast-error toast-static"',
        '<dialog class="dialog dialog-danger" id="style-confirm"',
        '<dialog class="sheet" id="style-sheet"',
        'role="tablist" aria-label="Record sections"',
        'role="tab" id="style-tabs-tab-disabled"',
        '<section class="kanban-column" role="listitem"',
        '<p class="kanban-empty">No deals in this stage.</p>',
        '<li class="timeline-entry">',
        '<figure class="chart" id="style-chart"',
        'data-chart="style-chart-data"',
        '<nav class="pagination" aria-label="Pages">',
        '<span aria-disabled="true">',  # first and last pages
        'aria-invalid="true"',
        'aria-describedby="id_email_error"',
        "disabled",
    ):
        assert marker in body, marker
    for sample in ("บริษัทนำเข้า", "上海浦东新区", "Северо-Западная", "Kraftfahrzeug"):
        assert sample in body, sample
    assert re.search(r"\b[A-Za-z0-9]{50}\b", body)


def test_style_page_is_translated(alpha):
    user = _speaking(alpha, Role.MANAGER, "ru")

    body = workspace_client(user, alpha.tenant).get("/style/").content.decode()

    assert "<h1>Компоненты интерфейса</h1>" in body
    assert "Interface components" not in body
