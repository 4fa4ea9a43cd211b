"""The API of forms and attribution under /api/v1/marketing/: forms (list, create, read) and
the attribution report (a named model, per campaign, source or medium)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from crm_modules.marketing.attribution_services import attribution_report
from crm_modules.marketing.capture import selectors, services
from crm_modules.marketing.models_capture import Form
from crm_modules.marketing.module import MANAGE_FORMS, VIEW_ATTRIBUTION, VIEW_FORMS
from crm_platform.api.pagination import KeysetPagination
from tenants.models import Membership


def _actor(request: Request) -> Membership:
    actor: Membership = request._request.membership  # type: ignore[attr-defined]
    return actor


class FormOut(serializers.ModelSerializer[Form]):
    class Meta:
        model = Form
        fields: tuple[str, ...] = (
            "id",
            "public_id",
            "name",
            "topic",
            "fields",
            "consent_channels",
            "lead_owner",
            "success_message",
            "allowed_origins",
            "is_active",
            "submissions_count",
            "spam_count",
            "created_at",
        )
        read_only_fields: tuple[str, ...] = fields


class FormIn(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=200)
    topic = serializers.CharField(max_length=100, required=False, allow_blank=True)
    fields = serializers.JSONField(help_text='[{"target", "label", "required"}]')  # type: ignore[assignment]  # DRF pops declared fields from the class
    consent_channels = serializers.ListField(child=serializers.CharField(), required=False)
    lead_owner = serializers.IntegerField(help_text="The user id of the member leads go to.")
    success_message = serializers.CharField(max_length=500, required=False, allow_blank=True)
    allowed_origins = serializers.ListField(child=serializers.CharField(), required=False)
    is_active = serializers.BooleanField(required=False, default=True)


class AttributionTotalsOut(serializers.Serializer[Any]):
    form_fills = serializers.IntegerField()
    people = serializers.IntegerField()
    deals = serializers.IntegerField()
    revenue = serializers.DecimalField(max_digits=18, decimal_places=2)
    cost = serializers.DecimalField(max_digits=18, decimal_places=2, allow_null=True)
    roi = serializers.DecimalField(max_digits=18, decimal_places=4, allow_null=True)
    cost_per_lead = serializers.DecimalField(max_digits=18, decimal_places=2, allow_null=True)


class AttributionRowOut(AttributionTotalsOut):
    """One campaign, channel or source: the totals' figures, its key and its qualified count."""

    key = serializers.CharField()
    qualified = serializers.IntegerField()


class AttributionOut(serializers.Serializer[Any]):
    model = serializers.CharField()
    model_label = serializers.CharField()
    dimension = serializers.CharField()
    # Every amount (revenue, cost, cost per lead) is in this currency.
    currency = serializers.CharField()
    rows = AttributionRowOut(many=True)
    totals = AttributionTotalsOut()
    # Currencies left out of the amounts for want of an exchange rate.
    unconverted = serializers.ListField(child=serializers.CharField())


@extend_schema_view(
    get=extend_schema(tags=["forms"], responses=FormOut(many=True), operation_id="form_list"),
    post=extend_schema(
        tags=["forms"], request=FormIn, responses={201: FormOut}, operation_id="form_create"
    ),
)
class FormList(generics.GenericAPIView[Form]):
    capabilities = {"GET": VIEW_FORMS, "POST": MANAGE_FORMS}
    serializer_class = FormOut
    pagination_class = KeysetPagination

    def get_queryset(self) -> QuerySet[Form]:
        return selectors.form_list(actor=_actor(self.request))

    def get(self, request: Request, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(FormOut(page, many=True).data)

    def post(self, request: Request, **kwargs: Any) -> Response:
        data = FormIn(data=request.data)
        data.is_valid(raise_exception=True)
        form = services.form_create(actor=_actor(request), values=dict(data.validated_data))
        return Response(FormOut(form).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    get=extend_schema(tags=["forms"], responses=FormOut, operation_id="form_retrieve")
)
class FormDetail(generics.GenericAPIView[Form]):
    capability = VIEW_FORMS
    serializer_class = FormOut

    def get(self, request: Request, form_id: int) -> Response:
        return Response(FormOut(selectors.form_get(actor=_actor(request), form_id=form_id)).data)


@extend_schema_view(
    get=extend_schema(
        tags=["attribution"],
        responses=AttributionOut,
        operation_id="attribution_report",
        parameters=[
            OpenApiParameter(
                "model", str, enum=["first_touch", "last_touch", "linear", "u_shaped"]
            ),
            OpenApiParameter("by", str, enum=["campaign", "source", "medium"]),
        ],
    )
)
class Attribution(generics.GenericAPIView[Any]):
    capability = VIEW_ATTRIBUTION
    serializer_class = AttributionOut

    def get(self, request: Request) -> Response:
        report = attribution_report(
            actor=_actor(request),
            model=request.query_params.get("model", "linear"),
            dimension=request.query_params.get("by", "campaign"),
        )
        return Response(AttributionOut(report).data)


urlpatterns = [
    path("forms/", FormList.as_view(), name="form-list"),
    path("forms/<int:form_id>/", FormDetail.as_view(), name="form-detail"),
    path("attribution/", Attribution.as_view(), name="attribution"),
]
