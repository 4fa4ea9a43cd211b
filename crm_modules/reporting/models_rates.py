"""Exchange rates into the workspace's currency (ADR 0047): from ``valid_from`` on, one unit
of ``currency`` is worth ``rate`` units of ``base`` (the workspace's currency when the rate was
set). Reports convert each deal with the rate in effect on the day it closed, open deals with
the latest one. Admins set them; ``services/rates.py`` writes them."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm_platform.fields import user_reference


class ExchangeRate(models.Model):
    base = models.CharField(_("workspace currency"), max_length=3)
    currency = models.CharField(_("currency"), max_length=3)
    rate = models.DecimalField(_("rate"), max_digits=20, decimal_places=8)
    valid_from = models.DateField(_("valid from"))
    set_by = user_reference()
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("exchange rate")
        verbose_name_plural = _("exchange rates")
        constraints = [
            models.UniqueConstraint(
                fields=["base", "currency", "valid_from"], name="exchange_rate_day"
            ),
            models.CheckConstraint(condition=models.Q(rate__gt=0), name="exchange_rate_positive"),
        ]
        # A conversion reads the latest rate of a currency on or before a day.
        indexes = [
            models.Index(
                fields=["base", "currency", "-valid_from"],
                include=["rate"],
                name="exchange_rate_lookup",
            )
        ]

    def __str__(self) -> str:
        return f"1 {self.currency} = {self.rate_text} {self.base} ({self.valid_from})"

    @property
    def rate_text(self) -> str:
        """The rate without trailing zeros, never in exponent form: "1.085", "100"."""
        return format(self.rate.normalize(), "f")
