"""What the sales lists offer, through the API (under /api/v1/sales/): saved views (the member's
own and those shared with the workspace) and bulk actions on companies, contacts, leads and
deals. The same services as the list pages; built on the resource classes of ``endpoints``."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from crm_modules.sales import selectors
from crm_modules.sales.endpoints import _actor, _Detail, _List, _Resource
from crm_modules.sales.models import SavedView
from crm_modules.sales.module import VIEW_RECORDS
from crm_modules.sales.services.bulk import ACTIONS, MAX_RECORDS, Status, records_bulk_apply
from crm_modules.sales.services.views import (
    saved_view_create,
    saved_view_delete,
    saved_view_update,
)
from tenants.capabilities import Capability

# --- saved views ------------------------------------------------------------------------------


class SavedViewOut(serializers.ModelSerializer[SavedView]):
    entity = serializers.CharField(read_only=True, help_text="contact, company, lead, deal")
    mine = serializers.SerializerMethodField(help_text="saved by the caller")

    class Meta:
        model = SavedView
        fields = ("id", "entity", "name", "query", "shared", "owner", "mine", "created_at")

    def get_mine(self, view: SavedView) -> bool:
        request = self.context.get("request")
        return request is not None and view.owner_id == _actor(request).user_id


class SavedViewIn(serializers.Serializer[Any]):
    entity = serializers.CharField(help_text="contact, company, lead, deal")
    name = serializers.CharField(allow_blank=True)
    query = serializers.CharField(
        required=False, allow_blank=True, help_text="the list's query string, e.g. stage=lead"
    )
    shared = serializers.BooleanField(
        required=False, help_text="shared with the workspace (roles that may share views)"
    )


class SavedViewChange(serializers.Serializer[Any]):
    name = serializers.CharField(required=False, allow_blank=True)
    query = serializers.CharField(required=False, allow_blank=True)
    shared = serializers.BooleanField(required=False)


ENTITY = OpenApiParameter(
    "entity", str, enum=list(SavedView.Entity.values), description="only views of this list"
)


@extend_schema_view(
    get=extend_schema(
        tags=["saved views"],
        parameters=[ENTITY],
        responses=SavedViewOut(many=True),
        operation_id="saved_view_list",
    ),
    post=extend_schema(
        tags=["saved views"],
        request=SavedViewIn,
        responses={201: SavedViewOut},
        operation_id="saved_view_create",
    ),
)
class SavedViewList(_List):
    capabilities = {"GET": VIEW_RECORDS, "POST": VIEW_RECORDS}
    out, into = SavedViewOut, SavedViewIn

    def get_queryset(self) -> QuerySet[SavedView]:
        entity = self.request.query_params.get("entity", "")
        views = selectors.saved_view_list(actor=_actor(self.request), entity=entity)
        return views

    def get(self, request: Request, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        data = SavedViewOut(page, many=True, context={"request": request}).data
        return self.get_paginated_response(data)

    def post(self, request: Request, **kwargs: Any) -> Response:
        view = self.create(self._input(partial=False))
        return Response(
            SavedViewOut(view, context={"request": request}).data, status=status.HTTP_201_CREATED
        )

    def create(self, data: dict[str, Any]) -> SavedView:
        return saved_view_create(actor=_actor(self.request), **data)


@extend_schema_view(
    get=extend_schema(
        tags=["saved views"], responses=SavedViewOut, operation_id="saved_view_retrieve"
    ),
    patch=extend_schema(
        tags=["saved views"],
        request=SavedViewChange,
        responses=SavedViewOut,
        operation_id="saved_view_update",
    ),
    delete=extend_schema(
        tags=["saved views"], responses={204: None}, operation_id="saved_view_delete"
    ),
)
class SavedViewDetail(_Detail):
    capabilities = {"GET": VIEW_RECORDS, "PATCH": VIEW_RECORDS, "DELETE": VIEW_RECORDS}
    out, into = SavedViewOut, SavedViewChange

    def scoped_get(self, capability: Capability) -> SavedView:
        return selectors.saved_view_get(actor=_actor(self.request), view_id=self.kwargs["view_id"])

    def get(self, request: Request, **kwargs: Any) -> Response:
        return Response(SavedViewOut(self.get_object(), context={"request": request}).data)

    def patch(self, request: Request, **kwargs: Any) -> Response:
        view = self.get_object()
        data = self._input(partial=True)
        return Response(SavedViewOut(self.update(view, data), context={"request": request}).data)

    def update(self, record: SavedView, data: dict[str, Any]) -> SavedView:
        return saved_view_update(actor=_actor(self.request), view=record, changes=data)

    def destroy(self, record: SavedView) -> None:
        saved_view_delete(actor=_actor(self.request), view=record)


# --- bulk actions -----------------------------------------------------------------------------


class BulkIn(serializers.Serializer[Any]):
    ids = serializers.ListField(
        child=serializers.IntegerField(), help_text=f"at most {MAX_RECORDS} record ids"
    )
    action = serializers.ChoiceField(choices=list(ACTIONS))
    value = serializers.JSONField(
        required=False,
        help_text=(
            "owner: the member's user id; tag, untag: the tag; lifecycle: the lifecycle stage "
            "(contacts, companies); stage: the stage id (deals); delete: nothing"
        ),
    )
    lost_reason = serializers.CharField(
        required=False, allow_blank=True, help_text="when deals move to a lost stage"
    )


class BulkOutcomeOut(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(
        choices=[
            Status.CHANGED,
            Status.UNCHANGED,
            Status.NOT_ALLOWED,
            Status.NOT_FOUND,
            Status.FAILED,
        ]
    )
    code = serializers.CharField(help_text="why it was not changed, as in the error shape")
    field = serializers.CharField(help_text="the field the refusal names, if any")
    message = serializers.CharField()


class BulkOut(serializers.Serializer[Any]):
    changed = serializers.IntegerField()
    unchanged = serializers.IntegerField(help_text="already as asked")
    not_changed = serializers.IntegerField(help_text="not allowed, not found or failed")
    results = BulkOutcomeOut(many=True, help_text="one per id, in the order sent")


class _Bulk(_Resource):
    """Bulk actions on one kind of record. The operation itself needs only to see the list:
    every record is then checked for the action (a rep may tag their own records among
    others'), and each id answers for itself; bad input changes nothing (400)."""

    capability = VIEW_RECORDS
    out, into = BulkOut, BulkIn
    entity = ""

    def post(self, request: Request, **kwargs: Any) -> Response:
        data = self._input(partial=False)
        result = records_bulk_apply(
            actor=_actor(request),
            entity=self.entity,
            ids=data["ids"],
            action=data["action"],
            value=data.get("value", ""),
            lost_reason=data.get("lost_reason", ""),
        )
        changed = result.count(Status.CHANGED)
        unchanged = result.count(Status.UNCHANGED)
        body = {
            "changed": changed,
            "unchanged": unchanged,
            "not_changed": len(result.outcomes) - changed - unchanged,
            "results": [
                {
                    "id": o.id,
                    "status": o.status,
                    "code": o.code,
                    "field": o.field,
                    "message": o.message,
                }
                for o in result.outcomes
            ],
        }
        return Response(BulkOut(body).data)


def _bulk_view(entity: str, tag: str) -> type[_Bulk]:
    view = type(f"{entity.title()}Bulk", (_Bulk,), {"entity": entity})
    return extend_schema_view(
        post=extend_schema(
            tags=[tag], request=BulkIn, responses=BulkOut, operation_id=f"{entity}_bulk"
        )
    )(view)


CompanyBulk: type[_Bulk] = _bulk_view("company", "companies")
ContactBulk: type[_Bulk] = _bulk_view("contact", "contacts")
LeadBulk: type[_Bulk] = _bulk_view("lead", "leads")
DealBulk: type[_Bulk] = _bulk_view("deal", "deals")
