"""The deliverability API under /api/v1/marketing/: sender domains (list with the DNS records
to publish, add) and their DNS check (ADR 0043). Input serializer → service → output."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from django.urls import path
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from crm_modules.marketing.deliverability import domains
from crm_modules.marketing.models_deliverability import SenderDomain
from crm_modules.marketing.module import MANAGE_DELIVERABILITY, VIEW_DELIVERABILITY
from crm_platform.api.pagination import KeysetPagination
from tenants.models import Membership


def _actor(request: Request) -> Membership:
    actor: Membership = request._request.membership  # type: ignore[attr-defined]
    return actor


class DnsRecordOut(serializers.Serializer[Any]):
    kind = serializers.CharField()
    name = serializers.CharField()
    value = serializers.CharField()


class SenderDomainOut(serializers.ModelSerializer[SenderDomain]):
    verified = serializers.BooleanField()
    records = serializers.SerializerMethodField()

    class Meta:
        model = SenderDomain
        fields = (
            "id",
            "domain",
            "local_part",
            "dkim_selector",
            "spf_ok",
            "dkim_ok",
            "dmarc_ok",
            "verified",
            "checked_at",
            "records",
        )
        read_only_fields = fields

    @extend_schema_field(DnsRecordOut(many=True))
    def get_records(self, domain: SenderDomain) -> list[dict[str, str]]:
        return [
            {"kind": r.kind, "name": r.name, "value": r.value} for r in domains.dns_records(domain)
        ]


class SenderDomainIn(serializers.Serializer[Any]):
    domain = serializers.CharField(max_length=300, trim_whitespace=False)
    local_part = serializers.CharField(max_length=64, default="news")


@extend_schema_view(
    get=extend_schema(
        tags=["deliverability"],
        responses=SenderDomainOut(many=True),
        operation_id="sender_domain_list",
    ),
    post=extend_schema(
        tags=["deliverability"],
        request=SenderDomainIn,
        responses={201: SenderDomainOut},
        operation_id="sender_domain_create",
    ),
)
class SenderDomainList(generics.GenericAPIView[SenderDomain]):
    capabilities = {"GET": VIEW_DELIVERABILITY, "POST": MANAGE_DELIVERABILITY}
    serializer_class = SenderDomainOut
    pagination_class = KeysetPagination

    def get_queryset(self) -> QuerySet[SenderDomain]:
        return SenderDomain.objects.order_by("-id")

    def get(self, request: Request, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(SenderDomainOut(page, many=True).data)

    def post(self, request: Request, **kwargs: Any) -> Response:
        data = SenderDomainIn(data=request.data)
        data.is_valid(raise_exception=True)
        added = domains.sender_domain_add(actor=_actor(request), **data.validated_data)
        return Response(SenderDomainOut(added).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    post=extend_schema(
        tags=["deliverability"],
        request=None,
        responses=SenderDomainOut,
        operation_id="sender_domain_check",
    )
)
class SenderDomainCheck(generics.GenericAPIView[SenderDomain]):
    capability = VIEW_DELIVERABILITY
    serializer_class = SenderDomainOut

    def post(self, request: Request, domain_id: int) -> Response:
        found = SenderDomain.objects.filter(pk=domain_id).first()
        if found is None:
            raise Http404
        checked = domains.sender_domain_check(actor=_actor(request), domain=found)
        return Response(SenderDomainOut(checked).data)


urlpatterns = [
    path("sender-domains/", SenderDomainList.as_view(), name="sender-domain-list"),
    path(
        "sender-domains/<int:domain_id>/check/",
        SenderDomainCheck.as_view(),
        name="sender-domain-check",
    ),
]
