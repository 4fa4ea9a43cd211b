"""Which custom values of contacts and companies a write changed, told to the modules that
read them (service chooses SLA policies by the ``tier`` value, ADR 0061). Listeners are called
inside the writing transaction; slow work goes to ``transaction.on_commit``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

# (entity — "contact" or "company" —, record ids, codes of the custom values that changed)
CustomChangeListener = Callable[[str, list[int], frozenset[str]], None]
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
