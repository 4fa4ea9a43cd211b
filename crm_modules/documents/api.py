"""The documents module's facade: what other modules may import.

The attachables registry: a module registers each record type documents may attach to, by a
key, and documents refer to records by (key, id) — no foreign key to another module's tables.
A module registers its types from its own ``module.py``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.urls import reverse
from django.utils.functional import Promise

from tenants.capabilities import Capability, Scope
from tenants.models import Membership
from tenants.modules import register_record_panel, unregister_record_panel
from tenants.permissions import allows, scope_filter

_KEY = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")


@dataclass(frozen=True)
class Attachable:
    key: str
    model: type[models.Model]
    label: str | Promise
    capability_to_view: Capability
    # ``search(member, text)``: the records the member may see whose name matches ``text`` (a
    # queryset, used as a subquery of ids), so documents are found by what they are linked to.
    search: Callable[[Membership, str], models.QuerySet[Any]] | None = None
    # ``visible(member)``: the records the member may see (a queryset, used as a subquery of
    # ids), the same ones ``allows(member, capability_to_view, record)`` grants one by one.
    visible: Callable[[Membership], models.QuerySet[Any]] | None = None
    # Linking an existing document to a record, or unlinking it, changes the record: it needs
    # this capability on the record (``capability_to_view`` when none is registered).
    capability_to_edit: Capability | None = None

    @property
    def capability_to_link(self) -> Capability:
        return self.capability_to_edit or self.capability_to_view


_REGISTRY: dict[str, Attachable] = {}


def register_attachable(
    key: str,
    model: type[models.Model],
    label: str | Promise,
    capability_to_view: Capability,
    *,
    search: Callable[[Membership, str], models.QuerySet[Any]] | None = None,
    visible: Callable[[Membership], models.QuerySet[Any]] | None = None,
    capability_to_edit: Capability | None = None,
) -> Attachable:
    """Let documents attach to records of ``model``. A member sees a record's documents, and
    may attach to it, only where ``capability_to_view`` reaches that record. With ``search``,
    the Documents page finds documents by the names of the records they are linked to. The
    record type's page shows its Documents panel through the record-panel registry (the page
    renders ``{% record_panels "<key>" record %}``). A document linked to records is shown only
    to members who may see one of them: ``visible`` gives the records a member may see (by
    default, the owner scope of ``capability_to_view`` on the model's ``owner``). Linking an
    existing document to a record (or unlinking it) needs ``capability_to_edit`` on the record
    (ADR 0073)."""
    if not _KEY.match(key):
        raise ValueError(f"Attachable key {key!r} must be lower-case dotted words")
    if key in _REGISTRY:
        raise ValueError(f"Attachable {key} is already registered")
    attachable = Attachable(
        key=key,
        model=model,
        label=label,
        capability_to_view=capability_to_view,
        search=search,
        visible=visible,
        capability_to_edit=capability_to_edit,
    )
    _REGISTRY[key] = attachable
    register_record_panel(
        f"documents.{key}",
        record_type=key,
        template="documents/_record_panel.html",
        capability=_view_documents(),
        context=panel_context(key),
        order=40,
    )
    return attachable


def unregister_attachable(key: str) -> None:
    _REGISTRY.pop(key, None)
    unregister_record_panel(f"documents.{key}")


def _view_documents() -> Capability:
    from crm_modules.documents.module import VIEW_DOCUMENTS

    return VIEW_DOCUMENTS


def panel_context(key: str) -> Callable[[Membership, Any], dict[str, Any]]:
    def context(membership: Membership, record: Any) -> dict[str, Any]:
        from crm_modules.documents.module import UPLOAD_DOCUMENTS
        from crm_modules.documents.selectors import documents_for_record

        attachable = _REGISTRY[key]
        return {
            "documents": documents_for_record(actor=membership, record_type=key, record=record),
            "can_upload": allows(membership, UPLOAD_DOCUMENTS),
            "can_link": allows(membership, UPLOAD_DOCUMENTS)
            and allows(membership, attachable.capability_to_link, record),
            "record_type": key,
            "record_id": record.pk,
            "start_url": reverse("documents:upload_start"),
            "complete_url": reverse("documents:upload_complete"),
        }

    return context


def get_attachable(key: str) -> Attachable | None:
    return _REGISTRY.get(key)


def all_attachables() -> list[Attachable]:
    return list(_REGISTRY.values())


def visible_records(attachable: Attachable, actor: Membership) -> models.QuerySet[Any] | None:
    """The records of ``attachable`` the member may see, as a queryset to use as a subquery;
    None when they may see every one (no subquery needed)."""
    model = attachable.model
    capability = attachable.capability_to_view
    if not allows(actor, capability, reading=True):
        return model._default_manager.none()
    if attachable.visible is not None:
        return attachable.visible(actor)
    if not capability.is_record_scoped:
        return None
    if any(field.name == "owner" for field in model._meta.get_fields()):
        return scope_filter(model._default_manager.all(), actor, capability, owner_field="owner")
    # As ``allows``: an unowned record is reached only by a role that sees everything.
    if capability.scope_for(actor.role) is Scope.ALL:
        return None
    return model._default_manager.none()


def attachable_record(
    *, actor: Membership, key: str, record_id: int, lock: bool = False
) -> Any | None:
    """The record of type ``key`` with ``record_id`` if the member may see it, else None
    (an unknown type, a missing record and one out of reach look the same). ``lock``: the
    row is locked until the transaction ends."""
    attachable = _REGISTRY.get(key)
    if attachable is None or not allows(actor, attachable.capability_to_view, reading=True):
        return None
    records = attachable.model._default_manager.filter(pk=record_id)
    record = (records.select_for_update() if lock else records).first()
    if record is None or not allows(actor, attachable.capability_to_view, record, reading=True):
        return None
    return record


def document_links_move(*, record_type: str, source_id: int, target_id: int) -> dict[str, Any]:
    """Move every document attached to one record to another of the same type (a merge);
    a document already on the target only loses its link to the source. Returns what
    ``document_links_move_back`` needs to undo it."""
    from crm_modules.documents.models import DocumentLink

    links = DocumentLink.objects.filter(record_type=record_type, record_id=source_id)
    on_target = DocumentLink.objects.filter(record_type=record_type, record_id=target_id)
    shared = links.filter(document_id__in=on_target.values("document_id"))
    dropped = list(shared.values_list("document_id", flat=True))
    shared.delete()
    moved = list(links.values_list("pk", flat=True))
    links.update(record_id=target_id)
    return {"type": record_type, "id": source_id, "moved": moved, "dropped": dropped}


def document_links_move_back(moved: dict[str, Any]) -> None:
    from crm_modules.documents.models import Document, DocumentLink

    DocumentLink.objects.filter(pk__in=moved["moved"]).update(record_id=moved["id"])
    still_there = Document.objects.filter(pk__in=moved["dropped"]).values_list("pk", flat=True)
    DocumentLink.objects.bulk_create(
        [
            DocumentLink(document_id=document_id, record_type=moved["type"], record_id=moved["id"])
            for document_id in still_there
        ],
        ignore_conflicts=True,
    )


def document_store(
    *,
    tenant: Any,
    name: str,
    content_type: str,
    data: bytes,
    record_type: str,
    record_id: int,
) -> Any:
    """Store bytes the server received itself (an email attachment) as a document attached to
    a registered record, no member acting; raises ``ServiceError`` naming the problem (too big,
    over the quota, unknown record). See ``services.document_store``."""
    from crm_modules.documents.services import document_store as store

    return store(
        tenant=tenant,
        name=name,
        content_type=content_type,
        data=data,
        record_type=record_type,
        record_id=record_id,
    )
