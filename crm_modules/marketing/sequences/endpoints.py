"""The sequences API under /api/v1/marketing/sequences/: list (with figures), create, read,
change (steps), activate; enrolments: list (cursor pagination), enrol contacts or a segment,
pause, resume and remove one. Input serializer → service → output serializer; the services
check the steps and name the step and field of an error (``steps[1].body``)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.urls import path
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from crm_modules.marketing.models_sequences import Enrolment, Sequence, SequenceStep
from crm_modules.marketing.module import ENROL_SEQUENCES, MANAGE_SEQUENCES, VIEW_SEQUENCES
from crm_modules.marketing.selectors import segment_get
from crm_modules.marketing.sequences import selectors, services
from crm_modules.marketing.sequences.steps import StepDraft
from crm_platform.api.pagination import KeysetPagination
from crm_platform.errors import ServiceError
from tenants.models import Membership


def _actor(request: Request) -> Membership:
    actor: Membership = request._request.membership  # type: ignore[attr-defined]
    return actor


class StepIn(serializers.Serializer[Any]):
    kind = serializers.CharField(max_length=20)
    delay_amount = serializers.IntegerField(default=1)
    delay_unit = serializers.CharField(max_length=20, default=SequenceStep.DelayUnit.DAYS)
    condition = serializers.CharField(max_length=20, default=SequenceStep.Condition.ALWAYS)
    condition_value = serializers.CharField(max_length=40, required=False, allow_blank=True)
    subject = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    body = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    task_title = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)


class SequenceIn(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=200, trim_whitespace=False)
    from_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    steps = StepIn(many=True, allow_empty=True)


class StepOut(serializers.ModelSerializer[SequenceStep]):
    class Meta:
        model = SequenceStep
        fields = (
            "position",
            "kind",
            "delay_amount",
            "delay_unit",
            "condition",
            "condition_value",
            "subject",
            "body",
            "task_title",
        )
        read_only_fields = fields


class SequenceOut(serializers.ModelSerializer[Sequence]):
    stats = serializers.SerializerMethodField()

    class Meta:
        model = Sequence
        fields: tuple[str, ...] = ("id", "name", "status", "from_name", "created_at", "stats")
        read_only_fields: tuple[str, ...] = fields

    def get_stats(self, sequence: Sequence) -> dict[str, int]:
        stats: dict[int, dict[str, int]] = self.context.get("stats") or {}
        return stats.get(sequence.pk) or selectors.sequence_stats([sequence.pk])[sequence.pk]


class SequenceDetailOut(SequenceOut):
    steps = serializers.SerializerMethodField()

    class Meta(SequenceOut.Meta):
        fields = (*SequenceOut.Meta.fields, "steps")
        read_only_fields = fields

    def get_steps(self, sequence: Sequence) -> list[dict[str, Any]]:
        return list(StepOut(selectors.sequence_steps(sequence), many=True).data)


class EnrolmentOut(serializers.ModelSerializer[Enrolment]):
    class Meta:
        model = Enrolment
        fields = (
            "id",
            "contact",
            "state",
            "exit_reason",
            "next_position",
            "due_at",
            "enrolled_at",
            "ended_at",
        )
        read_only_fields = fields


class EnrolIn(serializers.Serializer[Any]):
    contacts = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, allow_empty=True
    )
    segment = serializers.IntegerField(required=False, min_value=1)


class EnrolOut(serializers.Serializer[Any]):
    enrolled = serializers.ListField(child=serializers.IntegerField())
    refused = serializers.ListField(child=serializers.DictField())


def _drafts(data: dict[str, Any]) -> list[StepDraft]:
    return [StepDraft(**step) for step in data["steps"]]


@extend_schema_view(
    get=extend_schema(
        tags=["sequences"], responses=SequenceOut(many=True), operation_id="sequence_list"
    ),
    post=extend_schema(
        tags=["sequences"],
        request=SequenceIn,
        responses={201: SequenceDetailOut},
        operation_id="sequence_create",
    ),
)
class SequenceList(generics.GenericAPIView[Sequence]):
    capabilities = {"GET": VIEW_SEQUENCES, "POST": MANAGE_SEQUENCES}
    serializer_class = SequenceOut
    pagination_class = KeysetPagination

    def get_queryset(self) -> QuerySet[Sequence]:
        return selectors.sequence_list(actor=_actor(self.request)).order_by("-id")

    def get(self, request: Request, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset()) or []
        stats = selectors.sequence_stats([row.pk for row in page])
        return self.get_paginated_response(
            SequenceOut(page, many=True, context={"stats": stats}).data
        )

    def post(self, request: Request, **kwargs: Any) -> Response:
        data = SequenceIn(data=request.data)
        data.is_valid(raise_exception=True)
        sequence = services.sequence_create(
            actor=_actor(request),
            name=data.validated_data["name"],
            from_name=data.validated_data.get("from_name", ""),
            steps=_drafts(data.validated_data),
        )
        return Response(SequenceDetailOut(sequence).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    get=extend_schema(
        tags=["sequences"], responses=SequenceDetailOut, operation_id="sequence_retrieve"
    ),
    put=extend_schema(
        tags=["sequences"],
        request=SequenceIn,
        responses=SequenceDetailOut,
        operation_id="sequence_update",
    ),
)
class SequenceDetail(generics.GenericAPIView[Sequence]):
    capabilities = {"GET": VIEW_SEQUENCES, "PUT": MANAGE_SEQUENCES}
    serializer_class = SequenceDetailOut

    def get(self, request: Request, sequence_id: int) -> Response:
        sequence = selectors.sequence_get(actor=_actor(request), sequence_id=sequence_id)
        return Response(SequenceDetailOut(sequence).data)

    def put(self, request: Request, sequence_id: int) -> Response:
        actor = _actor(request)
        sequence = selectors.sequence_get(actor=actor, sequence_id=sequence_id)
        data = SequenceIn(data=request.data)
        data.is_valid(raise_exception=True)
        sequence = services.sequence_update(
            actor=actor,
            sequence=sequence,
            name=data.validated_data["name"],
            from_name=data.validated_data.get("from_name", ""),
            steps=_drafts(data.validated_data),
        )
        return Response(SequenceDetailOut(sequence).data)


@extend_schema_view(
    post=extend_schema(
        tags=["sequences"],
        request=None,
        responses=SequenceDetailOut,
        operation_id="sequence_activate",
    )
)
class SequenceActivate(generics.GenericAPIView[Sequence]):
    capability = MANAGE_SEQUENCES
    serializer_class = SequenceDetailOut

    def post(self, request: Request, sequence_id: int) -> Response:
        actor = _actor(request)
        sequence = selectors.sequence_get(actor=actor, sequence_id=sequence_id)
        sequence = services.sequence_activate(actor=actor, sequence=sequence)
        return Response(SequenceDetailOut(sequence).data)


@extend_schema_view(
    get=extend_schema(
        tags=["sequences"],
        responses=EnrolmentOut(many=True),
        operation_id="sequence_enrolments",
    ),
    post=extend_schema(
        tags=["sequences"],
        request=EnrolIn,
        responses={200: EnrolOut},
        operation_id="sequence_enrol",
    ),
)
class SequenceEnrolments(generics.GenericAPIView[Enrolment]):
    capabilities = {"GET": VIEW_SEQUENCES, "POST": ENROL_SEQUENCES}
    serializer_class = EnrolmentOut
    pagination_class = KeysetPagination

    def get(self, request: Request, sequence_id: int) -> Response:
        actor = _actor(request)
        sequence = selectors.sequence_get(actor=actor, sequence_id=sequence_id)
        enrolments = selectors.enrolment_list(
            actor=actor, sequence=sequence, state=request.query_params.get("state", "")
        ).order_by("-id")
        page = self.paginate_queryset(enrolments)
        return self.get_paginated_response(EnrolmentOut(page, many=True).data)

    def post(self, request: Request, sequence_id: int) -> Response:
        actor = _actor(request)
        sequence = selectors.sequence_get(actor=actor, sequence_id=sequence_id)
        data = EnrolIn(data=request.data)
        data.is_valid(raise_exception=True)
        contacts = data.validated_data.get("contacts") or []
        segment_id = data.validated_data.get("segment")
        if bool(contacts) == bool(segment_id):
            raise ServiceError(
                _("Give either contacts or a segment."), field="contacts", code="required"
            )
        if segment_id:
            result = services.enrol_segment(
                actor=actor,
                sequence=sequence,
                segment=segment_get(actor=actor, segment_id=segment_id),
            )
        else:
            result = services.enrol_contacts(actor=actor, sequence=sequence, contact_ids=contacts)
        body = {
            "enrolled": result.enrolled,
            "refused": [{"contact": pk, "reason": reason} for pk, reason in result.refused],
        }
        return Response(EnrolOut(body).data)


class EnrolmentAction(generics.GenericAPIView[Enrolment]):
    capability = ENROL_SEQUENCES
    serializer_class = EnrolmentOut

    def act(self, *, actor: Membership, enrolment: Enrolment) -> Enrolment:
        raise NotImplementedError

    def post(self, request: Request, sequence_id: int, enrolment_id: int) -> Response:
        actor = _actor(request)
        sequence = selectors.sequence_get(actor=actor, sequence_id=sequence_id)
        enrolment = selectors.enrolment_get(
            actor=actor, sequence=sequence, enrolment_id=enrolment_id
        )
        return Response(EnrolmentOut(self.act(actor=actor, enrolment=enrolment)).data)


@extend_schema_view(
    post=extend_schema(
        tags=["sequences"], request=None, responses=EnrolmentOut, operation_id="enrolment_pause"
    )
)
class EnrolmentPause(EnrolmentAction):
    def act(self, *, actor: Membership, enrolment: Enrolment) -> Enrolment:
        return services.enrolment_pause(actor=actor, enrolment=enrolment)


@extend_schema_view(
    post=extend_schema(
        tags=["sequences"], request=None, responses=EnrolmentOut, operation_id="enrolment_resume"
    )
)
class EnrolmentResume(EnrolmentAction):
    def act(self, *, actor: Membership, enrolment: Enrolment) -> Enrolment:
        return services.enrolment_resume(actor=actor, enrolment=enrolment)


@extend_schema_view(
    post=extend_schema(
        tags=["sequences"], request=None, responses=EnrolmentOut, operation_id="enrolment_remove"
    )
)
class EnrolmentRemove(EnrolmentAction):
    def act(self, *, actor: Membership, enrolment: Enrolment) -> Enrolment:
        return services.enrolment_remove(actor=actor, enrolment=enrolment)


urlpatterns = [
    path("sequences/", SequenceList.as_view(), name="sequence-list"),
    path("sequences/<int:sequence_id>/", SequenceDetail.as_view(), name="sequence-detail"),
    path(
        "sequences/<int:sequence_id>/activate/",
        SequenceActivate.as_view(),
        name="sequence-activate",
    ),
    path(
        "sequences/<int:sequence_id>/enrolments/",
        SequenceEnrolments.as_view(),
        name="sequence-enrolments",
    ),
    path(
        "sequences/<int:sequence_id>/enrolments/<int:enrolment_id>/pause/",
        EnrolmentPause.as_view(),
        name="enrolment-pause",
    ),
    path(
        "sequences/<int:sequence_id>/enrolments/<int:enrolment_id>/resume/",
        EnrolmentResume.as_view(),
        name="enrolment-resume",
    ),
    path(
        "sequences/<int:sequence_id>/enrolments/<int:enrolment_id>/remove/",
        EnrolmentRemove.as_view(),
        name="enrolment-remove",
    ),
]
