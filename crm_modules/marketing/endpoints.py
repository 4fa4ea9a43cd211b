"""The marketing REST API under /api/v1/marketing/: segments (list, create, read with a live
count), their members (cursor pagination) and contacts put on a static list. Each operation is
input serializer → service → output serializer."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.urls import path
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from crm_modules.marketing import selectors, services
from crm_modules.marketing.models import Segment
from crm_modules.marketing.module import MANAGE_SEGMENTS, VIEW_SEGMENTS
from crm_modules.sales.api import Contact
from crm_platform.api.pagination import KeysetPagination
from tenants.models import Membership


def _actor(request: Request) -> Membership:
    actor: Membership = request._request.membership  # type: ignore[attr-defined]
    return actor


class SegmentOut(serializers.ModelSerializer[Segment]):
    class Meta:
        model = Segment
        fields: tuple[str, ...] = ("id", "name", "kind", "definition", "created_at")
        read_only_fields: tuple[str, ...] = fields


class SegmentDetailOut(SegmentOut):
    count = serializers.SerializerMethodField()

    class Meta(SegmentOut.Meta):
        fields = (*SegmentOut.Meta.fields, "count")
        read_only_fields = fields

    def get_count(self, segment: Segment) -> int:
        return int(self.context["count"])


class SegmentIn(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=200, trim_whitespace=False)
    kind = serializers.ChoiceField(choices=Segment.Kind.choices)
    definition = serializers.JSONField(
        required=False,
        help_text='{"match": "all"|"any", "conditions": [{"field", "op", "value"}]}',
    )


class SegmentMemberOut(serializers.ModelSerializer[Contact]):
    class Meta:
        model = Contact
        fields = ("id", "first_name", "last_name", "primary_email", "lifecycle_stage", "score")
        read_only_fields = fields


class MembersIn(serializers.Serializer[Any]):
    contacts = serializers.ListField(child=serializers.IntegerField(min_value=1))


@extend_schema_view(
    get=extend_schema(
        tags=["segments"], responses=SegmentOut(many=True), operation_id="segment_list"
    ),
    post=extend_schema(
        tags=["segments"],
        request=SegmentIn,
        responses={201: SegmentDetailOut},
        operation_id="segment_create",
    ),
)
class SegmentList(generics.GenericAPIView[Segment]):
    capabilities = {"GET": VIEW_SEGMENTS, "POST": MANAGE_SEGMENTS}
    serializer_class = SegmentOut
    pagination_class = KeysetPagination

    def get_queryset(self) -> QuerySet[Segment]:
        return selectors.segment_list(actor=_actor(self.request))

    def get(self, request: Request, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(SegmentOut(page, many=True).data)

    def post(self, request: Request, **kwargs: Any) -> Response:
        data = SegmentIn(data=request.data)
        data.is_valid(raise_exception=True)
        actor = _actor(request)
        segment = services.segment_create(
            actor=actor,
            name=data.validated_data["name"],
            kind=data.validated_data["kind"],
            definition=data.validated_data.get("definition"),
        )
        count = selectors.segment_count(actor=actor, segment=segment)
        body = SegmentDetailOut(segment, context={"count": count}).data
        return Response(body, status=status.HTTP_201_CREATED)


@extend_schema_view(
    get=extend_schema(
        tags=["segments"], responses=SegmentDetailOut, operation_id="segment_retrieve"
    )
)
class SegmentDetail(generics.GenericAPIView[Segment]):
    capability = VIEW_SEGMENTS
    serializer_class = SegmentDetailOut

    def get(self, request: Request, segment_id: int) -> Response:
        actor = _actor(request)
        segment = selectors.segment_get(actor=actor, segment_id=segment_id)
        count = selectors.segment_count(actor=actor, segment=segment)
        return Response(SegmentDetailOut(segment, context={"count": count}).data)


@extend_schema_view(
    get=extend_schema(
        tags=["segments"], responses=SegmentMemberOut(many=True), operation_id="segment_members"
    ),
    post=extend_schema(
        tags=["segments"],
        request=MembersIn,
        responses={200: SegmentDetailOut},
        operation_id="segment_members_add",
    ),
)
class SegmentMembers(generics.GenericAPIView[Contact]):
    capabilities = {"GET": VIEW_SEGMENTS, "POST": MANAGE_SEGMENTS}
    serializer_class = SegmentMemberOut
    pagination_class = KeysetPagination

    def get(self, request: Request, segment_id: int) -> Response:
        actor = _actor(request)
        segment = selectors.segment_get(actor=actor, segment_id=segment_id)
        contacts = selectors.segment_contacts(actor=actor, segment=segment)
        page = self.paginate_queryset(contacts)
        return self.get_paginated_response(SegmentMemberOut(page, many=True).data)

    def post(self, request: Request, segment_id: int) -> Response:
        data = MembersIn(data=request.data)
        data.is_valid(raise_exception=True)
        actor = _actor(request)
        segment = selectors.segment_get(actor=actor, segment_id=segment_id)
        services.segment_add_contacts(
            actor=actor, segment=segment, contact_ids=data.validated_data["contacts"]
        )
        count = selectors.segment_count(actor=actor, segment=segment)
        return Response(SegmentDetailOut(segment, context={"count": count}).data)


urlpatterns = [
    path("segments/", SegmentList.as_view(), name="segment-list"),
    path("segments/<int:segment_id>/", SegmentDetail.as_view(), name="segment-detail"),
    path("segments/<int:segment_id>/members/", SegmentMembers.as_view(), name="segment-members"),
]

from crm_modules.marketing.capture.endpoints import (  # noqa: E402  (forms and attribution)
    urlpatterns as capture_patterns,
)

urlpatterns += capture_patterns
