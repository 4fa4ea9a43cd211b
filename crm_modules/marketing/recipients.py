"""What a recipient does from a link in a message, without an account: unsubscribe in one
click (RFC 8058), choose topics in the preference centre, confirm a subscription (double
opt-in). Each link carries a token signed for one contact of one workspace; the workspace's
schema is part of the signing salt, so a token never works on another workspace's host.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.db import connection, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_modules.marketing.models import OptInRequest, Topic, TopicOptOut
from crm_modules.marketing.pressure import (
    CHANNELS,
    Purpose,
    current_workspace,
    may_contact,
    record_contact,
)
from crm_modules.sales.api import Consent, Contact, contact_consent_by_recipient
from crm_platform.errors import ServiceError
from tenants.hosts import workspace_url

OPT_IN_MAX_AGE = datetime.timedelta(days=7)
# Sign-ups for one address: at most this many confirmation emails in a day.
OPT_IN_LIMIT = 3
OPT_IN_WINDOW = datetime.timedelta(hours=24)


class BadToken(Exception):
    """A link that was tampered with, belongs to another workspace, expired or names a contact
    that no longer exists."""


def _salt(purpose: str) -> str:
    return f"rapport.marketing.{purpose}.{connection.schema_name}"  # type: ignore[attr-defined]


def recipient_token(contact: Contact, channel: str = "email") -> str:
    """The unsubscribe and preferences token of ``contact``: it does not expire (RFC 8058 asks
    the link to work for as long as messages carrying it may be read)."""
    return signing.dumps([contact.pk, channel], salt=_salt("recipient"), compress=True)


@dataclass(frozen=True)
class Recipient:
    contact: Contact
    channel: str


def recipient_from_token(token: str) -> Recipient:
    try:
        contact_id, channel = signing.loads(token, salt=_salt("recipient"))
    except (signing.BadSignature, ValueError, TypeError) as error:
        raise BadToken from error
    contact = Contact.objects.filter(pk=contact_id).first()
    if contact is None or channel not in CHANNELS:
        raise BadToken
    return Recipient(contact, channel)


def _absolute(name: str, token: str) -> str:
    return workspace_url(current_workspace().slug or "", reverse(f"marketing:{name}", args=[token]))


def unsubscribe_url(contact: Contact) -> str:
    return _absolute("unsubscribe", recipient_token(contact))


def preferences_url(contact: Contact) -> str:
    return _absolute("preferences", recipient_token(contact))


def list_unsubscribe_headers(contact: Contact) -> dict[str, str]:
    """The headers a marketing email carries so mail clients offer one-click unsubscribe
    (RFC 2369 and RFC 8058): the link is an HTTPS POST target on the workspace host."""
    return {
        "List-Unsubscribe": f"<{unsubscribe_url(contact)}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def unsubscribe(*, recipient: Recipient, ip_address: str | None, user_agent: str) -> bool:
    """Withdraw the contact's marketing consent on the link's channel, now. False when it was
    already withdrawn (nothing written twice)."""
    current = Consent.objects.filter(contact=recipient.contact, channel=recipient.channel).first()
    if current is not None and current.status == Consent.Status.WITHDRAWN:
        return False
    contact_consent_by_recipient(
        contact=recipient.contact,
        channel=recipient.channel,
        status=Consent.Status.WITHDRAWN,
        method="one-click unsubscribe",
        ip_address=ip_address,
        user_agent=user_agent,
    )
    return True


def topic_choices(contact: Contact) -> list[tuple[Topic, bool]]:
    """Every topic of the workspace and whether the contact still receives it."""
    opted_out = set(TopicOptOut.objects.filter(contact=contact).values_list("topic_id", flat=True))
    return [(topic, topic.pk not in opted_out) for topic in Topic.objects.all()[:100]]


def preferences_save(
    *,
    recipient: Recipient,
    wanted_topic_ids: set[int],
    subscribed: bool,
    ip_address: str | None,
    user_agent: str,
) -> None:
    """Keep the topics the contact ticked; unticking "all marketing" withdraws consent on the
    channel, ticking it again gives it back (with the same proof as any consent)."""
    topics = set(Topic.objects.values_list("pk", flat=True)[:100])
    unknown = wanted_topic_ids - topics
    if unknown:
        raise ServiceError(_("Choose topics from the list."), field="topics")
    with transaction.atomic():
        TopicOptOut.objects.filter(
            contact=recipient.contact, topic_id__in=wanted_topic_ids
        ).delete()
        TopicOptOut.objects.bulk_create(
            [
                TopicOptOut(contact=recipient.contact, topic_id=pk)
                for pk in sorted(topics - wanted_topic_ids)
            ],
            ignore_conflicts=True,
        )
        current = Consent.objects.filter(
            contact=recipient.contact, channel=recipient.channel
        ).first()
        withdrawn = current is not None and current.status == Consent.Status.WITHDRAWN
        if subscribed == withdrawn:
            contact_consent_by_recipient(
                contact=recipient.contact,
                channel=recipient.channel,
                status=Consent.Status.GIVEN if subscribed else Consent.Status.WITHDRAWN,
                method="preference centre",
                ip_address=ip_address,
                user_agent=user_agent,
            )


# Double opt-in


def opt_in_token(request: OptInRequest) -> str:
    return signing.dumps(request.pk, salt=_salt("opt-in"))


def opt_in_request(*, contact: Contact, ip_address: str | None, user_agent: str) -> OptInRequest:
    """A sign-up asked to receive marketing email: send the confirmation link (valid a week).
    One address gets at most OPT_IN_LIMIT such emails a day, however often the form is sent,
    so the form cannot be used to flood someone's inbox."""
    email = contact.primary_email.strip().lower()
    if not email:
        raise ServiceError(_("The contact has no email address."), field="email")
    now = timezone.now()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                [f"{connection.schema_name}:opt-in:{email}"],  # type: ignore[attr-defined]
            )
        recent = OptInRequest.objects.filter(email=email, created_at__gt=now - OPT_IN_WINDOW)
        if recent.count() >= OPT_IN_LIMIT:
            raise ServiceError(
                _("This address was sent several confirmation emails today. Try again tomorrow."),
                field="email",
                code="rate_limited",
            )
        request = OptInRequest.objects.create(
            contact=contact,
            email=email,
            created_at=now,
            ip_address=ip_address,
            user_agent=user_agent[:300],
        )
        # A confirmation the person asked for: transactional, counted toward the cap.
        decision = may_contact(contact, channel="email", purpose=Purpose.TRANSACTIONAL)
        if not decision.allowed:
            raise ServiceError(decision.message, field="email", code=decision.reason)
        link = _absolute("opt_in_confirm", opt_in_token(request))
        workspace = current_workspace().name
        subject = _("Confirm your subscription to %(workspace)s") % {"workspace": workspace}
        body = render_to_string(
            "marketing/email/opt_in.txt", {"link": link, "workspace": workspace}
        )
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [email])
        record_contact(
            contact,
            channel="email",
            purpose=Purpose.TRANSACTIONAL,
            source=f"opt-in:{request.pk}",
            at=now,
        )
    return request


def opt_in_from_token(token: str) -> OptInRequest:
    try:
        pk = signing.loads(token, salt=_salt("opt-in"), max_age=OPT_IN_MAX_AGE)
    except (signing.BadSignature, ValueError, TypeError) as error:
        raise BadToken from error
    request = OptInRequest.objects.select_related("contact").filter(pk=pk).first()
    if request is None:
        raise BadToken
    return request


def opt_in_confirm(*, request: OptInRequest, ip_address: str | None, user_agent: str) -> bool:
    """Record the consent with its proof: when the sign-up was asked and from where, when it was
    confirmed and from where. False when already confirmed (nothing recorded twice)."""
    with transaction.atomic():
        locked = OptInRequest.objects.select_for_update().get(pk=request.pk)
        if locked.confirmed_at is not None:
            return False
        locked.confirmed_at = timezone.now()
        locked.save(update_fields=["confirmed_at"])
        contact_consent_by_recipient(
            contact=locked.contact,
            channel="email",
            status=Consent.Status.GIVEN,
            method=(
                f"double opt-in: asked {locked.created_at:%Y-%m-%d %H:%M} UTC"
                f" from {locked.ip_address or '?'}, confirmed by link"
            ),
            ip_address=ip_address,
            user_agent=user_agent,
        )
    return True
