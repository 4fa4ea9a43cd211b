"""``/api/v1/data/``: imports (their progress and counts) and exports of the sales lists. An
export asked through the API always runs in the background; its download URL appears on the
export once it is ready."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.urls import path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crm_modules.dataio import selectors
from crm_modules.dataio.models import ExportJob, ImportJob
from crm_modules.dataio.module import EXPORT_RECORDS, IMPORT_RECORDS
from crm_modules.dataio.services import exports


def _membership(request: Request) -> Any:
    return request._request.membership  # type: ignore[attr-defined]


class ImportOut(serializers.ModelSerializer[ImportJob]):
    class Meta:
        model = ImportJob
        fields = (
            "id",
            "entity",
            "file_name",
            "file_format",
            "status",
            "duplicates",
            "total_rows",
            "processed_rows",
            "created_count",
            "updated_count",
            "skipped_count",
            "error_count",
            "failure",
            "created_at",
            "started_at",
            "finished_at",
            "undone_at",
        )
        read_only_fields = fields


class ImportList(generics.ListAPIView[ImportJob]):
    capability = IMPORT_RECORDS
    serializer_class = ImportOut

    def get_queryset(self) -> QuerySet[ImportJob]:
        return selectors.import_list(actor=_membership(self.request))


class ImportDetail(generics.RetrieveAPIView[ImportJob]):
    capability = IMPORT_RECORDS
    serializer_class = ImportOut

    def get_object(self) -> ImportJob:
        return selectors.import_get(
            actor=_membership(self.request), import_id=self.kwargs["import_id"]
        )


@extend_schema_field(
    {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}
)
class FilterValue(serializers.Field):  # type: ignore[type-arg]
    """A list filter's value: a text, or the texts of a custom-field filter given several
    values (a multi select that must have each of them), as the list's query repeats it."""

    default_error_messages = {
        "invalid": _("Enter a text or a list of texts."),
    }

    def to_internal_value(self, data: Any) -> str | list[str]:
        if isinstance(data, list) and data and all(isinstance(v, str) for v in data):
            return list(data)
        if isinstance(data, str | int) and not isinstance(data, bool):
            return str(data)
        self.fail("invalid")

    def to_representation(self, value: Any) -> Any:
        return value


class ExportIn(serializers.Serializer[Any]):
    entity = serializers.ChoiceField(choices=sorted(exports.COLUMNS))
    format = serializers.ChoiceField(choices=exports.FORMATS, default="csv")
    filters = serializers.DictField(child=FilterValue(), required=False, default=dict)


class ExportOut(serializers.ModelSerializer[ExportJob]):
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = ExportJob
        fields = (
            "id",
            "entity",
            "file_format",
            "filters",
            "status",
            "row_count",
            "created_at",
            "finished_at",
            "download_url",
        )
        read_only_fields = fields

    def get_download_url(self, job: ExportJob) -> str | None:
        if job.status != ExportJob.Status.DONE:
            return None
        return exports.export_download_url(actor=self.context["actor"], job=job)


class ExportCreate(APIView):
    capability = EXPORT_RECORDS

    @extend_schema(request=ExportIn, responses={202: ExportOut})
    def post(self, request: Request) -> Response:
        actor = _membership(request)
        data = ExportIn(data=request.data)
        data.is_valid(raise_exception=True)
        entity = data.validated_data["entity"]
        job = exports.export_request(
            actor=actor,
            entity=entity,
            filters=exports.export_filters(entity, data.validated_data["filters"]),
            file_format=data.validated_data["format"],
        )
        return Response(
            ExportOut(job, context={"actor": actor}).data, status=status.HTTP_202_ACCEPTED
        )


class ExportDetail(generics.RetrieveAPIView[ExportJob]):
    capability = EXPORT_RECORDS
    serializer_class = ExportOut

    def get_object(self) -> ExportJob:
        return selectors.export_get(
            actor=_membership(self.request), export_id=self.kwargs["export_id"]
        )

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "actor": _membership(self.request)}


urlpatterns = [
    path("imports/", ImportList.as_view(), name="import-list"),
    path("imports/<int:import_id>/", ImportDetail.as_view(), name="import-detail"),
    path("exports/", ExportCreate.as_view(), name="export-create"),
    path("exports/<int:export_id>/", ExportDetail.as_view(), name="export-detail"),
]
