"""A workspace's sender domains: a DKIM key pair made for each, the DNS records to publish
(SPF, DKIM, DMARC) and the check that reads them back. The resolver is configured by
``MARKETING_DNS_NAMESERVERS`` / ``MARKETING_DNS_PORT`` (empty: the system's)."""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass

import dns.exception
import dns.resolver
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_modules.marketing.models_deliverability import SenderDomain
from crm_modules.marketing.module import (
    MANAGE_DELIVERABILITY,
    SENDER_DOMAIN_ADDED,
    SENDER_DOMAIN_REMOVED,
    SENDER_DOMAIN_VERIFIED,
    VIEW_DELIVERABILITY,
)
from crm_platform.errors import ServiceError
from tenants.audit.services import audit_record
from tenants.models import Membership
from tenants.permissions import require

MAX_DOMAINS = 20
DKIM_BITS = 2048
# A host name of letters, digits and hyphens per label, with at least one dot (RFC 1123);
# internationalised names are entered in their IDNA (xn--) form or converted below.
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_DOMAIN = re.compile(rf"^(?:{_LABEL}\.)+[a-z]{{2,63}}$|^(?:{_LABEL}\.)+xn--[a-z0-9-]{{1,59}}$")
_LOCAL = re.compile(r"^[a-z0-9](?:[a-z0-9._+-]{0,62}[a-z0-9])?$")


@dataclass(frozen=True)
class DnsRecord:
    kind: str
    name: str
    value: str
    purpose: str


def check_domain(raw: str) -> str:
    value = raw.strip().rstrip(".").lower()
    if not value:
        raise ServiceError(_("Enter the domain you send from."), field="domain", code="required")
    try:
        value = value.encode("idna").decode("ascii")
    except UnicodeError as error:
        raise ServiceError(
            _("The domain is not a valid host name, e.g. mail.example.com."), field="domain"
        ) from error
    if len(value) > 253 or not _DOMAIN.match(value):
        raise ServiceError(
            _("The domain is not a valid host name, e.g. mail.example.com."), field="domain"
        )
    return value


def check_local_part(raw: str) -> str:
    value = raw.strip().lower()
    if not _LOCAL.match(value):
        raise ServiceError(
            _("Use letters, digits, dots, hyphens or underscores before the @, e.g. news."),
            field="local_part",
        )
    return value


def _key_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=DKIM_BITS)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, base64.b64encode(public).decode("ascii")


def sender_domain_add(*, actor: Membership, domain: str, local_part: str) -> SenderDomain:
    require(actor, MANAGE_DELIVERABILITY)
    name = check_domain(domain)
    local = check_local_part(local_part)
    if SenderDomain.objects.count() >= MAX_DOMAINS:
        raise ServiceError(
            _("A workspace has at most %(max)d sender domains.") % {"max": MAX_DOMAINS},
            field="domain",
        )
    private, public = _key_pair()
    selector = f"rapport{timezone.now():%Y%m}{secrets.token_hex(2)}"
    try:
        with transaction.atomic():
            row = SenderDomain.objects.create(
                domain=name,
                local_part=local,
                dkim_selector=selector,
                dkim_private_key=private,
                dkim_public_key=public,
                created_by=actor.user,
            )
            audit_record(
                tenant=actor.tenant,
                actor=actor.user,
                action=SENDER_DOMAIN_ADDED,
                target=row,
                target_repr=name,
                data={"selector": selector},
            )
    except IntegrityError as error:
        raise ServiceError(_("This domain is already added."), field="domain") from error
    return row


def sender_domain_remove(*, actor: Membership, domain: SenderDomain) -> None:
    require(actor, MANAGE_DELIVERABILITY)
    with transaction.atomic():
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=SENDER_DOMAIN_REMOVED,
            target=domain,
            target_repr=domain.domain,
        )
        domain.delete()


def spf_include() -> str:
    return str(settings.MARKETING_SPF_INCLUDE)


def dns_records(domain: SenderDomain) -> list[DnsRecord]:
    """The records the domain's owner publishes, each with what it is for."""
    include = spf_include()
    return [
        DnsRecord(
            "TXT",
            domain.domain,
            f"v=spf1 include:{include} ~all" if include else "v=spf1 mx ~all",
            _(
                "SPF: the servers allowed to send for the domain. Merge it into an existing SPF "
                "record; a domain has only one."
            ),
        ),
        DnsRecord(
            "TXT",
            f"{domain.dkim_selector}._domainkey.{domain.domain}",
            f"v=DKIM1; k=rsa; p={domain.dkim_public_key}",
            _("DKIM: the public key receivers check the signature of every campaign with."),
        ),
        DnsRecord(
            "TXT",
            f"_dmarc.{domain.domain}",
            f"v=DMARC1; p=none; rua=mailto:dmarc@{domain.domain}",
            _(
                "DMARC: required by the large mailbox providers for bulk senders; start with "
                "p=none, then tighten to quarantine or reject."
            ),
        ),
    ]


def _resolver() -> dns.resolver.Resolver:
    servers = list(settings.MARKETING_DNS_NAMESERVERS)
    if not servers:
        return dns.resolver.Resolver()
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = servers
    resolver.port = int(settings.MARKETING_DNS_PORT)
    return resolver


def _txt(resolver: dns.resolver.Resolver, name: str) -> tuple[list[str], str]:
    """The TXT strings at ``name`` (each record's parts joined), or an error code."""
    try:
        answer = resolver.resolve(name, "TXT", lifetime=float(settings.MARKETING_DNS_TIMEOUT))
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return [], "missing"
    except (dns.exception.Timeout, dns.resolver.NoNameservers):
        return [], "unreachable"
    except dns.exception.DNSException:
        return [], "unreachable"
    texts = [b"".join(rdata.strings).decode("utf-8", "replace") for rdata in answer]
    return texts, ""


def _spf_ok(texts: list[str]) -> tuple[bool, str]:
    spf = [t for t in texts if t.lower().startswith("v=spf1")]
    if not spf:
        return False, "missing"
    if len(spf) > 1:
        return False, "several"
    include = spf_include()
    if include and f"include:{include}".lower() not in spf[0].lower().split():
        return False, "not_included"
    return True, ""


def _dkim_ok(texts: list[str], public_key: str) -> tuple[bool, str]:
    for text in texts:
        tags = dict(part.strip().split("=", 1) for part in text.split(";") if "=" in part.strip())
        if re.sub(r"\s+", "", tags.get("p", "")) == public_key:
            return True, ""
    return False, "missing" if not texts else "other_key"


def _dmarc_ok(texts: list[str]) -> tuple[bool, str]:
    dmarc = [t for t in texts if t.replace(" ", "").lower().startswith("v=dmarc1")]
    if len(dmarc) != 1:
        return False, "missing" if not dmarc else "several"
    return True, ""


def sender_domain_check(*, actor: Membership, domain: SenderDomain) -> SenderDomain:
    """Look the three records up and store what was found; the domain is verified (and its
    campaigns signed) while all three are in place."""
    require(actor, VIEW_DELIVERABILITY)
    resolver = _resolver()
    spf_texts, spf_error = _txt(resolver, domain.domain)
    dkim_texts, dkim_error = _txt(resolver, f"{domain.dkim_selector}._domainkey.{domain.domain}")
    dmarc_texts, dmarc_error = _txt(resolver, f"_dmarc.{domain.domain}")
    spf = (False, spf_error) if spf_error else _spf_ok(spf_texts)
    dkim = (False, dkim_error) if dkim_error else _dkim_ok(dkim_texts, domain.dkim_public_key)
    dmarc = (False, dmarc_error) if dmarc_error else _dmarc_ok(dmarc_texts)
    now = timezone.now()
    with transaction.atomic():
        row = SenderDomain.objects.select_for_update().get(pk=domain.pk)
        was_verified = row.verified
        row.spf_ok, row.dkim_ok, row.dmarc_ok = spf[0], dkim[0], dmarc[0]
        row.check_report = {
            "spf": {"problem": spf[1], "found": spf_texts[:5]},
            "dkim": {"problem": dkim[1], "found": [t[:120] for t in dkim_texts[:5]]},
            "dmarc": {"problem": dmarc[1], "found": dmarc_texts[:5]},
        }
        row.checked_at = now
        all_ok = spf[0] and dkim[0] and dmarc[0]
        row.verified_at = (row.verified_at or now) if all_ok else None
        row.save(
            update_fields=[
                "spf_ok",
                "dkim_ok",
                "dmarc_ok",
                "check_report",
                "checked_at",
                "verified_at",
            ]
        )
        if all_ok and not was_verified:
            audit_record(
                tenant=actor.tenant,
                actor=actor.user,
                action=SENDER_DOMAIN_VERIFIED,
                target=row,
                target_repr=row.domain,
            )
    return row


def problem_text(code: str) -> str:
    texts = {
        "missing": _("No record found."),
        "unreachable": _("The DNS servers did not answer; try again later."),
        "several": _("More than one record found; keep one."),
        "not_included": _("The SPF record does not include our sending service."),
        "other_key": _("The record holds another key than this domain's."),
    }
    return texts.get(code, "")


def sending_domain() -> SenderDomain | None:
    """The verified domain campaigns go out from (the first verified), or None."""
    return SenderDomain.objects.filter(verified_at__isnull=False).order_by("verified_at").first()
