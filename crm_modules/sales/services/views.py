"""Saved list views: a name for a list's filters, sort and columns, kept for the member who
saved it or shared with the whole workspace (by roles allowed ``sales.share_views``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.http import QueryDict
from django.utils.translation import gettext as _

from crm_modules.sales.models import SavedView
from crm_modules.sales.module import SHARE_VIEWS, VIEW_RECORDS
from crm_modules.sales.services import checks
from crm_platform.errors import PermissionDenied, ServiceError
from crm_platform.validation import check_text
from tenants.models import Membership
from tenants.permissions import allows, require


def clean_query(raw: str) -> str:
    """The list's query string as the list reads it, without the page cursor."""
    params = QueryDict(raw or "", mutable=True)
    params.pop("after", None)
    query = params.urlencode()
    if len(query) > 2000:
        raise ServiceError(_("This view has too many filters to save."), field="query")
    return query


def saved_view_create(
    *, actor: Membership, entity: str, name: str, query: str = "", shared: Any = False
) -> SavedView:
    require(actor, VIEW_RECORDS)
    clean_entity = checks.check_choice(
        entity, field="entity", choices=SavedView.Entity.values, blank=False
    )
    clean_name = check_text(name, field="name", max_length=100, label=_("Name"))
    is_shared = _check_shared(actor, shared)
    with transaction.atomic():
        return SavedView.objects.create(
            entity=clean_entity,
            name=clean_name,
            query=clean_query(query),
            owner=actor.user,
            shared=is_shared,
        )


def _check_shared(actor: Membership, shared: Any) -> bool:
    is_shared = shared in (True, "on", "1", "true")
    if is_shared and not allows(actor, SHARE_VIEWS):
        raise ServiceError(_("Your role does not allow sharing views."), field="shared")
    return is_shared


def _check_may_change(actor: Membership, view: SavedView) -> None:
    """A member changes their own views; a shared view also those who may share views."""
    mine = view.owner_id == actor.user_id
    if not mine and not (view.shared and allows(actor, SHARE_VIEWS)):
        raise PermissionDenied(_("Only its author can change this view."))


def saved_view_update(
    *, actor: Membership, view: SavedView, changes: Mapping[str, Any]
) -> SavedView:
    """Rename a view, replace its query, share it or make it private again."""
    require(actor, VIEW_RECORDS)
    _check_may_change(actor, view)
    unknown = set(changes) - {"name", "query", "shared"}
    if unknown:
        raise ServiceError(_("This field cannot be changed here."), field=sorted(unknown)[0])
    clean: dict[str, Any] = {}
    if "name" in changes:
        clean["name"] = check_text(changes["name"], field="name", max_length=100, label=_("Name"))
    if "query" in changes:
        clean["query"] = clean_query(changes["query"])
    if "shared" in changes:
        clean["shared"] = _check_shared(actor, changes["shared"])
    with transaction.atomic():
        locked = SavedView.objects.select_for_update().get(pk=view.pk)
        _check_may_change(actor, locked)
        for name, value in clean.items():
            setattr(locked, name, value)
        locked.save(update_fields=list(clean))
    return locked


def saved_view_delete(*, actor: Membership, view: SavedView) -> None:
    """A member deletes their own views; a shared view also by those who may share views."""
    require(actor, VIEW_RECORDS)
    _check_may_change(actor, view)
    view.delete()
