"""Sales pages: lists with search, filters and keyset pagination; the deals board."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from crm_modules.sales import selectors
from crm_modules.sales.keyset import keyset_page
from crm_modules.sales.models import Lead, LifecycleStage
from crm_modules.sales.module import VIEW_RECORDS
from crm_modules.sales.views_lists import list_extras
from tenants.access import requires
from tenants.http import WorkspaceRequest

PAGE_SIZE = 50


def _owner_filter(request: WorkspaceRequest) -> int | None:
    return request.membership.user_id if request.GET.get("mine") == "1" else None


def _score_options(request: WorkspaceRequest) -> tuple[tuple[str, ...], int | None, str]:
    """Lists of scored records: newest first, or highest lead score first (``sort=score``,
    served by the score index); ``min_score`` keeps records scoring at least that."""
    order = ("-score", "-id") if request.GET.get("sort") == "score" else ("-id",)
    raw = request.GET.get("min_score", "").strip()
    try:
        min_score = int(raw) if raw else None
    except ValueError:
        min_score, raw = None, ""
    return order, min_score, raw


@requires(VIEW_RECORDS)
@require_safe
def contact_list(request: WorkspaceRequest) -> HttpResponse:
    q = request.GET.get("q", "")[:100]
    stage = request.GET.get("stage", "")
    order, min_score, min_score_text = _score_options(request)
    contacts = selectors.contact_list(
        actor=request.membership,
        q=q,
        owner_id=_owner_filter(request),
        lifecycle_stage=stage if stage in LifecycleStage.values else "",
        min_score=min_score,
    )
    page = keyset_page(contacts, order=order, after=request.GET.get("after", ""), size=PAGE_SIZE)
    return render(
        request,
        "sales/contact_list.html",
        {
            "page": page,
            "q": q,
            "stage": stage,
            "stages": LifecycleStage.choices,
            **list_extras(request, "contact"),
            "sort": request.GET.get("sort", ""),
            "min_score": min_score_text,
        },
    )


@requires(VIEW_RECORDS)
@require_safe
def company_list(request: WorkspaceRequest) -> HttpResponse:
    q = request.GET.get("q", "")[:100]
    companies = selectors.company_list(
        actor=request.membership, q=q, owner_id=_owner_filter(request)
    )
    page = keyset_page(
        companies, order=("name", "id"), after=request.GET.get("after", ""), size=PAGE_SIZE
    )
    context = {"page": page, "q": q, **list_extras(request, "company")}
    return render(request, "sales/company_list.html", context)


@requires(VIEW_RECORDS)
@require_safe
def lead_list(request: WorkspaceRequest) -> HttpResponse:
    q = request.GET.get("q", "")[:100]
    status = request.GET.get("status", "")
    order, min_score, min_score_text = _score_options(request)
    leads = selectors.lead_list(
        actor=request.membership,
        q=q,
        status=status if status in Lead.Status.values else "",
        owner_id=_owner_filter(request),
        min_score=min_score,
    )
    page = keyset_page(leads, order=order, after=request.GET.get("after", ""), size=PAGE_SIZE)
    return render(
        request,
        "sales/lead_list.html",
        {
            "page": page,
            "q": q,
            "status": status,
            "statuses": Lead.Status.choices,
            **list_extras(request, "lead"),
            "sort": request.GET.get("sort", ""),
            "min_score": min_score_text,
        },
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
    """One box across contacts, companies, leads and deals: substrings in any script (D20).
    Four queries, each served by its record's trigram index."""
    q = request.GET.get("q", "")[:100]
    term = selectors.search_term(q)
    groups: list[tuple[str, str, list[Any]]] = []
    if term:
        actor = request.membership
        groups = [
            (
                "contacts",
                "sales:contact_detail",
                list(selectors.contact_list(actor=actor, q=term).order_by("-id")[:SEARCH_LIMIT]),
            ),
            (
                "companies",
                "sales:company_detail",
                list(selectors.company_list(actor=actor, q=term).order_by("-id")[:SEARCH_LIMIT]),
            ),
            (
                "deals",
                "sales:deal_detail",
                list(selectors.deal_list(actor=actor, q=term).order_by("-id")[:SEARCH_LIMIT]),
            ),
            (
                "leads",
                "sales:lead_detail",
                list(selectors.lead_list(actor=actor, q=term).order_by("-id")[:SEARCH_LIMIT]),
            ),
        ]
    return render(request, "sales/search.html", {"q": q, "groups": groups, "searched": bool(term)})
