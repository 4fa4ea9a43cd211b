"""Reads of forms, narrowed to what the acting member may see."""

from __future__ import annotations

from uuid import UUID

from django.db.models import QuerySet
from django.http import Http404

from crm_modules.marketing.models_capture import Form, FormSubmission
from crm_modules.marketing.module import VIEW_FORMS
from crm_modules.sales.api import Page, keyset_page
from tenants.models import Membership
from tenants.permissions import allows

PAGE_SIZE = 50


def form_list(*, actor: Membership) -> QuerySet[Form]:
    if not allows(actor, VIEW_FORMS):
        return Form.objects.none()
    return Form.objects.order_by("-id")


def form_get(*, actor: Membership, form_id: int) -> Form:
    form = form_list(actor=actor).filter(pk=form_id).first()
    if form is None:
        raise Http404
    return form


def form_public(public_id: UUID | str) -> Form:
    """The active form a visitor's URL names, in the workspace of the request."""
    form = Form.objects.filter(public_id=public_id, is_active=True).first()
    if form is None:
        raise Http404
    return form


def submissions_page(
    *, actor: Membership, form: Form, after: str = "", size: int = PAGE_SIZE
) -> Page[FormSubmission]:
    rows = FormSubmission.objects.filter(form=form).select_related("lead", "contact")
    if not allows(actor, VIEW_FORMS):
        rows = rows.none()
    return keyset_page(rows, order=("-id",), after=after, size=size)
