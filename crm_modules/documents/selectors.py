from __future__ import annotations

from datetime import date, datetime, time

from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from crm_modules.documents.api import attachable_record
from crm_modules.documents.models import Document, DocumentVersion
from crm_modules.documents.module import MANAGE_TRASH, VIEW_DOCUMENTS
from tenants.models import Membership
from tenants.permissions import allows


def _visible(actor: Membership) -> QuerySet[Document]:
    if not allows(actor, VIEW_DOCUMENTS, reading=True):
        return Document.objects.none()
    return Document.objects.all()


def document_list(
    *,
    actor: Membership,
    query: str = "",
    content_type: str = "",
    uploaded_by: int | None = None,
    created_from: date | None = None,
    created_to: date | None = None,
    trash: bool = False,
) -> QuerySet[Document]:
    documents = _visible(actor).filter(deleted_at__isnull=not trash)
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


def documents_for_record(
    *, actor: Membership, record_type: str, record_id: int
) -> QuerySet[Document]:
    """The documents attached to a record the member may see (none if they may not)."""
    if attachable_record(actor=actor, key=record_type, record_id=record_id) is None:
        return Document.objects.none()
    return (
        _visible(actor)
        .filter(
            deleted_at__isnull=True,
            links__record_type=record_type,
            links__record_id=record_id,
        )
        .select_related("uploaded_by")
        .order_by("-created_at", "-id")
    )
