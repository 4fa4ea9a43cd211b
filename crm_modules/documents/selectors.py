from __future__ import annotations

import operator
from datetime import date, datetime, time
from functools import reduce
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from crm_modules.documents.api import all_attachables, get_attachable, visible_records
from crm_modules.documents.models import Document, DocumentLink, DocumentVersion
from crm_modules.documents.module import MANAGE_TRASH, VIEW_DOCUMENTS
from tenants.models import Membership
from tenants.permissions import allows


def _visible(actor: Membership) -> QuerySet[Document]:
    """The documents the member may see: with the capability to view documents, those linked to
    no record and those linked to at least one record the member may see — one condition in
    the documents' query, whatever the number of documents."""
    if not allows(actor, VIEW_DOCUMENTS, reading=True):
        return Document.objects.none()
    links = DocumentLink.objects.filter(document_id=OuterRef("pk"))
    everywhere: list[str] = []
    reachable: list[Q] = []
    for attachable in all_attachables():
        records = visible_records(attachable, actor)
        if records is None:
            everywhere.append(attachable.key)
        elif not records.query.is_empty():
            reachable.append(Q(record_type=attachable.key, record_id__in=records.values("pk")))
    if everywhere:
        reachable.append(Q(record_type__in=everywhere))
    condition = Q(~Exists(links))
    if reachable:
        condition |= Q(Exists(links.filter(reduce(operator.or_, reachable))))
    return Document.objects.filter(condition)


def visible_documents(actor: Membership) -> QuerySet[Document]:
    """Every document the member may see, in the trash or not (ADR 0072)."""
    return _visible(actor)


def document_list(
    *,
    actor: Membership,
    query: str = "",
    content_type: str = "",
    uploaded_by: int | None = None,
    created_from: date | None = None,
    created_to: date | None = None,
    linked: str = "",
    linked_type: str = "",
    trash: bool = False,
) -> QuerySet[Document]:
    """Documents in (or out of) the trash, filtered by name, type, uploader, upload date and
    the records they are linked to (``linked``: words of a record's name; ``linked_type``: an
    attachable key)."""
    documents = _visible(actor).filter(deleted_at__isnull=not trash)
    if linked.strip() or linked_type:
        documents = documents.filter(_linked_to(actor=actor, text=linked.strip(), key=linked_type))
    if query:
        # icontains is a trigram-friendly substring match: it works for Thai and Chinese names.
        documents = documents.filter(name__icontains=query)
    if content_type:
        documents = documents.filter(
            Q(content_type=content_type) | Q(content_type__startswith=f"{content_type}/")
        )
    if uploaded_by is not None:
        documents = documents.filter(uploaded_by_id=uploaded_by)
    zone = timezone.get_current_timezone()
    if created_from is not None:
        documents = documents.filter(
            created_at__gte=datetime.combine(created_from, time.min, tzinfo=zone)
        )
    if created_to is not None:
        documents = documents.filter(
            created_at__lte=datetime.combine(created_to, time.max, tzinfo=zone)
        )
    return documents.select_related("uploaded_by").order_by("-created_at", "-id")


def _linked_to(*, actor: Membership, text: str, key: str) -> Q:
    """Documents linked to a record of type ``key`` (any type when empty) whose name matches
    ``text`` (any record when empty), among the records the member may see."""
    condition = Q(pk__in=[])
    for attachable in all_attachables():
        if key and attachable.key != key:
            continue
        if not allows(actor, attachable.capability_to_view, reading=True):
            continue
        links = DocumentLink.objects.filter(record_type=attachable.key)
        if text:
            if attachable.search is None:
                continue
            links = links.filter(record_id__in=attachable.search(actor, text).values("pk"))
        condition |= Q(pk__in=links.values("document_id"))
    return condition


def linked_records(*, actor: Membership, documents: list[Document]) -> dict[int, list[str]]:
    """For each document, "<type>: <record>" of the records it is linked to that the member may
    see: one query for the links and one per record type."""
    links = list(
        DocumentLink.objects.filter(document__in=documents)
        .order_by("record_type", "record_id")
        .values_list("document_id", "record_type", "record_id")
    )
    by_type: dict[str, set[int]] = {}
    for _document_id, record_type, record_id in links:
        by_type.setdefault(record_type, set()).add(record_id)
    names: dict[tuple[str, int], str] = {}
    for record_type, ids in by_type.items():
        attachable = get_attachable(record_type)
        if attachable is None or not allows(actor, attachable.capability_to_view, reading=True):
            continue
        for record in attachable.model._default_manager.filter(pk__in=ids):
            if allows(actor, attachable.capability_to_view, record, reading=True):
                names[(record_type, record.pk)] = f"{attachable.label}: {record}"
    found: dict[int, list[str]] = {}
    for document_id, record_type, record_id in links:
        if (record_type, record_id) in names:
            found.setdefault(document_id, []).append(names[(record_type, record_id)])
    return found


def document_get(*, actor: Membership, document_id: int, trash: bool = False) -> Document:
    """A document of this workspace the member may see; 404 otherwise. ``trash``: a document in
    the trash, for those who may restore it."""
    if trash and not allows(actor, MANAGE_TRASH, reading=True):
        raise Http404("No such document")
    document = _visible(actor).filter(pk=document_id, deleted_at__isnull=not trash).first()
    if document is None:
        raise Http404("No such document")
    return document


def document_versions(*, document: Document) -> QuerySet[DocumentVersion]:
    return document.versions.select_related("uploaded_by").order_by("-number")


def document_version_get(*, document: Document, number: int) -> DocumentVersion:
    version = document.versions.filter(number=number).first()
    if version is None:
        raise Http404("No such version")
    return version


def documents_for_record(*, actor: Membership, record_type: str, record: Any) -> QuerySet[Document]:
    """The documents attached to a loaded record, if the member may see it (none if they may
    not, or if ``record_type`` is not attachable)."""
    attachable = get_attachable(record_type)
    if attachable is None or not allows(actor, attachable.capability_to_view, record, reading=True):
        return Document.objects.none()
    return (
        _visible(actor)
        .filter(
            deleted_at__isnull=True,
            links__record_type=record_type,
            links__record_id=record.pk,
        )
        .select_related("uploaded_by")
        .order_by("-created_at", "-id")
    )
