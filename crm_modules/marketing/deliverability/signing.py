"""DKIM signing of campaign mail (dkimpy), with the key of the verified sender domain."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dkim
from django.core.mail import EmailMultiAlternatives

from crm_modules.marketing.models_deliverability import SenderDomain

SIGNED_HEADERS = (
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"mime-version",
    b"content-type",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
)


@dataclass(frozen=True)
class Signer:
    domain: str
    selector: str
    private_key: bytes

    @classmethod
    def of(cls, domain: SenderDomain) -> Signer:
        return cls(domain.domain, domain.dkim_selector, domain.dkim_private_key.encode("ascii"))


class SignedEmail(EmailMultiAlternatives):
    """A message whose MIME form carries a DKIM-Signature over its headers and body, computed
    on the exact bytes the SMTP backend sends (relaxed canonicalisation, so the refolding of
    long headers on the way does not break it)."""

    def __init__(self, *args: Any, signer: Signer, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.signer = signer

    def message(self, *args: Any, **kwargs: Any) -> Any:
        msg = super().message(*args, **kwargs)
        raw = msg.as_bytes(linesep="\r\n")  # type: ignore[call-arg]  # SafeMIME's own
        signature = dkim.sign(
            raw,
            self.signer.selector.encode("ascii"),
            self.signer.domain.encode("ascii"),
            self.signer.private_key,
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=list(SIGNED_HEADERS),
        )
        name, _sep, value = signature.decode("ascii").partition(":")
        # One line: Django refuses header values with line breaks; relaxed canonicalisation
        # treats the unfolded value as the folded one.
        msg[name] = " ".join(value.split())
        return msg
