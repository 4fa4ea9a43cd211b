"""The API of duplicates and merges under /api/v1/sales/ (ADR 0018): the duplicate check a
client can ask before creating, merging contacts or companies, and undoing a merge.

Creating a contact or company that looks like an existing one answers 409 with the likely
duplicates (``possible_duplicates_response``); the client repeats the request with
``"allow_duplicates": true`` to create it anyway.
"""

from __future__ import annotations

from typing import Any

from django.urls import path
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crm_modules.sales import selectors
from crm_modules.sales.models import MergeRecord
from crm_modules.sales.module import MERGE_RECORDS, VIEW_RECORDS
from crm_modules.sales.services.duplicates import Match, company_duplicates, contact_duplicates
from crm_modules.sales.services.merge import (
    UNDO_DAYS,
    companies_merge,
    contacts_merge,
    merge_undo,
)
from crm_platform.api.errors import error_body
from tenants.models import Membership


class DuplicateOut(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()
    reasons = serializers.ListField(
        child=serializers.CharField(), help_text="email, phone, domain, name"
    )
    confidence = serializers.IntegerField(help_text="0-100")


class DuplicatesOut(serializers.Serializer[Any]):
    error = serializers.DictField()
    duplicates = DuplicateOut(many=True)


def duplicates_data(matches: list[Match]) -> list[dict[str, Any]]:
    return [
        {
            "id": match.record.pk,
            "name": str(match.record),
            "reasons": match.reasons,
            "confidence": match.confidence,
        }
        for match in matches
    ]


def possible_duplicates_response(matches: list[Match]) -> Response:
    body = error_body(
        "possible_duplicates",
        _(
            "This looks like a record that already exists. Send it again with "
            '"allow_duplicates": true to create it anyway.'
        ),
    )
    body["duplicates"] = duplicates_data(matches)
    return Response(body, status=status.HTTP_409_CONFLICT)


def _actor(request: Request) -> Membership:
    actor: Membership = request._request.membership  # type: ignore[attr-defined]
    return actor


class MergeIn(serializers.Serializer[Any]):
    survivor = serializers.IntegerField(help_text="id of the record that is kept")
    merged = serializers.ListField(
        child=serializers.IntegerField(), help_text="ids of the records merged into it"
    )
    values = serializers.DictField(
        child=serializers.IntegerField(),
        required=False,
        help_text="field name → id of the record whose value is kept",
    )
    updated_at = serializers.DictField(
        child=serializers.DateTimeField(),
        required=False,
        help_text="record id → updated_at as the client saw it; a later change refuses",
    )


class MergeOut(serializers.ModelSerializer[MergeRecord]):
    survivor = serializers.IntegerField(source="survivor_id")
    merged = serializers.ListField(source="merged_ids", child=serializers.IntegerField())
    undo_until = serializers.SerializerMethodField()

    class Meta:
        model = MergeRecord
        fields = ("id", "entity", "survivor", "merged", "merged_at", "undone_at", "undo_until")

    def get_undo_until(self, merge: MergeRecord) -> str:
        import datetime

        return (merge.merged_at + datetime.timedelta(days=UNDO_DAYS)).isoformat()


def _seen(data: dict[str, Any]) -> dict[int, Any]:
    seen = {}
    for key, value in data.get("updated_at", {}).items():
        try:
            seen[int(key)] = value
        except ValueError as exc:
            raise serializers.ValidationError(
                {"updated_at": [_("Key the times by record id.")]}
            ) from exc
    return seen


class _Merge(APIView):
    capability = MERGE_RECORDS
    merge_service: Any

    def post(self, request: Request) -> Response:
        serializer = MergeIn(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        merge = type(self).merge_service(
            actor=_actor(request),
            survivor_id=data["survivor"],
            other_ids=data["merged"],
            values=data.get("values", {}),
            seen=_seen(data),
        )
        return Response(MergeOut(merge).data)


class ContactMerge(_Merge):
    merge_service = staticmethod(contacts_merge)

    @extend_schema(
        tags=["contacts"], request=MergeIn, responses={200: MergeOut}, operation_id="contact_merge"
    )
    def post(self, request: Request) -> Response:
        return super().post(request)


class CompanyMerge(_Merge):
    merge_service = staticmethod(companies_merge)

    @extend_schema(
        tags=["companies"],
        request=MergeIn,
        responses={200: MergeOut},
        operation_id="company_merge",
    )
    def post(self, request: Request) -> Response:
        return super().post(request)


class MergeUndo(APIView):
    capability = MERGE_RECORDS

    @extend_schema(
        tags=["merges"], request=None, responses={200: MergeOut}, operation_id="merge_undo"
    )
    def post(self, request: Request, merge_id: int) -> Response:
        merge = selectors.merge_get(actor=_actor(request), merge_id=merge_id)
        return Response(MergeOut(merge_undo(actor=_actor(request), merge=merge)).data)


class ContactDuplicates(APIView):
    capability = VIEW_RECORDS

    @extend_schema(
        tags=["contacts"],
        parameters=[
            OpenApiParameter("first_name", str),
            OpenApiParameter("last_name", str),
            OpenApiParameter("email", str, many=True),
            OpenApiParameter("phone", str, many=True),
        ],
        responses={200: DuplicateOut(many=True)},
        operation_id="contact_duplicates",
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        matches = contact_duplicates(
            first_name=params.get("first_name", ""),
            last_name=params.get("last_name", ""),
            emails=params.getlist("email"),
            phones=params.getlist("phone"),
        )
        return Response(duplicates_data(matches))


class CompanyDuplicates(APIView):
    capability = VIEW_RECORDS

    @extend_schema(
        tags=["companies"],
        parameters=[OpenApiParameter("name", str), OpenApiParameter("domain", str)],
        responses={200: DuplicateOut(many=True)},
        operation_id="company_duplicates",
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        matches = company_duplicates(name=params.get("name", ""), domain=params.get("domain", ""))
        return Response(duplicates_data(matches))


urlpatterns = [
    path("contacts/merge/", ContactMerge.as_view(), name="contact-merge"),
    path("contacts/duplicates/", ContactDuplicates.as_view(), name="contact-duplicates"),
    path("companies/merge/", CompanyMerge.as_view(), name="company-merge"),
    path("companies/duplicates/", CompanyDuplicates.as_view(), name="company-duplicates"),
    path("merges/<int:merge_id>/undo/", MergeUndo.as_view(), name="merge-undo"),
]
