"""Arranging a sales dashboard: move a card up or down, add one, remove one, or (a member's
own layout) go back to the shared dashboard.

A member arranges their own dashboard; Owners, Admins and Managers (``reporting.share``)
arrange the workspace's shared one, where adding a report pins it and removing it unpins it.
The layout row is locked for the change, so two concurrent edits apply one after the other.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_modules.reporting.dashboard import default_chart
from crm_modules.reporting.layouts import (
    MAX_CARDS,
    report_id,
    shared_keys,
    shared_layout_keys,
    stored_layout,
    visible_keys,
)
from crm_modules.reporting.models import DashboardLayout, Report
from crm_modules.reporting.module import DASHBOARD_ARRANGED, SHARE_REPORTS, VIEW_REPORTS
from crm_modules.reporting.selectors import report_list
from crm_modules.reporting.services.reports import dashboard_announce
from crm_platform.errors import ServiceError
from tenants.audit.services import audit_record
from tenants.models import Membership
from tenants.permissions import require

ACTIONS = ("up", "down", "add", "remove", "reset")


def check_layout_change(*, actor: Membership, shared: bool, action: object, card: object) -> str:
    """The action, after the actor's right to arrange this dashboard is checked."""
    require(actor, SHARE_REPORTS if shared else VIEW_REPORTS)
    if action not in ACTIONS or (shared and action == "reset"):
        raise ServiceError(_("Choose a valid change of the layout."), field="action")
    if action != "reset" and not isinstance(card, str):
        raise ServiceError(_("Choose a card."), field="card", code="required")
    return str(action)


def _locked(owner_id: int | None) -> tuple[DashboardLayout, bool]:
    """The layout row, locked; created (and so ours until commit) when there was none."""
    if stored_layout(owner_id=owner_id) is None:
        try:
            with transaction.atomic():
                return DashboardLayout.objects.create(owner_id=owner_id, cards=[]), True
        except IntegrityError:
            pass  # a concurrent request created it first
    rows = DashboardLayout.objects.select_for_update()
    if owner_id is None:
        return rows.get(owner__isnull=True), False
    return rows.get(owner_id=owner_id), False


def _may_add(actor: Membership, card: str) -> Report | None:
    pk = report_id(card)
    if pk is None:
        if default_chart(card) is None:
            raise ServiceError(_("There is no such card."), field="card")
        return None
    report = report_list(actor=actor).filter(pk=pk).first()
    if report is None:
        raise ServiceError(_("There is no such card."), field="card")
    return report


def layout_change(
    *, actor: Membership, shared: bool, action: object, card: object = None
) -> list[str]:
    """Apply one change; returns the dashboard's cards in their new order."""
    action = check_layout_change(actor=actor, shared=shared, action=action, card=card)
    owner_id = None if shared else actor.user_id
    with transaction.atomic():
        if action == "reset":
            DashboardLayout.objects.filter(owner_id=owner_id).delete()
            return shared_layout_keys()
        layout, created = _locked(owner_id)
        require(actor, SHARE_REPORTS if shared else VIEW_REPORTS)
        if shared:
            keys = shared_keys(stored=None if created else list(layout.cards))
        elif created:
            # A member's first change starts from the dashboard they see now.
            keys = visible_keys(actor, shared_layout_keys())
        else:
            keys = list(layout.cards)
        key = str(card)
        if action == "add":
            report = _may_add(actor, key)
            if key in keys:
                raise ServiceError(_("This card is already on the dashboard."), field="card")
            if len(keys) >= MAX_CARDS:
                raise ServiceError(
                    _("A dashboard holds at most %(n)d cards.") % {"n": MAX_CARDS}, field="card"
                )
            keys.append(key)
            if shared and report is not None and not report.pinned:
                Report.objects.filter(pk=report.pk).update(pinned=True, updated_at=timezone.now())
        else:
            if key not in keys:
                raise ServiceError(_("This card is not on the dashboard."), field="card")
            i = keys.index(key)
            if action == "remove":
                keys.pop(i)
                pk = report_id(key)
                if shared and pk is not None:
                    Report.objects.filter(pk=pk).update(pinned=False, updated_at=timezone.now())
            else:
                j = i - 1 if action == "up" else i + 1
                if 0 <= j < len(keys):
                    keys[i], keys[j] = keys[j], keys[i]
        layout.cards = keys
        layout.updated_at = timezone.now()
        layout.save(update_fields=["cards", "updated_at"])
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=DASHBOARD_ARRANGED,
            target=layout,
            data={"shared": shared, "action": action, "card": key},
        )
        if shared:
            dashboard_announce(tenant=actor.tenant, event="dashboard.layout", payload={})
    return keys
