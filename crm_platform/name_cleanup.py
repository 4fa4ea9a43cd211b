"""Names stored before the text rule (``normalise_text``) are cleaned by data migrations, so
``migrate_all`` cleans the public schema and every workspace schema alike.

Each app's migration names its name-like fields; ``clean_stored_names`` returns the RunPython
function. Only rows that need it are read: PostgreSQL finds them (a control, direction or
private-use character, stray whitespace, or text not in NFC), so a workspace with a million
clean contacts costs one indexed-free scan and no Python loop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.db.models import BooleanField, F, Func, Q

from crm_platform.validation import BIDI_CONTROLS, normalise_text

# Placed where a required name held nothing but forbidden characters.
EMPTY_NAME = "?"
# The characters normalise_text refuses, as a PostgreSQL bracket expression (NUL cannot be
# stored in text), plus whitespace that normalise_text would collapse or trim.
_NEEDS_CLEANING = (
    "[\x01-\x1f\x7f-\x9f"
    + "".join(sorted(BIDI_CONTROLS))
    + "\ue000-\uf8ff\U000f0000-\U0010ffff]"
    + r"|^\s|\s$|\s\s"
)


class NotNfcNormalized(Func):
    """PostgreSQL's ``text IS NOT NFC NORMALIZED``."""

    template = "%(expressions)s IS NOT NFC NORMALIZED"
    output_field = BooleanField()


def clean_stored_names(
    app_label: str, fields: Mapping[str, Iterable[str]]
) -> Callable[[Any, Any], None]:
    """A RunPython function cleaning ``{model name: [field, …]}`` of ``app_label``."""

    def run(apps: Any, schema_editor: Any) -> None:
        for model_name, names in fields.items():
            model = apps.get_model(app_label, model_name)
            clean_rows(model, list(names))

    return run


def clean_rows(model: Any, names: list[str]) -> int:
    """Clean the given fields of every row of ``model`` that needs it; returns rows changed."""
    columns = [model._meta.get_field(name) for name in names]
    needs_cleaning = Q()
    for field in columns:
        needs_cleaning |= Q(**{f"{field.name}__regex": _NEEDS_CLEANING})
        needs_cleaning |= Q(**{f"_not_nfc_{field.name}": True})
    # A model's default ordering may join another table: read by primary key only.
    rows = (
        model.objects.alias(
            **{f"_not_nfc_{field.name}": NotNfcNormalized(F(field.name)) for field in columns}
        )
        .filter(needs_cleaning)
        .order_by("pk")
    )
    changed = 0
    for row in rows.only("pk", *names).iterator(chunk_size=500):
        updates = {}
        for field in columns:
            old = getattr(row, field.attname)
            new = normalise_text(old, strip=True)
            if not new and old and not field.blank:
                new = EMPTY_NAME
            if new != old:
                updates[field.attname] = new
        if updates:
            model.objects.filter(pk=row.pk).update(**updates)
            changed += 1
    return changed
