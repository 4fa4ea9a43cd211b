"""The lead scoring API under /api/v1/scoring/: rules (each with its ``problem`` when its field
was deleted), thresholds, and computing every score again."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from django.urls import path
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crm_modules.scoring import services
from crm_modules.scoring.models import Entity, ScoreThreshold, ScoringRule
from crm_modules.scoring.module import MANAGE_RULES, VIEW_RULES
from tenants.models import Membership


def _actor(request: Request) -> Membership:
    actor: Membership = request._request.membership  # type: ignore[attr-defined]
    return actor


class RuleOut(serializers.ModelSerializer[ScoringRule]):
    problem = serializers.SerializerMethodField(
        help_text="why an active rule gives no points (its field was deleted), else empty"
    )

    class Meta:
        model = ScoringRule
        fields = (
            "id", "entity", "name", "kind", "field", "operator", "value", "activity_kind",
            "direction", "channel", "days", "points", "active", "problem", "created_at",
        )  # fmt: skip

    def get_problem(self, rule: ScoringRule) -> str:
        return services.rule_problem(rule)


class RuleIn(serializers.Serializer[Any]):
    entity = serializers.ChoiceField(choices=Entity.choices, required=False)
    name = serializers.CharField(required=False, allow_blank=True)
    kind = serializers.ChoiceField(choices=ScoringRule.Kind.choices, required=False)
    field = serializers.CharField(
        required=False, allow_blank=True, help_text='"industry", "company.size", "custom.<code>"'
    )
    operator = serializers.ChoiceField(
        choices=ScoringRule.Operator.choices, required=False, allow_blank=True
    )
    value = serializers.CharField(required=False, allow_blank=True)
    activity_kind = serializers.CharField(required=False, allow_blank=True)
    direction = serializers.CharField(required=False, allow_blank=True)
    channel = serializers.CharField(required=False, allow_blank=True)
    days = serializers.IntegerField(required=False, allow_null=True)
    points = serializers.IntegerField(required=False)
    active = serializers.BooleanField(required=False)


class ThresholdOut(serializers.ModelSerializer[ScoreThreshold]):
    class Meta:
        model = ScoreThreshold
        fields = ("id", "entity", "min_score", "lifecycle_stage", "task_title", "created_at")


class ThresholdIn(serializers.Serializer[Any]):
    entity = serializers.ChoiceField(choices=Entity.choices)
    min_score = serializers.IntegerField()
    lifecycle_stage = serializers.CharField(required=False, allow_blank=True)
    task_title = serializers.CharField(required=False, allow_blank=True)


class RecomputeIn(serializers.Serializer[Any]):
    entity = serializers.ChoiceField(choices=Entity.choices)


def _valid(serializer_class: type[serializers.Serializer[Any]], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


@extend_schema_view(
    get=extend_schema(tags=["scoring"], responses=RuleOut(many=True), operation_id="rule_list"),
    post=extend_schema(
        tags=["scoring"], request=RuleIn, responses={201: RuleOut}, operation_id="rule_create"
    ),
)
class RuleList(generics.ListAPIView[Any]):
    capabilities = {"GET": VIEW_RULES, "POST": MANAGE_RULES}
    serializer_class = RuleOut

    def get_queryset(self) -> Any:
        return ScoringRule.objects.all().order_by("-pk")

    def post(self, request: Request) -> Response:
        rule = services.rule_create(actor=_actor(request), data=_valid(RuleIn, request.data))
        return Response(RuleOut(rule).data, status=status.HTTP_201_CREATED)


def _rule(rule_id: int) -> ScoringRule:
    rule = ScoringRule.objects.filter(pk=rule_id).first()
    if rule is None:
        raise Http404("No such rule")
    return rule


@extend_schema_view(
    get=extend_schema(tags=["scoring"], responses=RuleOut, operation_id="rule_retrieve"),
    patch=extend_schema(
        tags=["scoring"], request=RuleIn, responses=RuleOut, operation_id="rule_update"
    ),
    delete=extend_schema(tags=["scoring"], responses={204: None}, operation_id="rule_delete"),
)
class RuleDetail(APIView):
    capabilities = {"GET": VIEW_RULES, "PATCH": MANAGE_RULES, "DELETE": MANAGE_RULES}

    def get(self, request: Request, rule_id: int) -> Response:
        return Response(RuleOut(_rule(rule_id)).data)

    def patch(self, request: Request, rule_id: int) -> Response:
        serializer = RuleIn(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        rule = services.rule_update(
            actor=_actor(request), rule=_rule(rule_id), changes=dict(serializer.validated_data)
        )
        return Response(RuleOut(rule).data)

    def delete(self, request: Request, rule_id: int) -> Response:
        services.rule_delete(actor=_actor(request), rule=_rule(rule_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    get=extend_schema(
        tags=["scoring"], responses=ThresholdOut(many=True), operation_id="threshold_list"
    ),
    post=extend_schema(
        tags=["scoring"],
        request=ThresholdIn,
        responses={201: ThresholdOut},
        operation_id="threshold_create",
    ),
)
class ThresholdList(generics.ListAPIView[Any]):
    capabilities = {"GET": VIEW_RULES, "POST": MANAGE_RULES}
    serializer_class = ThresholdOut

    def get_queryset(self) -> Any:
        return ScoreThreshold.objects.all().order_by("-pk")

    def post(self, request: Request) -> Response:
        data = _valid(ThresholdIn, request.data)
        threshold = services.threshold_create(actor=_actor(request), data=data)
        return Response(ThresholdOut(threshold).data, status=status.HTTP_201_CREATED)


class ThresholdDetail(APIView):
    capability = MANAGE_RULES

    @extend_schema(tags=["scoring"], responses={204: None}, operation_id="threshold_delete")
    def delete(self, request: Request, threshold_id: int) -> Response:
        threshold = ScoreThreshold.objects.filter(pk=threshold_id).first()
        if threshold is None:
            raise Http404("No such threshold")
        services.threshold_delete(actor=_actor(request), threshold=threshold)
        return Response(status=status.HTTP_204_NO_CONTENT)


class Recompute(APIView):
    capability = MANAGE_RULES

    @extend_schema(
        tags=["scoring"],
        request=RecomputeIn,
        responses={202: None},
        operation_id="scores_recompute",
    )
    def post(self, request: Request) -> Response:
        data = _valid(RecomputeIn, request.data)
        services.scores_recompute_now(actor=_actor(request), entity=data["entity"])
        return Response(status=status.HTTP_202_ACCEPTED)


urlpatterns = [
    path("rules/", RuleList.as_view(), name="rule-list"),
    path("rules/<int:rule_id>/", RuleDetail.as_view(), name="rule-detail"),
    path("thresholds/", ThresholdList.as_view(), name="threshold-list"),
    path("thresholds/<int:threshold_id>/", ThresholdDetail.as_view(), name="threshold-detail"),
    path("recompute/", Recompute.as_view(), name="recompute"),
]
