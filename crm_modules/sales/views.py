"""Sales pages: lists with search, filters and keyset pagination; the deals board."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from crm_modules.sales import selectors
from crm_modules.sales.filters import list_for, list_order
from crm_modules.sales.keyset import Page, keyset_page
from crm_modules.sales.models import Lead, LifecycleStage
from crm_modules.sales.module import VIEW_RECORDS
from crm_modules.sales.views_lists import list_extras
from crm_platform.errors import ServiceError
from tenants.access import requires
from tenants.http import WorkspaceRequest

PAGE_SIZE = 50


def _list_page(request: WorkspaceRequest, entity: str) -> tuple[Page[Any], dict[str, Any], int]:
    """A page of a list, read through the same filters and order an export of it uses; with
    the message of a custom-field filter it refused (then no rows, status 400)."""
    order = list_order(entity, request.GET)
    try:
        records = list_for(entity, actor=request.membership, params=request.GET, order=order)
    except ServiceError as error:
        return Page(rows=[], next_cursor=""), {"custom_filter_error": error.message}, 400
    page = keyset_page(records, order=order, after=request.GET.get("after", ""), size=PAGE_SIZE)
    return page, {}, 200


def _score_text(request: WorkspaceRequest) -> str:
    """The minimum score as typed, when it is a number (the form shows it back)."""
    raw = request.GET.get("min_score", "").strip()
    return raw if raw.lstrip("-").isdigit() else ""


@requires(VIEW_RECORDS)
@require_safe
def contact_list(request: WorkspaceRequest) -> HttpResponse:
    page, refused, status = _list_page(request, "contact")
    return render(
        request,
        "sales/contact_list.html",
        {
            "page": page,
            **refused,
            "q": request.GET.get("q", "")[:100],
            "stage": request.GET.get("stage", ""),
            "stages": LifecycleStage.choices,
            **list_extras(request, "contact"),
            "sort": request.GET.get("sort", ""),
            "min_score": _score_text(request),
        },
        status=status,
    )


@requires(VIEW_RECORDS)
@require_safe
def company_list(request: WorkspaceRequest) -> HttpResponse:
    page, refused, status = _list_page(request, "company")
    context = {
        "page": page,
        **refused,
        "q": request.GET.get("q", "")[:100],
        **list_extras(request, "company"),
        "sort": request.GET.get("sort", ""),
    }
    return render(request, "sales/company_list.html", context, status=status)


@requires(VIEW_RECORDS)
@require_safe
def lead_list(request: WorkspaceRequest) -> HttpResponse:
    page, refused, status = _list_page(request, "lead")
    return render(
        request,
        "sales/lead_list.html",
        {
            "page": page,
            **refused,
            "q": request.GET.get("q", "")[:100],
            "status": request.GET.get("status", ""),
            "tag": request.GET.get("tag", "")[:50],
            "statuses": Lead.Status.choices,
            **list_extras(request, "lead"),
            "sort": request.GET.get("sort", ""),
            "min_score": _score_text(request),
        },
        status=status,
    )


@requires(VIEW_RECORDS)
@require_safe
def deal_board(request: WorkspaceRequest) -> HttpResponse:
    pipelines = list(selectors.pipeline_list(actor=request.membership))
    chosen = request.GET.get("pipeline", "")
    pipeline = next(
        (p for p in pipelines if str(p.pk) == chosen), pipelines[0] if pipelines else None
    )
    columns = selectors.deal_board(actor=request.membership, pipeline=pipeline) if pipeline else []
    return render(
        request,
        "sales/deal_board.html",
        {"pipelines": pipelines, "pipeline": pipeline, "columns": columns},
    )


@requires(VIEW_RECORDS)
@require_safe
def task_list(request: WorkspaceRequest) -> HttpResponse:
    when = request.GET.get("when", "")
    when = when if when in ("overdue", "today", "upcoming") else ""
    mine = request.GET.get("mine", "1") == "1"
    tasks = selectors.task_list(actor=request.membership, mine=mine, when=when)
    page = keyset_page(tasks, order=("-id",), after=request.GET.get("after", ""), size=PAGE_SIZE)
    return render(request, "sales/task_list.html", {"page": page, "when": when, "mine": mine})


SEARCH_LIMIT = 10


@requires(VIEW_RECORDS)
@require_safe
def search(request: WorkspaceRequest) -> HttpResponse:
    """One box across contacts, companies, leads and deals: substrings in any script (D20),
    each record type's newest matches read from its index (``selectors.newest_matches``)."""
    q = request.GET.get("q", "")[:100]
    term = selectors.search_term(q)
    groups: list[tuple[str, str, list[Any]]] = []
    if term:
        actor = request.membership
        groups = [
            (
                "contacts",
                "sales:contact_detail",
                selectors.newest_matches(
                    selectors.contact_list(actor=actor, q=term), term=term, limit=SEARCH_LIMIT
                ),
            ),
            (
                "companies",
                "sales:company_detail",
                selectors.newest_matches(
                    selectors.company_list(actor=actor, q=term), term=term, limit=SEARCH_LIMIT
                ),
            ),
            (
                "deals",
                "sales:deal_detail",
                selectors.newest_matches(
                    selectors.deal_list(actor=actor, q=term), term=term, limit=SEARCH_LIMIT
                ),
            ),
            (
                "leads",
                "sales:lead_detail",
                selectors.newest_matches(
                    selectors.lead_list(actor=actor, q=term), term=term, limit=SEARCH_LIMIT
                ),
            ),
        ]
    context = {"q": q, "groups": groups, "searched": bool(term)}
    if request.GET.get("palette") == "1":
        # The command palette's options: the same results, contacts only when it asks for one.
        if request.GET.get("only") == "contacts":
            context["groups"] = groups[:1]
        return render(request, "sales/_palette_results.html", context)
    return render(request, "sales/search.html", context)
