"""Merging duplicate contacts or companies into one survivor, and undoing a merge (ADR 0018).

The member chooses, field by field, which record's value the survivor keeps; lists (emails,
phones, tags) are united. Everything that pointed at a removed record moves to the survivor:
timeline entries, tasks, deals, leads, document links, company history, consents, and for
companies their contacts and subsidiaries; other modules move what they keep of the removed
records through ``custom_changes.records_merged`` (service: the tickets). The removed records,
the survivor as it was and the ids of everything moved are kept in a ``MergeRecord`` so that
the merge can be undone for ``UNDO_DAYS`` days.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping, Sequence
from typing import Any

from django.core import serializers
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_modules.activities import api as timeline
from crm_modules.documents import api as documents
from crm_modules.sales.models import (
    Company,
    CompanyMembership,
    Consent,
    Contact,
    ContactEmail,
    ContactPhone,
    Deal,
    Lead,
    MergeRecord,
    Task,
)
from crm_modules.sales.module import (
    COMPANIES_MERGED,
    CONTACTS_MERGED,
    MERGE_RECORDS,
    MERGE_UNDONE,
)
from crm_modules.sales.services.companies import _search_text as company_search_text
from crm_modules.sales.services.contacts import contacts_company_renamed
from crm_modules.sales.services.custom_changes import (
    changed_codes,
    custom_values_changed,
    records_merged,
    records_unmerged,
)
from crm_modules.sales.services.duplicates import (
    company_name_key,
    contact_name_key,
    duplicate_group_forget,
)
from crm_modules.sales.services.scores import score_inputs_changed
from crm_platform.errors import ServiceError
from tenants.audit.services import audit_record
from tenants.models import Membership
from tenants.permissions import allows, require

UNDO_DAYS = 7
MAX_RECORDS = 10

CONTACT_FIELDS = (
    "first_name", "last_name", "job_title", "company", "lifecycle_stage", "owner", "source",
    "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content",
    "preferred_channel", "notes", "street", "city", "region", "postal_code", "country",
)  # fmt: skip
COMPANY_FIELDS = (
    "name", "domain", "website", "industry", "size", "parent", "lifecycle_stage", "owner",
    "notes", "street", "city", "region", "postal_code", "country",
)  # fmt: skip


def _serialized(records: Sequence[models.Model]) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads(
        serializers.serialize("json", records, cls=DjangoJSONEncoder)
    )
    return data


def _restore(rows: Sequence[dict[str, Any]]) -> None:
    for item in serializers.deserialize("python", rows):
        item.save()


def _check_records(
    model: type[Contact] | type[Company],
    *,
    actor: Membership,
    survivor_id: Any,
    other_ids: Sequence[Any],
) -> tuple[int, list[int]]:
    try:
        survivor = int(survivor_id)
        others = [int(pk) for pk in other_ids]
    except (TypeError, ValueError) as exc:
        raise ServiceError(_("Give the records to merge by their ids."), field="records") from exc
    if not others:
        raise ServiceError(
            _("Choose at least one record to merge into the one you keep."), field="records"
        )
    if len(set(others)) != len(others) or survivor in others:
        raise ServiceError(_("Each record can be listed once."), field="records")
    if len(others) + 1 > MAX_RECORDS:
        raise ServiceError(
            _("Merge at most %(count)d records at once.") % {"count": MAX_RECORDS},
            field="records",
        )
    return survivor, others


def _lock(
    model: type[Contact] | type[Company],
    *,
    actor: Membership,
    survivor_id: int,
    other_ids: list[int],
    seen: Mapping[int, datetime.datetime] | None,
) -> tuple[Any, list[Any]]:
    """Lock every record (in id order, so two merges never wait on each other in a circle),
    then check again that each exists, may be merged by the actor and is unchanged since the
    member looked at it."""
    wanted = [survivor_id, *other_ids]
    locked = {
        record.pk: record
        for record in model.objects.select_for_update().filter(pk__in=wanted).order_by("pk")
    }
    for pk in wanted:
        record = locked.get(pk)
        if record is None:
            raise ServiceError(
                _("Record %(id)d no longer exists; reload and choose again.") % {"id": pk},
                field="records",
                code="not_found",
            )
        if not allows(actor, MERGE_RECORDS, record):
            raise ServiceError(
                _("Your role does not allow merging %(record)s.") % {"record": record},
                field="records",
                code="permission_denied",
            )
        if seen and pk in seen and seen[pk] != record.updated_at:
            raise ServiceError(
                _(
                    "%(record)s was changed by someone else while you were merging; "
                    "check the values again."
                )
                % {"record": record},
                field="records",
                code="conflict",
            )
    return locked[survivor_id], [locked[pk] for pk in other_ids]


def _choose(
    fields: Sequence[str],
    *,
    survivor: Any,
    others: list[Any],
    values: Mapping[str, Any],
) -> list[str]:
    """Set each field of the survivor from the record chosen for it (by id); a field not
    chosen keeps the survivor's value, or takes the first other's if the survivor's is empty.
    Returns the fields that changed."""
    by_id = {survivor.pk: survivor, **{other.pk: other for other in others}}
    changed = []
    for name in values:
        if name not in fields:
            raise ServiceError(_("This field cannot be chosen in a merge."), field=name)
    for name in fields:
        attname = survivor._meta.get_field(name).attname
        if name in values:
            try:
                source = by_id[int(values[name])]
            except (KeyError, TypeError, ValueError) as exc:
                raise ServiceError(
                    _("Choose the value of one of the records being merged."), field=name
                ) from exc
            value = getattr(source, attname)
        else:
            value = getattr(survivor, attname)
            if value in ("", None):
                value = next(
                    (
                        getattr(other, attname)
                        for other in others
                        if getattr(other, attname) not in ("", None)
                    ),
                    value,
                )
        if value != getattr(survivor, attname):
            setattr(survivor, attname, value)
            changed.append(name)
    return changed


def _united_tags(survivor: Any, others: list[Any]) -> list[str]:
    tags = list(survivor.tags)
    for other in others:
        tags += [tag for tag in other.tags if tag not in tags]
    return tags


def _united_custom(survivor: Any, others: list[Any]) -> dict[str, Any]:
    custom = dict(survivor.custom)
    for other in others:
        for code, value in other.custom.items():
            if custom.get(code) in (None, "", []):
                custom[code] = value
    return custom


def _moved_ids(queryset: models.QuerySet[Any], **changes: Any) -> list[int]:
    ids = list(queryset.values_list("pk", flat=True))
    queryset.model.objects.filter(pk__in=ids).update(**changes)
    return ids


def _contact_children(contacts: Sequence[Contact]) -> list[models.Model]:
    ids = [c.pk for c in contacts]
    return [
        *ContactEmail.objects.filter(contact_id__in=ids),
        *ContactPhone.objects.filter(contact_id__in=ids),
        *Consent.objects.filter(contact_id__in=ids),
        *CompanyMembership.objects.filter(contact_id__in=ids),
    ]


def _merge_contact_channels(survivor: Contact, others: list[Contact]) -> None:
    """Emails and phones united (the survivor's primary stays primary); for each channel the
    most recent consent wins, so a withdrawal recorded on any record is never lost."""
    emails = set(survivor.emails.values_list("email", flat=True))
    phones = set(survivor.phones.values_list("number", flat=True))
    new_emails, new_phones = [], []
    for other in others:
        for email in other.emails.order_by("-is_primary", "id"):
            if email.email not in emails:
                emails.add(email.email)
                new_emails.append(ContactEmail(contact=survivor, email=email.email))
        for phone in other.phones.order_by("-is_primary", "id"):
            if phone.number not in phones:
                phones.add(phone.number)
                new_phones.append(
                    ContactPhone(contact=survivor, number=phone.number, label=phone.label)
                )
    if new_emails and not survivor.primary_email:
        new_emails[0].is_primary = True
        survivor.primary_email = new_emails[0].email
    if new_phones and not survivor.primary_phone:
        new_phones[0].is_primary = True
        survivor.primary_phone = new_phones[0].number
    ContactEmail.objects.bulk_create(new_emails)
    ContactPhone.objects.bulk_create(new_phones)
    latest: dict[str, Consent] = {}
    for consent in Consent.objects.filter(contact__in=[survivor, *others]).order_by("recorded_at"):
        latest[consent.channel] = consent
    for channel, consent in latest.items():
        if consent.contact_id != survivor.pk:
            Consent.objects.update_or_create(
                contact=survivor,
                channel=channel,
                defaults={
                    "status": consent.status,
                    "recorded_at": consent.recorded_at,
                    "method": consent.method,
                    "recorded_by_id": consent.recorded_by_id,
                },
            )


def _merge_company_history(survivor: Contact, others: list[Contact]) -> list[int]:
    """Every time at a company moves to the survivor; only the row of its current company
    stays open."""
    now = timezone.now()
    # The others' current rows end before they move: a contact has one current company (two
    # contacts at the same company would otherwise give the survivor two open rows).
    CompanyMembership.objects.filter(contact__in=others, ended_at__isnull=True).update(ended_at=now)
    moved = _moved_ids(CompanyMembership.objects.filter(contact__in=others), contact=survivor)
    open_rows = CompanyMembership.objects.filter(contact=survivor, ended_at__isnull=True).order_by(
        "-started_at", "-id"
    )
    keep = next((row.pk for row in open_rows if row.company_id == survivor.company_id), None)
    (open_rows.exclude(pk=keep) if keep is not None else open_rows).update(ended_at=now)
    if survivor.company_id is not None and keep is None:
        CompanyMembership.objects.create(
            contact=survivor,
            company_id=survivor.company_id,
            job_title=survivor.job_title,
            started_at=now,
        )
    return moved


def contacts_merge(
    *,
    actor: Membership,
    survivor_id: Any,
    other_ids: Sequence[Any],
    values: Mapping[str, Any] | None = None,
    seen: Mapping[int, datetime.datetime] | None = None,
) -> MergeRecord:
    """Merge the contacts ``other_ids`` into ``survivor_id``. ``values`` maps a field to the
    id of the record whose value the survivor keeps; ``seen`` maps record ids to the
    ``updated_at`` the member saw, and refuses the merge if any changed since."""
    require(actor, MERGE_RECORDS)
    survivor_pk, other_pks = _check_records(
        Contact, actor=actor, survivor_id=survivor_id, other_ids=other_ids
    )
    with transaction.atomic():
        survivor, others = _lock(
            Contact, actor=actor, survivor_id=survivor_pk, other_ids=other_pks, seen=seen
        )
        snapshot: dict[str, Any] = {
            "survivor": _serialized([survivor]),
            "survivor_children": _serialized(_contact_children([survivor])),
            "records": _serialized(others),
            "children": _serialized(_contact_children(others)),
        }
        changed = _choose(CONTACT_FIELDS, survivor=survivor, others=others, values=values or {})
        survivor.tags = _united_tags(survivor, others)
        united = _united_custom(survivor, others)
        custom_values_changed(
            entity="contact", ids=[survivor.pk], codes=changed_codes(survivor.custom, united)
        )
        survivor.custom = united
        _merge_contact_channels(survivor, others)
        moved: dict[str, Any] = {"tasks": {}, "leads": {}, "deals": {}, "timeline": []}
        moved["history"] = _merge_company_history(survivor, others)
        through = Deal.contacts.through
        survivor_deals = set(
            through.objects.filter(contact_id=survivor.pk).values_list("deal_id", flat=True)
        )
        added_deals: set[int] = set()
        for other in others:
            key = str(other.pk)
            moved["tasks"][key] = _moved_ids(Task.objects.filter(contact=other), contact=survivor)
            moved["leads"][key] = _moved_ids(Lead.objects.filter(contact=other), contact=survivor)
            deal_ids = list(
                through.objects.filter(contact_id=other.pk).values_list("deal_id", flat=True)
            )
            moved["deals"][key] = deal_ids
            added_deals |= set(deal_ids) - survivor_deals
            moved["timeline"].append(timeline.timeline_move(source=other, target=survivor))
            moved.setdefault("documents", []).append(
                documents.document_links_move(
                    record_type="sales.contact", source_id=other.pk, target_id=survivor.pk
                )
            )
        through.objects.bulk_create(
            [through(deal_id=deal_id, contact_id=survivor.pk) for deal_id in sorted(added_deals)]
        )
        moved["deals_added"] = sorted(added_deals)
        moved["modules"] = records_merged(
            entity="contact", survivor_id=survivor.pk, merged_ids=other_pks
        )
        snapshot["moved"] = moved
        _refresh_contact(survivor)
        Contact.objects.filter(pk__in=other_pks).delete()
        merge = MergeRecord.objects.create(
            entity=MergeRecord.Entity.CONTACT,
            survivor_id=survivor.pk,
            merged_ids=other_pks,
            snapshot=snapshot,
            merged_by=actor.user,
        )
        duplicate_group_forget(entity="contact", record_ids=[survivor.pk, *other_pks])
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=CONTACTS_MERGED,
            target=survivor,
            data={"merged": other_pks, "fields": sorted(changed), "merge": merge.pk},
        )
        score_inputs_changed(entity="contact", ids=[survivor.pk])
    return merge


def _refresh_contact(contact: Contact) -> None:
    # Imported here: contacts.py imports the duplicate finder, which this module also uses.
    from crm_modules.sales.services.contacts import _search_text

    contact.search_text = _search_text(
        contact,
        list(contact.emails.values_list("email", flat=True)),
        list(contact.phones.values_list("number", flat=True)),
    )
    contact.name_key = contact_name_key(contact.first_name, contact.last_name)
    contact.updated_at = timezone.now()
    contact.save()


def companies_merge(
    *,
    actor: Membership,
    survivor_id: Any,
    other_ids: Sequence[Any],
    values: Mapping[str, Any] | None = None,
    seen: Mapping[int, datetime.datetime] | None = None,
) -> MergeRecord:
    """Merge the companies ``other_ids`` into ``survivor_id`` (as ``contacts_merge``)."""
    require(actor, MERGE_RECORDS)
    survivor_pk, other_pks = _check_records(
        Company, actor=actor, survivor_id=survivor_id, other_ids=other_ids
    )
    with transaction.atomic():
        survivor, others = _lock(
            Company, actor=actor, survivor_id=survivor_pk, other_ids=other_pks, seen=seen
        )
        snapshot: dict[str, Any] = {
            "survivor": _serialized([survivor]),
            "records": _serialized(others),
        }
        changed = _choose(COMPANY_FIELDS, survivor=survivor, others=others, values=values or {})
        if survivor.parent_id in other_pks or survivor.parent_id == survivor.pk:
            survivor.parent_id = None
        survivor.tags = _united_tags(survivor, others)
        united = _united_custom(survivor, others)
        custom_values_changed(
            entity="company", ids=[survivor.pk], codes=changed_codes(survivor.custom, united)
        )
        survivor.custom = united
        moved: dict[str, Any] = {
            "contacts": {},
            "deals": {},
            "tasks": {},
            "leads": {},
            "subsidiaries": {},
            "history": {},
            "timeline": [],
            "documents": [],
        }
        for other in others:
            key = str(other.pk)
            moved["contacts"][key] = _moved_ids(
                Contact.objects.filter(company=other), company=survivor
            )
            moved["deals"][key] = _moved_ids(Deal.objects.filter(company=other), company=survivor)
            moved["tasks"][key] = _moved_ids(Task.objects.filter(company=other), company=survivor)
            moved["leads"][key] = _moved_ids(Lead.objects.filter(company=other), company=survivor)
            moved["subsidiaries"][key] = _moved_ids(
                Company.objects.filter(parent=other).exclude(pk=survivor.pk), parent=survivor
            )
            moved["history"][key] = _moved_ids(
                CompanyMembership.objects.filter(company=other), company=survivor
            )
            moved["timeline"].append(timeline.timeline_move(source=other, target=survivor))
            moved["documents"].append(
                documents.document_links_move(
                    record_type="sales.company", source_id=other.pk, target_id=survivor.pk
                )
            )
        moved["modules"] = records_merged(
            entity="company", survivor_id=survivor.pk, merged_ids=other_pks
        )
        snapshot["moved"] = moved
        survivor.search_text = company_search_text(survivor)
        survivor.name_key = company_name_key(survivor.name)
        survivor.updated_at = timezone.now()
        survivor.save()
        Company.objects.filter(pk__in=other_pks).delete()
        merge = MergeRecord.objects.create(
            entity=MergeRecord.Entity.COMPANY,
            survivor_id=survivor.pk,
            merged_ids=other_pks,
            snapshot=snapshot,
            merged_by=actor.user,
        )
        duplicate_group_forget(entity="company", record_ids=[survivor.pk, *other_pks])
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=COMPANIES_MERGED,
            target=survivor,
            data={"merged": other_pks, "fields": sorted(changed), "merge": merge.pk},
        )
        contacts_company_renamed(company_ids=[survivor.pk])
    return merge


def merge_can_undo(merge: MergeRecord) -> bool:
    return merge.undone_at is None and timezone.now() - merge.merged_at <= datetime.timedelta(
        days=UNDO_DAYS
    )


def merge_undo(*, actor: Membership, merge: MergeRecord) -> MergeRecord:
    """Bring back the merged records as they were, move back what moved, and restore the
    survivor's values. Refused after ``UNDO_DAYS`` days, twice, once the survivor was edited
    after the merge (its edits would be lost), or while a later merge into the same survivor
    stands (undo that one first)."""
    require(actor, MERGE_RECORDS)
    model: type[Contact] | type[Company] = (
        Contact if merge.entity == MergeRecord.Entity.CONTACT else Company
    )
    with transaction.atomic():
        locked = MergeRecord.objects.select_for_update().get(pk=merge.pk)
        if not merge_can_undo(locked):
            raise ServiceError(
                _("This merge can no longer be undone (it is undone or older than %(days)d days).")
                % {"days": UNDO_DAYS},
                field="merge",
                code="expired",
            )
        survivor = model.objects.select_for_update().filter(pk=locked.survivor_id).first()
        if survivor is None:
            raise ServiceError(
                _("The record kept by this merge was deleted since; it cannot be undone."),
                field="merge",
                code="conflict",
            )
        if not allows(actor, MERGE_RECORDS, survivor):
            raise ServiceError(_("Your role does not allow this."), code="permission_denied")
        if survivor.updated_at > locked.merged_at:
            # Undo writes the survivor back as it was before the merge: it would silently erase
            # what anyone changed on it since.
            raise ServiceError(
                _(
                    "This record was changed after the merge; undoing the merge would erase "
                    "those changes. Edit the record by hand instead."
                ),
                field="merge",
                code="changed_since",
            )
        later = MergeRecord.objects.filter(
            entity=locked.entity,
            undone_at__isnull=True,
            merged_at__gt=locked.merged_at,
        ).filter(
            models.Q(survivor_id=locked.survivor_id)
            | models.Q(merged_ids__overlap=[locked.survivor_id])
        )
        if later.exists():
            raise ServiceError(
                _("A later merge involves the same record; undo that one first."),
                field="merge",
                code="conflict",
            )
        if locked.entity == MergeRecord.Entity.CONTACT:
            _undo_contacts(locked)
            score_inputs_changed(entity="contact", ids=[locked.survivor_id, *locked.merged_ids])
        else:
            _undo_companies(locked)
            contacts_company_renamed(company_ids=[locked.survivor_id, *locked.merged_ids])
        locked.undone_at = timezone.now()
        locked.save(update_fields=["undone_at"])
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=MERGE_UNDONE,
            target=survivor,
            data={"merge": locked.pk, "restored": list(locked.merged_ids)},
        )
    return locked


def _undo_contacts(merge: MergeRecord) -> None:
    snapshot = merge.snapshot
    moved = snapshot["moved"]
    survivor_id = merge.survivor_id
    _restore(snapshot["records"])
    # The survivor's emails, phones, consents and history as they were; the removed records'
    # rows come back from the snapshot (moved history rows go back to their contact).
    ContactEmail.objects.filter(contact_id=survivor_id).delete()
    ContactPhone.objects.filter(contact_id=survivor_id).delete()
    Consent.objects.filter(contact_id=survivor_id).delete()
    CompanyMembership.objects.filter(contact_id=survivor_id).exclude(
        pk__in=[
            row["pk"] for row in snapshot["children"] if row["model"] == "sales.companymembership"
        ]
    ).delete()
    _restore(snapshot["children"])
    _restore(snapshot["survivor"])
    _restore(snapshot["survivor_children"])
    through = Deal.contacts.through
    for key, ids in moved["tasks"].items():
        Task.objects.filter(pk__in=ids, contact_id=survivor_id).update(contact_id=int(key))
    for key, ids in moved["leads"].items():
        Lead.objects.filter(pk__in=ids, contact_id=survivor_id).update(contact_id=int(key))
    for key, deal_ids in moved["deals"].items():
        existing = Deal.objects.filter(pk__in=deal_ids).values_list("pk", flat=True)
        through.objects.bulk_create(
            [through(deal_id=deal_id, contact_id=int(key)) for deal_id in existing],
            ignore_conflicts=True,
        )
    through.objects.filter(contact_id=survivor_id, deal_id__in=moved["deals_added"]).delete()
    for item in moved["timeline"]:
        timeline.timeline_move_back(item)
    for item in moved.get("documents", []):
        documents.document_links_move_back(item)
    records_unmerged(entity="contact", survivor_id=survivor_id, moved=moved.get("modules", {}))


def _undo_companies(merge: MergeRecord) -> None:
    snapshot = merge.snapshot
    moved = snapshot["moved"]
    survivor_id = merge.survivor_id
    _restore(snapshot["records"])
    _restore(snapshot["survivor"])
    for key, ids in moved["contacts"].items():
        Contact.objects.filter(pk__in=ids, company_id=survivor_id).update(company_id=int(key))
    for key, ids in moved["deals"].items():
        Deal.objects.filter(pk__in=ids, company_id=survivor_id).update(company_id=int(key))
    for key, ids in moved["tasks"].items():
        Task.objects.filter(pk__in=ids, company_id=survivor_id).update(company_id=int(key))
    for key, ids in moved["leads"].items():
        Lead.objects.filter(pk__in=ids, company_id=survivor_id).update(company_id=int(key))
    for key, ids in moved["subsidiaries"].items():
        Company.objects.filter(pk__in=ids, parent_id=survivor_id).update(parent_id=int(key))
    for key, ids in moved["history"].items():
        CompanyMembership.objects.filter(pk__in=ids, company_id=survivor_id).update(
            company_id=int(key)
        )
    for item in moved["timeline"]:
        timeline.timeline_move_back(item)
    for item in moved["documents"]:
        documents.document_links_move_back(item)
    records_unmerged(entity="company", survivor_id=survivor_id, moved=moved.get("modules", {}))
