"""Which cards a sales dashboard shows, in which order: the member's own layout if they have
arranged one, else the workspace's shared one (the default charts and the pinned reports,
in the order Owners, Admins and Managers gave them). Cards the viewer may not open are left
out: a report no longer shared with their role, a default chart since retired."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse

from crm_modules.reporting.dashboard import DEFAULT_CHARTS, default_chart
from crm_modules.reporting.models import DashboardLayout, Report
from crm_modules.reporting.reach import may_read_source_code
from crm_modules.reporting.selectors import report_list
from tenants.models import Membership

MAX_CARDS = 30
REPORT_PREFIX = "report-"


@dataclass(frozen=True)
class Card:
    key: str
    title: str
    url: str


def report_id(key: str) -> int | None:
    if not key.startswith(REPORT_PREFIX):
        return None
    digits = key.removeprefix(REPORT_PREFIX)
    return int(digits) if digits.isdigit() and len(digits) < 19 else None


def card_url(key: str) -> str:
    pk = report_id(key)
    if pk is not None:
        return reverse("reporting:report_chart", args=[pk])
    return f"{reverse('reporting:chart')}?key={key}"


def stored_layout(*, owner_id: int | None) -> DashboardLayout | None:
    if owner_id is None:
        return DashboardLayout.objects.filter(owner__isnull=True).first()
    return DashboardLayout.objects.filter(owner_id=owner_id).first()


def shared_keys(*, stored: list[str] | None) -> list[str]:
    """The shared dashboard's cards before any viewer's narrowing: the stored order (default
    charts, and reports still pinned), then reports pinned since, by id. ``stored`` None: the
    default charts, then the pinned reports."""
    pinned = [
        f"{REPORT_PREFIX}{pk}"
        for pk in Report.objects.filter(pinned=True)
        .order_by("id")
        .values_list("pk", flat=True)[:MAX_CARDS]
    ]
    if stored is None:
        return [chart.key for chart in DEFAULT_CHARTS] + pinned
    keys = [k for k in stored if report_id(k) is None or k in pinned]
    return keys + [k for k in pinned if k not in keys]


def shared_layout_keys() -> list[str]:
    layout = stored_layout(owner_id=None)
    return shared_keys(stored=layout.cards if layout is not None else None)


def dashboard_cards(*, actor: Membership) -> list[Card]:
    """The cards of the actor's dashboard that they may open, in order (two queries)."""
    own = stored_layout(owner_id=actor.user_id)
    keys = own.cards if own is not None else shared_layout_keys()
    return _cards(actor, keys)


def layout_cards(actor: Membership, keys: list[str]) -> list[Card]:
    """The cards of ``keys`` the actor may open, in order, all of them."""
    return _cards(actor, keys, limit=None)


def visible_keys(actor: Membership, keys: list[str]) -> list[str]:
    return [card.key for card in _cards(actor, keys, limit=None)]


def _cards(actor: Membership, keys: list[str], *, limit: int | None = MAX_CARDS) -> list[Card]:
    wanted = [pk for pk in map(report_id, keys) if pk is not None]
    names = (
        dict(report_list(actor=actor).filter(pk__in=wanted).values_list("pk", "name"))
        if wanted
        else {}
    )
    cards: list[Card] = []
    for key in dict.fromkeys(keys):
        pk = report_id(key)
        if pk is not None:
            if pk in names:
                cards.append(Card(key=key, title=names[pk], url=card_url(key)))
            continue
        chart = default_chart(key)
        if chart is not None and all(may_read_source_code(actor, c) for c in chart.source_codes):
            cards.append(Card(key=key, title=str(chart.title), url=card_url(key)))
    return cards[:limit]


def addable_cards(*, actor: Membership, current: list[str]) -> list[Card]:
    """What the actor may add: default charts not shown, and reports they may open (any of
    theirs or shared with their role; on the shared dashboard, adding one pins it)."""
    shown = set(current)
    reports = report_list(actor=actor).order_by("name", "id")[:200]
    keys = [c.key for c in DEFAULT_CHARTS] + [f"{REPORT_PREFIX}{r.pk}" for r in reports]
    return _cards(actor, [k for k in keys if k not in shown], limit=None)
