from tenants.audit.services import audit_record
from tenants.live import publish
from tenants.models import Membership
from tenants.permissions import require
from tests.kit_module.models import Note
from tests.kit_module.module import EDIT_NOTES, NOTE_RENAMED, NOTES_TOPIC


def note_rename(*, actor: Membership, note: Note, title: str) -> Note:
    require(actor, EDIT_NOTES, note)
    note.title = title[:100]
    note.save(update_fields=["title"])
    audit_record(tenant=actor.tenant, actor=actor.user, action=NOTE_RENAMED, target=note)
    publish(tenant=actor.tenant, topic=NOTES_TOPIC, event="note.renamed", payload={"id": note.pk})
    return note
