"""Writes of segments: create one (dynamic with a validated filter, or a static list) and put
contacts on a static list."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from crm_modules.marketing.models import Segment, SegmentMember
from crm_modules.marketing.module import MANAGE_SEGMENTS, SEGMENT_CREATED, SEGMENT_MEMBERS_ADDED
from crm_modules.marketing.segments import check_definition
from crm_modules.sales.api import contact_list
from crm_platform.errors import ServiceError
from crm_platform.validation import check_text
from tenants.audit.services import audit_record
from tenants.models import Membership
from tenants.permissions import require

MAX_LIST_ADD = 1000


def segment_create(*, actor: Membership, name: str, kind: str, definition: Any = None) -> Segment:
    require(actor, MANAGE_SEGMENTS)
    name = check_text(name, field="name", max_length=200, label=_("Name"))
    if kind not in Segment.Kind.values:
        raise ServiceError(_("Choose dynamic or static."), field="kind")
    stored: dict[str, Any] = {}
    if kind == Segment.Kind.DYNAMIC:
        stored = check_definition(definition, saving=True).as_json()
    elif definition not in (None, {}):
        raise ServiceError(_("A static list has no filter."), field="definition")
    with transaction.atomic():
        segment = Segment.objects.create(
            name=name, kind=kind, definition=stored, created_by=actor.user
        )
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=SEGMENT_CREATED,
            target=segment,
            target_repr=segment.name,
            data={"kind": kind},
        )
    return segment


def segment_add_contacts(*, actor: Membership, segment: Segment, contact_ids: list[int]) -> int:
    """Put contacts the actor may see on a static list; returns how many were new on it."""
    require(actor, MANAGE_SEGMENTS)
    if segment.kind != Segment.Kind.STATIC:
        raise ServiceError(_("Only a static list takes contacts by hand."), field="segment")
    if not contact_ids or len(contact_ids) > MAX_LIST_ADD:
        raise ServiceError(
            _("Give 1 to %(max)d contacts.") % {"max": MAX_LIST_ADD}, field="contacts"
        )
    wanted = set(contact_ids)
    visible = set(contact_list(actor=actor).filter(pk__in=wanted).values_list("pk", flat=True))
    unknown = sorted(wanted - visible)
    if unknown:
        raise ServiceError(_("No contact with id %(id)s.") % {"id": unknown[0]}, field="contacts")
    with transaction.atomic():
        listed = set(
            SegmentMember.objects.filter(segment=segment, contact_id__in=visible).values_list(
                "contact_id", flat=True
            )
        )
        new = sorted(visible - listed)
        # A concurrent add of the same contact is absorbed by the unique constraint.
        SegmentMember.objects.bulk_create(
            [SegmentMember(segment=segment, contact_id=pk) for pk in new], ignore_conflicts=True
        )
        added = len(new)
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=SEGMENT_MEMBERS_ADDED,
            target=segment,
            target_repr=segment.name,
            data={"contacts": len(visible)},
        )
    return added
