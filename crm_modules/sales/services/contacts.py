from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_modules.activities import api as timeline
from crm_modules.sales.models import (
    Channel,
    Company,
    CompanyMembership,
    Consent,
    Contact,
    ContactEmail,
    ContactPhone,
    LifecycleStage,
)
from crm_modules.sales.module import (
    CONSENT_RECORDED,
    CONTACT_CREATED,
    CONTACT_DELETED,
    CONTACT_MOVED,
    CONTACT_UPDATED,
    CREATE_RECORDS,
    EDIT_MARKETING,
    EDIT_RECORDS,
    REASSIGN_RECORDS,
)
from crm_modules.sales.services import checks, events
from crm_modules.sales.services.custom_changes import changed_codes, custom_values_changed
from crm_modules.sales.services.custom_fields import check_custom_values, custom_defaults
from crm_modules.sales.services.duplicates import contact_name_key
from crm_modules.sales.services.records import record_delete
from crm_modules.sales.services.scores import score_inputs_changed
from crm_platform.errors import ServiceError
from crm_platform.validation import check_email, check_language, check_time_zone
from tenants.audit.services import audit_record
from tenants.models import Membership
from tenants.modules import CONTACT_UNSUBSCRIBED, record_event
from tenants.permissions import allows, require

# Fields a Marketer may change without the general edit capability.
MARKETING_FIELDS = frozenset({"tags", "lifecycle_stage"})
TEXT_FIELDS: dict[str, int] = {
    "first_name": 100,
    "last_name": 100,
    "job_title": 150,
    "source": 100,
    "utm_source": 150,
    "utm_medium": 150,
    "utm_campaign": 150,
    "utm_term": 150,
    "utm_content": 150,
    "notes": 20_000,
    "street": 200,
    "city": 100,
    "region": 100,
    "postal_code": 20,
}


@dataclass(frozen=True)
class EmailInput:
    email: str
    primary: bool = False


def _check_emails(raw: Sequence[EmailInput | str | Mapping[str, Any]]) -> list[EmailInput]:
    if not isinstance(raw, list | tuple):
        raise ServiceError(_("Give a list of email addresses."), field="emails")
    emails: list[EmailInput] = []
    for item in raw:
        if isinstance(item, str):
            item = EmailInput(email=item)
        elif isinstance(item, Mapping):
            item = EmailInput(email=item.get("email", ""), primary=bool(item.get("primary")))
        address = check_email(item.email if isinstance(item.email, str) else "", field="emails")
        if any(existing.email == address for existing in emails):
            raise ServiceError(
                _("%(email)s is listed twice.") % {"email": address},
                field="emails",
                code="duplicate",
            )
        emails.append(EmailInput(email=address, primary=item.primary))
    primaries = [e for e in emails if e.primary]
    if len(primaries) > 1:
        raise ServiceError(
            _("Only one email address can be the primary one."), field="emails", code="duplicate"
        )
    if emails and not primaries:
        emails[0] = EmailInput(email=emails[0].email, primary=True)
    return emails


def _check_phones(raw: Sequence[str], *, region: str | None) -> list[str]:
    if not isinstance(raw, list | tuple):
        raise ServiceError(_("Give a list of phone numbers."), field="phones")
    phones: list[str] = []
    for item in raw:
        number = checks.check_phone(item if isinstance(item, str) else "", region=region)
        if number in phones:
            raise ServiceError(
                _("%(phone)s is listed twice.") % {"phone": number},
                field="phones",
                code="duplicate",
            )
        phones.append(number)
    return phones


def _clean(changes: Mapping[str, Any]) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    for name, value in changes.items():
        if name in TEXT_FIELDS:
            # The lazy label: translated only when a message needs it (imports check many rows).
            label = getattr(Contact._meta.get_field(name), "verbose_name", name)
            clean[name] = checks.check_optional_text(
                value, field=name, max_length=TEXT_FIELDS[name], label=label
            )
        elif name == "lifecycle_stage":
            clean[name] = checks.check_choice(
                value, field=name, choices=LifecycleStage.values, blank=False
            )
        elif name == "preferred_channel":
            clean[name] = checks.check_choice(value, field=name, choices=Channel.values)
        elif name == "tags":
            clean[name] = checks.check_tags(value)
        elif name == "language":
            # Blank: not known (mail goes out in the workspace's language).
            code = value.strip() if isinstance(value, str) else "?"
            clean[name] = check_language(code, field=name) if code else ""
        elif name == "time_zone":
            # Blank: the workspace's time zone (quiet hours and scheduled sends read it).
            zone_name = value.strip() if isinstance(value, str) else "?"
            clean[name] = check_time_zone(zone_name, field=name) if zone_name else ""
        elif name == "country":
            code = (value or "").strip().upper() if isinstance(value, str | None) else "?"
            if code and (len(code) != 2 or not code.isalpha() or not code.isascii()):
                raise ServiceError(_("Enter a two-letter country code such as IT."), field=name)
            clean[name] = code
        else:
            raise ServiceError(_("This field cannot be changed here."), field=name)
    if (
        "first_name" in clean
        and "last_name" in clean
        and not (clean["first_name"] or clean["last_name"])
    ):
        raise ServiceError(
            _("Give the contact a first or a last name."), field="first_name", code="required"
        )
    return clean


def _search_text(contact: Contact, emails: Sequence[str], phones: Sequence[str]) -> str:
    company_name = contact.company.name if contact.company_id and contact.company else ""
    return search_text_for(contact.first_name, contact.last_name, emails, phones, company_name)


def search_text_for(
    first_name: str, last_name: str, emails: Sequence[str], phones: Sequence[str], company: str
) -> str:
    """What a contact is found by. Phones are found with or without the "+". Names in scripts
    written without spaces (Chinese, Japanese, Thai) are also stored family name first, run
    together ("王芳")."""
    return checks.searchable(
        first_name,
        last_name,
        checks.unspaced_name(first_name, last_name),
        *emails,
        *phones,
        *(p.lstrip("+") for p in phones),
        company,
    )


REFRESH_BATCH = 2_000


def contacts_search_text_refresh(*, company_ids: Sequence[int]) -> int:
    """Recompute the search text of every contact of these companies (it holds the company's
    name), in batches by id so a company of 100,000 contacts never sits in memory at once.
    The text is derived, so ``updated_at`` stays: no one edited these contacts."""
    refreshed = 0
    last_id = 0
    while True:
        batch = list(
            Contact.objects.filter(company_id__in=list(company_ids), pk__gt=last_id)
            .select_related("company")
            .prefetch_related("emails", "phones")
            .order_by("pk")[:REFRESH_BATCH]
        )
        if not batch:
            return refreshed
        for contact in batch:
            contact.search_text = _search_text(
                contact,
                [email.email for email in contact.emails.all()],
                [phone.number for phone in contact.phones.all()],
            )
        Contact.objects.bulk_update(batch, ["search_text"])
        refreshed += len(batch)
        last_id = batch[-1].pk


def contacts_company_renamed(*, company_ids: Sequence[int]) -> None:
    """After commit, have a worker refresh the search text of these companies' contacts (a
    renamed company, or companies whose contacts moved in a merge)."""
    ids = sorted({int(pk) for pk in company_ids})
    if not ids:
        return
    # Imported here: the task module imports these services.
    from crm_modules.sales.tasks import contacts_search_text_refresh_task

    transaction.on_commit(lambda: contacts_search_text_refresh_task.delay(company_ids=ids))


def _store_channels(contact: Contact, emails: list[EmailInput], phones: list[str]) -> None:
    ContactEmail.objects.filter(contact=contact).delete()
    ContactPhone.objects.filter(contact=contact).delete()
    ContactEmail.objects.bulk_create(
        ContactEmail(contact=contact, email=e.email, is_primary=e.primary) for e in emails
    )
    ContactPhone.objects.bulk_create(
        ContactPhone(contact=contact, number=number, is_primary=index == 0)
        for index, number in enumerate(phones)
    )
    contact.primary_email = next((e.email for e in emails if e.primary), "")
    contact.primary_phone = phones[0] if phones else ""


def _check_company(value: Any) -> Company | None:
    if value in (None, ""):
        return None
    if isinstance(value, Company):
        return value
    try:
        company = Company.objects.filter(pk=int(value)).first()
    except (TypeError, ValueError):
        company = None
    if company is None:
        raise ServiceError(_("Choose an existing company."), field="company")
    return company


def contact_create(
    *,
    actor: Membership,
    emails: Sequence[EmailInput | str | Mapping[str, Any]] = (),
    phones: Sequence[str] = (),
    company: Any = None,
    owner_id: Any = None,
    phone_region: str | None = None,
    custom_fields: Any = None,
    complete_custom: bool = False,
    **fields: Any,
) -> Contact:
    """``complete_custom``: a person filled the form, so every required custom field is asked
    (ADR 0053); conversions and imports leave it off."""
    require(actor, CREATE_RECORDS)
    clean = _clean(
        {
            "first_name": fields.pop("first_name", ""),
            "last_name": fields.pop("last_name", ""),
            **fields,
        }
    )
    clean_emails = _check_emails(list(emails))
    clean_phones = _check_phones(list(phones), region=phone_region)
    target_company = _check_company(company)
    clean["custom"] = check_custom_values(
        actor=actor,
        entity="contact",
        values=custom_fields or {},
        complete=complete_custom,
        new_record=True,
    )
    owner = actor.user_id if owner_id in (None, "") else checks.check_owner(actor, owner_id)
    if owner != actor.user_id:
        require(actor, REASSIGN_RECORDS)
    with transaction.atomic():
        contact = Contact.objects.create(**clean, owner_id=owner, company=target_company)
        _store_channels(contact, clean_emails, clean_phones)
        if target_company is not None:
            CompanyMembership.objects.create(
                contact=contact,
                company=target_company,
                job_title=contact.job_title,
                started_at=contact.created_at,
            )
        contact.search_text = _search_text(contact, [e.email for e in clean_emails], clean_phones)
        contact.name_key = contact_name_key(contact.first_name, contact.last_name)
        contact.save(update_fields=["primary_email", "primary_phone", "search_text", "name_key"])
        audit_record(tenant=actor.tenant, actor=actor.user, action=CONTACT_CREATED, target=contact)
        score_inputs_changed(entity="contact", ids=[contact.pk])
    return contact


def contact_for_email(*, tenant: Any, email: str, name: str = "", source: str) -> Contact:
    """The contact who writes from ``email``, created (owned by nobody, ``source`` noted) when
    no contact has that address: a customer writing in by email or through a web form, with
    no member acting. Two messages from a new address at once make one contact (the address
    is locked for the transaction). Raises ``ServiceError`` for an invalid address."""
    address = check_email(email, field="email")
    existing = _contact_by_email(address)
    if existing is not None:
        return existing
    first, _space, last = " ".join((name or "").split()).partition(" ")
    try:
        clean = _clean({"first_name": first, "last_name": last})
    except ServiceError:
        clean = {}
    if not (clean.get("first_name") or clean.get("last_name")):
        clean = {"first_name": address.partition("@")[0][:100], "last_name": ""}
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"contact:{address}"])
        existing = _contact_by_email(address)
        if existing is not None:
            return existing
        contact = Contact.objects.create(
            **clean,
            source=source[:100],
            owner_id=None,
            custom=custom_defaults(entity="contact", custom={}),
        )
        _store_channels(contact, [EmailInput(email=address, primary=True)], [])
        contact.search_text = _search_text(contact, [address], [])
        contact.name_key = contact_name_key(contact.first_name, contact.last_name)
        contact.save(update_fields=["primary_email", "primary_phone", "search_text", "name_key"])
        audit_record(tenant=tenant, actor=None, action=CONTACT_CREATED, target=contact)
        score_inputs_changed(entity="contact", ids=[contact.pk])
    return contact


def _contact_by_email(address: str) -> Contact | None:
    """The oldest contact with this address (as primary or another one)."""
    return (
        Contact.objects.filter(pk__in=ContactEmail.objects.filter(email=address).values("contact"))
        .order_by("id")
        .first()
    )


def contact_update(
    *,
    actor: Membership,
    contact: Contact,
    changes: Mapping[str, Any],
    expected_updated_at: datetime.datetime | None = None,
    phone_region: str | None = None,
) -> Contact:
    """Change a contact's fields (not its company: ``contact_move_company`` keeps history).
    ``emails`` and ``phones``, when given, replace the lists."""
    changes = dict(changes)
    emails = changes.pop("emails", None)
    phones = changes.pop("phones", None)
    owner_id = changes.pop("owner", changes.pop("owner_id", contact.owner_id))
    custom_fields = changes.pop("custom_fields", None)
    marketing_only = (
        set(changes) <= MARKETING_FIELDS
        and emails is None
        and phones is None
        and custom_fields is None
    )
    capability = (
        EDIT_MARKETING
        if marketing_only and not allows(actor, EDIT_RECORDS, contact)
        else EDIT_RECORDS
    )
    require(actor, capability, contact)
    clean = _clean(changes)
    clean_emails = _check_emails(list(emails)) if emails is not None else None
    clean_phones = _check_phones(list(phones), region=phone_region) if phones is not None else None
    new_owner = checks.check_owner(actor, owner_id) if owner_id != contact.owner_id else owner_id
    with transaction.atomic():
        locked = (
            Contact.objects.select_for_update(of=("self",))
            .select_related("company")
            .get(pk=contact.pk)
        )
        require(actor, capability, locked)
        checks.check_unchanged_since(locked, expected_updated_at)
        before = Contact(
            pk=locked.pk,
            tags=list(locked.tags or []),
            lifecycle_stage=locked.lifecycle_stage,
            custom=dict(locked.custom or {}),
        )
        if new_owner != locked.owner_id and not allows(actor, REASSIGN_RECORDS, locked):
            raise ServiceError(
                _("Your role does not allow giving records to others."), field="owner"
            )
        if custom_fields is not None:
            clean["custom"] = check_custom_values(
                actor=actor, entity="contact", values=custom_fields, current=locked.custom
            )
        for name, value in clean.items():
            setattr(locked, name, value)
        if "custom" in clean:
            custom_values_changed(
                entity="contact",
                ids=[locked.pk],
                codes=changed_codes(before.custom, locked.custom),
            )
        if not (locked.first_name or locked.last_name):
            raise ServiceError(
                _("Give the contact a first or a last name."), field="first_name", code="required"
            )
        owner_changed = new_owner != locked.owner_id
        locked.owner_id = new_owner
        if clean_emails is not None or clean_phones is not None:
            _store_channels(
                locked,
                clean_emails
                if clean_emails is not None
                else [EmailInput(e.email, e.is_primary) for e in locked.emails.all()],
                clean_phones
                if clean_phones is not None
                else list(
                    locked.phones.order_by("-is_primary", "id").values_list("number", flat=True)
                ),
            )
        locked.search_text = _search_text(
            locked,
            list(locked.emails.values_list("email", flat=True)),
            list(locked.phones.values_list("number", flat=True)),
        )
        locked.name_key = contact_name_key(locked.first_name, locked.last_name)
        locked.updated_at = timezone.now()
        locked.save(
            update_fields=[
                *clean,
                "owner",
                "primary_email",
                "primary_phone",
                "search_text",
                "name_key",
                "updated_at",
            ]
        )
        if owner_changed:
            timeline.activity_log(
                kind=timeline.OWNER_CHANGE.code,
                author=actor.user,
                concerns=[locked],
                data={"from": contact.owner_id, "to": new_owner},
            )
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=CONTACT_UPDATED,
            target=locked,
            data={
                "fields": sorted(
                    [*clean]
                    + (["emails"] if emails is not None else [])
                    + (["phones"] if phones is not None else [])
                    + (["owner"] if owner_changed else [])
                )
            },
        )
        score_inputs_changed(entity="contact", ids=[locked.pk])
        events.contact_changed(before=before, after=locked)
    return locked


def contact_move_company(
    *, actor: Membership, contact: Contact, company: Company | None, job_title: str = ""
) -> Contact:
    """Move a contact to another company (or none); the time at the previous one is kept."""
    require(actor, EDIT_RECORDS, contact)
    title = checks.check_optional_text(
        job_title, field="job_title", max_length=150, label=_("Job title")
    )
    with transaction.atomic():
        locked = Contact.objects.select_for_update().get(pk=contact.pk)
        require(actor, EDIT_RECORDS, locked)
        if company is not None and locked.company_id == company.pk:
            raise ServiceError(_("The contact already works at this company."), field="company")
        now = timezone.now()
        previous_id = locked.company_id
        CompanyMembership.objects.filter(contact=locked, ended_at__isnull=True).update(ended_at=now)
        if company is not None:
            CompanyMembership.objects.create(
                contact=locked, company=company, job_title=title, started_at=now
            )
        locked.company = company
        locked.job_title = title
        locked.search_text = _search_text(
            locked,
            list(locked.emails.values_list("email", flat=True)),
            list(locked.phones.values_list("number", flat=True)),
        )
        locked.updated_at = now
        locked.save(update_fields=["company", "job_title", "search_text", "updated_at"])
        concerns: list[Any] = [locked]
        if company is not None:
            concerns.append(company)
        if previous_id is not None:
            concerns.append(("sales.company", previous_id))
        timeline.activity_log(
            kind=timeline.COMPANY_CHANGE.code,
            author=actor.user,
            concerns=concerns,
            data={"from": previous_id, "to": company.pk if company else None},
        )
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=CONTACT_MOVED,
            target=locked,
            data={"from": previous_id, "to": company.pk if company else None},
        )
        score_inputs_changed(entity="contact", ids=[locked.pk])
    return locked


def contact_set_consent(
    *,
    actor: Membership,
    contact: Contact,
    channel: str,
    status: str,
    method: str,
    recorded_at: Any = None,
) -> Consent:
    """Record that a contact gave or withdrew consent on a channel, when (now by default; never
    in the future) and how. One row a channel; every change is audited with its previous
    status."""
    require(actor, EDIT_MARKETING, contact)
    channel = checks.check_choice(channel, field="channel", choices=Channel.values, blank=False)
    status = checks.check_choice(status, field="status", choices=Consent.Status.values, blank=False)
    how = checks.check_optional_text(method, field="method", max_length=200, label=_("How"))
    if not how:
        raise ServiceError(
            _("Say how the consent was given or withdrawn."), field="method", code="required"
        )
    now = timezone.now()
    when = checks.check_datetime(recorded_at, field="recorded_at") or now
    if when > now + datetime.timedelta(minutes=5):
        raise ServiceError(_("The time of a consent cannot be in the future."), field="recorded_at")
    with transaction.atomic():
        locked = Contact.objects.select_for_update().get(pk=contact.pk)
        require(actor, EDIT_MARKETING, locked)
        before = Consent.objects.filter(contact=locked, channel=channel).first()
        consent, _created = Consent.objects.update_or_create(
            contact=locked,
            channel=channel,
            defaults={
                "status": status,
                "recorded_at": when,
                "method": how,
                "recorded_by": actor.user,
            },
        )
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=CONSENT_RECORDED,
            target=locked,
            data={
                "channel": channel,
                "status": status,
                "method": how,
                "recorded_at": when.isoformat(),
                "previous": before.status if before else None,
            },
        )
        score_inputs_changed(entity="contact", ids=[locked.pk])
        if status == Consent.Status.WITHDRAWN and channel == Channel.EMAIL:
            record_event(
                CONTACT_UNSUBSCRIBED,
                contact_ids=[locked.pk],
                occurrence=f"consent:{consent.pk}:{when.isoformat()}",
            )
    return consent


def contact_consent_by_recipient(
    *,
    contact: Contact,
    channel: str,
    status: str,
    method: str,
    ip_address: str | None,
    user_agent: str,
) -> Consent:
    """Record a consent the contact gave or withdrew themselves (a confirmed double opt-in, a
    one-click unsubscribe), with its proof: when, from which address and browser, and how.
    There is no member behind it: the signed link the contact followed is the authority."""
    if channel not in Channel.values:
        raise ServiceError(_("Choose a channel."), field="channel")
    if status not in Consent.Status.values:
        raise ServiceError(_("Choose given or withdrawn."), field="status")
    when = timezone.now()
    with transaction.atomic():
        locked = Contact.objects.select_for_update().get(pk=contact.pk)
        before = Consent.objects.filter(contact=locked, channel=channel).first()
        consent, _created = Consent.objects.update_or_create(
            contact=locked,
            channel=channel,
            defaults={
                "status": status,
                "recorded_at": when,
                "method": method[:200],
                "recorded_by": None,
                "ip_address": ip_address,
                "user_agent": user_agent[:300],
            },
        )
        audit_record(
            tenant=connection.tenant,  # type: ignore[attr-defined]
            actor=None,
            action=CONSENT_RECORDED,
            target=locked,
            data={
                "channel": channel,
                "status": status,
                "method": method[:200],
                "recorded_at": when.isoformat(),
                "previous": before.status if before else None,
                "by": "recipient",
            },
            ip_address=ip_address,
        )
        score_inputs_changed(entity="contact", ids=[locked.pk])
        if status == Consent.Status.WITHDRAWN and channel == Channel.EMAIL:
            record_event(
                CONTACT_UNSUBSCRIBED,
                contact_ids=[locked.pk],
                occurrence=f"consent:{consent.pk}:{when.isoformat()}",
            )
    return consent


def contact_delete(*, actor: Membership, contact: Contact) -> None:
    record_delete(actor=actor, record=contact, action=CONTACT_DELETED)


# What a contact may correct of their own record (the service portal): names and job title.
SELF_CORRECTABLE = ("first_name", "last_name", "job_title", "language")


def contact_self_correct(*, contact: Contact, changes: Mapping[str, str]) -> Contact:
    """The contact corrects their own name or job title (already checked by the caller, which
    audits it): no member acts, so no capability is asked; the search text follows."""
    unknown = set(changes) - set(SELF_CORRECTABLE)
    if unknown:
        raise ServiceError(_("This field cannot be changed here."), field=sorted(unknown)[0])
    with transaction.atomic():
        locked = (
            Contact.objects.select_for_update(of=("self",))
            .select_related("company")
            .get(pk=contact.pk)
        )
        changed = [name for name, value in changes.items() if getattr(locked, name) != value]
        if not changed:
            return locked
        for name in changed:
            setattr(locked, name, changes[name])
        locked.search_text = _search_text(
            locked,
            list(locked.emails.values_list("email", flat=True)),
            list(locked.phones.values_list("number", flat=True)),
        )
        locked.name_key = contact_name_key(locked.first_name, locked.last_name)
        locked.updated_at = timezone.now()
        locked.save(update_fields=[*changed, "search_text", "name_key", "updated_at"])
        score_inputs_changed(entity="contact", ids=[locked.pk])
    return locked
