import csv
import io

from django_tenants.utils import schema_context

from crm_platform.csv_export import safe_cell
from tenants.audit.models import AuditEvent
from tenants.roles import Role
from tests.conftest import workspace_client
from tests.factories import MembershipFactory, UserFactory


def test_members_export_is_csv_with_formula_cells_neutralised_and_audited(alpha):
    evil = UserFactory.create(
        email="evil@alpha.example.com", full_name='=HYPERLINK("http://x","y")'
    )
    MembershipFactory.create(user=evil, tenant=alpha.tenant, role=Role.READ_ONLY)
    thai = UserFactory.create(email="somchai@alpha.example.com", full_name="สมชาย ใจดี")
    MembershipFactory.create(user=thai, tenant=alpha.tenant, role=Role.SALES_REP)
    manager = alpha.members[Role.MANAGER]

    response = workspace_client(manager.user, alpha.tenant).get("/members/export.csv")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="alpha-members.csv"'
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0] == ["name", "email", "role", "status", "joined", "last_seen"]
    names = {row[1]: row[0] for row in rows[1:]}
    assert names["evil@alpha.example.com"] == '\'=HYPERLINK("http://x","y")'
    assert names["somchai@alpha.example.com"] == "สมชาย ใจดี"
    assert len(rows) - 1 == len(alpha.members) + 2
    with schema_context(alpha.tenant.schema_name):
        event = AuditEvent.objects.get(action="members.exported")
    assert event.actor_email == manager.user.email
    assert event.data == {"rows": len(alpha.members) + 2}


def test_members_export_refused_for_a_sales_rep_and_not_audited(alpha):
    rep = alpha.members[Role.SALES_REP]
    response = workspace_client(rep.user, alpha.tenant).get("/members/export.csv")
    assert response.status_code == 403
    with schema_context(alpha.tenant.schema_name):
        assert not AuditEvent.objects.filter(action="members.exported").exists()


def test_safe_cell_guards_every_formula_prefix():
    for prefix in ("=", "+", "-", "@", "\t", "\r"):
        assert safe_cell(f"{prefix}1+1") == f"'{prefix}1+1"
    assert safe_cell("plain") == "plain"
    assert safe_cell(None) == ""
    assert safe_cell(42) == "42"
