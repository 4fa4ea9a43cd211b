"""The deals list (filters, sorting, keyset pages) and the line items of a deal."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST, require_safe

from crm_modules.sales import selectors, services
from crm_modules.sales.custom_sort import is_custom_sort, sort_choices
from crm_modules.sales.filters import DEAL_SORTS, list_for, list_order
from crm_modules.sales.keyset import keyset_page
from crm_modules.sales.models import Deal
from crm_modules.sales.module import EDIT_RECORDS, VIEW_RECORDS
from crm_modules.sales.views_lists import list_extras
from crm_platform.errors import ServiceError
from tenants.access import requires
from tenants.forms import AccessibleForm
from tenants.http import WorkspaceRequest
from tenants.selectors import member_list

PAGE_SIZE = 50

SORTS = DEAL_SORTS


class SortField(forms.ChoiceField):
    """The order of the list: a built-in one, or a custom field's. A custom field that can no
    longer order the list (archived since a view was saved) is not an error: the list falls
    back to its default order (``list_order``)."""

    def valid_value(self, value: Any) -> bool:
        return is_custom_sort(value) or super().valid_value(value)


class DealFilterForm(AccessibleForm):
    q = forms.CharField(label=gettext_lazy("Search"), required=False, max_length=100)
    pipeline = forms.TypedChoiceField(
        label=gettext_lazy("Pipeline"), required=False, coerce=int, empty_value=None
    )
    stage = forms.TypedChoiceField(
        label=gettext_lazy("Stage"), required=False, coerce=int, empty_value=None
    )
    owner = forms.TypedChoiceField(
        label=gettext_lazy("Owner"), required=False, coerce=int, empty_value=None
    )
    status = forms.ChoiceField(
        label=gettext_lazy("Status"),
        required=False,
        choices=[("", gettext_lazy("Any")), *Deal.Status.choices],
    )
    tag = forms.CharField(label=gettext_lazy("Tag"), required=False, max_length=50)
    close_from = forms.DateField(
        label=gettext_lazy("Closing from"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    close_to = forms.DateField(
        label=gettext_lazy("Closing until"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    amount_min = forms.DecimalField(
        label=gettext_lazy("Amount from"), required=False, min_value=0, decimal_places=2
    )
    amount_max = forms.DecimalField(
        label=gettext_lazy("Amount up to"), required=False, min_value=0, decimal_places=2
    )
    sort = SortField(
        label=gettext_lazy("Sort by"),
        required=False,
        choices=[(key, label) for key, (_order, label) in SORTS.items()],
    )

    def __init__(
        self,
        *args: Any,
        pipelines: list[Any],
        members: list[Any],
        custom_sorts: list[tuple[str, str]],
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        any_choice = ("", gettext_lazy("Any"))
        self.fields["sort"].choices = [  # type: ignore[attr-defined]
            *((key, label) for key, (_order, label) in SORTS.items()),
            *custom_sorts,
        ]
        self.fields["pipeline"].choices = [any_choice, *((p.pk, p.name) for p in pipelines)]  # type: ignore[attr-defined]
        self.fields["stage"].choices = [  # type: ignore[attr-defined]
            any_choice,
            *((s.pk, f"{p.name} · {s.name}") for p in pipelines for s in p.stages.all()),
        ]
        self.fields["owner"].choices = [  # type: ignore[attr-defined]
            any_choice,
            *((m.user_id, m.user.full_name or m.user.email) for m in members),
        ]


@requires(VIEW_RECORDS)
@require_safe
def deal_list(request: WorkspaceRequest) -> HttpResponse:
    actor = request.membership
    pipelines = list(selectors.pipeline_list(actor=actor, include_archived=True))
    members = list(member_list(tenant=actor.tenant))
    fields = list(selectors.custom_field_list(actor=actor, entity="deal"))
    form = DealFilterForm(
        request.GET, pipelines=pipelines, members=members, custom_sorts=sort_choices(fields)
    )
    extras = list_extras(request, "deal", pipelines=pipelines, fields=fields)
    if not form.is_valid():
        context: dict[str, Any] = {"form": form, "page": None, "pipelines": pipelines, **extras}
        return render(request, "sales/deal_list.html", context, status=400)
    # Read through the same filters and order as an export of this list (the form above only
    # tells the member which value it refused).
    order = list_order("deal", request.GET)
    try:
        deals = list_for("deal", actor=actor, params=request.GET, order=order)
    except ServiceError as error:
        context = {
            "form": form,
            "page": None,
            "pipelines": pipelines,
            "custom_filter_error": error.message,
            **extras,
        }
        return render(request, "sales/deal_list.html", context, status=400)
    page = keyset_page(deals, order=order, after=request.GET.get("after", ""), size=PAGE_SIZE)
    owners = {m.user_id: m.user for m in members}
    rows = [
        {"deal": deal, "owner": owners.get(deal.owner_id) if deal.owner_id else None}
        for deal in page.rows
    ]
    context = {
        "form": form,
        "page": page,
        "rows": rows,
        "pipelines": pipelines,
        **extras,
    }
    return render(request, "sales/deal_list.html", context)


@requires(EDIT_RECORDS)
@require_safe
def deal_products(request: WorkspaceRequest, deal_id: int) -> HttpResponse:
    """The product options of a deal's "add a line item" form, for what was typed."""
    selectors.deal_get(actor=request.membership, deal_id=deal_id, capability=EDIT_RECORDS)
    products, more = selectors.product_choices(
        actor=request.membership, q=request.GET.get("product_q", "")
    )
    return render(
        request, "sales/_product_options.html", {"products": products, "more_products": more}
    )


@requires(EDIT_RECORDS)
@require_POST
def deal_line_items(request: WorkspaceRequest, deal_id: int) -> HttpResponse:
    """Add, change or remove a line item of a deal (``op``: add, update, remove)."""
    deal = selectors.deal_get(actor=request.membership, deal_id=deal_id, capability=EDIT_RECORDS)
    op = request.POST.get("op", "add")
    post = request.POST
    try:
        if op == "remove":
            services.line_item_remove(actor=request.membership, deal=deal, item_id=post.get("item"))
        elif op == "update":
            changes = {k: post[k] for k in ("quantity", "unit_price", "discount") if k in post}
            services.line_item_update(
                actor=request.membership, deal=deal, item_id=post.get("item"), changes=changes
            )
        else:
            services.line_item_add(
                actor=request.membership,
                deal=deal,
                product=post.get("product"),
                quantity=post.get("quantity") or "1",
                unit_price=post.get("unit_price"),
                discount=post.get("discount"),
            )
    except ServiceError as error:
        from crm_modules.sales.views_records import deal_page

        return deal_page(request, deal, line_error=error, status=400)
    messages.success(request, _("Line items saved."))
    return redirect("sales:deal_detail", deal.pk)
