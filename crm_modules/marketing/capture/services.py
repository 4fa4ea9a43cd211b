"""Writes of forms: create one and change it, checked before anything is stored."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_modules.marketing.capture.definition import (
    check_consent_channels,
    check_fields,
    check_origins,
)
from crm_modules.marketing.models_capture import Form
from crm_modules.marketing.module import FORM_CREATED, FORM_UPDATED, MANAGE_FORMS
from crm_modules.sales.api import CREATE_RECORDS
from crm_platform.errors import ServiceError
from crm_platform.validation import check_text
from tenants.audit.services import audit_record
from tenants.models import Membership
from tenants.permissions import allows, require


def _check(actor: Membership, values: dict[str, Any]) -> dict[str, Any]:
    clean: dict[str, Any] = {
        "name": check_text(values.get("name") or "", field="name", max_length=200, label=_("Name")),
        "topic": (values.get("topic") or "").strip()[:100],
        "fields": [f.as_json() for f in check_fields(values.get("fields"))],
        "consent_channels": check_consent_channels(values.get("consent_channels")),
        "allowed_origins": check_origins(values.get("allowed_origins")),
        "success_message": (values.get("success_message") or "").strip()[:500],
        "is_active": bool(values.get("is_active", True)),
    }
    owner_id = values.get("lead_owner")
    owner = (
        Membership.objects.select_related("user", "tenant")
        .filter(tenant=actor.tenant, user_id=owner_id, status=Membership.Status.ACTIVE)
        .first()
        if owner_id not in (None, "")
        else None
    )
    if owner is None or not allows(owner, CREATE_RECORDS):
        raise ServiceError(
            _("Choose a member who may create leads: the form's leads are theirs."),
            field="lead_owner",
        )
    clean["lead_owner_id"] = owner.user_id
    return clean


def form_create(*, actor: Membership, values: dict[str, Any]) -> Form:
    require(actor, MANAGE_FORMS)
    clean = _check(actor, values)
    with transaction.atomic():
        form = Form.objects.create(**clean, created_by=actor.user)
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=FORM_CREATED,
            target=form,
            target_repr=form.name,
        )
    return form


def form_update(*, actor: Membership, form: Form, values: dict[str, Any]) -> Form:
    require(actor, MANAGE_FORMS)
    clean = _check(actor, values)
    with transaction.atomic():
        locked = Form.objects.select_for_update().get(pk=form.pk)
        for name, value in clean.items():
            setattr(locked, name, value)
        locked.updated_at = timezone.now()
        locked.save(update_fields=[*clean, "updated_at"])
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=FORM_UPDATED,
            target=locked,
            target_repr=locked.name,
            data={"fields": sorted(clean)},
        )
    return locked
