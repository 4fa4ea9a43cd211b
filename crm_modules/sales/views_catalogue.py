"""Workspace set-up pages of sales: the product catalogue and the pipelines with their stages."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_safe

from crm_modules.sales import selectors, services
from crm_modules.sales.keyset import keyset_page
from crm_modules.sales.models import Stage
from crm_modules.sales.module import MANAGE_PIPELINES, MANAGE_PRODUCTS, VIEW_RECORDS
from crm_modules.sales.services import StageInput
from crm_platform.errors import ServiceError
from tenants.access import requires
from tenants.forms import ServiceForm
from tenants.http import WorkspaceRequest

PAGE_SIZE = 50

# --- products -------------------------------------------------------------------------------


class ProductForm(ServiceForm):
    name = forms.CharField(label=gettext_lazy("Name"), required=False, max_length=200)
    sku = forms.CharField(label=gettext_lazy("SKU"), required=False, max_length=64)
    unit_price = forms.CharField(label=gettext_lazy("Unit price"), required=False, max_length=30)
    currency = forms.CharField(label=gettext_lazy("Currency"), required=False, max_length=3)
    active = forms.BooleanField(label=gettext_lazy("Sold"), required=False, initial=True)


@requires(VIEW_RECORDS)
@require_safe
def product_list(request: WorkspaceRequest) -> HttpResponse:
    q = request.GET.get("q", "")[:100]
    products = selectors.product_list(actor=request.membership, q=q)
    page = keyset_page(
        products, order=("name", "id"), after=request.GET.get("after", ""), size=PAGE_SIZE
    )
    return render(request, "sales/product_list.html", {"page": page, "q": q})


@requires(MANAGE_PRODUCTS)
@require_http_methods(["GET", "HEAD", "POST"])
def product_new(request: WorkspaceRequest) -> HttpResponse:
    form = ProductForm(
        request.POST or None, initial={"currency": request.membership.tenant.currency}
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.product_create(actor=request.membership, **form.cleaned_data)
        except ServiceError as error:
            form.add_service_error(error)
        else:
            messages.success(request, _("Product saved."))
            return redirect("sales:product_list")
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "title": _("New product")}
    return render(request, "sales/record_new.html", context, status=status)


@requires(MANAGE_PRODUCTS)
@require_http_methods(["GET", "HEAD", "POST"])
def product_edit(request: WorkspaceRequest, product_id: int) -> HttpResponse:
    product = selectors.product_get(actor=request.membership, product_id=product_id)
    initial = {
        "name": product.name,
        "sku": product.sku,
        "unit_price": product.unit_price,
        "currency": product.currency,
        "active": product.active,
    }
    form = ProductForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.product_update(
                actor=request.membership, product=product, changes=form.cleaned_data
            )
        except ServiceError as error:
            form.add_service_error(error)
        else:
            messages.success(request, _("Product saved."))
            return redirect("sales:product_list")
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "title": product.name, "submit": _("Save")}
    return render(request, "sales/record_new.html", context, status=status)


# --- pipelines ------------------------------------------------------------------------------


def _default_stages() -> list[StageInput]:
    return [
        StageInput(name=_("New"), probability=10),
        StageInput(name=_("Won"), probability=100, kind=Stage.Kind.WON),
        StageInput(name=_("Lost"), probability=0, kind=Stage.Kind.LOST),
    ]


@requires(MANAGE_PIPELINES)
@require_http_methods(["GET", "HEAD", "POST"])
def pipeline_admin(request: WorkspaceRequest) -> HttpResponse:
    """Every pipeline, archived ones too; a form creates one with a first set of stages."""
    error: ServiceError | None = None
    if request.method == "POST":
        try:
            pipeline = services.pipeline_create(
                actor=request.membership,
                name=request.POST.get("name", ""),
                stages=_default_stages(),
            )
        except ServiceError as exc:
            error = exc
        else:
            messages.success(request, _("Pipeline created."))
            return redirect("sales:pipeline_edit", pipeline.pk)
    pipelines = list(selectors.pipeline_list(actor=request.membership, include_archived=True))
    context = {"pipelines": pipelines, "error": error}
    return render(request, "sales/pipeline_admin.html", context, status=400 if error else 200)


def _pipeline_op(request: WorkspaceRequest, pipeline: Any) -> str:
    """Apply the posted change to the pipeline; returns the message to show."""
    actor, post = request.membership, request.POST
    op = post.get("op", "")
    if op == "rename":
        services.pipeline_rename(actor=actor, pipeline=pipeline, name=post.get("name", ""))
        return _("Pipeline renamed.")
    if op in ("archive", "restore"):
        services.pipeline_archive(actor=actor, pipeline=pipeline, archived=op == "archive")
        return _("Pipeline archived.") if op == "archive" else _("Pipeline restored.")
    if op == "add_stage":
        services.stage_add(
            actor=actor,
            pipeline=pipeline,
            name=post.get("name", ""),
            probability=post.get("probability", ""),
            kind=post.get("kind", Stage.Kind.OPEN),
        )
        return _("Stage added.")
    if op == "edit_stage":
        services.stage_update(
            actor=actor,
            pipeline=pipeline,
            stage_id=post.get("stage"),
            name=post.get("name", ""),
            probability=post.get("probability", ""),
        )
        return _("Stage saved.")
    if op in ("up", "down"):
        services.stage_move(
            actor=actor,
            pipeline=pipeline,
            stage_id=post.get("stage"),
            offset=-1 if op == "up" else 1,
        )
        return _("Stages reordered.")
    if op == "delete_stage":
        moved = services.stage_delete(
            actor=actor, pipeline=pipeline, stage_id=post.get("stage"), move_to=post.get("move_to")
        )
        return _("Stage deleted. Deals moved: %(count)d.") % {"count": moved}
    raise ServiceError(_("Choose what to change."), field="op")


@requires(MANAGE_PIPELINES)
@require_http_methods(["GET", "HEAD", "POST"])
def pipeline_edit(request: WorkspaceRequest, pipeline_id: int) -> HttpResponse:
    pipeline = selectors.pipeline_get(actor=request.membership, pipeline_id=pipeline_id)
    error: ServiceError | None = None
    if request.method == "POST":
        try:
            done = _pipeline_op(request, pipeline)
        except ServiceError as exc:
            error = exc
        else:
            messages.success(request, done)
            return redirect("sales:pipeline_edit", pipeline.pk)
        pipeline = selectors.pipeline_get(actor=request.membership, pipeline_id=pipeline_id)
    stages = list(pipeline.stages.order_by("position", "id"))
    counts = selectors.stage_deal_counts(pipeline=pipeline)
    rows = [{"stage": s, "deals": counts.get(s.pk, 0)} for s in stages]
    context = {
        "pipeline": pipeline,
        "rows": rows,
        "stages": stages,
        "kinds": Stage.Kind.choices,
        "error": error,
    }
    return render(request, "sales/pipeline_edit.html", context, status=400 if error else 200)
