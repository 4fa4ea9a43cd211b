"""``/api/v1/reporting/``: run a report definition (``query/``), list saved reports, read
and set monthly quotas (``quotas/``), and read and arrange the caller's dashboard
(``dashboard/``)."""

from __future__ import annotations

import datetime
from typing import Any

from django.db.models import QuerySet
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crm_modules.reporting import selectors, services
from crm_modules.reporting.compiler import run
from crm_modules.reporting.definition import check_definition
from crm_modules.reporting.layouts import dashboard_cards, layout_cards, shared_layout_keys
from crm_modules.reporting.models import Quota, Report
from crm_modules.reporting.module import SET_QUOTAS, VIEW_REPORTS
from crm_modules.reporting.reach import may_read_source
from crm_modules.reporting.services.quotas import FIRST_YEAR, LAST_YEAR
from crm_platform.errors import PermissionDenied, ServiceError


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
        if not may_read_source(_membership(request), definition.source):
            raise PermissionDenied(_("Your role does not read reports of this data source."))
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


class QuotaIn(serializers.Serializer[Any]):
    # Checked by the service, which names the field at fault.
    owner = serializers.JSONField(help_text="The user id of an active member.")
    month = serializers.JSONField(help_text="The month, as YYYY-MM.")
    amount = serializers.JSONField(help_text="The quota, in the workspace's currency.")


class QuotaOut(serializers.ModelSerializer[Quota]):
    month = serializers.SerializerMethodField()

    class Meta:
        model = Quota
        fields = ("id", "owner", "month", "amount", "updated_at")
        read_only_fields = fields

    def get_month(self, quota: Quota) -> str:
        return f"{quota.month:%Y-%m}"


def _year(raw: Any) -> int:
    if raw in (None, ""):
        return timezone.now().year
    try:
        year = int(raw)
    except (TypeError, ValueError):
        year = 0
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ServiceError(
            _("Choose a year between %(first)s and %(last)s.")
            % {"first": FIRST_YEAR, "last": LAST_YEAR},
            field="year",
        )
    return year


@extend_schema_view(
    get=extend_schema(
        tags=["reporting"],
        parameters=[OpenApiParameter("year", int, description="Default: this year.")],
        responses=QuotaOut(many=True),
        operation_id="quota_list",
    ),
    post=extend_schema(
        tags=["reporting"],
        request=QuotaIn,
        responses={200: QuotaOut},
        operation_id="quota_set",
        description="Set a member's quota for a month; setting it again replaces it.",
    ),
)
class QuotaList(generics.ListAPIView[Quota]):
    """The quotas of a year the caller may see (a Sales rep: their own; a Manager: their
    team's); managers set them."""

    capabilities = {"GET": VIEW_REPORTS, "POST": SET_QUOTAS}
    serializer_class = QuotaOut

    def get_queryset(self) -> QuerySet[Quota]:
        year = _year(self.request.query_params.get("year"))
        return selectors.quota_list(
            actor=_membership(self.request),
            start=datetime.date(year, 1, 1),
            end=datetime.date(year + 1, 1, 1),
        )

    def post(self, request: Request) -> Response:
        data = QuotaIn(data=request.data)
        data.is_valid(raise_exception=True)
        quota = services.quota_set(
            actor=_membership(request),
            owner=data.validated_data["owner"],
            month=data.validated_data["month"],
            amount=data.validated_data["amount"],
        )
        return Response(QuotaOut(quota).data)


class QuotaDetail(APIView):
    capability = SET_QUOTAS

    @extend_schema(tags=["reporting"], responses={204: None}, operation_id="quota_delete")
    def delete(self, request: Request, quota_id: int) -> Response:
        actor = _membership(request)
        quota = selectors.quota_get(actor=actor, quota_id=quota_id)
        services.quota_delete(actor=actor, quota=quota)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CardOut(serializers.Serializer[Any]):
    key = serializers.CharField()
    title = serializers.CharField()
    url = serializers.CharField()


class LayoutIn(serializers.Serializer[Any]):
    # Checked by the service, which names the field at fault.
    action = serializers.JSONField(help_text="up, down, add, remove, or reset (own dashboard).")
    card = serializers.JSONField(required=False, help_text="A default chart's key or report-<id>.")
    shared = serializers.BooleanField(
        default=False, help_text="Arrange the workspace's shared dashboard (reporting.share)."
    )


class Dashboard(APIView):
    """The cards of the caller's dashboard in order (their own arrangement, else the shared
    one); ``POST`` applies one change and answers the cards in their new order."""

    capability = VIEW_REPORTS

    @extend_schema(
        tags=["reporting"],
        parameters=[OpenApiParameter("shared", bool, description="The shared dashboard.")],
        responses=CardOut(many=True),
        operation_id="dashboard_cards",
    )
    def get(self, request: Request) -> Response:
        actor = _membership(request)
        if request.query_params.get("shared") in ("1", "true"):
            cards = layout_cards(actor, shared_layout_keys())
        else:
            cards = dashboard_cards(actor=actor)
        return Response(CardOut(cards, many=True).data)

    @extend_schema(
        tags=["reporting"],
        request=LayoutIn,
        responses={200: CardOut(many=True)},
        operation_id="dashboard_arrange",
    )
    def post(self, request: Request) -> Response:
        data = LayoutIn(data=request.data)
        data.is_valid(raise_exception=True)
        actor = _membership(request)
        keys = services.layout_change(
            actor=actor,
            shared=data.validated_data["shared"],
            action=data.validated_data["action"],
            card=data.validated_data.get("card"),
        )
        return Response(CardOut(layout_cards(actor, keys), many=True).data)


urlpatterns = [
    path("dashboard/", Dashboard.as_view(), name="reporting-dashboard"),
    path("query/", Query.as_view(), name="reporting-query"),
    path("reports/", ReportList.as_view(), name="reporting-reports"),
    path("quotas/", QuotaList.as_view(), name="reporting-quotas"),
    path("quotas/<int:quota_id>/", QuotaDetail.as_view(), name="reporting-quota"),
]
