"""Double opt-in for consent ticked on a form. A ticked box is not consent yet: it is kept as
a pending ``ConsentRequest`` until the person confirms from the email the consent rule sends.

The confirmation email belongs to the consent rule (``crm_modules/marketing/pressure.py``):
``consent_requested`` is the one place it plugs in. Until then the request stays pending and
nothing is sent; the rule is asked now (transactional purpose) so that a contact the rule
already refuses is never queued for a confirmation."""

from __future__ import annotations

from crm_modules.marketing.models_capture import ConsentRequest, FormSubmission
from crm_modules.marketing.pressure import Purpose, may_contact
from crm_modules.sales.api import Contact, Lead


def consent_requested(
    *,
    submission: FormSubmission,
    contact: Contact | None,
    lead: Lead | None,
    email: str,
    channel: str,
    topic: str,
) -> ConsentRequest | None:
    if contact is not None:
        decision = may_contact(contact, channel="email", purpose=Purpose.TRANSACTIONAL)
        if not decision.allowed:
            return None
    # Repeated sign-ups of one address keep one pending request per channel and topic.
    existing = ConsentRequest.objects.filter(
        email=email, channel=channel, topic=topic, status=ConsentRequest.Status.PENDING
    ).first()
    if existing is not None:
        return existing
    return ConsentRequest.objects.create(
        submission=submission,
        contact=contact,
        lead=lead,
        email=email,
        channel=channel,
        topic=topic,
    )
