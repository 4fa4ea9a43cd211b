"""The marketing REST API under /api/v1/marketing/: segments (list, create, read with a live
count), their members (cursor pagination) and contacts put on a static list; campaigns (list,
create with variants, read with the report, send or schedule). Each operation is
input serializer → service → output serializer."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.urls import path
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from crm_modules.marketing import segments, selectors, services
from crm_modules.marketing.campaigns import selectors as campaign_selectors
from crm_modules.marketing.campaigns import services as campaign_services
from crm_modules.marketing.campaigns.services import CampaignDraft, VariantDraft
from crm_modules.marketing.models import Campaign, CampaignVariant, Segment
from crm_modules.marketing.module import (
    MANAGE_CAMPAIGNS,
    MANAGE_SEGMENTS,
    SEND_CAMPAIGNS,
    VIEW_CAMPAIGNS,
    VIEW_SEGMENTS,
)
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


def _definition_schema() -> dict[str, Any]:
    """The filter's shape for the OpenAPI document: which fields and operators a condition
    may use. ``segments.check_definition`` is what decides; this only describes it."""
    ops = sorted({op for spec in segments.FIELDS.values() for op in spec.ops} | {"has", "lacks"})
    field_help = (
        "One of: "
        + ", ".join(sorted(segments.FIELDS))
        + "; custom.<code> (a custom field of contacts) or company.custom.<code> (of their"
        " company), with the operators of the field's type; activity.<type> and"
        " activity_count.<type> (a timeline entry type, or any)."
    )
    value_help = (
        "Depends on the field: text, a number, true/false, a list of choices, days;"
        " activity_count: {count, days}; purchase.product (won deals with one of the products"
        " among their line items): {products: [product ids], count: at least this many"
        " purchases (default 1), days: in the last N days (null or absent: ever)}."
    )
    condition = {
        "type": "object",
        "required": ["field", "op"],
        "additionalProperties": False,
        "properties": {
            "field": {"type": "string", "description": field_help},
            "op": {"type": "string", "enum": ops},
            "value": {"description": value_help},
        },
    }
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["conditions"],
        "properties": {
            "match": {"type": "string", "enum": ["all", "any"], "default": "all"},
            "conditions": {
                "type": "array",
                "minItems": 1,
                "maxItems": segments.MAX_CONDITIONS,
                "items": condition,
            },
        },
    }


@extend_schema_field(_definition_schema())
class DefinitionField(serializers.JSONField):
    """A dynamic segment's filter (ADR 0028, 0052, 0057)."""


class SegmentIn(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=200, trim_whitespace=False)
    kind = serializers.ChoiceField(choices=Segment.Kind.choices)
    definition = DefinitionField(required=False)


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


# --- campaigns (ADR 0034) ------------------------------------------------------------------------


class VariantIn(serializers.Serializer[Any]):
    subject = serializers.CharField(max_length=200, trim_whitespace=False)
    preheader = serializers.CharField(max_length=200, required=False, allow_blank=True)
    mode = serializers.ChoiceField(choices=CampaignVariant.Mode.choices, default="blocks")
    blocks = serializers.JSONField(required=False, help_text="[{type, text|src|alt|href}]")
    html = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)


class CampaignIn(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=200, trim_whitespace=False)
    segment = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    from_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    variants = VariantIn(many=True)
    ab_fraction = serializers.DecimalField(max_digits=3, decimal_places=2, required=False)
    ab_min_sample = serializers.IntegerField(required=False, default=100)
    ab_wait_minutes = serializers.IntegerField(required=False, default=240)
    ab_metric = serializers.ChoiceField(choices=["opens", "clicks"], default="opens")


class VariantOut(serializers.ModelSerializer[CampaignVariant]):
    class Meta:
        model = CampaignVariant
        fields = ("letter", "subject", "preheader", "mode", "blocks", "html", "links")
        read_only_fields = fields


class CampaignOut(serializers.ModelSerializer[Campaign]):
    class Meta:
        model = Campaign
        fields: tuple[str, ...] = (
            "id",
            "name",
            "segment",
            "status",
            # Set while the plan leaves marketing out and the campaign waits (ADR 0081).
            "held_by_plan_at",
            "send_at",
            "local_time",
            "ab_fraction",
            "ab_min_sample",
            "ab_wait_minutes",
            "ab_metric",
            "created_at",
        )
        read_only_fields: tuple[str, ...] = fields


class CampaignDetailOut(CampaignOut):
    variants = serializers.SerializerMethodField()
    report = serializers.SerializerMethodField()

    class Meta(CampaignOut.Meta):
        fields = (*CampaignOut.Meta.fields, "variants", "report")
        read_only_fields = fields

    @extend_schema_field(VariantOut(many=True))
    def get_variants(self, campaign: Campaign) -> Any:
        return VariantOut(CampaignVariant.objects.filter(campaign=campaign), many=True).data

    @extend_schema_field(serializers.JSONField())
    def get_report(self, campaign: Campaign) -> dict[str, Any]:
        return campaign_selectors.campaign_report(campaign=campaign).as_json()


class SendIn(serializers.Serializer[Any]):
    send_at = serializers.DateTimeField(required=False, allow_null=True)
    local_time = serializers.BooleanField(default=False)


def _campaign_draft(data: dict[str, Any]) -> CampaignDraft:
    return CampaignDraft(
        name=data["name"],
        segment_id=data.get("segment"),
        from_name=data.get("from_name", ""),
        variants=[
            VariantDraft(
                subject=v["subject"],
                preheader=v.get("preheader", ""),
                mode=v.get("mode", "blocks"),
                blocks=v.get("blocks"),
                html=v.get("html", ""),
            )
            for v in data["variants"]
        ],
        ab_fraction=data.get("ab_fraction") or 0,
        ab_min_sample=data["ab_min_sample"],
        ab_wait_minutes=data["ab_wait_minutes"],
        ab_metric=data["ab_metric"],
    )


@extend_schema_view(
    get=extend_schema(
        tags=["campaigns"], responses=CampaignOut(many=True), operation_id="campaign_list"
    ),
    post=extend_schema(
        tags=["campaigns"],
        request=CampaignIn,
        responses={201: CampaignDetailOut},
        operation_id="campaign_create",
    ),
)
class CampaignList(generics.GenericAPIView[Campaign]):
    capabilities = {"GET": VIEW_CAMPAIGNS, "POST": MANAGE_CAMPAIGNS}
    serializer_class = CampaignOut
    pagination_class = KeysetPagination

    def get_queryset(self) -> QuerySet[Campaign]:
        return campaign_selectors.campaign_list(actor=_actor(self.request))

    def get(self, request: Request, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(CampaignOut(page, many=True).data)

    def post(self, request: Request, **kwargs: Any) -> Response:
        data = CampaignIn(data=request.data)
        data.is_valid(raise_exception=True)
        campaign = campaign_services.campaign_create(
            actor=_actor(request), draft=_campaign_draft(data.validated_data)
        )
        return Response(CampaignDetailOut(campaign).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    get=extend_schema(
        tags=["campaigns"], responses=CampaignDetailOut, operation_id="campaign_retrieve"
    )
)
class CampaignDetail(generics.GenericAPIView[Campaign]):
    capability = VIEW_CAMPAIGNS
    serializer_class = CampaignDetailOut

    def get(self, request: Request, campaign_id: int) -> Response:
        campaign = campaign_selectors.campaign_get(actor=_actor(request), campaign_id=campaign_id)
        return Response(CampaignDetailOut(campaign).data)


@extend_schema_view(
    post=extend_schema(
        tags=["campaigns"],
        request=SendIn,
        responses={202: CampaignOut},
        operation_id="campaign_send",
    )
)
class CampaignSend(generics.GenericAPIView[Campaign]):
    capability = SEND_CAMPAIGNS
    serializer_class = CampaignOut

    def post(self, request: Request, campaign_id: int) -> Response:
        data = SendIn(data=request.data)
        data.is_valid(raise_exception=True)
        actor = _actor(request)
        campaign = campaign_selectors.campaign_get(actor=actor, campaign_id=campaign_id)
        campaign = campaign_services.campaign_send(
            actor=actor,
            campaign=campaign,
            send_at=data.validated_data.get("send_at"),
            local_time=data.validated_data["local_time"],
        )
        return Response(CampaignOut(campaign).data, status=status.HTTP_202_ACCEPTED)


urlpatterns = [
    path("campaigns/", CampaignList.as_view(), name="campaign-list"),
    path("campaigns/<int:campaign_id>/", CampaignDetail.as_view(), name="campaign-detail"),
    path("campaigns/<int:campaign_id>/send/", CampaignSend.as_view(), name="campaign-send"),
    path("segments/", SegmentList.as_view(), name="segment-list"),
    path("segments/<int:segment_id>/", SegmentDetail.as_view(), name="segment-detail"),
    path("segments/<int:segment_id>/members/", SegmentMembers.as_view(), name="segment-members"),
]

from crm_modules.marketing.capture.endpoints import (  # noqa: E402  (forms and attribution)
    urlpatterns as capture_patterns,
)

urlpatterns += capture_patterns

from crm_modules.marketing.sequences.endpoints import (  # noqa: E402  (sequences)
    urlpatterns as sequence_patterns,
)

urlpatterns += sequence_patterns

from crm_modules.marketing.endpoints_triggers import (  # noqa: E402  (triggers and offers)
    urlpatterns as trigger_patterns,
)

urlpatterns += trigger_patterns

from crm_modules.marketing.deliverability.endpoints import (  # noqa: E402  (ADR 0043)
    urlpatterns as deliverability_patterns,
)

urlpatterns += deliverability_patterns
