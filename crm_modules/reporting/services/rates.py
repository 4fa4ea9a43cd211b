"""Exchange rates (ADR 0047): an admin sets how many units of the workspace's currency one
unit of another currency is worth from a day on; setting the same currency and day again
replaces that rate. Each change is audited and makes open dashboards fetch every chart again
(money figures may all change) after commit."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_modules.reporting.models_rates import ExchangeRate
from crm_modules.reporting.module import (
    EXCHANGE_RATE_DELETED,
    EXCHANGE_RATE_SET,
    SET_EXCHANGE_RATES,
)
from crm_modules.reporting.services.reports import dashboard_announce
from crm_platform.errors import ServiceError
from tenants.audit.services import audit_record
from tenants.models import Membership
from tenants.permissions import require

RATES_EVENT = "exchange_rates.changed"
_CODE = re.compile(r"^[A-Z]{3}$")
MAX_RATE = Decimal("1e12")
FIRST_DAY, LAST_DAY = datetime.date(1990, 1, 1), datetime.date(2100, 12, 31)


def check_currency_code(raw: Any, *, base: str, field: str = "currency") -> str:
    code = raw.strip().upper() if isinstance(raw, str) else ""
    if not _CODE.match(code):
        raise ServiceError(_("Enter a three-letter currency code such as EUR."), field=field)
    if code == base:
        raise ServiceError(
            _("%(code)s is the workspace's currency: it needs no rate.") % {"code": code},
            field=field,
        )
    return code


def check_rate(raw: Any, *, field: str = "rate") -> Decimal:
    if raw in (None, "") or isinstance(raw, bool):
        raise ServiceError(_("Enter the rate, such as 1.0850."), field=field, code="required")
    try:
        value = Decimal(str(raw).strip().replace(",", "."))
    except InvalidOperation:
        raise ServiceError(_("Enter the rate, such as 1.0850."), field=field) from None
    if not value.is_finite() or value <= 0:
        raise ServiceError(_("Enter a rate greater than zero."), field=field)
    if value >= MAX_RATE:
        raise ServiceError(_("The rate is too large."), field=field)
    quantized = value.quantize(Decimal("0.00000001"))
    if quantized == 0:
        raise ServiceError(_("Enter a rate greater than zero."), field=field)
    return quantized


def check_day(raw: Any, *, field: str = "valid_from") -> datetime.date:
    if isinstance(raw, datetime.date) and not isinstance(raw, datetime.datetime):
        day = raw
    else:
        try:
            day = datetime.date.fromisoformat(str(raw or "").strip())
        except ValueError:
            raise ServiceError(_("Enter a date as YYYY-MM-DD."), field=field) from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ServiceError(
            _("Choose a day between %(first)s and %(last)s.")
            % {"first": FIRST_DAY, "last": LAST_DAY},
            field=field,
        )
    return day


def rate_set(*, actor: Membership, currency: Any, rate: Any, valid_from: Any) -> ExchangeRate:
    require(actor, SET_EXCHANGE_RATES)
    base = actor.tenant.currency
    code = check_currency_code(currency, base=base)
    value = check_rate(rate)
    day = check_day(valid_from)
    with transaction.atomic():
        found, created = ExchangeRate.objects.select_for_update().get_or_create(
            base=base,
            currency=code,
            valid_from=day,
            defaults={"rate": value, "set_by": actor.user},
        )
        previous = None if created else found.rate
        if not created:
            found.rate, found.set_by, found.updated_at = value, actor.user, timezone.now()
            found.save(update_fields=["rate", "set_by", "updated_at"])
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=EXCHANGE_RATE_SET,
            target=found,
            data={
                "currency": code,
                "base": base,
                "valid_from": day.isoformat(),
                "rate": str(value),
                "previous": str(previous) if previous is not None and previous != value else None,
            },
        )
        dashboard_announce(tenant=actor.tenant, event=RATES_EVENT, payload={})
    return found


def rate_delete(*, actor: Membership, rate: ExchangeRate) -> None:
    require(actor, SET_EXCHANGE_RATES)
    with transaction.atomic():
        locked = ExchangeRate.objects.select_for_update().filter(pk=rate.pk).first()
        if locked is None:
            return
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=EXCHANGE_RATE_DELETED,
            target_repr=str(locked),
            data={"currency": locked.currency, "valid_from": locked.valid_from.isoformat()},
        )
        locked.delete()
        dashboard_announce(tenant=actor.tenant, event=RATES_EVENT, payload={})
