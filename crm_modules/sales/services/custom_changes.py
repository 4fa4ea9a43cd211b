"""What a write changed about contacts and companies, told to the modules that keep something
of theirs (service chooses SLA policies by the ``tier`` value and keeps tickets on contacts
and companies, ADR 0061, 0068). Listeners are called inside the writing transaction; slow work
goes to ``transaction.on_commit``.

- Custom values: the codes a record write changed (``custom_values_changed``), or a field's
  definition changed so that every record's stored value may read differently now — archived,
  restored, deleted, a select's options changed (``custom_definition_changed``; the listener
  gets ``None`` for the ids: every record of the entity).
- Merges: the records merged into a survivor (``records_merged``), before they are deleted,
  so a module moves what it keeps of theirs to the survivor; what each module returns is kept
  with the merge and handed back when the merge is undone (``records_unmerged``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# (entity — "contact" or "company" —, record ids or None for every record, codes changed)
CustomChangeListener = Callable[[str, list[int] | None, frozenset[str]], None]
_LISTENERS: dict[str, CustomChangeListener] = {}


def register_custom_change_listener(key: str, listener: CustomChangeListener) -> None:
    _LISTENERS[key] = listener


def unregister_custom_change_listener(key: str) -> None:
    _LISTENERS.pop(key, None)


def changed_codes(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> set[str]:
    old, new = before or {}, after or {}
    return {code for code in set(old) | set(new) if old.get(code) != new.get(code)}


def custom_values_changed(*, entity: str, ids: Iterable[int], codes: Iterable[str]) -> None:
    """Inside the writing transaction: these records' custom values ``codes`` changed."""
    changed, record_ids = frozenset(codes), sorted({int(pk) for pk in ids})
    if not changed or not record_ids:
        return
    for listener in list(_LISTENERS.values()):
        listener(entity, record_ids, changed)


def custom_definition_changed(*, entity: str, code: str) -> None:
    """Inside the writing transaction: the field ``code`` of ``entity`` was defined,
    archived, restored, deleted or given other options, so every record's value may read
    differently."""
    for listener in list(_LISTENERS.values()):
        listener(entity, None, frozenset({code}))


@dataclass(frozen=True)
class MergeListener:
    """``moved(entity, survivor_id, merged_ids)`` moves what the module keeps of the merged
    records to the survivor and returns what it moved (JSON); ``moved_back(entity,
    survivor_id, moved)`` undoes it from that."""

    moved: Callable[[str, int, list[int]], Any]
    moved_back: Callable[[str, int, Any], None]


_MERGE_LISTENERS: dict[str, MergeListener] = {}


def register_merge_listener(key: str, listener: MergeListener) -> None:
    _MERGE_LISTENERS[key] = listener


def unregister_merge_listener(key: str) -> None:
    _MERGE_LISTENERS.pop(key, None)


def records_merged(*, entity: str, survivor_id: int, merged_ids: list[int]) -> dict[str, Any]:
    """Inside the merge, before the merged records are deleted: each module moves what it
    keeps of them to the survivor. Returns what each moved, by listener key."""
    return {
        key: _MERGE_LISTENERS[key].moved(entity, survivor_id, list(merged_ids))
        for key in sorted(_MERGE_LISTENERS)
    }


def records_unmerged(*, entity: str, survivor_id: int, moved: Mapping[str, Any]) -> None:
    """Inside the undo, after the merged records are back: each module moves back what it
    moved (a listener no longer registered is skipped)."""
    for key in sorted(moved):
        listener = _MERGE_LISTENERS.get(key)
        if listener is not None:
            listener.moved_back(entity, survivor_id, moved[key])
