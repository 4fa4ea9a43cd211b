"""A ticket's tags one row each, for reports grouping tickets by tag ("top categories",
ADR 0044). A database view over the tickets' tag arrays, read only: nothing to keep in step."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class TicketTag(models.Model):
    """One tag of one ticket: the view ``service_tickettag`` made by migration 0006."""

    id = models.BigIntegerField(primary_key=True)
    ticket = models.ForeignKey(
        "service.Ticket", on_delete=models.DO_NOTHING, related_name="+", db_constraint=False
    )
    tag = models.CharField(_("tag"), max_length=50)

    class Meta:
        managed = False
        db_table = "service_tickettag"
        verbose_name = _("ticket tag")
        verbose_name_plural = _("ticket tags")

    def __str__(self) -> str:
        return self.tag
