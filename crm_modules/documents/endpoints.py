"""``/api/v1/documents/``: list, retrieve, delete (to the trash) and restore. Uploads go through
the presigned two-step flow of the pages (``uploads/``, ``uploads/complete/``)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.urls import path
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crm_modules.documents import selectors, services
from crm_modules.documents.models import Document
from crm_modules.documents.module import MANAGE_TRASH, UPLOAD_DOCUMENTS, VIEW_DOCUMENTS


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
    capability = VIEW_DOCUMENTS
    serializer_class = DocumentOut

    def get_queryset(self) -> QuerySet[Document]:
        return selectors.document_list(
            actor=_membership(self.request), query=self.request.query_params.get("q", "")
        ).order_by("-pk")


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
    path("<int:document_id>/", DocumentDetail.as_view(), name="document-detail"),
    path(
        "trash/<int:trashed_document_id>/restore/",
        DocumentRestore.as_view(),
        name="document-restore",
    ),
]
