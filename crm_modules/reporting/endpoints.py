"""``/api/v1/reporting/``: run a report definition (``query/``) and list saved reports."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crm_modules.reporting import selectors
from crm_modules.reporting.compiler import run
from crm_modules.reporting.definition import check_definition
from crm_modules.reporting.models import Report
from crm_modules.reporting.module import VIEW_REPORTS


def _membership(request: Request) -> Any:
    return request._request.membership  # type: ignore[attr-defined]


class QueryIn(serializers.Serializer[Any]):
    definition = serializers.JSONField()


class QueryOut(serializers.Serializer[Any]):
    columns = serializers.ListField(child=serializers.CharField())
    rows = serializers.ListField(child=serializers.ListField())
    truncated = serializers.BooleanField()
    messages = serializers.ListField(child=serializers.CharField())


class ReportOut(serializers.ModelSerializer[Report]):
    class Meta:
        model = Report
        fields = ("id", "name", "definition", "shared_with", "pinned", "created_at")
        read_only_fields = fields


def _cell(value: Any) -> Any:
    return str(value) if value is not None and not isinstance(value, int | float | str) else value


class Query(APIView):
    """Run a definition as the caller: the numbers of the records the caller may see. A
    definition that cannot run answers 400 naming the part at fault."""

    capability = VIEW_REPORTS

    @extend_schema(request=QueryIn, responses=QueryOut)
    def post(self, request: Request) -> Response:
        data = QueryIn(data=request.data)
        data.is_valid(raise_exception=True)
        definition = check_definition(data.validated_data["definition"])
        result = run(definition, _membership(request))
        out = {
            "columns": [*result.group_labels, *result.measure_labels],
            "rows": [[*row.keys, *(_cell(v) for v in row.values)] for row in result.rows],
            "truncated": result.truncated,
            "messages": result.messages,
        }
        return Response(QueryOut(out).data)


class ReportList(generics.ListAPIView[Report]):
    capability = VIEW_REPORTS
    serializer_class = ReportOut

    def get_queryset(self) -> QuerySet[Report]:
        return selectors.report_list(actor=_membership(self.request))


urlpatterns = [
    path("query/", Query.as_view(), name="reporting-query"),
    path("reports/", ReportList.as_view(), name="reporting-reports"),
]
