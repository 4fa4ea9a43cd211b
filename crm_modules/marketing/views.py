"""Marketing pages: the segments list with a new-segment form, and a segment's page with its
live count and members (keyset pages)."""

from __future__ import annotations

import json

from django import forms
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_safe

from crm_modules.marketing import selectors, services
from crm_modules.marketing.models import Segment
from crm_modules.marketing.module import MANAGE_SEGMENTS, VIEW_SEGMENTS
from crm_modules.marketing.segments import FIELDS
from crm_platform.errors import ServiceError
from tenants.access import requires
from tenants.http import WorkspaceRequest
from tenants.permissions import allows


class SegmentForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200, strip=False)
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), choices=Segment.Kind.choices)
    definition = forms.CharField(
        label=gettext_lazy("Filter (JSON)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
        help_text=gettext_lazy(
            'For example {"match": "all", "conditions": [{"field": "lifecycle_stage", '
            '"op": "eq", "value": "customer"}]}'
        ),
    )


@requires(VIEW_SEGMENTS)
@require_safe
def segments(request: WorkspaceRequest) -> HttpResponse:
    actor = request.membership
    context = {
        "segments": list(selectors.segment_list(actor=actor)[:200]),
        "can_manage": allows(actor, MANAGE_SEGMENTS),
    }
    return render(request, "marketing/segments.html", context)


@requires(MANAGE_SEGMENTS)
@require_http_methods(["GET", "HEAD", "POST"])
def segment_new(request: WorkspaceRequest) -> HttpResponse:
    actor = request.membership
    status = 200
    form = SegmentForm()
    if request.method == "POST":
        form = SegmentForm(request.POST)
        if form.is_valid():
            raw = form.cleaned_data["definition"].strip()
            try:
                definition = json.loads(raw) if raw else None
            except ValueError:
                form.add_error("definition", _("The filter is not valid JSON."))
            else:
                try:
                    segment = services.segment_create(
                        actor=actor,
                        name=form.cleaned_data["name"],
                        kind=form.cleaned_data["kind"],
                        definition=definition,
                    )
                except ServiceError as exc:
                    target = exc.field if exc.field in form.fields else "definition"
                    form.add_error(target, exc.message)
                else:
                    return redirect("marketing:segment_detail", segment_id=segment.pk)
        status = 400
    context = {"form": form, "fields": sorted(FIELDS)}
    return render(request, "marketing/segment_new.html", context, status=status)


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
    }
    return render(request, "marketing/segment_detail.html", context)
