from __future__ import annotations

from django.template import Context, Template
from django.test import RequestFactory
from django_tenants.utils import schema_context

from crm_modules.documents.models import Document, DocumentLink
from tenants.roles import Role
from tests.kit_module.models import Note

# What every record page renders: the panels other modules registered for its record type.
PANEL = Template(
    "{% load workspace %}{% record_panels record_type record as panels %}"
    "{% for item in panels %}{% include item.template with panel=item.panel %}{% endfor %}"
)


def _render(member, record_type, record) -> str:
    request = RequestFactory().get("/notes/")
    request.membership = member  # type: ignore[attr-defined]
    return PANEL.render(
        Context(
            {"membership": member, "request": request, "record_type": record_type, "record": record}
        )
    )


def test_a_record_page_shows_its_documents_and_an_upload_zone(alpha, notes_attachable):
    rep = alpha.members[Role.SALES_REP]
    with schema_context(alpha.tenant.schema_name):
        note = Note.objects.create(title="Deal", owner=rep.user)
        attached = Document.objects.create(
            name="<i>Offer</i>.pdf", content_type="application/pdf", size=3, uploaded_by=rep.user
        )
        Document.objects.create(name="Elsewhere.pdf", content_type="application/pdf", size=3)
        DocumentLink.objects.create(
            document=attached, record_type=notes_attachable, record_id=note.pk
        )

        html = _render(rep, notes_attachable, note)
        others = _render(alpha.members[Role.MARKETER], notes_attachable, note)

    assert "&lt;i&gt;Offer&lt;/i&gt;.pdf" in html
    assert "Elsewhere.pdf" not in html
    assert f'data-record-type="{notes_attachable}" data-record-id="{note.pk}"' in html
    assert 'capture="environment"' in html
    # A member who may not see the record sees none of its documents.
    assert "Offer" not in others


def test_every_attachable_type_has_its_panel_in_the_registry(notes_attachable):
    from tenants.modules import record_panels

    assert [p.key for p in record_panels(notes_attachable)] == [f"documents.{notes_attachable}"]
    for key in ("sales.contact", "sales.company", "sales.deal", "sales.lead"):
        assert f"documents.{key}" in [p.key for p in record_panels(key)]
