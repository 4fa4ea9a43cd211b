from __future__ import annotations

import pytest

from crm_modules.documents.api import (
    all_attachables,
    attachable_record,
    get_attachable,
    register_attachable,
)
from tenants.roles import Role
from tests.kit_module.models import Note
from tests.kit_module.module import VIEW_NOTES


def test_a_module_registers_a_record_type(notes_attachable):
    attachable = get_attachable(notes_attachable)
    assert attachable is not None
    assert attachable.model is Note
    assert attachable.capability_to_view is VIEW_NOTES
    assert attachable in all_attachables()


def test_a_key_is_registered_once(notes_attachable):
    with pytest.raises(ValueError, match="already registered"):
        register_attachable(notes_attachable, Note, "Note", VIEW_NOTES)


@pytest.mark.parametrize("key", ["Note", "kit module", "../note", "", "note."])
def test_a_key_is_lower_case_dotted_words(key):
    with pytest.raises(ValueError, match="lower-case dotted words"):
        register_attachable(key, Note, "Note", VIEW_NOTES)
    assert get_attachable(key) is None


def test_a_record_is_found_only_within_the_members_scope(notes_attachable, in_alpha):
    rep = in_alpha.members[Role.SALES_REP]
    own = Note.objects.create(title="Mine", owner=rep.user)
    others = Note.objects.create(title="Owner's", owner=in_alpha.owner.user)

    assert attachable_record(actor=rep, key=notes_attachable, record_id=own.pk) == own
    assert attachable_record(actor=rep, key=notes_attachable, record_id=others.pk) is None
    assert (
        attachable_record(actor=in_alpha.owner, key=notes_attachable, record_id=others.pk) == others
    )
    # A role without the capability, an unknown type and a missing record look the same.
    marketer = in_alpha.members[Role.MARKETER]
    assert attachable_record(actor=marketer, key=notes_attachable, record_id=own.pk) is None
    assert attachable_record(actor=rep, key="sales.deal", record_id=own.pk) is None
    assert attachable_record(actor=rep, key=notes_attachable, record_id=own.pk + 1000) is None


def test_without_registration_nothing_is_attachable(in_alpha):
    note = Note.objects.create(title="Mine", owner=in_alpha.owner.user)
    assert get_attachable("kit_module.note") is None
    assert attachable_record(actor=in_alpha.owner, key="kit_module.note", record_id=note.pk) is None
