"""``{% documents_panel "<attachable key>" record %}``: the Documents tab of any record page."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse

from crm_modules.documents.module import UPLOAD_DOCUMENTS
from crm_modules.documents.selectors import documents_for_record
from tenants.permissions import allows

register = template.Library()


@register.inclusion_tag("documents/_panel.html", takes_context=True)
def documents_panel(context: template.Context, record_type: str, record: Any) -> dict[str, Any]:
    membership = context.get("membership")
    if membership is None:
        return {"visible": False}
    documents = documents_for_record(actor=membership, record_type=record_type, record_id=record.pk)
    return {
        "visible": True,
        "documents": documents,
        "can_upload": allows(membership, UPLOAD_DOCUMENTS),
        "record_type": record_type,
        "record_id": record.pk,
        "start_url": reverse("documents:upload_start"),
        "complete_url": reverse("documents:upload_complete"),
    }
