"""The API of event triggers and next best offers (ADR 0042), under /api/v1/marketing/:
``triggers/`` (list, create), ``triggers/<id>/`` (read, change), ``triggers/<id>/runs/`` (the
run log, cursor pages) and ``contacts/<id>/offers/`` (a contact's next best offers)."""

from __future__ import annotations

from typing import Any

from django.urls import path
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from crm_modules.marketing.models_triggers import TriggerFiring, TriggerRule
from crm_modules.marketing.module import MANAGE_TRIGGERS, VIEW_OFFERS, VIEW_TRIGGERS
from crm_modules.marketing.offers import offers_for
from crm_modules.marketing.triggers import selectors, services
from crm_modules.sales.api import contact_get
from crm_platform.api.pagination import KeysetPagination
from tenants.models import Membership


def _actor(request: Request) -> Membership:
    actor: Membership = request._request.membership  # type: ignore[attr-defined]
    return actor


class TriggerRuleOut(serializers.ModelSerializer[TriggerRule]):
    class Meta:
        model = TriggerRule
        fields = ("id", "name", "active", "definition", "listens_to", "created_at", "updated_at")
        read_only_fields = fields


class TriggerRuleIn(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=120, trim_whitespace=False)
    active = serializers.BooleanField(default=True)
    definition = serializers.JSONField(
        help_text='{"when": {...}, "delay_minutes": 0, "actions": [{"type": ...}]}'
    )


class TriggerRulePatch(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=120, trim_whitespace=False, required=False)
    active = serializers.BooleanField(required=False)
    definition = serializers.JSONField(required=False)


class TriggerFiringOut(serializers.ModelSerializer[TriggerFiring]):
    class Meta:
        model = TriggerFiring
        fields = (
            "id",
            "contact",
            "occurrence",
            "status",
            "due_at",
            "chain",
            "outcome",
            "reason",
            "created_at",
            "finished_at",
        )
        read_only_fields = fields


class OfferOut(serializers.Serializer[Any]):
    product_id = serializers.IntegerField()
    product = serializers.CharField()
    basis = serializers.CharField()
    confidence = serializers.FloatField()
    lift = serializers.FloatField()
    basis_buyers = serializers.IntegerField()
    explanation = serializers.CharField()


@extend_schema_view(
    get=extend_schema(
        tags=["triggers"], responses=TriggerRuleOut(many=True), operation_id="trigger_list"
    ),
    post=extend_schema(
        tags=["triggers"],
        request=TriggerRuleIn,
        responses={201: TriggerRuleOut},
        operation_id="trigger_create",
    ),
)
class TriggerList(generics.GenericAPIView[TriggerRule]):
    capabilities = {"GET": VIEW_TRIGGERS, "POST": MANAGE_TRIGGERS}
    serializer_class = TriggerRuleOut
    pagination_class = KeysetPagination

    def get(self, request: Request, **kwargs: Any) -> Response:
        rules = selectors.trigger_rule_list(actor=_actor(request))
        page = self.paginate_queryset(rules)
        return self.get_paginated_response(TriggerRuleOut(page, many=True).data)

    def post(self, request: Request, **kwargs: Any) -> Response:
        data = TriggerRuleIn(data=request.data)
        data.is_valid(raise_exception=True)
        rule = services.trigger_rule_create(actor=_actor(request), **data.validated_data)
        return Response(TriggerRuleOut(rule).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    get=extend_schema(tags=["triggers"], responses=TriggerRuleOut, operation_id="trigger_read"),
    patch=extend_schema(
        tags=["triggers"],
        request=TriggerRulePatch,
        responses=TriggerRuleOut,
        operation_id="trigger_update",
    ),
)
class TriggerDetail(generics.GenericAPIView[TriggerRule]):
    capabilities = {"GET": VIEW_TRIGGERS, "PATCH": MANAGE_TRIGGERS}
    serializer_class = TriggerRuleOut

    def get(self, request: Request, trigger_id: int) -> Response:
        rule = selectors.trigger_rule_get(actor=_actor(request), rule_id=trigger_id)
        return Response(TriggerRuleOut(rule).data)

    def patch(self, request: Request, trigger_id: int) -> Response:
        data = TriggerRulePatch(data=request.data)
        data.is_valid(raise_exception=True)
        actor = _actor(request)
        rule = selectors.trigger_rule_get(actor=actor, rule_id=trigger_id)
        rule = services.trigger_rule_update(actor=actor, rule=rule, **data.validated_data)
        return Response(TriggerRuleOut(rule).data)


@extend_schema_view(
    get=extend_schema(
        tags=["triggers"], responses=TriggerFiringOut(many=True), operation_id="trigger_runs"
    )
)
class TriggerRuns(generics.GenericAPIView[TriggerFiring]):
    capability = VIEW_TRIGGERS
    serializer_class = TriggerFiringOut
    pagination_class = KeysetPagination

    def get(self, request: Request, trigger_id: int) -> Response:
        actor = _actor(request)
        rule = selectors.trigger_rule_get(actor=actor, rule_id=trigger_id)
        page = self.paginate_queryset(selectors.trigger_runs(actor=actor, rule=rule))
        return self.get_paginated_response(TriggerFiringOut(page, many=True).data)


@extend_schema_view(
    get=extend_schema(tags=["offers"], responses=OfferOut(many=True), operation_id="contact_offers")
)
class ContactOffers(generics.GenericAPIView[Any]):
    capability = VIEW_OFFERS
    serializer_class = OfferOut

    def get(self, request: Request, contact_id: int) -> Response:
        contact = contact_get(actor=_actor(request), contact_id=contact_id)
        offers = [
            {**offer.__dict__, "explanation": offer.explanation} for offer in offers_for(contact.pk)
        ]
        return Response(OfferOut(offers, many=True).data)


urlpatterns = [
    path("triggers/", TriggerList.as_view(), name="trigger-list"),
    path("triggers/<int:trigger_id>/", TriggerDetail.as_view(), name="trigger-detail"),
    path("triggers/<int:trigger_id>/runs/", TriggerRuns.as_view(), name="trigger-runs"),
    path("contacts/<int:contact_id>/offers/", ContactOffers.as_view(), name="contact-offers"),
]
