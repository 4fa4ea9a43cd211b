"""A dynamic segment's filter: validated JSON compiled through an allow-list to an ORM ``Q``.

The stored shape is ``{"match": "all" | "any", "conditions": [{"field", "op", "value"}]}``.
Every field and operator comes from ``FIELDS``; values are checked and bound as parameters, so no
user text ever reaches SQL as code (ADR 0028). Relations (consent, deals, activities, tickets,
satisfaction ratings, purchases, customer values) compile to ``EXISTS`` / ``NOT EXISTS`` or to
``IN`` over the related table grouped by contact, so a contact never appears twice and the work
follows the related rows, not the million contacts (ADR 0052). Other modules are reached only
through their facades.
"""

from __future__ import annotations

import datetime
import decimal
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import (
    Count,
    DecimalField,
    Exists,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm_modules.activities.api import activity_links, entry_type, entry_types
from crm_modules.marketing import segment_custom
from crm_modules.marketing.segment_custom import CustomTarget
from crm_modules.reporting.api import RFM_SEGMENTS, contact_values
from crm_modules.sales.api import Company, Consent, Deal, LifecycleStage, Product
from crm_platform.errors import ServiceError

MAX_CONDITIONS = 20
MAX_TEXT = 200
CHANNELS = ("email", "sms", "phone")
_CUSTOM_KEY = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
CUSTOM_PREFIX = "custom."
COMPANY_CUSTOM_PREFIX = "company.custom."
MAX_PRODUCTS = 50
PRODUCT_OPS = ("bought", "not_bought")

TEXT_OPS = ("eq", "ne", "contains", "empty", "not_empty")
NUMBER_OPS = ("eq", "gt", "gte", "lt", "lte")
# When something last happened to the contact (an activity, a ticket, a purchase, a bad rating).
RECENCY_OPS = ("within_days", "not_within_days", "older_than_days", "ever", "never")
NO_VALUE_OPS = ("empty", "not_empty", "ever", "never")
MAX_DAYS = 36500
MAX_COUNT = 1_000_000
CONTACT_TARGET = "sales.contact"

OP_LABELS: dict[str, Any] = {
    "eq": gettext_lazy("is"),
    "ne": gettext_lazy("is not"),
    "contains": gettext_lazy("contains"),
    "empty": gettext_lazy("is empty"),
    "not_empty": gettext_lazy("is not empty"),
    "gt": gettext_lazy("more than"),
    "gte": gettext_lazy("at least"),
    "lt": gettext_lazy("less than"),
    "lte": gettext_lazy("at most"),
    "in": gettext_lazy("is one of"),
    "not_in": gettext_lazy("is none of"),
    "has": gettext_lazy("has"),
    "lacks": gettext_lazy("lacks"),
    "is": gettext_lazy("is"),
    "within_days": gettext_lazy("in the last … days"),
    "not_within_days": gettext_lazy("none in the last … days (or never)"),
    "older_than_days": gettext_lazy("more than … days ago"),
    "ever": gettext_lazy("at least once"),
    "never": gettext_lazy("never"),
    "bought": gettext_lazy("bought"),
    "not_bought": gettext_lazy("did not buy"),
}


@dataclass(frozen=True)
class FieldSpec:
    label: Any
    # text | choice | number | owner | tags | consent | bool | days | recency | activity_count
    # | count | rating | rfm | custom | product
    kind: str
    ops: tuple[str, ...]
    path: str = ""
    choices: tuple[str, ...] = ()
    # The builder's group of conditions.
    group: str = "contact"
    # A custom field's condition: which field (kind "custom").
    custom: CustomTarget | None = None


def _text(label: Any, path: str) -> FieldSpec:
    return FieldSpec(label, "text", TEXT_OPS, path)


def _company(label: Any, path: str) -> FieldSpec:
    return FieldSpec(label, "text", TEXT_OPS, path, group="company")


FIELDS: dict[str, FieldSpec] = {
    "first_name": _text(gettext_lazy("First name"), "first_name"),
    "last_name": _text(gettext_lazy("Last name"), "last_name"),
    "job_title": _text(gettext_lazy("Job title"), "job_title"),
    "email": _text(gettext_lazy("Email"), "primary_email"),
    "city": _text(gettext_lazy("City"), "city"),
    "country": _text(gettext_lazy("Country"), "country"),
    "source": _text(gettext_lazy("Source"), "source"),
    "utm_source": _text(gettext_lazy("UTM source"), "utm_source"),
    "utm_campaign": _text(gettext_lazy("UTM campaign"), "utm_campaign"),
    # The contact's company (ADR 0057): its own fields through the foreign key.
    "company.name": _company(gettext_lazy("Company name"), "company__name"),
    "company.industry": _company(gettext_lazy("Company industry"), "company__industry"),
    "company.size": FieldSpec(
        gettext_lazy("Company size"),
        "choice",
        ("eq", "ne", "in"),
        "company__size",
        tuple(value for value in Company.Size.values if value),
        group="company",
    ),
    "company.country": _company(gettext_lazy("Company country"), "company__country"),
    "company.region": _company(gettext_lazy("Company region"), "company__region"),
    "company.city": _company(gettext_lazy("Company city"), "company__city"),
    "company.parent": _company(gettext_lazy("Parent company"), "company__parent__name"),
    "lifecycle_stage": FieldSpec(
        gettext_lazy("Lifecycle stage"),
        "choice",
        ("eq", "ne", "in"),
        "lifecycle_stage",
        tuple(LifecycleStage.values),
    ),
    "score": FieldSpec(gettext_lazy("Score"), "number", NUMBER_OPS, "score"),
    "owner": FieldSpec(gettext_lazy("Owner"), "owner", ("eq", "empty", "not_empty"), "owner_id"),
    "tags": FieldSpec(gettext_lazy("Tags"), "tags", ("has", "lacks"), "tags"),
    "created": FieldSpec(
        gettext_lazy("Created"), "days", ("within_days", "older_than_days"), "created_at"
    ),
    "has_open_deal": FieldSpec(
        gettext_lazy("Has an open deal"), "bool", ("is",), group="purchases"
    ),
    "won_amount": FieldSpec(
        gettext_lazy("Won deal amount"), "number", NUMBER_OPS, group="purchases"
    ),
    # Purchases are won deals, on the day they closed (ADR 0052).
    "purchase.last": FieldSpec(
        gettext_lazy("Purchase (won deal)"), "recency", RECENCY_OPS, group="purchases"
    ),
    "purchase.count": FieldSpec(
        gettext_lazy("Number of purchases"), "count", NUMBER_OPS, group="purchases"
    ),
    # Products bought: the line items of won deals (ADR 0057).
    "purchase.product": FieldSpec(
        gettext_lazy("Products bought"), "product", PRODUCT_OPS, group="purchases"
    ),
    "lifetime_value": FieldSpec(
        gettext_lazy("Lifetime value"), "number", NUMBER_OPS, group="purchases"
    ),
    "rfm_segment": FieldSpec(
        gettext_lazy("RFM segment"),
        "rfm",
        ("in", "not_in"),
        choices=tuple(RFM_SEGMENTS.values),
        group="purchases",
    ),
    "ticket.open": FieldSpec(gettext_lazy("Has an open ticket"), "bool", ("is",), group="service"),
    "ticket.opened": FieldSpec(
        gettext_lazy("Opened a ticket"), "recency", RECENCY_OPS, group="service"
    ),
    "csat.last_score": FieldSpec(
        gettext_lazy("Last satisfaction rating (1-5)"), "rating", NUMBER_OPS, group="service"
    ),
    "csat.bad": FieldSpec(
        gettext_lazy("Gave a bad satisfaction rating"), "recency", RECENCY_OPS, group="service"
    ),
}
for _channel in CHANNELS:
    FIELDS[f"consent.{_channel}"] = FieldSpec(
        gettext_lazy("Consent"),
        "consent",
        ("is",),
        choices=("given", "withdrawn", "none"),
        group="consent",
    )

# Activities by timeline entry type: "activity.any" / "activity.call", and the count of them in
# the last N days, "activity_count.any" / "activity_count.meeting". The types come from the
# timeline's registry when a filter is checked, so a module's own types (tickets) join too.
ANY_KIND = "any"
ACTIVITY_LAST = "activity"
ACTIVITY_COUNT = "activity_count"


def _activity_spec(family: str, kind: str) -> FieldSpec | None:
    if kind == ANY_KIND:
        label: Any = _("any type")
    else:
        entry = entry_type(kind)
        if entry is None:
            return None
        label = entry.label
    if family == ACTIVITY_LAST:
        title = _("Activity (%(type)s)") % {"type": label}
        return FieldSpec(title, "recency", RECENCY_OPS, path=kind, group="activities")
    title = _("Activities in the last … days (%(type)s)") % {"type": label}
    return FieldSpec(title, "activity_count", NUMBER_OPS, path=kind, group="activities")


def activity_fields() -> dict[str, FieldSpec]:
    """The activity conditions the builder offers, one per registered timeline entry type."""
    fields: dict[str, FieldSpec] = {}
    for family in (ACTIVITY_LAST, ACTIVITY_COUNT):
        for kind in [ANY_KIND, *(entry.code for entry in entry_types())]:
            spec = _activity_spec(family, kind)
            if spec is not None:
                fields[f"{family}.{kind}"] = spec
    return fields


def custom_spec(target: CustomTarget) -> FieldSpec:
    """A custom field's condition: the operators that suit its type."""
    if target.field is None:
        label: Any = target.code
    else:
        label = target.field.label
    if target.entity == "company":
        label = _("Company: %(field)s") % {"field": label}
    return FieldSpec(
        label,
        "custom",
        target.ops,
        choices=target.options,
        group=target.entity,
        custom=target,
    )


def custom_name(target: CustomTarget) -> str:
    prefix = COMPANY_CUSTOM_PREFIX if target.entity == "company" else CUSTOM_PREFIX
    return f"{prefix}{target.code}"


def _custom_key(name: str) -> tuple[str, str] | None:
    """(entity, code) of a custom field's condition name, or None."""
    for prefix, entity in ((COMPANY_CUSTOM_PREFIX, "company"), (CUSTOM_PREFIX, "contact")):
        if name.startswith(prefix):
            return entity, name[len(prefix) :]
    return None


def field_spec(name: str) -> FieldSpec | None:
    """The spec of a field name the filter may use, or None."""
    if name in FIELDS:
        return FIELDS[name]
    custom = _custom_key(name)
    if custom is not None:
        if not _CUSTOM_KEY.match(custom[1]):
            return None
        return custom_spec(segment_custom.custom_target(*custom))
    family, _dot, kind = name.partition(".")
    if family in (ACTIVITY_LAST, ACTIVITY_COUNT) and kind:
        return _activity_spec(family, kind)
    return None


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: Any


@dataclass(frozen=True)
class Definition:
    match: str
    conditions: tuple[Condition, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "match": self.match,
            "conditions": [
                {"field": c.field, "op": c.op, "value": c.value} for c in self.conditions
            ],
        }


def _fail(message: str, index: int | None = None) -> ServiceError:
    field = "definition" if index is None else f"definition.conditions[{index}]"
    return ServiceError(message, field=field)


def _spec(name: Any, index: int) -> FieldSpec:
    custom = _custom_key(name) if isinstance(name, str) else None
    if custom is not None and not _CUSTOM_KEY.match(custom[1]):
        raise _fail(_("“%(field)s” is not a custom field key.") % {"field": name}, index)
    spec = field_spec(name) if isinstance(name, str) else None
    if spec is None:
        raise _fail(
            _("“%(field)s” is not a field a segment can filter on.") % {"field": name}, index
        )
    return spec


def _whole(value: Any, low: int, high: int) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and low <= value <= high


def _days_message() -> str:
    return _("Give a number of days from 1 to %(max)d.") % {"max": MAX_DAYS}


def _check_value(spec: FieldSpec, op: str, value: Any, index: int) -> Any:
    try:
        return _check_value_of(spec, op, value, index)
    except ServiceError as error:
        # Name the condition with its problem: "Lifetime value: Give a number."
        raise _fail(f"{spec.label}: {error.message}", index) from None


def _check_value_of(spec: FieldSpec, op: str, value: Any, index: int) -> Any:
    if op in NO_VALUE_OPS:
        return None
    if spec.kind == "recency":
        if not _whole(value, 1, MAX_DAYS):
            raise _fail(_days_message(), index)
        return value
    if spec.kind == "activity_count":
        if not isinstance(value, dict) or set(value) != {"count", "days"}:
            raise _fail(_("Give an object with “count” and “days”."), index)
        if not _whole(value["days"], 1, MAX_DAYS):
            raise _fail(_days_message(), index)
        if not _whole(value["count"], 0, MAX_COUNT):
            raise _fail(
                _("Give a whole number of activities from 0 to %(max)d.") % {"max": MAX_COUNT},
                index,
            )
        return {"count": value["count"], "days": value["days"]}
    if spec.kind == "count":
        if not _whole(value, 0, MAX_COUNT):
            raise _fail(_("Give a whole number from 0 to %(max)d.") % {"max": MAX_COUNT}, index)
        return value
    if spec.kind == "rating":
        if not _whole(value, 1, 5):
            raise _fail(_("Give a rating from 1 to 5."), index)
        return value
    if spec.kind == "rfm":
        if (
            not isinstance(value, list)
            or not value
            or any(v not in spec.choices for v in value)
            or len(set(value)) != len(value)
        ):
            raise _fail(
                _("Choose one or more from: %(choices)s.") % {"choices": ", ".join(spec.choices)},
                index,
            )
        return value
    if spec.kind in ("text", "tags"):
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
            raise _fail(_("Give a text of 1 to %(max)d characters.") % {"max": MAX_TEXT}, index)
        return value.strip()
    if spec.kind == "custom" and spec.custom is not None:
        try:
            return segment_custom.check_value(spec.custom, op, value)
        except ServiceError as error:
            raise _fail(error.message, index) from None
    if spec.kind == "product":
        return _check_products(value, index)
    if spec.kind == "choice":
        values = value if op == "in" else [value]
        if not isinstance(values, list) or not values or any(v not in spec.choices for v in values):
            raise _fail(
                _("Choose from: %(choices)s.") % {"choices": ", ".join(spec.choices)}, index
            )
        return values if op == "in" else value
    if spec.kind == "number":
        if isinstance(value, bool):
            raise _fail(_("Give a number."), index)
        try:
            number = decimal.Decimal(str(value))
        except (decimal.InvalidOperation, ValueError):
            raise _fail(_("Give a number."), index) from None
        if not number.is_finite() or abs(number) >= 10**15:
            raise _fail(_("Give a number."), index)
        return str(number)
    if spec.kind == "owner":
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise _fail(_("Give the owner's user id."), index)
        return value
    if spec.kind == "days":
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= 36500:
            raise _fail(_("Give a number of days from 1 to 36500."), index)
        return value
    if spec.kind == "bool":
        if not isinstance(value, bool):
            raise _fail(_("Give true or false."), index)
        return value
    if spec.kind == "consent":
        if value not in spec.choices:
            raise _fail(
                _("Choose from: %(choices)s.") % {"choices": ", ".join(spec.choices)}, index
            )
        return value
    raise _fail(_("Unknown field."), index)  # pragma: no cover - FIELDS kinds are closed


def _check_products(value: Any, index: int) -> dict[str, Any]:
    """``{"products": [ids], "count": at least this many won deals (1), "days": in the last
    N days (null: ever)}``."""
    if not isinstance(value, dict) or not value.keys() <= {"products", "count", "days"}:
        raise _fail(_("Give an object with “products”, “count” and “days”."), index)
    products = value.get("products")
    if (
        not isinstance(products, list)
        or not 0 < len(products) <= MAX_PRODUCTS
        or not all(_whole(p, 1, 2**62) for p in products)
    ):
        raise _fail(_("Choose 1 to %(max)d products (their ids).") % {"max": MAX_PRODUCTS}, index)
    count = value.get("count", 1)
    if not _whole(count, 1, MAX_COUNT):
        raise _fail(_("Give a number of purchases from 1 to %(max)d.") % {"max": MAX_COUNT}, index)
    days = value.get("days")
    if days is not None and not _whole(days, 1, MAX_DAYS):
        raise _fail(_days_message(), index)
    return {"products": sorted(set(products)), "count": count, "days": days}


def _check_saved(spec: FieldSpec, op: str, value: Any, index: int) -> None:
    """What only a filter being saved must meet: it names records that exist and fields that
    are offered. A stored filter is read again whatever has changed since (a field archived, a
    product deleted), and keeps working."""
    try:
        if spec.custom is not None:
            segment_custom.check_offered(spec.custom, op, value)
        if spec.kind == "product":
            found = set(
                Product.objects.filter(pk__in=value["products"]).values_list("pk", flat=True)
            )
            missing = [str(pk) for pk in value["products"] if pk not in found]
            if missing:
                raise ServiceError(
                    _("No product with the id %(ids)s.") % {"ids": ", ".join(missing)}
                )
    except ServiceError as error:
        raise _fail(f"{spec.label}: {error.message}", index) from None


def check_definition(raw: Any, *, saving: bool = False) -> Definition:
    """Validate and normalise a filter; raise ``ServiceError`` naming the bad part.
    ``saving``: a filter being saved or built, which must also name records that exist and
    fields that are offered (not archived)."""
    if not isinstance(raw, dict) or set(raw) - {"match", "conditions"}:
        raise _fail(_("A filter is an object with “match” and “conditions”."))
    match = raw.get("match", "all")
    if match not in ("all", "any"):
        raise _fail(_("“match” is “all” or “any”."))
    conditions = raw.get("conditions")
    if not isinstance(conditions, list) or not conditions:
        raise _fail(_("Add at least one condition."))
    if len(conditions) > MAX_CONDITIONS:
        raise _fail(_("At most %(max)d conditions.") % {"max": MAX_CONDITIONS})
    checked = []
    for index, item in enumerate(conditions):
        if not isinstance(item, dict) or set(item) - {"field", "op", "value"}:
            raise _fail(_("A condition is an object with “field”, “op” and “value”."), index)
        spec = _spec(item.get("field"), index)
        op = item.get("op")
        if op not in spec.ops:
            raise _fail(
                _("Choose an operator from: %(ops)s.") % {"ops": ", ".join(spec.ops)}, index
            )
        value = _check_value(spec, op, item.get("value"), index)
        if saving:
            _check_saved(spec, op, value, index)
        checked.append(Condition(item["field"], op, value))
    return Definition(match, tuple(checked))


def _text_q(path: str, op: str, value: Any) -> Q:
    if op == "eq":
        return Q(**{f"{path}__iexact": value})
    if op == "ne":
        return ~Q(**{f"{path}__iexact": value})
    if op == "contains":
        return Q(**{f"{path}__icontains": value})
    empty = Q(**{f"{path}__isnull": True}) | Q(**{path: ""})
    return empty if op == "empty" else ~empty


def _number_q(path: str, op: str, value: Any) -> Q:
    if op == "eq":
        return Q(**{path: value})
    return Q(**{f"{path}__{op}": value})


def _won_amount() -> Any:
    won = (
        Deal.objects.filter(contacts=OuterRef("pk"), status="won")
        .order_by()
        .values("contacts")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    return Coalesce(
        Subquery(won, output_field=DecimalField(max_digits=18, decimal_places=2)),
        Value(decimal.Decimal(0)),
        output_field=DecimalField(max_digits=18, decimal_places=2),
    )


_COMPARE = {
    "eq": lambda a, b: a == b,
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
}


def _per_contact(rows: QuerySet[Any], column: str, path: str, op: str, value: Any) -> Q:
    """A comparison of a per-contact figure that is 0 for a contact without rows (a count, a
    lifetime value): ``rows`` holds one figure per contact (``column`` the contact, ``path``
    the figure). The contacts whose figure passes are taken from those rows (``IN``); when 0
    passes too (fewer than 3 purchases), it is every contact but those whose figure fails
    (``NOT IN``). Either way the work follows the related rows, not every contact."""
    lookup = path if op == "eq" else f"{path}__{op}"
    passes = Q(**{lookup: value})
    if _COMPARE[op](decimal.Decimal(0), decimal.Decimal(str(value))):
        return ~Q(pk__in=rows.exclude(passes).values(column))
    return Q(pk__in=rows.filter(passes).values(column))


def _recency_q(rows: QuerySet[Any], moment: str, op: str, days: int | None) -> Q:
    """When something last happened to the contact: ``rows`` are its happenings, correlated to
    the contact; ``moment`` their date."""
    if op == "ever":
        return Q(Exists(rows))
    if op == "never":
        return ~Q(Exists(rows))
    since = timezone.now() - datetime.timedelta(days=days or 0)
    recent = Exists(rows.filter(**{f"{moment}__gte": since}))
    if op == "within_days":
        return Q(recent)
    if op == "not_within_days":
        return ~Q(recent)
    return Q(Exists(rows)) & ~Q(recent)  # older_than_days: some, and none in the last N days


def _service() -> Any:
    # Imported when a filter is compiled: service's outbound mail imports marketing's facade.
    from crm_modules.service import api

    return api


def _happenings(name: str, kind: str) -> tuple[QuerySet[Any], str]:
    """A recency field's rows about the outer contact, and their date."""
    contact = OuterRef("pk")
    service = _service()
    if name == "purchase.last":
        return Deal.objects.filter(contacts=contact, status="won", closed_at__isnull=False), (
            "closed_at"
        )
    if name == "ticket.opened":
        return service.Ticket.objects.filter(contact=contact), "created_at"
    if name == "csat.bad":
        return service.csat_ratings().filter(
            contact=contact, score__lte=service.BAD_SCORE
        ), "rated_at"
    links = activity_links(target_type=CONTACT_TARGET, kind="" if kind == ANY_KIND else kind)
    return links.filter(target_id=contact), "occurred_at"


def _last_rating_q(op: str, value: int) -> Q:
    """The contact's latest answered survey (by when it was answered) has a score ``op``
    ``value``: the latest rows are those with no later answer of the same contact."""
    ratings = _service().csat_ratings()
    later = ratings.filter(contact=OuterRef("contact")).filter(
        Q(rated_at__gt=OuterRef("rated_at"))
        | Q(rated_at=OuterRef("rated_at"), pk__gt=OuterRef("pk"))
    )
    lookup = "score" if op == "eq" else f"score__{op}"
    latest = ratings.filter(~Exists(later), **{lookup: value})
    return Q(pk__in=latest.values("contact"))


def _new_condition_q(name: str, spec: FieldSpec, op: str, value: Any) -> Q | None:
    """The conditions on other modules' records (activities, tickets, purchases, customer
    values); None for the contact's own fields."""
    if spec.kind == "recency":
        rows, moment = _happenings(name, spec.path)
        return _recency_q(rows, moment, op, value)
    if spec.kind == "activity_count":
        since = timezone.now() - datetime.timedelta(days=value["days"])
        kind = "" if spec.path == ANY_KIND else spec.path
        counts = (
            activity_links(target_type=CONTACT_TARGET, kind=kind, since=since)
            .order_by()
            .values("target_id")
            .annotate(segment_count=Count("id"))
        )
        return _per_contact(counts, "target_id", "segment_count", op, value["count"])
    if name == "purchase.count":
        purchases = (
            Deal.objects.filter(status="won", closed_at__isnull=False, contacts__isnull=False)
            .order_by()
            .values("contacts")
            .annotate(segment_count=Count("id"))
        )
        return _per_contact(purchases, "contacts", "segment_count", op, value)
    if name == "lifetime_value":
        return _per_contact(contact_values(), "record_id", "lifetime_value", op, value)
    if spec.kind == "rfm":
        chosen = Q(pk__in=contact_values().filter(segment__in=value).values("record_id"))
        return chosen if op == "in" else ~chosen
    if name == "ticket.open":
        service = _service()
        open_ticket = Exists(
            service.Ticket.objects.filter(contact=OuterRef("pk"), status__in=service.OPEN_STATUSES)
        )
        return Q(open_ticket) if value else ~Q(open_ticket)
    if spec.kind == "rating":
        return _last_rating_q(op, value)
    return None


def _products_q(op: str, value: Mapping[str, Any]) -> Q:
    """Contacts with at least ``count`` won deals (in the last ``days``) carrying one of the
    products: ``IN`` over those deals grouped by contact, so the work follows the line items
    of the products, not the contacts."""
    deals = Deal.objects.filter(
        status="won",
        closed_at__isnull=False,
        line_items__product_id__in=value["products"],
        contacts__isnull=False,
    )
    if value.get("days"):
        deals = deals.filter(closed_at__gte=timezone.now() - datetime.timedelta(days=value["days"]))
    buyers = deals.order_by().values("contacts")
    if value.get("count", 1) > 1:
        buyers = (
            buyers.annotate(segment_count=Count("id", distinct=True))
            .filter(segment_count__gte=value["count"])
            .values("contacts")
        )
    bought = Q(pk__in=buyers)
    return bought if op == "bought" else ~bought


def _condition_q(condition: Condition, index: int = 0) -> tuple[Q, dict[str, Any]]:
    """The ``Q`` for one condition and any annotation it needs (named after ``index``)."""
    name, op, value = condition.field, condition.op, condition.value
    spec = field_spec(name)
    if spec is None:  # pragma: no cover - check_definition refused it
        raise _fail(_("Unknown field."))
    if spec.custom is not None:
        return segment_custom.custom_q(spec.custom, op, value, f"segment_custom_{index}")
    if spec.kind == "product":
        return _products_q(op, value), {}
    related = _new_condition_q(name, spec, op, value)
    if related is not None:
        return related, {}
    if spec.kind == "text":
        return _text_q(spec.path, op, value), {}
    if spec.kind == "choice":
        if op == "in":
            return Q(**{f"{spec.path}__in": value}), {}
        q = Q(**{spec.path: value})
        return (q if op == "eq" else ~q), {}
    if spec.kind == "owner":
        if op == "eq":
            return Q(owner_id=value), {}
        return (Q(owner__isnull=True) if op == "empty" else Q(owner__isnull=False)), {}
    if spec.kind == "tags":
        q = Q(tags__contains=[value])
        return (q if op == "has" else ~q), {}
    if spec.kind == "days":
        since = timezone.now() - datetime.timedelta(days=value)
        return (Q(created_at__gte=since) if op == "within_days" else Q(created_at__lt=since)), {}
    if spec.kind == "bool":
        open_deal = Exists(Deal.objects.filter(contacts=OuterRef("pk"), status="open"))
        return (Q(open_deal) if value else ~Q(open_deal)), {}
    if spec.kind == "consent":
        channel = name.split(".", 1)[1]
        rows = Consent.objects.filter(contact=OuterRef("pk"), channel=channel)
        if value == "none":
            return ~Q(Exists(rows)), {}
        return Q(Exists(rows.filter(status=value))), {}
    if name == "won_amount":
        alias = "segment_won_amount"
        return _number_q(alias, op, value), {alias: _won_amount()}
    return _number_q(spec.path, op, value), {}


def compile_definition(definition: Definition) -> tuple[Q, dict[str, Any]]:
    """The filter as one ``Q`` plus the aliases it refers to (``queryset.alias(**aliases)``)."""
    combined = Q()
    aliases: dict[str, Any] = {}
    for index, condition in enumerate(definition.conditions):
        q, needs = _condition_q(condition, index)
        aliases.update(needs)
        combined = (combined & q) if definition.match == "all" else (combined | q)
    return combined, aliases
