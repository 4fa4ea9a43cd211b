"""A visitor's answers to a form become a lead, or update the contact who already has that
email, with the touch that brought them (first and last touch on the record, a touchpoint for
attribution) and an entry on the timeline. All of it in one transaction."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_modules.activities import api as timeline
from crm_modules.marketing.capture.definition import (
    CUSTOM_PREFIX,
    LEAD_CUSTOM_PREFIX,
    FormField,
    contact_custom_codes,
    lead_custom_fields,
    load_fields,
)
from crm_modules.marketing.capture.optin import consent_requested
from crm_modules.marketing.models_capture import Form, FormSubmission, Touchpoint
from crm_modules.marketing.module import FORM_FILL, FORM_SUBMITTED_EVENT
from crm_modules.sales.api import (
    CREATE_RECORDS,
    EDIT_RECORDS,
    TOUCH_KEYS,
    Contact,
    ContactEmail,
    Lead,
    check_custom_values,
    contact_update,
    lead_create,
    record_touch,
)
from crm_platform.errors import ServiceError
from crm_platform.validation import check_email, check_text
from tenants.models import Membership
from tenants.modules import record_event
from tenants.permissions import allows

# Fields a new lead has of its own; the others go into its notes.
LEAD_FIELDS = frozenset({"first_name", "last_name", "email", "phone", "company_name"})
# Fields of an existing contact a form may fill while they are blank. A form never overwrites
# what the CRM knows: anyone can type someone else's address.
CONTACT_FIELDS = frozenset({"first_name", "last_name", "job_title"})


@dataclass
class FormErrors(Exception):
    """Answers that could not be taken, by form field (target) → message."""

    errors: dict[str, str] = field(default_factory=dict)


def check_answers(form: Form, raw: Mapping[str, Any]) -> dict[str, str]:
    """The answers to ``form``'s fields, cleaned; raise FormErrors naming every bad field."""
    answers: dict[str, str] = {}
    errors: dict[str, str] = {}
    for item in load_fields(form.fields):
        value = raw.get(item.target, "")
        value = value if isinstance(value, str) else ""
        try:
            answers[item.target] = _check_answer(item, value)
        except ServiceError as exc:
            errors[item.target] = exc.message
    if errors:
        raise FormErrors(errors)
    return answers


def _check_answer(item: FormField, value: str) -> str:
    value = value.strip()
    if not value:
        if item.required:
            raise ServiceError(_("%(label)s is required.") % {"label": item.label})
        return ""
    if item.target == "email":
        return check_email(value, field=item.target)
    if item.target.startswith(LEAD_CUSTOM_PREFIX):
        _check_lead_custom(item, value)
    return check_text(value, field=item.target, max_length=item.max_length, label=item.label)


def _check_lead_custom(item: FormField, value: str) -> None:
    """An answer to a lead custom field, checked by the field's type (the lead stores it
    normalised when it is created)."""
    code = item.target.removeprefix(LEAD_CUSTOM_PREFIX)
    if code not in lead_custom_fields():
        return  # archived since the form was built: kept in the submission, fills nothing
    try:
        check_custom_values(actor=None, entity="lead", values={code: _lead_value(item, value)})
    except ServiceError as exc:
        raise ServiceError(f"{item.label}: {exc.message}", field=item.target) from exc


def _lead_value(item: FormField, value: str) -> str:
    """A yes/no answer as the visitor's language spelled it, read as the field's value."""
    if value == _("Yes"):
        return "true"
    if value == _("No"):
        return "false"
    return value


def _lead_custom(answers: Mapping[str, str]) -> dict[str, str]:
    in_use = lead_custom_fields()
    found = {}
    for key, value in answers.items():
        code = key.removeprefix(LEAD_CUSTOM_PREFIX)
        if key.startswith(LEAD_CUSTOM_PREFIX) and value and code in in_use:
            found[code] = _lead_value(FormField(target=key, label="", required=False), value)
    return found


def clean_touch(raw: Mapping[str, Any]) -> dict[str, str]:
    touch = {}
    for key in TOUCH_KEYS:
        value = raw.get(key, "")
        touch[key] = value.strip()[:500] if isinstance(value, str) else ""
    touch["at"] = timezone.now().isoformat()
    return touch


def form_actor(form: Form) -> Membership:
    """The member the form's leads are created for: its lead owner, while active and allowed
    to create leads."""
    from django.db import connection

    schema = connection.schema_name  # type: ignore[attr-defined]
    member = (
        Membership.objects.select_related("user", "tenant")
        .filter(user_id=form.lead_owner_id or 0, tenant__schema_name=schema)
        .first()
    )
    if member is None or not allows(member, CREATE_RECORDS):
        raise ServiceError(
            _("This form cannot take answers right now. Please try again later."),
            field="__all__",
            code="unavailable",
        )
    return member


def _existing_contact(email: str) -> Contact | None:
    row = ContactEmail.objects.filter(email=email).order_by("contact_id").first()
    return None if row is None else Contact.objects.get(pk=row.contact_id)


def _summary(form: Form, answers: Mapping[str, str]) -> str:
    labels = {f.target: f.label for f in load_fields(form.fields)}
    return "\n".join(f"{labels[key]}: {value}" for key, value in answers.items() if value)


def form_submit(
    *,
    form: Form,
    answers: Mapping[str, str],
    touch: Mapping[str, str],
    consents: list[str],
    ip_address: str | None = None,
) -> FormSubmission:
    """Take checked ``answers`` (``check_answers``) with their ``touch`` (``clean_touch``)."""
    actor = form_actor(form)
    email = answers["email"]
    touch = dict(touch)
    with transaction.atomic():
        contact = _existing_contact(email)
        lead: Lead | None = None
        if contact is not None:
            _fill_contact(actor, contact, answers)
            record_touch(record=contact, touch=touch)
            outcome = FormSubmission.Outcome.CONTACT_UPDATED
        else:
            lead = _create_lead(actor, form, answers)
            record_touch(record=lead, touch=touch)
            outcome = FormSubmission.Outcome.LEAD_CREATED
        submission = FormSubmission.objects.create(
            form=form, outcome=outcome, lead=lead, contact=contact, data=dict(answers), touch=touch
        )
        Touchpoint.objects.create(
            kind=Touchpoint.Kind.FORM_FILL,
            occurred_at=submission.submitted_at,
            contact=contact,
            lead=lead,
            form=form,
            **{key: touch.get(key, "")[:150] for key in TOUCH_KEYS[:5]},
            referrer=touch.get("referrer", "")[:500],
            landing_page=touch.get("landing_page", "")[:500],
        )
        concerns: list[Any] = [contact if contact is not None else lead]
        if contact is not None and contact.company_id is not None:
            concerns.append(("sales.company", contact.company_id))
        timeline.activity_log(
            kind=FORM_FILL.code,
            author=None,
            concerns=concerns,
            subject=(_("Filled in the form %(name)s") % {"name": form.name})[:200],
            body=_summary(form, answers),
            channel="web",
            direction="inbound",
            occurred_at=submission.submitted_at,
            data={"form": form.pk, "touch": touch},
        )
        Form.objects.filter(pk=form.pk).update(submissions_count=F("submissions_count") + 1)
        if contact is not None:
            record_event(
                FORM_SUBMITTED_EVENT.code,
                contact_ids=[contact.pk],
                occurrence=f"submission:{submission.pk}",
                data={"form": str(form.pk)},
            )
        for channel in consents:
            consent_requested(
                submission=submission,
                contact=contact,
                lead=lead,
                email=email,
                channel=channel,
                topic=form.topic,
                ip_address=ip_address,
            )
    return submission


def _fill_contact(actor: Membership, contact: Contact, answers: Mapping[str, str]) -> None:
    """Fill the contact's blank fields (and blank custom fields) from the answers, when the
    form's lead owner may edit that contact; never overwrite."""
    if not allows(actor, EDIT_RECORDS, contact):
        return
    changes: dict[str, Any] = {
        name: answers[name]
        for name in CONTACT_FIELDS
        if answers.get(name) and not getattr(contact, name)
    }
    # Only fields still in use: an answer to a field archived since the form was built is
    # kept in the submission but fills nothing.
    in_use = contact_custom_codes()
    custom = {
        key.removeprefix(CUSTOM_PREFIX): value
        for key, value in answers.items()
        if key.startswith(CUSTOM_PREFIX)
        and value
        and key.removeprefix(CUSTOM_PREFIX) in in_use
        and key.removeprefix(CUSTOM_PREFIX) not in contact.custom
    }
    if custom:
        changes["custom_fields"] = {**contact.custom, **custom}
    if "first_name" in changes or "last_name" in changes:
        changes.setdefault("first_name", contact.first_name)
        changes.setdefault("last_name", contact.last_name)
    if changes:
        try:
            contact_update(actor=actor, contact=contact, changes=changes)
        except ServiceError as exc:
            raise FormErrors({_answer_key(exc.field): exc.message}) from exc


def _answer_key(field_name: str | None) -> str:
    if field_name and field_name.startswith("custom_fields."):
        return CUSTOM_PREFIX + field_name.removeprefix("custom_fields.")
    return field_name or "__all__"


def _create_lead(actor: Membership, form: Form, answers: Mapping[str, str]) -> Lead:
    own: dict[str, Any] = {name: answers[name] for name in LEAD_FIELDS if answers.get(name)}
    custom = _lead_custom(answers)
    extra = {
        k: v
        for k, v in answers.items()
        if k not in LEAD_FIELDS and v and k.removeprefix(LEAD_CUSTOM_PREFIX) not in custom
    }
    notes = _summary(form, extra) if extra else ""
    try:
        return lead_create(
            actor=actor,
            source=(_("Form: %(name)s") % {"name": form.name})[:100],
            notes=notes,
            custom_fields=custom,
            **own,
        )
    except ServiceError as exc:
        raise FormErrors({_answer_key(exc.field): exc.message}) from exc
