from django.db.models import QuerySet
from django.http import Http404

from tenants.models import Membership
from tenants.permissions import scope_filter
from tests.kit_module.models import Note
from tests.kit_module.module import VIEW_NOTES


def note_list(*, actor: Membership) -> QuerySet[Note]:
    return scope_filter(Note.objects.order_by("-pk"), actor, VIEW_NOTES, owner_field="owner")


def note_get(*, actor: Membership, note_id: int) -> Note:
    note = note_list(actor=actor).filter(pk=note_id).first()
    if note is None:
        raise Http404("No such note")
    return note
