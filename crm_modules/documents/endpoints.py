"""``/api/v1/documents/``: list, retrieve, delete (to the trash) and restore; uploads in two
steps — ``uploads/`` (or ``<id>/versions/``) answers a presigned PUT (or, for a large file, one
per part) and a ticket, the caller sends the bytes to S3, ``uploads/complete/`` verifies them
and records the document; ``<id>/download/`` answers where to fetch the bytes — a short-lived
presigned GET, or for an active type ``<id>/content/``, which streams the bytes of any type as
an attachment with ``nosniff`` (ADR 0077);
``<id>/links/`` links a document to one more record and ``<id>/links/remove/`` takes it off
one."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponseBase
from django.urls import path, reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crm_modules.documents import selectors, services
from crm_modules.documents.api import all_attachables
from crm_modules.documents.models import Document
from crm_modules.documents.module import MANAGE_TRASH, UPLOAD_DOCUMENTS, VIEW_DOCUMENTS
from crm_modules.documents.responses import download_response


class DocumentOut(serializers.ModelSerializer[Document]):
    class Meta:
        model = Document
        fields = (
            "id",
            "name",
            "content_type",
            "size",
            "current_version",
            "uploaded_by",
            "created_at",
            "deleted_at",
        )
        read_only_fields = fields


def _membership(request: Request) -> Any:
    return request._request.membership  # type: ignore[attr-defined]


class DocumentList(generics.ListAPIView[Document]):
    """Documents outside the trash; ``q`` matches the name, ``linked`` the name of a record the
    document is linked to, ``linked_type`` that record's type (an attachable key)."""

    capability = VIEW_DOCUMENTS
    serializer_class = DocumentOut

    def get_queryset(self) -> QuerySet[Document]:
        params = self.request.query_params
        return selectors.document_list(
            actor=_membership(self.request),
            query=params.get("q", "")[:255],
            linked=params.get("linked", "")[:100],
            linked_type=params.get("linked_type", "")[:64],
        ).order_by("-pk")


class UploadIn(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=4000)
    content_type = serializers.CharField(max_length=255, required=False, allow_blank=True)
    size = serializers.IntegerField(min_value=0)
    record_type = serializers.CharField(max_length=64, required=False, allow_blank=True)
    record_id = serializers.IntegerField(min_value=1, required=False, allow_null=True)


class PartOut(serializers.Serializer[Any]):
    """PUT the part's bytes to ``url`` with ``headers``."""

    number = serializers.IntegerField()
    size = serializers.IntegerField()
    url = serializers.URLField()
    headers = serializers.DictField(child=serializers.CharField())


class UploadOut(serializers.Serializer[Any]):
    """Either ``url`` and ``headers`` (PUT the whole file there with those headers) or, for a
    large file, ``part_size`` and ``parts`` (PUT each part to its URL); then complete with
    ``ticket``."""

    ticket = serializers.CharField()
    url = serializers.CharField(allow_blank=True)
    headers = serializers.DictField(child=serializers.CharField())
    part_size = serializers.IntegerField()
    parts = PartOut(many=True)


class UploadTicketIn(serializers.Serializer[Any]):
    ticket = serializers.CharField(max_length=4000)


class ResumeOut(UploadOut):
    """The parts S3 already holds (``received``) and a fresh presigned PUT for each of the
    others (``parts``); then complete with the same ticket."""

    received = serializers.ListField(child=serializers.IntegerField())


class DownloadOut(serializers.Serializer[Any]):
    """``url``: a presigned GET valid ``expires_in`` seconds, or for an active type this API's
    ``<id>/content/`` (``expires_in`` null), fetched with the same authorisation."""

    url = serializers.URLField()
    expires_in = serializers.IntegerField(allow_null=True)


def _ticket_out(ticket: services.UploadTicket) -> dict[str, Any]:
    return {
        "ticket": ticket.ticket,
        "url": ticket.url,
        "headers": ticket.headers,
        "part_size": ticket.part_size,
        "parts": ticket.parts,
    }


def _start(request: Request, document: Document | None) -> Response:
    body = UploadIn(data=request.data)
    body.is_valid(raise_exception=True)
    data = body.validated_data
    ticket = services.document_upload_start(
        actor=_membership(request),
        name=data["name"],
        content_type=data.get("content_type", ""),
        size=data["size"],
        record_type=data.get("record_type", ""),
        record_id=data.get("record_id"),
        document=document,
    )
    return Response(UploadOut(_ticket_out(ticket)).data)


class UploadStart(APIView):
    capability = UPLOAD_DOCUMENTS

    @extend_schema(request=UploadIn, responses={200: UploadOut})
    def post(self, request: Request) -> Response:
        """Ask to upload a new document (attached to a record when one is given). Refused
        before any byte is sent when the file is too large or the storage quota is used up."""
        return _start(request, None)


class VersionUploadStart(APIView):
    capability = UPLOAD_DOCUMENTS

    @extend_schema(request=UploadIn, responses={200: UploadOut})
    def post(self, request: Request, document_id: int) -> Response:
        """Ask to upload a new version of a document."""
        document = selectors.document_get(actor=_membership(request), document_id=document_id)
        return _start(request, document)


class UploadComplete(APIView):
    capability = UPLOAD_DOCUMENTS

    @extend_schema(request=UploadTicketIn, responses={201: DocumentOut})
    def post(self, request: Request) -> Response:
        """Verify the bytes S3 received (size, type sniffed from the content) and record the
        document or its new version."""
        body = UploadTicketIn(data=request.data)
        body.is_valid(raise_exception=True)
        document = services.document_upload_complete(
            actor=_membership(request), ticket=body.validated_data["ticket"]
        )
        return Response(DocumentOut(document).data, status=status.HTTP_201_CREATED)


class UploadResume(APIView):
    capability = UPLOAD_DOCUMENTS

    @extend_schema(request=UploadTicketIn, responses={200: ResumeOut})
    def post(self, request: Request) -> Response:
        """After a dropped connection: which parts of an upload in parts S3 already holds, and
        fresh presigned PUTs for the rest."""
        body = UploadTicketIn(data=request.data)
        body.is_valid(raise_exception=True)
        ticket = services.document_upload_resume(
            actor=_membership(request), ticket=body.validated_data["ticket"]
        )
        return Response(ResumeOut({**_ticket_out(ticket), "received": ticket.received}).data)


class UploadAbort(APIView):
    capability = UPLOAD_DOCUMENTS

    @extend_schema(request=UploadTicketIn, responses={204: None})
    def post(self, request: Request) -> Response:
        """Cancel an upload in parts: S3 drops the parts it holds; nothing was recorded."""
        body = UploadTicketIn(data=request.data)
        body.is_valid(raise_exception=True)
        services.document_upload_abort(
            actor=_membership(request), ticket=body.validated_data["ticket"]
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class DocumentDownload(APIView):
    capability = VIEW_DOCUMENTS

    @extend_schema(responses={200: DownloadOut})
    def get(self, request: Request, document_id: int) -> Response:
        """Where to fetch the current version: a presigned GET valid for a minute (previewable
        types that the content confirms inline, other inert types as an attachment), or for
        an active type (HTML, SVG, XML, executables, unknown types) ``<id>/content/``."""
        actor = _membership(request)
        document = selectors.document_get(actor=actor, document_id=document_id)
        version = document.versions.get(number=document.current_version)
        if services.active(version, name=document.name):
            url = request.build_absolute_uri(
                reverse("api:document-content", kwargs={"document_id": document.pk})
            )
            return Response(DownloadOut({"url": url, "expires_in": None}).data)
        url = services.document_download_url(actor=actor, document=document, version=version)
        expires_in = services.download_url_seconds()
        return Response(DownloadOut({"url": url, "expires_in": expires_in}).data)


class DocumentContent(APIView):
    capability = VIEW_DOCUMENTS

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(self, request: Request, document_id: int) -> HttpResponseBase:
        """The current version's bytes, streamed as an attachment whatever its type
        (``application/octet-stream``, ``X-Content-Type-Options: nosniff``, a sandboxing
        Content-Security-Policy). ``<id>/download/`` points here for active types."""
        actor = _membership(request)
        document = selectors.document_get(actor=actor, document_id=document_id)
        return download_response(
            request._request,
            services.document_download(actor=actor, document=document, streamed=True),
        )


class DocumentDetail(generics.RetrieveDestroyAPIView[Document]):
    capabilities = {"GET": VIEW_DOCUMENTS, "DELETE": UPLOAD_DOCUMENTS}
    capability = VIEW_DOCUMENTS
    serializer_class = DocumentOut

    def get_object(self) -> Document:
        return selectors.document_get(
            actor=_membership(self.request), document_id=self.kwargs["document_id"]
        )

    def perform_destroy(self, instance: Document) -> None:
        services.document_delete(actor=_membership(self.request), document=instance)


class LinkIn(serializers.Serializer[Any]):
    """A record of a type documents attach to: ``record_type`` (an attachable key such as
    ``sales.deal``) and its ``record_id``."""

    record_type = serializers.ChoiceField(choices=[])
    record_id = serializers.IntegerField(min_value=1)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["record_type"].choices = sorted(a.key for a in all_attachables())  # type: ignore[attr-defined]


class LinkOut(serializers.Serializer[Any]):
    document = serializers.IntegerField(source="document_id")
    record_type = serializers.CharField()
    record_id = serializers.IntegerField()
    linked_by = serializers.IntegerField(source="linked_by_id", allow_null=True)
    created_at = serializers.DateTimeField()


def _link_request(request: Request, document_id: int) -> tuple[Any, Document, dict[str, Any]]:
    actor = _membership(request)
    document = selectors.document_get(actor=actor, document_id=document_id)
    body = LinkIn(data=request.data)
    body.is_valid(raise_exception=True)
    return actor, document, body.validated_data


class DocumentLinkCreate(APIView):
    capability = UPLOAD_DOCUMENTS

    @extend_schema(request=LinkIn, responses={201: LinkOut})
    def post(self, request: Request, document_id: int) -> Response:
        """Link a document to one more record (one the caller may edit). Linking it again
        changes nothing and answers the same link."""
        actor, document, data = _link_request(request, document_id)
        link, _created = services.document_link(
            actor=actor,
            document=document,
            record_type=data["record_type"],
            record_id=data["record_id"],
        )
        return Response(LinkOut(link).data, status=status.HTTP_201_CREATED)


class DocumentLinkRemove(APIView):
    capability = UPLOAD_DOCUMENTS

    @extend_schema(request=LinkIn, responses={204: None})
    def post(self, request: Request, document_id: int) -> Response:
        """Take a document off one record (one the caller may edit). Its last record is
        refused: delete the document instead."""
        actor, document, data = _link_request(request, document_id)
        services.document_unlink(
            actor=actor,
            document=document,
            record_type=data["record_type"],
            record_id=data["record_id"],
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class DocumentRestore(APIView):
    capability = MANAGE_TRASH
    serializer_class = DocumentOut

    def post(self, request: Request, trashed_document_id: int) -> Response:
        actor = _membership(request)
        document = selectors.document_get(actor=actor, document_id=trashed_document_id, trash=True)
        document = services.document_restore(actor=actor, document=document)
        return Response(DocumentOut(document).data, status=status.HTTP_200_OK)


urlpatterns = [
    path("", DocumentList.as_view(), name="document-list"),
    path("uploads/", UploadStart.as_view(), name="document-upload-start"),
    path("uploads/complete/", UploadComplete.as_view(), name="document-upload-complete"),
    path("uploads/resume/", UploadResume.as_view(), name="document-upload-resume"),
    path("uploads/abort/", UploadAbort.as_view(), name="document-upload-abort"),
    path("<int:document_id>/download/", DocumentDownload.as_view(), name="document-download"),
    path("<int:document_id>/content/", DocumentContent.as_view(), name="document-content"),
    path(
        "<int:document_id>/versions/",
        VersionUploadStart.as_view(),
        name="document-version-upload-start",
    ),
    path("<int:document_id>/links/", DocumentLinkCreate.as_view(), name="document-link"),
    path(
        "<int:document_id>/links/remove/",
        DocumentLinkRemove.as_view(),
        name="document-link-remove",
    ),
    path("<int:document_id>/", DocumentDetail.as_view(), name="document-detail"),
    path(
        "trash/<int:trashed_document_id>/restore/",
        DocumentRestore.as_view(),
        name="document-restore",
    ),
]
