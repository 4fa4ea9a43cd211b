"""Reads of segments, narrowed to what the acting member may see."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, QuerySet
from django.http import Http404

from crm_modules.marketing.models import Segment, SegmentMember
from crm_modules.marketing.module import VIEW_SEGMENTS
from crm_modules.marketing.segments import Definition, check_definition, compile_definition
from crm_modules.sales.api import Contact, Page, contact_list, keyset_page
from tenants.models import Membership
from tenants.permissions import allows

PAGE_SIZE = 50


def segment_list(*, actor: Membership) -> QuerySet[Segment]:
    if not allows(actor, VIEW_SEGMENTS):
        return Segment.objects.none()
    return Segment.objects.order_by("-id")


def segment_get(*, actor: Membership, segment_id: int) -> Segment:
    segment = segment_list(actor=actor).filter(pk=segment_id).first()
    if segment is None:
        raise Http404
    return segment


def segment_contacts(*, actor: Membership, segment: Segment) -> QuerySet[Contact]:
    """The segment's members among the contacts the actor may see. A dynamic segment is its
    filter applied now, so membership is always current; a static list is its member rows."""
    contacts = contact_list(actor=actor)
    if segment.kind == Segment.Kind.STATIC:
        listed = SegmentMember.objects.filter(segment=segment, contact=OuterRef("pk"))
        return contacts.filter(Exists(listed))
    condition, aliases = compile_definition(check_definition(segment.definition))
    return contacts.alias(**aliases).filter(condition)


def definition_count(*, actor: Membership, definition: Definition) -> int:
    """How many contacts the actor may see a filter selects now (the builder's preview)."""
    condition, aliases = compile_definition(definition)
    return contact_list(actor=actor).alias(**aliases).filter(condition).order_by().count()


def segment_count(*, actor: Membership, segment: Segment) -> int:
    return segment_contacts(actor=actor, segment=segment).order_by().count()


def segment_members_page(
    *, actor: Membership, segment: Segment, after: str = "", size: int = PAGE_SIZE
) -> Page[Contact]:
    contacts = segment_contacts(actor=actor, segment=segment).select_related("company")
    return keyset_page(contacts, order=("-id",), after=after, size=size)
