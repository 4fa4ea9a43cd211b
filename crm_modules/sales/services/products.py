"""The product catalogue and the line items of deals. A deal that has line items has as its
amount the sum of their totals (quantity times unit price less the discount), recomputed in the
same transaction as every change of its items, under the deal's row lock."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_modules.sales.models import Deal, LineItem, Product
from crm_modules.sales.module import (
    DEALS_TOPIC,
    EDIT_RECORDS,
    LINE_ITEMS_CHANGED,
    MANAGE_PRODUCTS,
    PRODUCT_CREATED,
    PRODUCT_UPDATED,
)
from crm_modules.sales.services import checks
from crm_platform.errors import ServiceError
from crm_platform.validation import check_text
from tenants.audit.services import audit_record
from tenants.live import publish
from tenants.models import Membership
from tenants.permissions import require

CENT = Decimal("0.01")


def _check_sku(raw: Any) -> str:
    return checks.check_optional_text(raw, field="sku", max_length=64, label=_("SKU"))


def _check_active(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if raw in ("true", "on", "1", 1):
        return True
    if raw in ("false", "off", "0", 0, "", None):
        return False
    raise ServiceError(_("Say yes or no."), field="active")


def _check_decimal(raw: Any, *, field: str, low: Decimal, high: Decimal, message: str) -> Decimal:
    if isinstance(raw, bool | float):
        raw = str(raw) if isinstance(raw, float) else "x"
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        raise ServiceError(message, field=field) from None
    if not value.is_finite() or not low <= value <= high:
        raise ServiceError(message, field=field)
    return value.quantize(CENT)


def _sku_taken() -> ServiceError:
    return ServiceError(_("Another product has this SKU."), field="sku", code="unique")


def product_create(
    *,
    actor: Membership,
    name: str,
    unit_price: Any,
    sku: str = "",
    currency: str | None = None,
    active: Any = True,
) -> Product:
    require(actor, MANAGE_PRODUCTS)
    product = Product(
        name=check_text(name, field="name", max_length=200, label=_("Name")),
        sku=_check_sku(sku),
        unit_price=checks.check_amount(unit_price, field="unit_price"),
        currency=checks.check_currency(currency, default=actor.tenant.currency),
        active=_check_active(active),
    )
    try:
        with transaction.atomic():
            product.save()
            audit_record(
                tenant=actor.tenant, actor=actor.user, action=PRODUCT_CREATED, target=product
            )
    except IntegrityError:
        raise _sku_taken() from None
    return product


PRODUCT_FIELDS = frozenset({"name", "sku", "unit_price", "currency", "active"})


def product_update(*, actor: Membership, product: Product, changes: Mapping[str, Any]) -> Product:
    require(actor, MANAGE_PRODUCTS)
    unknown = set(changes) - PRODUCT_FIELDS
    if unknown:
        raise ServiceError(_("This field cannot be changed here."), field=sorted(unknown)[0])
    clean: dict[str, Any] = {}
    if "name" in changes:
        clean["name"] = check_text(changes["name"], field="name", max_length=200, label=_("Name"))
    if "sku" in changes:
        clean["sku"] = _check_sku(changes["sku"])
    if "unit_price" in changes:
        clean["unit_price"] = checks.check_amount(changes["unit_price"], field="unit_price")
    if "currency" in changes:
        clean["currency"] = checks.check_currency(
            changes["currency"], default=actor.tenant.currency
        )
    if "active" in changes:
        clean["active"] = _check_active(changes["active"])
    try:
        with transaction.atomic():
            locked = Product.objects.select_for_update().get(pk=product.pk)
            for name, value in clean.items():
                setattr(locked, name, value)
            locked.updated_at = timezone.now()
            locked.save(update_fields=[*clean, "updated_at"])
            audit_record(
                tenant=actor.tenant,
                actor=actor.user,
                action=PRODUCT_UPDATED,
                target=locked,
                data={"fields": sorted(clean)},
            )
    except IntegrityError:
        raise _sku_taken() from None
    return locked


def _check_product(raw: Any) -> Product:
    product = raw if isinstance(raw, Product) else None
    if product is None and raw not in (None, ""):
        try:
            product = Product.objects.filter(pk=int(raw)).first()
        except (TypeError, ValueError):
            product = None
    if product is None:
        raise ServiceError(_("Choose a product of the catalogue."), field="product")
    return product


def line_total(quantity: Decimal, unit_price: Decimal, discount: Decimal) -> Decimal:
    gross = quantity * unit_price
    return (gross - gross * discount / 100).quantize(CENT, rounding=ROUND_HALF_UP)


def _recompute(deal: Deal) -> None:
    total = deal.line_items.aggregate(sum=Sum("total"))["sum"]
    if total is not None:
        deal.amount = total
    deal.updated_at = timezone.now()
    deal.save(update_fields=["amount", "updated_at"])


def _check_quantity(raw: Any) -> Decimal:
    value = _check_decimal(
        raw,
        field="quantity",
        low=CENT,
        high=Decimal("9999999999"),
        message=_("Enter a quantity greater than zero, such as 2 or 1.5."),
    )
    return value


def _check_discount(raw: Any) -> Decimal:
    if raw in (None, ""):
        return Decimal("0.00")
    return _check_decimal(
        raw,
        field="discount",
        low=Decimal(0),
        high=Decimal(100),
        message=_("A discount is a percentage from 0 to 100."),
    )


def _finish(actor: Membership, deal: Deal, change: str, item_id: int) -> None:
    _recompute(deal)
    audit_record(
        tenant=actor.tenant,
        actor=actor.user,
        action=LINE_ITEMS_CHANGED,
        target=deal,
        data={"change": change, "line_item": item_id, "amount": str(deal.amount)},
    )
    publish(
        tenant=actor.tenant,
        topic=DEALS_TOPIC,
        event="deal.updated",
        payload={"id": deal.pk},
        owners=[deal.owner_id],
    )


def line_item_add(
    *,
    actor: Membership,
    deal: Deal,
    product: Any,
    quantity: Any = 1,
    unit_price: Any = None,
    discount: Any = None,
) -> LineItem:
    """Add a product to a deal. Without a unit price the product's price is used, which needs
    the product and the deal to be in one currency."""
    require(actor, EDIT_RECORDS, deal)
    clean_product = _check_product(product)
    clean_quantity = _check_quantity(quantity)
    clean_discount = _check_discount(discount)
    if unit_price in (None, ""):
        if clean_product.currency != deal.currency:
            raise ServiceError(
                _("The product is priced in %(currency)s: give the unit price in the deal's.")
                % {"currency": clean_product.currency},
                field="unit_price",
                code="required",
            )
        if not clean_product.active:
            raise ServiceError(_("This product is no longer sold."), field="product")
        price = clean_product.unit_price
    else:
        price = checks.check_amount(unit_price, field="unit_price")
        if not clean_product.active:
            raise ServiceError(_("This product is no longer sold."), field="product")
    with transaction.atomic():
        locked = Deal.objects.select_for_update().get(pk=deal.pk)
        require(actor, EDIT_RECORDS, locked)
        top = locked.line_items.aggregate(top=Max("position"))["top"]
        item = LineItem.objects.create(
            deal=locked,
            product=clean_product,
            name=clean_product.name,
            quantity=clean_quantity,
            unit_price=price,
            discount=clean_discount,
            total=line_total(clean_quantity, price, clean_discount),
            position=0 if top is None else top + 1,
        )
        _finish(actor, locked, "added", item.pk)
    return item


def line_item_update(
    *, actor: Membership, deal: Deal, item_id: Any, changes: Mapping[str, Any]
) -> LineItem:
    require(actor, EDIT_RECORDS, deal)
    unknown = set(changes) - {"quantity", "unit_price", "discount"}
    if unknown:
        raise ServiceError(_("This field cannot be changed here."), field=sorted(unknown)[0])
    clean: dict[str, Decimal] = {}
    if "quantity" in changes:
        clean["quantity"] = _check_quantity(changes["quantity"])
    if "unit_price" in changes:
        clean["unit_price"] = checks.check_amount(changes["unit_price"], field="unit_price")
    if "discount" in changes:
        clean["discount"] = _check_discount(changes["discount"])
    with transaction.atomic():
        locked = Deal.objects.select_for_update().get(pk=deal.pk)
        require(actor, EDIT_RECORDS, locked)
        item = _item_of(locked, item_id)
        for name, value in clean.items():
            setattr(item, name, value)
        item.total = line_total(item.quantity, item.unit_price, item.discount)
        item.save(update_fields=[*clean, "total"])
        _finish(actor, locked, "changed", item.pk)
    return item


def _item_of(deal: Deal, item_id: Any) -> LineItem:
    try:
        item = LineItem.objects.filter(pk=int(item_id), deal=deal).first()
    except (TypeError, ValueError):
        item = None
    if item is None:
        raise ServiceError(_("This deal has no such line item."), field="line_item")
    return item


def line_item_remove(*, actor: Membership, deal: Deal, item_id: Any) -> None:
    """Remove a line item. The deal keeps the amount of its remaining items, or, when the last
    one goes, the amount it had, to be edited by hand again."""
    require(actor, EDIT_RECORDS, deal)
    with transaction.atomic():
        locked = Deal.objects.select_for_update().get(pk=deal.pk)
        require(actor, EDIT_RECORDS, locked)
        item = _item_of(locked, item_id)
        pk = item.pk
        item.delete()
        _finish(actor, locked, "removed", pk)
