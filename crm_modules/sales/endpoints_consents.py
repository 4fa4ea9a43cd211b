"""A contact's consent per channel through the API (under /api/v1/sales/): read it, and record
that it was given or withdrawn, when and how. Built on the resource classes of ``endpoints``."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from crm_modules.sales import selectors, services
from crm_modules.sales.endpoints import _actor, _Resource
from crm_modules.sales.models import Consent, Contact
from crm_modules.sales.module import EDIT_MARKETING, VIEW_RECORDS
from tenants.capabilities import Capability


class ConsentOut(serializers.ModelSerializer[Consent]):
    channel = serializers.CharField(read_only=True, help_text="email, sms, phone")
    status = serializers.CharField(read_only=True, help_text="given, withdrawn")

    class Meta:
        model = Consent
        fields = ("channel", "status", "recorded_at", "method", "recorded_by")


class ConsentIn(serializers.Serializer[Any]):
    channel = serializers.CharField(help_text="email, sms, phone")
    status = serializers.CharField(help_text="given, withdrawn")
    recorded_at = serializers.DateTimeField(required=False, allow_null=True)
    method = serializers.CharField(allow_blank=True)


@extend_schema_view(
    get=extend_schema(
        tags=["contacts"], responses=ConsentOut(many=True), operation_id="contact_consent_list"
    ),
    post=extend_schema(
        tags=["contacts"],
        request=ConsentIn,
        responses={201: ConsentOut},
        operation_id="contact_consent_record",
    ),
)
class ContactConsents(_Resource):
    capabilities = {"GET": VIEW_RECORDS, "POST": EDIT_MARKETING}
    out, into = ConsentOut, ConsentIn

    def scoped_get(self, capability: Capability) -> Contact:
        return selectors.contact_get(
            actor=_actor(self.request), contact_id=self.kwargs["contact_id"], capability=capability
        )

    def get(self, request: Request, **kwargs: Any) -> Response:
        contact = self.get_object()
        return Response(ConsentOut(contact.consents.order_by("channel"), many=True).data)

    def post(self, request: Request, **kwargs: Any) -> Response:
        contact = self.get_object()
        data = self._input(partial=False)
        consent = services.contact_set_consent(actor=_actor(request), contact=contact, **data)
        return Response(ConsentOut(consent).data, status=status.HTTP_201_CREATED)
