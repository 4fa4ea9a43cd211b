from pathlib import Path

import pytest

from tenants import capabilities
from tenants.management.commands.roles_doc import roles_markdown
from tenants.roles import Role
from tests.conftest import workspace_client

DOC = Path(__file__).resolve().parents[2] / "docs" / "roles.md"


def test_roles_doc_matches_the_capability_matrix():
    assert DOC.read_text(encoding="utf-8") == roles_markdown()


def test_roles_page_shows_the_matrix_to_every_role(alpha):
    response = workspace_client(alpha.members[Role.READ_ONLY].user, alpha.tenant).get("/roles/")
    assert response.status_code == 200
    rows = response.context["matrix"]
    assert [row.capability.code for row in rows] == [
        c.code for c in capabilities.all_capabilities()
    ]
    manage = {row.capability.code: row.cells for row in rows}["platform.manage_members"]
    assert manage == tuple("" if role in {Role.OWNER, Role.ADMIN} else None for role in Role.values)


def test_registering_a_capability_with_an_unknown_role_fails():
    with pytest.raises(ValueError, match="Unknown roles"):
        capabilities.register("x.y", label="x", module="x", roles={"janitor"})


def test_registering_a_capability_twice_fails():
    with pytest.raises(ValueError, match="already registered"):
        capabilities.register("platform.manage_members", label="x", module="x", roles=set())
