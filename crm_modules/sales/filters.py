"""The filters of each sales list, read from a list page's query string, so that anything
else showing "this list" (an export) narrows it exactly as the page does. Every queryset comes
from the scoped selectors: it holds only what the member may see. Custom fields are filtered by
their ``cf_`` parameters (``custom_filters``, the same reading as the API's); a bad one raises
a ServiceError naming the field rather than being left out. Any list may be sorted by a custom
field (``sort=cf_<code>`` / ``sort=-cf_<code>``, ``custom_sort``); a sort naming no field that
can order the list leaves the list in its default order (a saved view may outlive its field)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy

from crm_modules.sales import selectors
from crm_modules.sales.custom_filters import check_custom_filter, filter_parameters
from crm_modules.sales.custom_sort import check_custom_sort
from crm_modules.sales.keyset import ValueOrder
from crm_modules.sales.models import Deal, Lead, LifecycleStage
from crm_platform.errors import ServiceError
from tenants.models import Membership

LIST_ENTITIES = ("contact", "company", "lead", "deal")
# The query-string parameters each list understands (and an export keeps).
PARAMETERS = {
    "contact": ("q", "stage", "mine", "min_score", "sort"),
    "company": ("q", "mine", "sort"),
    "lead": ("q", "status", "tag", "mine", "min_score", "sort"),
    "deal": (
        "q",
        "pipeline",
        "stage",
        "status",
        "tag",
        "mine",
        "owner",
        "close_from",
        "close_to",
        "amount_min",
        "amount_max",
        "sort",
    ),
}

# The orders of the deals list. Each ends in the primary key and has an index (keyset, D21).
DEAL_SORTS: dict[str, tuple[tuple[str, ...], Any]] = {
    "newest": (("-id",), gettext_lazy("Newest first")),
    "name": (("name", "id"), gettext_lazy("Name")),
    "amount": (("amount", "id"), gettext_lazy("Amount, smallest first")),
    "-amount": (("-amount", "-id"), gettext_lazy("Amount, largest first")),
    "close": (("expected_close_date", "id"), gettext_lazy("Expected close date")),
}

# The page's form reads dates and amounts with these same fields, so a value the page accepts
# narrows an export identically; a value it refuses (the page answers 400) narrows nothing.
_DATE = forms.DateField(required=False)
_AMOUNT = forms.DecimalField(required=False, min_value=0, decimal_places=2)


def list_parameters(entity: str, params: Mapping[str, Any]) -> dict[str, str | list[str]]:
    """The parameters of ``params`` a list understands, as an export keeps them: each of the
    list's own with the value its page reads (the last one), each custom-field filter with
    every value it was given (a multi select's options, a list when there are several), so
    that ``list_for`` reads the kept parameters exactly as it read the page's query."""
    kept: dict[str, str | list[str]] = {}
    for name in PARAMETERS.get(entity, ()):
        value = params.get(name)
        if isinstance(value, list | tuple):
            value = value[-1] if value else None
        if value:
            kept[name] = str(value)[:100]
    for name, values in filter_parameters(params).items():
        # Not cut short: a value too long for its field is refused as it is on the page.
        kept[name] = values if len(values) > 1 else values[0]
    return kept


def _int(raw: str) -> int | None:
    try:
        return int(str(raw).strip())
    except (TypeError, ValueError):
        return None


def _cleaned(field: forms.Field, raw: Any) -> Any:
    try:
        return field.clean(str(raw or "").strip())
    except ValidationError:
        return None


def _tag(params: Mapping[str, Any]) -> str:
    """A tag to filter by, spaced as tags are stored."""
    return " ".join(str(params.get("tag") or "").split())[:50]


def list_order(entity: str, params: Mapping[str, Any]) -> tuple[str, ...] | ValueOrder:
    """The order of a list: newest first, companies by name, and scored records highest score
    first with ``sort=score`` (served by the score index); deals in any of ``DEAL_SORTS``; any
    list by a custom field (``custom_sort``), else in its default order."""
    sort = params.get("sort")
    try:
        by_field = check_custom_sort(entity=entity, raw=sort)
    except ServiceError:
        by_field = None
    if by_field is not None:
        return by_field
    if entity == "deal":
        return DEAL_SORTS.get(str(params.get("sort") or "newest"), DEAL_SORTS["newest"])[0]
    if entity == "company":
        return ("name", "id")
    if entity in ("contact", "lead") and params.get("sort") == "score":
        return ("-score", "-id")
    return ("-id",)


def _ordered(records: QuerySet[Any], order: tuple[str, ...] | ValueOrder) -> QuerySet[Any]:
    return order.apply(records) if isinstance(order, ValueOrder) else records.order_by(*order)


def list_for(
    entity: str,
    *,
    actor: Membership,
    params: Mapping[str, Any],
    order: tuple[str, ...] | ValueOrder | None = None,
) -> QuerySet[Any]:
    """The list of ``entity`` ("contact", "company", "lead", "deal") filtered by ``params``,
    in ``list_order`` (``order`` when the caller has read it already), as its page shows it.
    ``params`` is the page's QueryDict or the filters an export keeps (``list_parameters``: a
    custom-field filter's values as a list)."""
    q = str(params.get("q", ""))[:100]
    owner_id = actor.user_id if params.get("mine") == "1" else None
    if order is None:
        order = list_order(entity, params)
    custom = check_custom_filter(actor=actor, entity=entity, params=params)
    records = _list(entity, actor=actor, params=params, q=q, owner_id=owner_id, custom=custom)
    if entity == "deal" and not isinstance(order, ValueOrder) and order[0] == "expected_close_date":
        # Deals without a date have no place in this order; the other sorts list them.
        records = records.filter(expected_close_date__isnull=False)
    return _ordered(records, order)


def _list(
    entity: str,
    *,
    actor: Membership,
    params: Mapping[str, Any],
    q: str,
    owner_id: int | None,
    custom: Any,
) -> QuerySet[Any]:
    if entity == "contact":
        stage = params.get("stage", "")
        return selectors.contact_list(
            actor=actor,
            q=q,
            owner_id=owner_id,
            lifecycle_stage=stage if stage in LifecycleStage.values else "",
            min_score=_int(params.get("min_score", "")),
            custom=custom,
        )
    if entity == "company":
        return selectors.company_list(actor=actor, q=q, owner_id=owner_id, custom=custom)
    if entity == "lead":
        status = params.get("status", "")
        return selectors.lead_list(
            actor=actor,
            q=q,
            status=status if status in Lead.Status.values else "",
            owner_id=owner_id,
            min_score=_int(params.get("min_score", "")),
            tag=_tag(params),
            custom=custom,
        )
    if entity == "deal":
        status = params.get("status", "")
        return selectors.deal_list(
            actor=actor,
            q=q,
            pipeline_id=_int(params.get("pipeline", "")),
            stage_id=_int(params.get("stage", "")),
            status=status if status in Deal.Status.values else "",
            owner_id=owner_id if owner_id is not None else _int(params.get("owner", "")),
            close_from=_cleaned(_DATE, params.get("close_from")),
            close_to=_cleaned(_DATE, params.get("close_to")),
            amount_min=_cleaned(_AMOUNT, params.get("amount_min")),
            amount_max=_cleaned(_AMOUNT, params.get("amount_max")),
            tag=_tag(params),
            custom=custom,
        )
    raise ValueError(entity)
