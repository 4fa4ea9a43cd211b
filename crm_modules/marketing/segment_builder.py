"""The segment builder's form: which conditions it offers (grouped), which inputs each needs (a
number of days, a count, a type of activity, RFM segments…), a condition from what was typed,
and a condition in words. It only reshapes input; ``segments.check_definition`` decides what is
valid and says what is wrong."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Case, Q, Value, When
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from crm_modules.marketing import segment_custom
from crm_modules.marketing.segments import (
    FIELDS,
    NO_VALUE_OPS,
    OP_LABELS,
    RECENCY_OPS,
    FieldSpec,
    activity_fields,
    custom_name,
    custom_spec,
    field_spec,
)
from crm_modules.reporting.api import RFM_SEGMENTS
from crm_modules.sales.api import LifecycleStage, Product
from tenants.models import Membership

GROUPS = (
    ("contact", gettext_lazy("Contact")),
    ("company", gettext_lazy("Company")),
    ("purchases", gettext_lazy("Deals and purchases")),
    ("activities", gettext_lazy("Activities")),
    ("service", gettext_lazy("Tickets and satisfaction")),
    ("consent", gettext_lazy("Consent")),
)
CONSENT_LABELS = {
    "given": gettext_lazy("given"),
    "withdrawn": gettext_lazy("withdrawn"),
    "none": gettext_lazy("never recorded"),
}
CHANNEL_LABELS = {
    "email": gettext_lazy("Email"),
    "sms": gettext_lazy("SMS"),
    "phone": gettext_lazy("Phone"),
}
RECENCY_LABELS = {
    "within_days": gettext_lazy("in the last … days"),
    "not_within_days": gettext_lazy("none in the last … days (or never)"),
    "older_than_days": gettext_lazy("the last one more than … days ago"),
    "ever": gettext_lazy("at least once"),
    "never": gettext_lazy("never"),
}
# The inputs the editor shows for a kind of field.
INPUTS = {
    "text": "text",
    "tags": "text",
    "number": "number",
    "count": "count",
    "rating": "rating",
    "days": "days",
    "recency": "days",
    "activity_count": "count_days",
    "choice": "choices",
    "rfm": "choices",
    "consent": "choice",
    "bool": "bool",
    "owner": "owner",
    "product": "products",
}
# The inputs of a custom field's condition, by the field's type (text for the others).
CUSTOM_INPUTS = {
    **dict.fromkeys(segment_custom.NUMBER_TYPES, "number"),
    **dict.fromkeys(segment_custom.DATE_TYPES, "date"),
    "boolean": "bool",
    "select": "choices",
    "multi_select": "choice",
    "member": "owner",
}
DATE_LABELS = {
    "eq": gettext_lazy("is on"),
    "gt": gettext_lazy("is after"),
    "gte": gettext_lazy("is on or after"),
    "lt": gettext_lazy("is before"),
    "lte": gettext_lazy("is on or before"),
}
# The product condition's picker: the products chosen so far, then this many of the active
# products whose name or SKU holds what was typed (a catalogue can hold many thousands).
PRODUCT_MATCHES = 20
MAX_CHOSEN_PRODUCTS = 100


@dataclass(frozen=True)
class Option:
    value: str
    label: Any


def _label(name: str, spec: FieldSpec) -> str:
    if spec.kind == "consent":
        channel = CHANNEL_LABELS.get(name.split(".", 1)[1], name)
        return f"{spec.label} ({channel})"
    return str(spec.label)


def offered_fields() -> dict[str, FieldSpec]:
    """Every condition the builder offers: the fixed ones, the custom fields of contacts and
    companies that are not archived, and one per type of activity."""
    custom = {
        custom_name(target): custom_spec(target) for target in segment_custom.offered_targets()
    }
    return {**FIELDS, **custom, **activity_fields()}


def inputs_of(spec: FieldSpec) -> str:
    if spec.custom is not None:
        return CUSTOM_INPUTS.get(spec.custom.type, "text")
    return INPUTS.get(spec.kind, "text")


def field_groups() -> list[tuple[Any, list[Option]]]:
    """The conditions the builder offers, by group, in the builder's order."""
    fields = offered_fields()
    return [
        (
            title,
            [
                Option(name, _label(name, spec))
                for name, spec in fields.items()
                if spec.group == key
            ],
        )
        for key, title in GROUPS
    ]


def op_options(spec: FieldSpec) -> list[Option]:
    labels: Mapping[str, Any] = RECENCY_LABELS if spec.ops == RECENCY_OPS else OP_LABELS
    if spec.custom is not None and spec.custom.type in segment_custom.DATE_TYPES:
        labels = {**OP_LABELS, **DATE_LABELS}
    return [Option(op, labels[op]) for op in spec.ops]


def _members(tenant: Any) -> list[Option]:
    members = Membership.objects.filter(tenant=tenant, status=Membership.Status.ACTIVE)
    return [
        Option(str(m.user_id), m.user.full_name or m.user.email)
        for m in members.select_related("user").order_by("user__full_name", "user__email")
    ]


def choice_options(spec: FieldSpec, *, tenant: Any) -> list[Option]:
    if spec.custom is not None:
        kind = spec.custom.type
        if kind == "boolean":
            return [Option("yes", _("yes")), Option("no", _("no"))]
        if kind == "member":
            return _members(tenant)
        return [Option(option, option) for option in spec.choices]
    if spec.kind == "product":
        # Searched as the marketer types (``product_picker``), never listed whole.
        return []
    if spec.kind == "rfm":
        return [Option(value, label) for value, label in RFM_SEGMENTS.choices]
    if spec.kind == "choice" and spec.path == "lifecycle_stage":
        return [Option(value, label) for value, label in LifecycleStage.choices]
    if spec.kind == "choice":
        return [Option(value, value) for value in spec.choices]
    if spec.kind == "consent":
        return [Option(value, CONSENT_LABELS[value]) for value in spec.choices]
    if spec.kind == "rating":
        return [Option(str(score), str(score)) for score in range(1, 6)]
    if spec.kind == "bool":
        return [Option("yes", _("yes")), Option("no", _("no"))]
    if spec.kind == "owner":
        return _members(tenant)
    return []


@dataclass(frozen=True)
class ProductPicker:
    """What the product condition's picker shows: the chosen products by name (a product
    deleted since by its id), then the products matching ``search`` not chosen yet."""

    search: str
    chosen: list[Option]
    matches: list[Option]
    # More products match than are shown: typing more of the name narrows them.
    more: bool


def product_picker(*, search: Any, chosen: Iterable[Any]) -> ProductPicker:
    text = " ".join(str(search or "").split())[:100]
    ids: list[int] = []
    for raw in chosen:
        value = _whole(str(raw))
        if isinstance(value, int) and value > 0 and value not in ids:
            ids.append(value)
    ids = ids[:MAX_CHOSEN_PRODUCTS]
    names = dict(Product.objects.filter(pk__in=ids).values_list("pk", "name"))
    found = Product.objects.filter(active=True).exclude(pk__in=ids)
    if text:
        found = found.filter(Q(name__icontains=text) | Q(sku__iexact=text))
        # Names starting with what was typed first, then the others, each by name.
        found = found.annotate(
            starts=Case(When(name__istartswith=text, then=Value(0)), default=Value(1))
        ).order_by("starts", "name", "id")
    else:
        found = found.order_by("name", "id")
    rows = list(found.values_list("pk", "name")[: PRODUCT_MATCHES + 1])
    return ProductPicker(
        search=text,
        chosen=[Option(str(pk), names.get(pk, f"#{pk}")) for pk in ids],
        matches=[Option(str(pk), name) for pk, name in rows[:PRODUCT_MATCHES]],
        more=len(rows) > PRODUCT_MATCHES,
    )


@dataclass(frozen=True)
class Editor:
    """What the condition editor shows for the chosen field."""

    field: str
    spec: FieldSpec
    inputs: str
    ops: list[Option]
    choices: list[Option]


def editor(field: str, *, tenant: Any) -> Editor | None:
    spec = field_spec(field) if field else None
    if spec is None:
        return None
    return Editor(
        field=field,
        spec=spec,
        inputs=inputs_of(spec),
        ops=op_options(spec),
        choices=choice_options(spec, tenant=tenant),
    )


def _whole(raw: str) -> Any:
    """A typed whole number, or what was typed (so the check names the problem)."""
    text = raw.strip()
    try:
        return int(text)
    except ValueError:
        return text


def condition_from_input(field: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """The condition the editor's inputs say (``c_op``, ``c_value``, ``c_days``, ``c_count``,
    ``c_choice``, ``c_choices``); not yet checked."""
    spec = field_spec(field)
    op = str(data.get("c_op", ""))
    condition: dict[str, Any] = {"field": field, "op": op, "value": None}
    if spec is None or op in NO_VALUE_OPS:
        return condition
    inputs = inputs_of(spec)
    getlist = getattr(data, "getlist", None)
    value: Any
    if inputs == "products":
        chosen = list(getlist("c_products")) if getlist else list(data.get("c_products", []))
        count = str(data.get("c_count", "")).strip()
        days = str(data.get("c_days", "")).strip()
        value = {
            "products": [_whole(str(pk)) for pk in chosen],
            "count": _whole(count) if count else 1,
            "days": _whole(days) if days else None,
        }
    elif inputs == "days":
        value = _whole(str(data.get("c_days", "")))
    elif inputs == "count_days":
        value = {
            "count": _whole(str(data.get("c_count", ""))),
            "days": _whole(str(data.get("c_days", ""))),
        }
    elif inputs == "count":
        value = _whole(str(data.get("c_count", "")))
    elif inputs in ("rating", "owner"):
        value = _whole(str(data.get("c_choice", "")))
    elif inputs in ("number", "date"):
        value = str(data.get("c_value", "")).strip()
    elif inputs == "bool":
        value = {"yes": True, "no": False}.get(str(data.get("c_choice", "")), "")
    elif inputs == "choices":
        chosen = list(getlist("c_choices")) if getlist else list(data.get("c_choices", []))
        value = chosen if op in ("in", "not_in") else (chosen[0] if chosen else "")
    elif inputs == "choice":
        value = str(data.get("c_choice", ""))
    else:
        value = str(data.get("c_value", ""))
    condition["value"] = value
    return condition


def _value_words(spec: FieldSpec, op: str, value: Any, choices: Sequence[Option]) -> str:
    names = {option.value: str(option.label) for option in choices}
    if op in NO_VALUE_OPS:
        return ""
    if spec.kind == "activity_count":
        days = ngettext("%(days)d day", "%(days)d days", value["days"]) % {"days": value["days"]}
        return _("%(count)d in %(days)s") % {"count": value["count"], "days": days}
    if spec.kind == "bool" or isinstance(value, bool):
        return str(_("yes") if value else _("no"))
    if isinstance(value, list):
        return ", ".join(names.get(str(v), str(v)) for v in value)
    return names.get(str(value), str(value))


def _describe_products(title: str, op: str, value: Mapping[str, Any]) -> str:
    """A product condition in words: "Products bought: Espresso, Grinder — at least 2 times in
    the last 90 days"."""
    names = dict(Product.objects.filter(pk__in=value["products"]).values_list("pk", "name"))
    # A product deleted since is named by its id.
    products = ", ".join(names.get(pk, f"#{pk}") for pk in value["products"])
    count, days = value.get("count", 1), value.get("days")
    times = ngettext("at least %(count)d time", "at least %(count)d times", count) % {
        "count": count
    }
    if days:
        period = ngettext("in the last %(days)d day", "in the last %(days)d days", days) % {
            "days": days
        }
    else:
        period = _("ever")
    if op == "not_bought":
        return _("%(what)s: did not buy %(products)s — %(times)s %(period)s") % {
            "what": title,
            "products": products,
            "times": times,
            "period": period,
        }
    return _("%(what)s: %(products)s — %(times)s %(period)s") % {
        "what": title,
        "products": products,
        "times": times,
        "period": period,
    }


def describe(condition: Mapping[str, Any], *, tenant: Any) -> str:
    """A checked condition in words: "Lifetime value more than 5000"."""
    name, op, value = condition["field"], condition["op"], condition["value"]
    spec = field_spec(name)
    if spec is None:  # a custom field
        words = "" if value is None else str(value)
        return " ".join(part for part in (name, str(OP_LABELS.get(op, op)), words) if part)
    title = _label(name, spec)
    if spec.kind == "product":
        return _describe_products(title, op, value)
    if spec.kind in ("recency", "days"):
        days = ngettext("%(days)d day", "%(days)d days", value or 0) % {"days": value or 0}
        phrases = {
            "within_days": _("%(what)s: in the last %(days)s"),
            "not_within_days": _("%(what)s: none in the last %(days)s"),
            "older_than_days": _("%(what)s: the last one more than %(days)s ago"),
            "ever": _("%(what)s: at least once"),
            "never": _("%(what)s: never"),
        }
        if spec.kind == "days":  # when the contact was created
            phrases["older_than_days"] = _("%(what)s: more than %(days)s ago")
        return phrases[op] % {"what": title, "days": days}
    labels = {option.value: option.label for option in op_options(spec)}
    choices = choice_options(spec, tenant=tenant)
    words = _value_words(spec, op, value, choices)
    return " ".join(part for part in (title, str(labels.get(op, op)), words) if part)
