"""Reads of sales records, already narrowed to what the acting member may reach
(``scope_filter``), with the filters every list offers. Getters raise Http404 for anything out
of reach, the same answer as a record of another workspace."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from django.db.models import Case, Count, Model, Q, QuerySet, Value, When
from django.http import Http404
from django.utils import timezone

if TYPE_CHECKING:
    from crm_modules.sales.custom_filters import CustomFilter

from crm_modules.sales.models import (
    Company,
    Contact,
    CustomField,
    Deal,
    DealStageTotal,
    DuplicateGroup,
    Lead,
    LineItem,
    MergeRecord,
    Pipeline,
    Product,
    SavedView,
    Stage,
    Task,
)
from crm_modules.sales.module import MERGE_RECORDS, VIEW_RECORDS
from tenants.capabilities import Capability, Scope
from tenants.models import Membership
from tenants.permissions import allows, scope_filter, scope_of

M = TypeVar("M", bound=Model)


# Characters of the scripts written without spaces whose one- and two-character pieces are kept
# in ``search_grams`` (Chinese, Japanese kana, Korean); the same class as the SQL function of
# migration 0002.
SHORT_GRAM_CHARACTERS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af"
_SHORT_GRAM_TERM = re.compile(f"[{SHORT_GRAM_CHARACTERS}]{{1,2}}")


def search_term(raw: str) -> str:
    """Search text is stored lower-cased; a term matches as a substring in any script."""
    return " ".join((raw or "").split()).lower()[:100]


def _search(queryset: QuerySet[M], q: str) -> QuerySet[M]:
    term = search_term(q)
    if not term:
        return queryset
    if _SHORT_GRAM_TERM.fullmatch(term):
        # Too short for a trigram: the GIN index of the stored one- and two-character pieces
        # answers instead, with the same matches as the substring test.
        return queryset.filter(search_grams__contains=[term])
    # A trigram GIN index serves LIKE '%term%' (D20): substrings, prefixes, and words in scripts
    # written without spaces (Thai, Chinese).
    return queryset.filter(search_text__contains=term)


# How many matching ids a search by pieces of Chinese, Japanese or Korean reads from its index
# before it calls the term common.
NEWEST_MATCHES_SCAN = 1000


def newest_matches(queryset: QuerySet[M], *, term: str, limit: int) -> list[M]:
    """The newest ``limit`` records of a search for ``term``. Asked for them newest first, the
    planner chooses between reading the term's index and walking the primary key backwards by
    its estimate of the matches. For trigram terms the estimate holds. For the one- and
    two-character pieces kept in ``search_grams`` it does not: a piece absent from a table (a
    Chinese name among deals) is estimated at hundreds of rows, and the walk visited all
    300,000 deals (0.25 s). For those the index is read first, capped: under the cap those are
    all the matches, and the newest are fetched by id; at the cap the piece is common, and the
    backward walk meets ``limit`` matches early. Two queries either way, one when nothing
    matches (ADR 0071)."""
    if not _SHORT_GRAM_TERM.fullmatch(term):
        return list(queryset.order_by("-id")[:limit])
    ids = list(queryset.order_by().values_list("id", flat=True)[:NEWEST_MATCHES_SCAN])
    if len(ids) < NEWEST_MATCHES_SCAN:
        newest = sorted(ids, reverse=True)[:limit]
        return list(queryset.filter(id__in=newest).order_by("-id")) if newest else []
    return list(queryset.order_by("-id")[:limit])


def _scoped(queryset: QuerySet[M], actor: Membership, capability: Capability | None) -> QuerySet[M]:
    return scope_filter(queryset, actor, capability or VIEW_RECORDS, owner_field="owner")


def record_search(*, model: type[M], actor: Membership, q: str) -> QuerySet[M]:
    """Records of ``model`` the member may see whose name matches ``q`` (the Documents page
    finds documents by the records they are linked to)."""
    if not search_term(q):
        return model._default_manager.none()
    return _scoped(_search(model._default_manager.all(), q), actor, None)


def _get(queryset: QuerySet[M], pk: Any) -> M:
    try:
        record = queryset.filter(pk=int(pk)).first()
    except (TypeError, ValueError):
        record = None
    if record is None:
        raise Http404("No such record")
    return record


# --- companies ------------------------------------------------------------------------------


def company_list(
    *,
    actor: Membership,
    q: str = "",
    owner_id: int | None = None,
    custom: CustomFilter | None = None,
    capability: Capability | None = None,
) -> QuerySet[Company]:
    companies = _scoped(Company.objects.all(), actor, capability)
    if owner_id is not None:
        companies = companies.filter(owner_id=owner_id)
    if custom:
        # After the other filters: few rows left are checked rather than indexed (ADR 0086).
        companies = custom.apply(companies)
    return _search(companies, q)


def company_get(
    *, actor: Membership, company_id: Any, capability: Capability | None = None
) -> Company:
    return _get(company_list(actor=actor, capability=capability), company_id)


# --- contacts -------------------------------------------------------------------------------


def contact_list(
    *,
    actor: Membership,
    q: str = "",
    owner_id: int | None = None,
    lifecycle_stage: str = "",
    company_id: int | None = None,
    custom: CustomFilter | None = None,
    capability: Capability | None = None,
    min_score: int | None = None,
) -> QuerySet[Contact]:
    contacts = _scoped(Contact.objects.all(), actor, capability)
    if owner_id is not None:
        contacts = contacts.filter(owner_id=owner_id)
    if lifecycle_stage:
        contacts = contacts.filter(lifecycle_stage=lifecycle_stage)
    if company_id is not None:
        contacts = contacts.filter(company_id=company_id)
    if min_score is not None:
        contacts = contacts.filter(score__gte=min_score)
    if custom:
        contacts = custom.apply(contacts)
    return _search(contacts, q).select_related("company")


def contact_get(
    *, actor: Membership, contact_id: Any, capability: Capability | None = None
) -> Contact:
    return _get(contact_list(actor=actor, capability=capability), contact_id)


# --- leads ----------------------------------------------------------------------------------


def lead_list(
    *,
    actor: Membership,
    q: str = "",
    status: str = "",
    owner_id: int | None = None,
    capability: Capability | None = None,
    min_score: int | None = None,
    tag: str = "",
    custom: CustomFilter | None = None,
) -> QuerySet[Lead]:
    leads = _scoped(Lead.objects.all(), actor, capability)
    if tag:
        # Served by the GIN index on tags.
        leads = leads.filter(tags__contains=[tag])
    if min_score is not None:
        leads = leads.filter(score__gte=min_score)
    if status:
        leads = leads.filter(status=status)
    if owner_id is not None:
        leads = leads.filter(owner_id=owner_id)
    if custom:
        leads = custom.apply(leads)
    return _search(leads, q)


def lead_get(*, actor: Membership, lead_id: Any, capability: Capability | None = None) -> Lead:
    return _get(lead_list(actor=actor, capability=capability), lead_id)


# --- pipelines and deals --------------------------------------------------------------------


def pipeline_list(*, actor: Membership, include_archived: bool = False) -> QuerySet[Pipeline]:
    if not allows(actor, VIEW_RECORDS):
        return Pipeline.objects.none()
    pipelines = Pipeline.objects.prefetch_related("stages").order_by("position", "id")
    return pipelines if include_archived else pipelines.filter(archived_at__isnull=True)


def pipeline_get(*, actor: Membership, pipeline_id: Any) -> Pipeline:
    return _get(pipeline_list(actor=actor, include_archived=True), pipeline_id)


def stage_deal_counts(*, pipeline: Pipeline) -> dict[int, int]:
    """How many deals each stage of a pipeline holds (for its administrators)."""
    from django.db.models import Count

    rows = Deal.objects.filter(pipeline=pipeline).values("stage_id").annotate(n=Count("id"))
    return {row["stage_id"]: row["n"] for row in rows}


def stage_get(*, stage_id: Any) -> Stage | None:
    try:
        return Stage.objects.select_related("pipeline").filter(pk=int(stage_id)).first()
    except (TypeError, ValueError):
        return None


def deal_list(
    *,
    actor: Membership,
    q: str = "",
    pipeline_id: int | None = None,
    stage_id: int | None = None,
    status: str = "",
    owner_id: int | None = None,
    company_id: int | None = None,
    contact_id: int | None = None,
    custom: CustomFilter | None = None,
    capability: Capability | None = None,
    close_from: datetime.date | None = None,
    close_to: datetime.date | None = None,
    amount_min: Decimal | None = None,
    amount_max: Decimal | None = None,
    tag: str = "",
) -> QuerySet[Deal]:
    deals = _scoped(Deal.objects.all(), actor, capability)
    if tag:
        # Served by the GIN index on tags.
        deals = deals.filter(tags__contains=[tag])
    if close_from is not None:
        deals = deals.filter(expected_close_date__gte=close_from)
    if close_to is not None:
        deals = deals.filter(expected_close_date__lte=close_to)
    if amount_min is not None:
        deals = deals.filter(amount__gte=amount_min)
    if amount_max is not None:
        deals = deals.filter(amount__lte=amount_max)
    if pipeline_id is not None:
        deals = deals.filter(pipeline_id=pipeline_id)
    if stage_id is not None:
        deals = deals.filter(stage_id=stage_id)
    if status:
        deals = deals.filter(status=status)
    if owner_id is not None:
        deals = deals.filter(owner_id=owner_id)
    if company_id is not None:
        deals = deals.filter(company_id=company_id)
    if contact_id is not None:
        deals = deals.filter(contacts__id=contact_id)
    if custom:
        deals = custom.apply(deals)
    return _search(deals, q).select_related("stage", "company")


def deal_get(*, actor: Membership, deal_id: Any, capability: Capability | None = None) -> Deal:
    return _get(deal_list(actor=actor, capability=capability), deal_id)


BOARD_CARDS_PER_STAGE = 20


def deal_board(*, actor: Membership, pipeline: Pipeline) -> list[dict[str, Any]]:
    """Per stage of a pipeline: its deals' count and sum, and the newest cards. Two queries
    whatever the number of deals: the totals from the stage totals the deal table's triggers
    keep (a row per stage and owner, so a rep limited to their own deals sees their own sums),
    the cards as one UNION of a short walk of ``deal_board`` per stage."""
    from django.db.models import Sum

    stages = list(pipeline.stages.all())
    if not stages:
        return []
    stage_ids = [stage.pk for stage in stages]
    totals: dict[int, dict[str, Any]] = {
        row["stage_id"]: dict(row)
        for row in _scoped(DealStageTotal.objects.filter(stage_id__in=stage_ids), actor, None)
        .order_by()
        .values("stage_id")
        .annotate(count=Sum("deals"), total=Sum("amount"))
    }
    # A deal's pipeline is its stage's, so the stages alone select the pipeline's deals.
    deals = _scoped(Deal.objects.filter(stage_id__in=stage_ids), actor, None)
    newest = [
        deals.filter(stage_id=stage.pk)
        .order_by("-stage_entered_at", "-id")
        .values("id")[:BOARD_CARDS_PER_STAGE]
        for stage in stages
    ]
    ids = newest[0].union(*newest[1:], all=True) if len(newest) > 1 else newest[0]
    cards: dict[int, list[Deal]] = {stage.pk: [] for stage in stages}
    for deal in (
        Deal.objects.filter(id__in=ids)
        .select_related("company")
        .order_by("stage_id", "-stage_entered_at", "-id")
    ):
        cards[deal.stage_id].append(deal)
    return [
        {
            "stage": stage,
            "count": totals.get(stage.pk, {}).get("count", 0),
            "total": totals.get(stage.pk, {}).get("total") or 0,
            "deals": cards[stage.pk],
        }
        for stage in stages
    ]


def custom_field_list(
    *, actor: Membership, entity: str = "", include_archived: bool = False
) -> QuerySet[CustomField]:
    """The fields forms, lists and filters show; archived ones only when asked (the settings
    page, the API with ``archived=1``)."""
    if not allows(actor, VIEW_RECORDS):
        return CustomField.objects.none()
    fields = CustomField.objects.all()
    if not include_archived:
        fields = fields.filter(archived_at__isnull=True)
    return fields.filter(entity=entity) if entity else fields


def custom_field_counts(*, actor: Membership) -> list[dict[str, Any]]:
    """Each record type with the number of its fields in use, in one query."""
    counts = dict(
        custom_field_list(actor=actor)
        .order_by()
        .values("entity")
        .annotate(n=Count("id"))
        .values_list("entity", "n")
    )
    return [
        {"entity": value, "label": label, "count": counts.get(value, 0)}
        for value, label in CustomField.Entity.choices
    ]


def custom_field_get(*, actor: Membership, field_id: Any) -> CustomField:
    """Any field of the workspace, archived or not; 404 for anything else."""
    return _get(custom_field_list(actor=actor, include_archived=True), field_id)


# --- tasks ----------------------------------------------------------------------------------


def task_list(
    *,
    actor: Membership,
    mine: bool = False,
    when: str = "",
    include_done: bool = False,
    capability: Capability | None = None,
) -> QuerySet[Task]:
    """``when``: "overdue", "today" or "upcoming" (in the workspace's day), else every task."""
    tasks = _scoped(Task.objects.all(), actor, capability)
    if mine:
        tasks = tasks.filter(owner_id=actor.user_id)
    if not include_done:
        tasks = tasks.filter(done=False)
    now = timezone.now()
    start_of_day = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    end_of_day = start_of_day + datetime.timedelta(days=1)
    if when == "overdue":
        tasks = tasks.filter(due_at__lt=now)
    elif when == "today":
        tasks = tasks.filter(due_at__gte=now, due_at__lt=end_of_day)
    elif when == "upcoming":
        tasks = tasks.filter(Q(due_at__gte=end_of_day) | Q(due_at__isnull=True))
    return tasks.select_related("contact", "company", "deal", "lead")


def task_get(*, actor: Membership, task_id: Any, capability: Capability | None = None) -> Task:
    return _get(task_list(actor=actor, include_done=True, capability=capability), task_id)


# --- products and line items ----------------------------------------------------------------


def product_list(
    *, actor: Membership, q: str = "", active: bool | None = None
) -> QuerySet[Product]:
    if not allows(actor, VIEW_RECORDS):
        return Product.objects.none()
    products = Product.objects.all()
    if active is not None:
        products = products.filter(active=active)
    term = search_term(q)
    if term:
        products = products.filter(Q(name__icontains=term) | Q(sku__icontains=term))
    return products


PRODUCT_CHOICES = 50


def product_choices(*, actor: Membership, q: str = "") -> tuple[list[Product], bool]:
    """Active products to put on a deal: the first ``PRODUCT_CHOICES`` matching ``q`` (name or
    SKU), names starting with it first, then by name; and whether more match."""
    products = product_list(actor=actor, q=q, active=True)
    term = search_term(q)
    if term:
        products = products.annotate(
            starts=Case(When(name__istartswith=term, then=Value(0)), default=Value(1))
        ).order_by("starts", "name", "id")
    else:
        products = products.order_by("name", "id")
    found = list(products[: PRODUCT_CHOICES + 1])
    return found[:PRODUCT_CHOICES], len(found) > PRODUCT_CHOICES


def product_get(*, actor: Membership, product_id: Any) -> Product:
    return _get(product_list(actor=actor), product_id)


def line_item_list(*, deal: Deal) -> QuerySet[LineItem]:
    """The items of a deal the caller already reached through ``deal_get``."""
    return LineItem.objects.filter(deal=deal).order_by("position", "id")


# --- a member's day -------------------------------------------------------------------------

RECORD_PAGES = {
    "sales.contact": "sales:contact_detail",
    "sales.company": "sales:company_detail",
    "sales.deal": "sales:deal_detail",
}
MY_DAY_ROWS = 20


def my_day(*, actor: Membership) -> dict[str, Any]:
    """The home page of a member: their open tasks due by the end of today (overdue first),
    their open deals expected to close this month, and the newest entries of the last 90 days
    on the timelines of the records they own. Five queries (three without a record of theirs).
    """
    from crm_modules.activities.api import timeline_recent

    me = actor.user_id
    now = timezone.localtime(timezone.now())
    end_of_day = now.replace(hour=0, minute=0, second=0, microsecond=0) + datetime.timedelta(days=1)
    tasks = list(
        task_list(actor=actor, mine=True)
        .filter(due_at__lt=end_of_day)
        .order_by("due_at", "id")[:MY_DAY_ROWS]
    )
    month_start = now.date().replace(day=1)
    next_month = (month_start + datetime.timedelta(days=32)).replace(day=1)
    deals = list(
        deal_list(
            actor=actor,
            owner_id=me,
            status=Deal.Status.OPEN,
            close_from=month_start,
            close_to=next_month - datetime.timedelta(days=1),
        ).order_by("expected_close_date", "id")[:MY_DAY_ROWS]
    )
    sources = [
        (model, _scoped(model.objects.filter(owner_id=me), actor, None).values("id"))
        for model in (Contact, Company, Deal)
    ]
    activity = [
        {"activity": entry, "url_name": RECORD_PAGES.get(target_type, ""), "target_id": target_id}
        for entry, target_type, target_id in timeline_recent(sources, limit=10)
    ]
    return {
        "tasks": [{"task": task, "overdue": task.due_at < now} for task in tasks if task.due_at],
        "deals": deals,
        "activity": activity,
    }


def pipeline_glance(*, actor: Membership) -> dict[str, Any] | None:
    """The open deals of the member's default pipeline (the one the board opens on) per stage:
    their count and their sum per currency, with each stage's share of the busiest stage for
    its bar. Only the deals the member may see. Three queries, whatever the number of deals:
    the sums are read from the stage totals the deal table's triggers keep (ADR 0071); None
    without an active pipeline."""
    from django.db.models import Sum

    pipeline = pipeline_list(actor=actor).first()
    if pipeline is None:
        return None
    stages = [stage for stage in pipeline.stages.all() if stage.kind == Stage.Kind.OPEN]
    totals = _scoped(
        DealStageTotal.objects.filter(
            stage_id__in=[stage.pk for stage in stages], status=Deal.Status.OPEN
        ),
        actor,
        None,
    ).order_by()
    counts: dict[int, int] = {}
    sums: dict[int, list[tuple[str, Decimal]]] = {}
    for row in (
        totals.values("stage_id", "currency")
        .annotate(n=Sum("deals"), total=Sum("amount"))
        .filter(n__gt=0)
        .order_by("stage_id", "currency")
    ):
        counts[row["stage_id"]] = counts.get(row["stage_id"], 0) + row["n"]
        sums.setdefault(row["stage_id"], []).append((row["currency"], row["total"] or Decimal(0)))
    busiest = max(counts.values(), default=0)
    return {
        "pipeline": pipeline,
        "busiest": busiest,
        "stages": [
            {
                "stage": stage,
                "count": counts.get(stage.pk, 0),
                "sums": sums.get(stage.pk, []),
            }
            for stage in stages
        ],
    }


def saved_view_list(*, actor: Membership, entity: str = "") -> QuerySet[SavedView]:
    """The member's own views of a list (of every list without ``entity``) and those shared
    with the workspace."""
    if not allows(actor, VIEW_RECORDS):
        return SavedView.objects.none()
    views = SavedView.objects.filter(Q(owner_id=actor.user_id) | Q(shared=True))
    if entity:
        views = views.filter(entity=entity)
    return views.order_by("name", "id")


def saved_view_get(*, actor: Membership, view_id: Any) -> SavedView:
    views = SavedView.objects.filter(Q(owner_id=actor.user_id) | Q(shared=True))
    if not allows(actor, VIEW_RECORDS):
        views = SavedView.objects.none()
    return _get(views, view_id)


def custom_columns(*, actor: Membership, entity: str, codes: list[str]) -> list[CustomField]:
    """The custom fields of ``entity`` chosen as list columns, in their defined order."""
    if not codes:
        return []
    return list(custom_field_list(actor=actor, entity=entity).filter(code__in=codes[:20]))


# --- merges -----------------------------------------------------------------------------------


def merge_get(*, actor: Membership, merge_id: Any) -> MergeRecord:
    """A merge whose kept record the member may merge; 404 otherwise."""
    merge = _get(MergeRecord.objects.all(), merge_id)
    model = Contact if merge.entity == MergeRecord.Entity.CONTACT else Company
    survivor = model.objects.filter(pk=merge.survivor_id).first()
    if survivor is not None:
        reached = allows(actor, MERGE_RECORDS, survivor, reading=True)
    else:
        reached = allows(actor, MERGE_RECORDS, reading=True) and (
            scope_of(actor, MERGE_RECORDS) is Scope.ALL
        )
    if not reached:
        raise Http404("No such merge")
    return merge


def merges_recent(*, entity: str, survivor_id: int) -> QuerySet[MergeRecord]:
    return MergeRecord.objects.filter(
        entity=entity, survivor_id=survivor_id, undone_at__isnull=True
    ).order_by("-merged_at", "-id")


def duplicate_groups(*, entity: str) -> QuerySet[DuplicateGroup]:
    return DuplicateGroup.objects.filter(entity=entity).order_by("-confidence", "id")
