"""Marketing pages: the segments list, the segment builder, and a segment's page with its live
count and members (keyset pages)."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from django import forms
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_safe

from crm_modules.marketing import segment_builder, selectors, services
from crm_modules.marketing.models import Segment
from crm_modules.marketing.module import MANAGE_SEGMENTS, VIEW_SEGMENTS
from crm_modules.marketing.segments import check_definition
from crm_platform.errors import ServiceError
from tenants.access import requires
from tenants.http import WorkspaceRequest
from tenants.models import Membership
from tenants.permissions import allows


class SegmentForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200, strip=False)
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), choices=Segment.Kind.choices)
    match = forms.ChoiceField(
        label=gettext_lazy("Contacts who match"),
        required=False,
        choices=[
            ("all", gettext_lazy("all of the conditions")),
            ("any", gettext_lazy("any of the conditions")),
        ],
    )
    definition = forms.CharField(
        label=gettext_lazy("Filter (JSON)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
        help_text=gettext_lazy(
            "The builder writes it; you may also edit it. "
            'For example {"match": "all", "conditions": [{"field": "lifecycle_stage", '
            '"op": "eq", "value": "customer"}]}'
        ),
    )


BUILDER_ACTIONS = ("choose", "add", "remove")


@requires(VIEW_SEGMENTS)
@require_safe
def segments(request: WorkspaceRequest) -> HttpResponse:
    actor = request.membership
    context = {
        "segments": list(selectors.segment_list(actor=actor)[:200]),
        "can_manage": allows(actor, MANAGE_SEGMENTS),
    }
    return render(request, "marketing/segments.html", context)


def _parsed(raw: str) -> tuple[Any, str]:
    """The JSON filter typed or built so far, or the reason it cannot be read."""
    text = raw.strip()
    if not text:
        return None, ""
    try:
        return json.loads(text), ""
    except ValueError:
        return None, _("The filter is not valid JSON.")


def _with_match(definition: Any, match: str) -> Any:
    if isinstance(definition, dict) and match in ("all", "any"):
        return {**definition, "match": match}
    return definition


def _builder_step(action: str, post: Any, definition: Any) -> tuple[Any, str]:
    """Add the condition the editor says, or remove one: (the new filter, the problem)."""
    conditions = list(definition.get("conditions") or []) if isinstance(definition, dict) else []
    match = post.get("match") or "all"
    if action == "add":
        field = post.get("c_field", "")
        if not field:
            return definition, _("Choose a condition to add.")
        condition = segment_builder.condition_from_input(field, post)
        try:
            checked = check_definition({"match": match, "conditions": [condition]}, saving=True)
        except ServiceError as exc:
            return definition, exc.message
        conditions.append(checked.as_json()["conditions"][0])
    elif action == "remove":
        with contextlib.suppress(ValueError, IndexError):
            conditions.pop(int(post.get("remove", "")))
    if not conditions:
        return None, ""
    return {"match": match, "conditions": conditions}, ""


@requires(MANAGE_SEGMENTS)
@require_http_methods(["GET", "HEAD", "POST"])
def segment_new(request: WorkspaceRequest) -> HttpResponse:
    """The segment builder: pick a condition, fill in its inputs (days, a count, a type of
    activity, RFM segments…) and add it; the filter so far is listed in words with how many
    contacts it selects now. Without JavaScript each step is a plain submit; with htmx only
    the builder is swapped."""
    actor = request.membership
    status = 200
    form = SegmentForm(initial={"kind": Segment.Kind.DYNAMIC, "match": "all"})
    builder_error = ""
    chosen = request.GET.get("c_field", "")
    if request.method == "POST":
        post = request.POST.copy()
        action = post.get("action") or ("remove" if "remove" in post else "create")
        chosen = post.get("c_field", "")
        definition, problem = _parsed(post.get("definition", ""))
        if action in BUILDER_ACTIONS:
            if problem:
                builder_error = problem
            else:
                definition, builder_error = _builder_step(action, post, definition)
                post["definition"] = (
                    json.dumps(definition, ensure_ascii=False, indent=2) if definition else ""
                )
                if action == "add" and not builder_error:
                    chosen = ""
            form = SegmentForm(post)
            form.is_valid()
            form.errors.pop("name", None)  # a step of the builder does not save yet
            form.errors.pop("kind", None)
            if builder_error and not request.headers.get("HX-Request"):
                status = 400
        else:
            form = SegmentForm(post)
            if form.is_valid():
                if problem:
                    form.add_error("definition", problem)
                else:
                    try:
                        segment = services.segment_create(
                            actor=actor,
                            name=form.cleaned_data["name"],
                            kind=form.cleaned_data["kind"],
                            definition=_with_match(definition, form.cleaned_data["match"]),
                        )
                    except ServiceError as exc:
                        target = exc.field if exc.field in form.fields else "definition"
                        form.add_error(target, exc.message)
                    else:
                        return redirect("marketing:segment_detail", segment_id=segment.pk)
            status = 400
    context = {
        "form": form,
        "builder_error": builder_error,
        "groups": segment_builder.field_groups(),
        **_builder_context(actor, form, chosen),
    }
    return render(request, "marketing/segment_new.html", context, status=status)


def _builder_context(actor: Membership, form: SegmentForm, chosen: str) -> dict[str, Any]:
    """The conditions built so far in words and how many contacts they select now."""
    tenant = actor.tenant
    raw = form.data.get("definition", "") if form.is_bound else ""
    definition, problem = _parsed(raw)
    described: list[str] = []
    count = None
    if definition is not None and not problem:
        try:
            checked = check_definition(_with_match(definition, form.data.get("match", "")))
        except ServiceError:
            pass
        else:
            described = [
                segment_builder.describe(c, tenant=tenant) for c in checked.as_json()["conditions"]
            ]
            count = selectors.definition_count(actor=actor, definition=checked)
    editor = segment_builder.editor(chosen, tenant=tenant)
    # The product condition's picker keeps the products chosen so far, shown by name.
    products = (
        segment_builder.product_picker(
            search=form.data.get("c_product_search", "") if form.is_bound else "",
            chosen=getattr(form.data, "getlist", lambda key: [])("c_products"),
        )
        if editor is not None and editor.inputs == "products"
        else None
    )
    return {
        "conditions": described,
        "count": count,
        "editor": editor,
        "posted": form.data if form.is_bound else {},
        "chosen_values": getattr(form.data, "getlist", lambda key: [])("c_choices"),
        "chosen_products": getattr(form.data, "getlist", lambda key: [])("c_products"),
        "products": products,
    }


@requires(MANAGE_SEGMENTS)
@require_safe
def segment_products(request: WorkspaceRequest) -> HttpResponse:
    """The product condition's picker as the marketer types (an htmx fragment): the products
    chosen so far by name, then the active products whose name or SKU holds ``q``."""
    picker = segment_builder.product_picker(
        search=request.GET.get("c_product_search", ""),
        chosen=request.GET.getlist("c_products"),
    )
    return render(request, "marketing/_product_options.html", {"products": picker})


@requires(VIEW_SEGMENTS)
@require_safe
def segment_detail(request: WorkspaceRequest, segment_id: int) -> HttpResponse:
    actor = request.membership
    segment = selectors.segment_get(actor=actor, segment_id=segment_id)
    page = selectors.segment_members_page(
        actor=actor, segment=segment, after=request.GET.get("after", "")
    )
    context = {
        "segment": segment,
        "count": selectors.segment_count(actor=actor, segment=segment),
        "page": page,
        "definition": json.dumps(segment.definition, ensure_ascii=False, indent=2),
        "conditions": [
            segment_builder.describe(condition, tenant=actor.tenant)
            for condition in (segment.definition or {}).get("conditions", [])
        ],
        "match_any": (segment.definition or {}).get("match") == "any",
    }
    return render(request, "marketing/segment_detail.html", context)
