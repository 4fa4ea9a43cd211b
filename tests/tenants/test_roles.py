from pathlib import Path

import pytest

from tenants import capabilities
from tenants.management.commands.roles_doc import roles_markdown
from tenants.roles import Role
from tests.conftest import workspace_client

DOC = Path(__file__).resolve().parents[2] / "docs" / "roles.md"


def test_roles_doc_matches_the_capability_matrix():
    # The test-only module's capabilities are not part of the product.
    product = [c for c in capabilities.all_capabilities() if not c.code.startswith("kit_module.")]
    assert DOC.read_text(encoding="utf-8") == roles_markdown(product)


def test_a_module_capability_reaches_the_roles_page_with_its_scope_and_plans(alpha):
    response = workspace_client(alpha.members[Role.READ_ONLY].user, alpha.tenant).get("/roles/")
    row = {r.capability.code: r for r in response.context["matrix"]}["kit_module.edit_notes"]
    assert row.plans == "Professional, Enterprise"
    assert dict(zip(Role.values, row.cells, strict=True)) == {
        Role.OWNER: "",
        Role.ADMIN: "",
        Role.MANAGER: None,
        Role.SALES_REP: "own records",
        Role.SUPPORT_AGENT: None,
        Role.MARKETER: None,
        Role.READ_ONLY: None,
    }
    assert 'data-capability="kit_module.edit_notes"' in response.content.decode()


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
