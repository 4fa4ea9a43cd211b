"""What a trigger rule does to a contact. Each action runs in its own savepoint with the
permissions of the member the rule runs as, through the owning module's services; one that
fails or is held back (an email without consent) leaves the others to run, and says why.
Mail goes only through the contact-pressure rule (``may_contact`` / ``record_contact``)."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.mail import send_mail
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_modules.activities import api as timeline
from crm_modules.marketing.campaigns.content import contact_values, fill_text
from crm_modules.marketing.models import SegmentMember
from crm_modules.marketing.models_triggers import TriggerFiring, TriggerRule
from crm_modules.marketing.module import TRIGGER_FIRED
from crm_modules.marketing.offers import first_offers
from crm_modules.marketing.pressure import may_contact, record_contact
from crm_modules.sales.api import Contact, contact_update, task_create
from crm_platform.errors import ServiceError
from tenants.models import Membership


def _member(user_id: int | None) -> Membership | None:
    schema = connection.schema_name  # type: ignore[attr-defined]
    return (
        Membership.objects.select_related("user", "tenant")
        .filter(user_id=user_id or 0, tenant__schema_name=schema, status=Membership.Status.ACTIVE)
        .first()
    )


def _run_as(rule: TriggerRule) -> Membership | None:
    return _member(rule.run_as_id)


def _add_tag(actor: Membership, contact: Contact, action: dict[str, Any]) -> str:
    tags = list(contact.tags or [])
    if action["tag"] in tags:
        return _("The contact already had the tag %(tag)s.") % {"tag": action["tag"]}
    contact_update(actor=actor, contact=contact, changes={"tags": [*tags, action["tag"]]})
    return _("Tagged %(tag)s.") % {"tag": action["tag"]}


def _set_lifecycle(actor: Membership, contact: Contact, action: dict[str, Any]) -> str:
    contact_update(actor=actor, contact=contact, changes={"lifecycle_stage": action["stage"]})
    return _("Lifecycle stage set to %(stage)s.") % {"stage": action["stage"]}


def _create_task(actor: Membership, contact: Contact, action: dict[str, Any]) -> str:
    """The contact's owner gets the task, made in their name (no reassignment needed); a
    contact without an owner gives it to the member the rule runs as."""
    due = timezone.now() + datetime.timedelta(days=action["due_in_days"])
    owner = _member(contact.owner_id) if contact.owner_id is not None else None
    maker = owner or actor
    task = task_create(actor=maker, title=action["title"], due_at=due, contact=contact)
    return _("Task #%(id)d for %(name)s.") % {"id": task.pk, "name": maker.user}


def _add_to_list(actor: Membership, contact: Contact, action: dict[str, Any]) -> str:
    from crm_modules.marketing.models import Segment

    segment = Segment.objects.filter(pk=action["segment"], kind=Segment.Kind.STATIC).first()
    if segment is None:
        raise ServiceError(_("The static list was deleted."), field="segment")
    SegmentMember.objects.bulk_create(
        [SegmentMember(segment=segment, contact_id=contact.pk)], ignore_conflicts=True
    )
    return _("Put on the list %(name)s.") % {"name": segment.name}


def send_trigger_email(*, rule: TriggerRule, contact: Contact, action: dict[str, Any]) -> str:
    """One message to the contact if the contact-pressure rule allows it now; otherwise a
    ``skipped`` reason (raised as ``Skipped``)."""
    if not contact.primary_email:
        raise Skipped(_("The contact has no email address."))
    purpose = action["purpose"]
    decision = may_contact(contact, channel="email", purpose=purpose)
    if not decision.allowed:
        raise Skipped(decision.message or decision.reason)
    offer = first_offers([contact.pk]).get(contact.pk, "")
    values = contact_values(contact, offer=offer)
    subject = " ".join(fill_text(action["subject"], values).split())
    body = fill_text(action["body"], values)
    now = timezone.now()
    send_mail(subject, body, None, [contact.primary_email])
    record_contact(contact, channel="email", purpose=purpose, source=f"trigger:{rule.pk}", at=now)
    return _("Email “%(subject)s” sent.") % {"subject": subject}


class Skipped(Exception):
    """An action deliberately not done (no consent, no address); not an error."""


def run_actions(*, rule: TriggerRule, firing: TriggerFiring) -> list[dict[str, Any]]:
    actor = _run_as(rule)
    contact = firing.contact
    outcome: list[dict[str, Any]] = []
    for action in rule.definition["actions"]:
        kind = action["type"]
        if actor is None:
            outcome.append(
                {
                    "action": kind,
                    "status": "failed",
                    "message": _("The member this rule runs as has left the workspace."),
                }
            )
            continue
        try:
            with transaction.atomic():
                # Each action sees what the ones before it did.
                current = Contact.objects.select_related("company").get(pk=contact.pk)
                if kind == "send_email":
                    message = send_trigger_email(rule=rule, contact=current, action=action)
                else:
                    message = {
                        "add_tag": _add_tag,
                        "set_lifecycle": _set_lifecycle,
                        "create_task": _create_task,
                        "add_to_list": _add_to_list,
                    }[kind](actor, current, action)
        except Skipped as exc:
            outcome.append({"action": kind, "status": "skipped", "message": str(exc)})
        except ServiceError as exc:
            outcome.append({"action": kind, "status": "failed", "message": exc.message})
        else:
            outcome.append({"action": kind, "status": "done", "message": message})
    timeline.activity_log(
        kind=TRIGGER_FIRED.code,
        author=None,
        concerns=[contact],
        subject=(_("Automation: %(name)s") % {"name": rule.name})[:200],
        body="\n".join(f"{item['action']}: {item['message']}" for item in outcome),
        data={"rule": rule.pk, "firing": firing.pk},
    )
    return outcome
