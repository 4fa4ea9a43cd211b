"""Reads of the service module, scoped to the acting member.

Every inbox view is one index range (models.py) read by keyset; ``ticket_get`` raises 404 for
what the member may not see, exactly like a ticket of another workspace.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from django.db.models import Avg, Count, F, FloatField, Func, Q, QuerySet, Value
from django.http import Http404
from django.utils import timezone

from crm_modules.sales import api as sales
from crm_modules.sales.api import Company, Contact
from crm_modules.service import sla
from crm_modules.service.models import (
    BAD_SCORE,
    OPEN_STATUSES,
    Article,
    BusinessHours,
    CsatSurvey,
    SlaPolicy,
    Status,
    Ticket,
    TicketMessage,
)
from crm_modules.service.module import VIEW_ARTICLES, VIEW_TICKETS
from crm_platform.indexes import trigram_available
from tenants.capabilities import Capability
from tenants.models import Membership, Team, User
from tenants.permissions import allows

# The inbox views and the order each reads its index in (the last field is unique).
VIEWS: dict[str, tuple[str, ...]] = {
    "unassigned": ("-updated_at", "-id"),
    "mine": ("-updated_at", "-id"),
    "team": ("-updated_at", "-id"),
    "breaching": ("next_due_at", "id"),
    "all": ("-updated_at", "-id"),
}


def _open() -> Q:
    return Q(status__in=[s.value for s in OPEN_STATUSES])


def ticket_list(
    *,
    actor: Membership,
    view: str = "all",
    status: str = "",
    contact_id: int | None = None,
    company_id: int | None = None,
    custom: sales.CustomFilter | None = None,
    now: datetime.datetime | None = None,
) -> QuerySet[Ticket]:
    """The tickets of one inbox view, unordered (the caller pages them by ``VIEWS[view]``);
    ``custom``: the custom-field filters they must pass, as ``custom_filter`` returns them."""
    if not allows(actor, VIEW_TICKETS):
        return Ticket.objects.none()
    tickets = Ticket.objects.all()
    if view == "unassigned":
        tickets = tickets.filter(_open(), assignee__isnull=True)
    elif view == "mine":
        tickets = tickets.filter(_open(), assignee_id=actor.user_id)
    elif view == "team":
        tickets = (
            tickets.filter(_open(), team_id=actor.team_id)
            if actor.team_id is not None
            else tickets.none()
        )
    elif view == "breaching":
        tickets = tickets.filter(
            next_due_at__isnull=False, next_due_at__lte=(now or timezone.now()) + sla.SOON
        )
    if status in Status.values:
        tickets = tickets.filter(status=status)
    if contact_id is not None:
        tickets = tickets.filter(contact_id=contact_id)
    if company_id is not None:
        tickets = tickets.filter(company_id=company_id)
    if custom:
        # Equality is containment in the normalised values: the GIN index ``ticket_custom``.
        tickets = custom.apply(tickets)
    return tickets


def required_ticket_fields() -> list[sales.CustomField]:
    """The ticket custom fields in use that are required, in their order: a workspace rule,
    not a view of the member, so it is read whatever the member may see of sales."""
    return list(
        sales.CustomField.objects.filter(
            entity="ticket", required=True, archived_at__isnull=True
        ).order_by("position", "id")
    )


def ticket_missing_fields(
    ticket: Ticket, required: list[sales.CustomField] | None = None
) -> list[sales.CustomField]:
    """The required custom fields ``ticket`` holds no value in — a ticket opened where nobody
    could be asked them (email, the portal, a split) is solved only once they are filled.
    ``required``: ``required_ticket_fields()`` when the caller checks many tickets."""
    fields = required_ticket_fields() if required is None else required
    custom = ticket.custom or {}
    return [f for f in fields if custom.get(f.code) in (None, "", [])]


def custom_filter(*, actor: Membership, params: Any) -> sales.CustomFilter:
    """The ``cf_`` parameters of a list of tickets, read as the sales lists read theirs
    (``sales.check_custom_filter``: ``cf_<code>``, ``__contains``, ``__gte``, ``__lte``); a
    ServiceError naming ``custom_fields.<code>`` and the field's label for an unknown field,
    an operator the type does not have or a bad value."""
    return sales.check_custom_filter(actor=actor, entity="ticket", params=params)


def inbox_rows(tickets: QuerySet[Ticket]) -> QuerySet[Ticket]:
    """What an inbox row shows, in the same query: the contact and company names."""
    return tickets.select_related("contact", "company", "assignee", "team")


def ticket_get(
    *, actor: Membership, ticket_id: int, capability: Capability = VIEW_TICKETS
) -> Ticket:
    if not allows(actor, VIEW_TICKETS) or not allows(actor, capability, reading=True):
        raise Http404("No such ticket")
    ticket = (
        Ticket.objects.select_related("contact", "company", "assignee", "team", "sla_policy")
        .filter(pk=ticket_id)
        .first()
    )
    if ticket is None:
        raise Http404("No such ticket")
    return ticket


def ticket_messages(*, ticket: Ticket) -> QuerySet[TicketMessage]:
    return ticket.messages.select_related("author").order_by("created_at", "id")


# The inbox counts stop here ("999+"): counting every open ticket of a large workspace on each
# page would cost more than the page itself.
COUNT_CAP = 1000


def inbox_counts(*, actor: Membership, now: datetime.datetime | None = None) -> dict[str, int]:
    """How many tickets each open view holds, up to ``COUNT_CAP``: one short index-only scan of
    each view's own partial index."""
    if not allows(actor, VIEW_TICKETS):
        return {}
    soon = (now or timezone.now()) + sla.SOON
    views = {
        "unassigned": Ticket.objects.filter(_open(), assignee__isnull=True),
        "mine": Ticket.objects.filter(_open(), assignee_id=actor.user_id),
        "breaching": Ticket.objects.filter(next_due_at__isnull=False, next_due_at__lte=soon),
    }
    return {
        key: tickets.order_by().values("id")[:COUNT_CAP].count() for key, tickets in views.items()
    }


def customer_tickets(*, actor: Membership, record: Any, limit: int = 10) -> dict[str, Any]:
    """A contact's or company's open tickets with their SLA state (customer 360): two queries."""
    if isinstance(record, Contact):
        tickets = ticket_list(actor=actor, contact_id=record.pk)
    elif isinstance(record, Company):
        tickets = ticket_list(actor=actor, company_id=record.pk)
    else:
        return {"tickets": [], "open_count": 0}
    open_tickets = tickets.filter(_open())
    now = timezone.now()
    rows = [
        {"ticket": ticket, "sla": sla.state(ticket, now=now)}
        for ticket in open_tickets.select_related("assignee").order_by("-updated_at", "-id")[:limit]
    ]
    # Counted always, so the page runs the same queries for one ticket and for hundreds.
    count = open_tickets.count()
    contact = record if isinstance(record, Contact) else None
    return {"tickets": rows, "open_count": count, "contact": contact}


def business_hours_default() -> BusinessHours | None:
    return BusinessHours.objects.filter(is_default=True).prefetch_related("holidays").first()


def sla_policy_default() -> SlaPolicy | None:
    return (
        SlaPolicy.objects.filter(is_default=True)
        .select_related("hours")
        .prefetch_related("targets")
        .first()
    )


def csat_history(*, actor: Membership, contact: Any, limit: int = 10) -> dict[str, Any]:
    """A contact's latest answered and unanswered surveys with the average rating: two
    queries, whatever the number of surveys."""
    if not allows(actor, VIEW_TICKETS) or not isinstance(contact, Contact):
        return {"surveys": [], "average": None, "rated": 0}
    surveys = CsatSurvey.objects.filter(contact=contact)
    rows = list(surveys.select_related("ticket", "agent").order_by("-created_at", "-id")[:limit])
    summary = surveys.filter(score__isnull=False).aggregate(average=Avg("score"), rated=Count("id"))
    return {"surveys": rows, "average": summary["average"], "rated": summary["rated"]}


def csat_results(
    *,
    actor: Membership,
    since: datetime.datetime | None = None,
    until: datetime.datetime | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Ratings per agent and per team (agent and team at the solution): count, average, share
    of good (4-5) and bad (1-2) answers. One grouped query each, on the rated index."""
    if not allows(actor, VIEW_TICKETS):
        return {"agents": [], "teams": []}
    rated = CsatSurvey.objects.filter(score__isnull=False)
    if since is not None:
        rated = rated.filter(rated_at__gte=since)
    if until is not None:
        rated = rated.filter(rated_at__lt=until)
    measures = {
        "answers": Count("id"),
        "average": Avg("score"),
        "good": Count("id", filter=Q(score__gte=4)),
        "bad": Count("id", filter=Q(score__lte=BAD_SCORE)),
    }
    agents: list[dict[str, Any]] = [
        dict(row) for row in rated.values("agent_id").annotate(**measures).order_by("agent_id")
    ]
    teams: list[dict[str, Any]] = [
        dict(row) for row in rated.values("team_id").annotate(**measures).order_by("team_id")
    ]
    users = {
        u.pk: u
        for u in User.objects.filter(pk__in=[a["agent_id"] for a in agents if a["agent_id"]])
    }
    team_names = dict(
        Team.objects.filter(
            tenant_id=actor.tenant_id, pk__in=[t["team_id"] for t in teams if t["team_id"]]
        ).values_list("pk", "name")
    )
    for row in agents:
        user = users.get(row["agent_id"])
        row["name"] = (user.get_full_name() or user.email) if user else ""
    for row in teams:
        row["name"] = team_names.get(row["team_id"], "")
    for row in agents + teams:
        row["csat"] = round(100 * row["good"] / row["answers"]) if row["answers"] else 0
    return {"agents": agents, "teams": teams}


# --- the customer portal (ADR 0038): what a signed-in contact sees -------------------------


def portal_tickets(*, contact: Contact, company_tickets: bool) -> QuerySet[Ticket]:
    """The contact's own tickets; with ``company_tickets``, also those of their company."""
    mine = Q(contact_id=contact.pk)
    if company_tickets and contact.company_id is not None:
        mine |= Q(company_id=contact.company_id)
    return Ticket.objects.filter(mine)


def portal_ticket_get(*, contact: Contact, company_tickets: bool, ticket_id: int) -> Ticket:
    """One of those tickets; anything else (another customer's, another workspace's) is 404."""
    ticket = (
        portal_tickets(contact=contact, company_tickets=company_tickets)
        .select_related("contact", "company")
        .filter(pk=ticket_id)
        .first()
    )
    if ticket is None:
        raise Http404("No such ticket")
    return ticket


def portal_messages(*, ticket: Ticket) -> QuerySet[TicketMessage]:
    """The conversation as the customer sees it: public replies only, never internal notes."""
    return (
        ticket.messages.filter(kind=TicketMessage.Kind.REPLY)
        .select_related("author", "sender_contact")
        .order_by("created_at", "id")
    )


# --- knowledge base ---------------------------------------------------------------------------

SUGGESTIONS = 5
# How much of an article's title must appear in the text written (pg_trgm word similarity).
SUGGEST_THRESHOLD = 0.5


def _article_search(articles: QuerySet[Article], q: str) -> QuerySet[Article]:
    term = " ".join((q or "").split()).lower()[:100]
    # A trigram GIN index serves LIKE '%term%' in every script (D20).
    return articles.filter(search_text__contains=term) if term else articles


def article_list(*, actor: Membership, q: str = "", language: str = "") -> QuerySet[Article]:
    """Every article for staff (drafts and internal ones included)."""
    if not allows(actor, VIEW_ARTICLES):
        return Article.objects.none()
    articles = _article_search(Article.objects.all(), q)
    return articles.filter(language=language) if language else articles


def public_articles(*, q: str = "", language: str = "") -> QuerySet[Article]:
    """What customers read: published public articles."""
    articles = _article_search(
        Article.objects.filter(state=Article.State.PUBLISHED, visibility=Article.Visibility.PUBLIC),
        q,
    )
    return articles.filter(language=language) if language else articles


def article_get(*, actor: Membership, article_id: int) -> Article:
    article = article_list(actor=actor).select_related("category").filter(pk=article_id).first()
    if article is None:
        raise Http404("No such article")
    return article


def public_article_get(*, article_id: int) -> Article:
    article = public_articles().select_related("category").filter(pk=article_id).first()
    if article is None:
        raise Http404("No such article")
    return article


def article_translations(*, article: Article) -> list[Article]:
    if article.group is None:
        return []
    return list(
        Article.objects.filter(group=article.group).exclude(pk=article.pk).order_by("language")
    )


def article_suggestions(*, text: str, articles: QuerySet[Article]) -> list[Article]:
    """Articles whose title appears (closely) in ``text``, best first: pg_trgm's word
    similarity of the title within what is being written, in any script. Without pg_trgm (the
    embedded server of ``make run``), the same measure worked out here over the newest
    articles."""
    written = " ".join((text or "").split()).lower()[:2000]
    if len(written) < 3:
        return []
    if not trigram_available():
        return _suggestions_without_trigrams(written, articles)
    similarity = Func(
        F("search_title"), Value(written), function="word_similarity", output_field=FloatField()
    )
    return list(
        articles.annotate(similarity=similarity)
        .filter(similarity__gte=SUGGEST_THRESHOLD)
        .order_by("-similarity", "-updated_at", "-id")[:SUGGESTIONS]
    )


# Without pg_trgm: the share of the title's three-character pieces, taken word by word, that
# occur inside the words of what is written (pg_trgm's word similarity, roughly), over this
# many of the newest articles. Words split at spaces and punctuation only: Thai vowel marks
# are not letters to Python, and Chinese has no spaces.
FALLBACK_ARTICLES = 1_000
_WORD_BREAK = re.compile(r"[\s.,;:!?¿¡\uff0c\u3002\uff1f\uff01\u3001()\[\]\"'«»]+")


def _pieces(text: str) -> set[str]:
    found: set[str] = set()
    for word in _WORD_BREAK.split(text):
        if 0 < len(word) < 3:
            found.add(word)
        found.update(word[i : i + 3] for i in range(len(word) - 2))
    return found


def _suggestions_without_trigrams(written: str, articles: QuerySet[Article]) -> list[Article]:
    pieces = _pieces(written)
    scored = []
    for article in articles.exclude(search_title="").order_by("-updated_at", "-id")[
        :FALLBACK_ARTICLES
    ]:
        title = _pieces(article.search_title)
        score = len(title & pieces) / len(title) if title else 0.0
        if score >= SUGGEST_THRESHOLD:
            scored.append((score, article))
    scored.sort(key=lambda pair: -pair[0])  # stable: newest first among equals
    return [article for _score, article in scored[:SUGGESTIONS]]
