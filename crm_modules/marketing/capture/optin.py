"""Double opt-in for consent ticked on a form. A ticked box is not consent yet: it is kept as
a pending ``ConsentRequest``, and a confirmation mail goes to the address (a transactional
message through the contact-pressure rule when the address is a contact's, and at most
``OPT_IN_LIMIT`` confirmation mails a day per address, counted with the other double opt-in
mails, so a form cannot flood someone's inbox). Confirming from the mail records the consent
with its proof: when and from where it was asked, on which form, and when and from where it
was confirmed (ADR 0043)."""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.db import connection, transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_modules.marketing.models import OptInRequest, Suppression
from crm_modules.marketing.models_capture import ConsentRequest, FormSubmission
from crm_modules.marketing.models_deliverability import ConsentMail
from crm_modules.marketing.pressure import Purpose, current_workspace, may_contact, record_contact
from crm_modules.marketing.recipients import (
    OPT_IN_LIMIT,
    OPT_IN_MAX_AGE,
    OPT_IN_WINDOW,
    BadToken,
    _absolute,
    _salt,
)
from crm_modules.sales.api import Consent, Contact, Lead, contact_consent_by_recipient


def consent_requested(
    *,
    submission: FormSubmission,
    contact: Contact | None,
    lead: Lead | None,
    email: str,
    channel: str,
    topic: str,
    ip_address: str | None = None,
) -> ConsentRequest | None:
    if contact is not None:
        decision = may_contact(contact, channel="email", purpose=Purpose.TRANSACTIONAL)
        if not decision.allowed:
            return None
    # Repeated sign-ups of one address keep one pending request per channel and topic.
    request = ConsentRequest.objects.filter(
        email=email, channel=channel, topic=topic, status=ConsentRequest.Status.PENDING
    ).first()
    if request is None:
        request = ConsentRequest.objects.create(
            submission=submission,
            contact=contact,
            lead=lead,
            email=email,
            channel=channel,
            topic=topic,
        )
    consent_mail_send(request=request, ip_address=ip_address)
    return request


def _recipient_contact(request: ConsentRequest) -> Contact | None:
    if request.contact_id is not None:
        return request.contact
    if request.lead_id is not None and request.lead is not None:
        return request.lead.contact
    return None


def consent_mail_token(mail: ConsentMail) -> str:
    return signing.dumps(mail.pk, salt=_salt("consent"))


def consent_mail_send(*, request: ConsentRequest, ip_address: str | None) -> ConsentMail | None:
    """Send the confirmation mail of ``request``; None when the address had its share of
    confirmation mails today or nothing can reach it (the sign-up itself still counts)."""
    email = request.email.strip().lower()
    now = timezone.now()
    with transaction.atomic():
        with connection.cursor() as cursor:
            # The same lock as recipients.opt_in_request: one count per address at a time.
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                [f"{connection.schema_name}:opt-in:{email}"],  # type: ignore[attr-defined]
            )
        since = now - OPT_IN_WINDOW
        recent = (
            ConsentMail.objects.filter(email=email, sent_at__gt=since).count()
            + OptInRequest.objects.filter(email=email, created_at__gt=since).count()
        )
        if recent >= OPT_IN_LIMIT:
            return None
        contact = _recipient_contact(request)
        if contact is not None:
            decision = may_contact(contact, channel="email", purpose=Purpose.TRANSACTIONAL)
            if not decision.allowed:
                return None
        elif Suppression.objects.filter(
            channel="email", address=email, reason=Suppression.Reason.HARD_BOUNCE
        ).exists():
            return None
        mail = ConsentMail.objects.create(
            request=request, email=email, sent_at=now, signup_ip=ip_address
        )
        link = _absolute("consent_confirm", consent_mail_token(mail))
        workspace = current_workspace().name
        subject = _("Confirm your subscription to %(workspace)s") % {"workspace": workspace}
        body = render_to_string(
            "marketing/email/opt_in.txt", {"link": link, "workspace": workspace}
        )
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [email])
        if contact is not None:
            record_contact(
                contact,
                channel="email",
                purpose=Purpose.TRANSACTIONAL,
                source=f"consent-mail:{mail.pk}",
                at=now,
            )
    return mail


def consent_mail_from_token(token: str) -> ConsentMail:
    try:
        pk = signing.loads(token, salt=_salt("consent"), max_age=OPT_IN_MAX_AGE)
    except (signing.BadSignature, ValueError, TypeError) as error:
        raise BadToken from error
    mail = (
        ConsentMail.objects.select_related("request", "request__submission__form")
        .filter(pk=pk)
        .first()
    )
    if mail is None:
        raise BadToken
    return mail


def consent_confirm(*, mail: ConsentMail, ip_address: str | None, user_agent: str) -> bool:
    """Confirm the request: the request, the mail and the contact's consent keep the proof.
    False when it was already confirmed (nothing recorded twice)."""
    now = timezone.now()
    with transaction.atomic():
        request = (
            ConsentRequest.objects.select_for_update()
            .select_related("submission__form")
            .get(pk=mail.request_id)
        )
        if request.status == ConsentRequest.Status.CONFIRMED:
            return False
        request.status = ConsentRequest.Status.CONFIRMED
        request.confirmed_at = now
        request.save(update_fields=["status", "confirmed_at"])
        ConsentMail.objects.filter(pk=mail.pk).update(
            confirmed_at=now, confirmed_ip=ip_address, confirmed_user_agent=user_agent[:300]
        )
        contact = _recipient_contact(request)
        if contact is not None and request.channel in ("email", "sms", "phone"):
            form = request.submission.form
            contact_consent_by_recipient(
                contact=contact,
                channel=request.channel,
                status=Consent.Status.GIVEN,
                method=(
                    f"double opt-in: form {form.pk} ({form.name[:60]}) asked"
                    f" {request.requested_at:%Y-%m-%d %H:%M} UTC from {mail.signup_ip or '?'},"
                    " confirmed by link"
                ),
                ip_address=ip_address,
                user_agent=user_agent,
            )
    return True
