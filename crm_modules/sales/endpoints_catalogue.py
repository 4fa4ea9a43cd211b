"""The API of the product catalogue, of deals' line items and of pipeline administration
(under /api/v1/sales/). Built on
the resource classes of ``endpoints``, whose URL list includes these views."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from crm_modules.sales import selectors, services
from crm_modules.sales.endpoints import _actor, _Detail, _List, _Resource
from crm_modules.sales.models import Deal, LineItem, Pipeline, Product
from crm_modules.sales.module import (
    EDIT_RECORDS,
    MANAGE_PIPELINES,
    MANAGE_PRODUCTS,
    VIEW_RECORDS,
)
from tenants.capabilities import Capability


class ProductOut(serializers.ModelSerializer[Product]):
    unit_price = serializers.DecimalField(max_digits=18, decimal_places=2, coerce_to_string=True)

    class Meta:
        model = Product
        fields = ("id", "name", "sku", "unit_price", "currency", "active", "created_at")


class ProductIn(serializers.Serializer[Any]):
    name = serializers.CharField(required=True, allow_blank=True)
    sku = serializers.CharField(required=False, allow_blank=True)
    unit_price = serializers.CharField(required=True, allow_blank=True)
    currency = serializers.CharField(required=False, allow_blank=True)
    active = serializers.BooleanField(required=False)


class LineItemOut(serializers.ModelSerializer[LineItem]):
    quantity = serializers.DecimalField(max_digits=12, decimal_places=2, coerce_to_string=True)
    unit_price = serializers.DecimalField(max_digits=18, decimal_places=2, coerce_to_string=True)
    discount = serializers.DecimalField(max_digits=5, decimal_places=2, coerce_to_string=True)
    total = serializers.DecimalField(max_digits=18, decimal_places=2, coerce_to_string=True)

    class Meta:
        model = LineItem
        fields = ("id", "product", "name", "quantity", "unit_price", "discount", "total")


class LineItemIn(serializers.Serializer[Any]):
    product = serializers.IntegerField(required=True)
    quantity = serializers.CharField(required=False)
    unit_price = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    discount = serializers.CharField(required=False, allow_blank=True, allow_null=True)


class LineItemChange(serializers.Serializer[Any]):
    quantity = serializers.CharField(required=False)
    unit_price = serializers.CharField(required=False)
    discount = serializers.CharField(required=False)


@extend_schema_view(
    get=extend_schema(
        tags=["products"],
        parameters=[
            OpenApiParameter("q", str, description="substring of the name or SKU"),
            OpenApiParameter("active", bool),
        ],
        responses=ProductOut(many=True),
        operation_id="product_list",
    ),
    post=extend_schema(
        tags=["products"],
        request=ProductIn,
        responses={201: ProductOut},
        operation_id="product_create",
    ),
)
class ProductList(_List):
    capabilities = {"GET": VIEW_RECORDS, "POST": MANAGE_PRODUCTS}
    out, into = ProductOut, ProductIn

    def get_queryset(self) -> QuerySet[Product]:
        params = self.request.query_params
        active = {"true": True, "1": True, "false": False, "0": False}.get(params.get("active", ""))
        return selectors.product_list(
            actor=_actor(self.request), q=params.get("q", ""), active=active
        )

    def create(self, data: dict[str, Any]) -> Product:
        return services.product_create(actor=_actor(self.request), **data)


@extend_schema_view(
    get=extend_schema(tags=["products"], responses=ProductOut, operation_id="product_retrieve"),
    patch=extend_schema(
        tags=["products"], request=ProductIn, responses=ProductOut, operation_id="product_update"
    ),
)
class ProductDetail(_Resource):
    capabilities = {"GET": VIEW_RECORDS, "PATCH": MANAGE_PRODUCTS}
    out, into = ProductOut, ProductIn

    def scoped_get(self, capability: Capability) -> Product:
        return selectors.product_get(
            actor=_actor(self.request), product_id=self.kwargs["product_id"]
        )

    def get(self, request: Request, **kwargs: Any) -> Response:
        return Response(self.out(self.get_object()).data)

    def patch(self, request: Request, **kwargs: Any) -> Response:
        product = self.get_object()
        data = self._input(partial=True)
        changed = services.product_update(actor=_actor(request), product=product, changes=data)
        return Response(self.out(changed).data)


class _DealItems(_Resource):
    def scoped_get(self, capability: Capability) -> Deal:
        return selectors.deal_get(
            actor=_actor(self.request), deal_id=self.kwargs["deal_id"], capability=capability
        )


@extend_schema_view(
    get=extend_schema(
        tags=["deals"], responses=LineItemOut(many=True), operation_id="deal_line_item_list"
    ),
    post=extend_schema(
        tags=["deals"],
        request=LineItemIn,
        responses={201: LineItemOut},
        operation_id="deal_line_item_create",
    ),
)
class DealLineItems(_DealItems):
    """A deal's line items; adding one recomputes the deal's amount."""

    capabilities = {"GET": VIEW_RECORDS, "POST": EDIT_RECORDS}
    out, into = LineItemOut, LineItemIn

    def get(self, request: Request, **kwargs: Any) -> Response:
        items = selectors.line_item_list(deal=self.get_object())
        return Response(LineItemOut(items, many=True).data)

    def post(self, request: Request, **kwargs: Any) -> Response:
        deal = self.get_object()
        data = self._input(partial=False)
        item = services.line_item_add(actor=_actor(request), deal=deal, **data)
        return Response(LineItemOut(item).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    patch=extend_schema(
        tags=["deals"],
        request=LineItemChange,
        responses=LineItemOut,
        operation_id="deal_line_item_update",
    ),
    delete=extend_schema(
        tags=["deals"], responses={204: None}, operation_id="deal_line_item_delete"
    ),
)
class DealLineItemDetail(_DealItems, _Detail):
    capabilities = {"PATCH": EDIT_RECORDS, "DELETE": EDIT_RECORDS}
    out, into = LineItemOut, LineItemChange
    http_method_names = ["patch", "delete", "options"]

    def get_object(self) -> Deal:
        deal: Deal = super().get_object()
        if not selectors.line_item_list(deal=deal).filter(pk=self.kwargs["item_id"]).exists():
            raise Http404("No such line item")
        return deal

    def update(self, record: Deal, data: dict[str, Any]) -> LineItem:
        return services.line_item_update(
            actor=_actor(self.request), deal=record, item_id=self.kwargs["item_id"], changes=data
        )

    def destroy(self, record: Deal) -> None:
        services.line_item_remove(
            actor=_actor(self.request), deal=record, item_id=self.kwargs["item_id"]
        )


# --- pipeline administration ----------------------------------------------------------------


class PipelineChange(serializers.Serializer[Any]):
    name = serializers.CharField(required=False, allow_blank=True)
    archived = serializers.BooleanField(required=False)


class PipelineAdminOut(serializers.ModelSerializer[Pipeline]):
    stages = serializers.SerializerMethodField()

    class Meta:
        model = Pipeline
        fields = ("id", "name", "position", "archived_at", "stages")

    def get_stages(self, pipeline: Pipeline) -> list[dict[str, Any]]:
        return [
            {"id": s.pk, "name": s.name, "position": s.position, "probability": s.probability,
             "kind": s.kind}
            for s in pipeline.stages.order_by("position", "id")
        ]  # fmt: skip


class StageIn(serializers.Serializer[Any]):
    name = serializers.CharField(allow_blank=True)
    probability = serializers.IntegerField()
    kind = serializers.CharField(required=False)


class StageChange(serializers.Serializer[Any]):
    name = serializers.CharField(required=False, allow_blank=True)
    probability = serializers.IntegerField(required=False)
    move = serializers.ChoiceField(choices=["earlier", "later"], required=False)


class _PipelineAdmin(_Resource):
    def scoped_get(self, capability: Capability) -> Pipeline:
        return selectors.pipeline_get(
            actor=_actor(self.request), pipeline_id=self.kwargs["pipeline_id"]
        )


@extend_schema_view(
    patch=extend_schema(
        tags=["deals"],
        request=PipelineChange,
        responses=PipelineAdminOut,
        operation_id="pipeline_update",
    ),
)
class PipelineDetail(_PipelineAdmin):
    """Rename a pipeline, or archive (``archived: true``) and restore it."""

    capabilities = {"PATCH": MANAGE_PIPELINES}
    out, into = PipelineAdminOut, PipelineChange

    def patch(self, request: Request, **kwargs: Any) -> Response:
        pipeline = self.get_object()
        data = self._input(partial=True)
        actor = _actor(request)
        with transaction.atomic():
            if "name" in data:
                pipeline = services.pipeline_rename(
                    actor=actor, pipeline=pipeline, name=data["name"]
                )
            if "archived" in data:
                pipeline = services.pipeline_archive(
                    actor=actor, pipeline=pipeline, archived=data["archived"]
                )
        return Response(PipelineAdminOut(pipeline).data)


@extend_schema_view(
    post=extend_schema(
        tags=["deals"],
        request=StageIn,
        responses={201: PipelineAdminOut},
        operation_id="pipeline_stage_create",
    ),
)
class PipelineStages(_PipelineAdmin):
    capabilities = {"POST": MANAGE_PIPELINES}
    out, into = PipelineAdminOut, StageIn

    def post(self, request: Request, **kwargs: Any) -> Response:
        pipeline = self.get_object()
        data = self._input(partial=False)
        services.stage_add(actor=_actor(request), pipeline=pipeline, **data)
        return Response(PipelineAdminOut(pipeline).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    patch=extend_schema(
        tags=["deals"],
        request=StageChange,
        responses=PipelineAdminOut,
        operation_id="pipeline_stage_update",
    ),
    delete=extend_schema(
        tags=["deals"],
        parameters=[OpenApiParameter("move_to", int, description="the stage its deals move to")],
        responses={204: None},
        operation_id="pipeline_stage_delete",
    ),
)
class PipelineStageDetail(_PipelineAdmin):
    """Rename a stage, set its win probability, move it one place; delete it (its deals move
    to ``move_to``, required when it holds any)."""

    capabilities = {"PATCH": MANAGE_PIPELINES, "DELETE": MANAGE_PIPELINES}
    out, into = PipelineAdminOut, StageChange

    def get_object(self) -> Pipeline:
        pipeline: Pipeline = super().get_object()
        if not pipeline.stages.filter(pk=self.kwargs["stage_id"]).exists():
            raise Http404("No such stage")
        return pipeline

    def patch(self, request: Request, **kwargs: Any) -> Response:
        pipeline = self.get_object()
        data = self._input(partial=True)
        actor = _actor(request)
        stage = pipeline.stages.get(pk=self.kwargs["stage_id"])
        with transaction.atomic():
            if "name" in data or "probability" in data:
                services.stage_update(
                    actor=actor,
                    pipeline=pipeline,
                    stage_id=stage.pk,
                    name=data.get("name", stage.name),
                    probability=data.get("probability", stage.probability),
                )
            if "move" in data:
                offset = -1 if data["move"] == "earlier" else 1
                services.stage_move(
                    actor=actor, pipeline=pipeline, stage_id=stage.pk, offset=offset
                )
        return Response(PipelineAdminOut(pipeline).data)

    def delete(self, request: Request, **kwargs: Any) -> Response:
        pipeline = self.get_object()
        services.stage_delete(
            actor=_actor(request),
            pipeline=pipeline,
            stage_id=self.kwargs["stage_id"],
            move_to=request.query_params.get("move_to"),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
