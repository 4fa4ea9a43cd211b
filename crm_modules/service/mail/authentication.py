"""Whether a received message's From domain was authenticated (ADR 0068), from what the
receiving side checked: the ``Authentication-Results`` header (RFC 8601) added by one of our
own receiving hosts — only a header whose authserv-id is in ``INBOUND_AUTHSERV_IDS`` counts,
since anyone can write such a header into a message before sending it — or, on the Amazon SES
path, the notification's ``spfVerdict``, ``dkimVerdict`` and ``dmarcVerdict``.

The verdict: **fail** when DMARC fails for the From domain, or, without a DMARC result, when
SPF fails (or passes for a domain that is not the From domain's) and no DKIM signature of the
From domain passes; **pass** when DMARC, or SPF or DKIM for the From domain, passes; **none**
otherwise (nothing checked, no policy published, a temporary error) — mail is then handled as
before. A domain is the From domain's when equal to it or one is a subdomain of the other (a
relaxed alignment without the public-suffix list).

Pure: no database, no settings; the tests feed it real headers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

PASS, FAIL, NONE = "pass", "fail", "none"
METHODS = ("dmarc", "spf", "dkim")
# Results of SPF that mean the sending host was not allowed for the domain (RFC 8601 2.7.2).
SPF_FAILED = {"fail", "softfail"}
# SES verdicts (``receipt.*Verdict.status``) as RFC 8601 results: GRAY is "no policy" for SPF
# and DMARC and "not signed" for DKIM.
SES_RESULTS = {"PASS": "pass", "FAIL": "fail", "GRAY": "none", "PROCESSING_FAILED": "temperror"}
_TOKEN = re.compile(r"([A-Za-z0-9_.-]+(?:/[0-9]+)?)\s*=\s*(\"(?:[^\"\\]|\\.)*\"|[^\s;]*)")


@dataclass(frozen=True)
class Check:
    """One method's result: ``method`` (dmarc, spf, dkim…), ``result`` lower-case, and the
    properties given with it (``header.from``, ``smtp.mailfrom``, ``header.d``…)."""

    method: str
    result: str
    properties: Mapping[str, str] = field(default_factory=dict)

    @property
    def domain(self) -> str:
        """The domain the result is for, '' when the header does not say."""
        for name in ("header.from", "header.d", "header.i", "smtp.mailfrom", "smtp.helo"):
            value = self.properties.get(name, "")
            if value:
                return value.rsplit("@", 1)[-1].strip().strip(".").casefold()
        return ""


@dataclass(frozen=True)
class AuthenticationResults:
    authserv_id: str  # '' when the header names none (Microsoft 365 writes it so)
    checks: tuple[Check, ...]


def _without_comments(value: str) -> str:
    """The header without its (possibly nested) comments; quoted strings kept whole."""
    out: list[str] = []
    depth, quoted, escaped = 0, False, False
    for char in value:
        if escaped:
            escaped = False
            if depth == 0:
                out.append(char)
            continue
        if char == "\\":
            escaped = True
            if depth == 0:
                out.append(char)
            continue
        if quoted:
            quoted = char != '"'
            out.append(char)
        elif char == '"' and depth == 0:
            quoted = True
            out.append(char)
        elif char == "(":
            depth += 1
        elif char == ")" and depth:
            depth -= 1
            out.append(" ")
        elif depth == 0:
            out.append(char)
    return "".join(out)


def _split(value: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in value:
        if char == '"':
            quoted = not quoted
        if char == ";" and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [" ".join(part.split()) for part in parts]


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def parse_authentication_results(value: str) -> AuthenticationResults:
    """One ``Authentication-Results`` header's value: the authserv-id and each method's
    result with its properties. A part that is not ``method=result`` is skipped (``none``,
    or a vendor's extra ``client-ip=…`` parts are kept as methods of their own)."""
    parts = _split(_without_comments(value))
    first = parts[0].strip() if parts else ""
    authserv_id = ""
    if first and not _TOKEN.match(first):
        authserv_id = first.split()[0].casefold()
        parts = parts[1:]
    checks: list[Check] = []
    for part in parts:
        pairs = _TOKEN.findall(part)
        if not pairs:
            continue
        (method, result), *rest = pairs
        properties = {
            name.casefold(): _unquote(raw) for name, raw in rest if name.casefold() != "reason"
        }
        checks.append(
            Check(
                method=method.split("/", 1)[0].casefold(),
                result=_unquote(result).casefold(),
                properties=properties,
            )
        )
    return AuthenticationResults(authserv_id=authserv_id, checks=tuple(checks))


def trusted_results(message: Message, authserv_ids: Iterable[str]) -> AuthenticationResults | None:
    """The topmost ``Authentication-Results`` header written by one of our receiving hosts
    (the nearest to us: each host adds its own above the ones already there), else None."""
    trusted = {str(name).strip().casefold() for name in authserv_ids if str(name).strip()}
    if not trusted:
        return None
    for value in message.get_all("Authentication-Results") or []:
        results = parse_authentication_results(str(value))
        if results.authserv_id and results.authserv_id in trusted:
            return results
    return None


def ses_checks(receipt: Any) -> tuple[Check, ...]:
    """The checks of an SES notification's ``receipt`` (empty when it carries none)."""
    if not isinstance(receipt, Mapping):
        return ()
    checks = []
    for method in METHODS:
        verdict = receipt.get(f"{method}Verdict")
        status = verdict.get("status") if isinstance(verdict, Mapping) else None
        if isinstance(status, str) and status.upper() in SES_RESULTS:
            checks.append(Check(method=method, result=SES_RESULTS[status.upper()]))
    return tuple(checks)


def aligned(domain: str, from_domain: str) -> bool:
    """Relaxed alignment, approximated: the same domain, or one a subdomain of the other."""
    a, b = domain.casefold().strip("."), from_domain.casefold().strip(".")
    if not a or not b:
        return False
    return a == b or a.endswith("." + b) or b.endswith("." + a)


def sender_verdict(checks: Sequence[Check], from_domain: str) -> str:
    """``pass``, ``fail`` or ``none`` for the From domain (see the module's docstring)."""

    def applies(check: Check) -> bool:
        # A result that names no domain (SES's verdicts) is for the message's From domain.
        return not check.domain or aligned(check.domain, from_domain)

    dmarc = [c for c in checks if c.method == "dmarc" and applies(c)]
    if any(c.result == "fail" for c in dmarc):
        return FAIL
    if any(c.result == "pass" for c in dmarc):
        return PASS
    spf = [c for c in checks if c.method == "spf"]
    dkim = [c for c in checks if c.method == "dkim"]
    if any(c.result == "pass" and applies(c) for c in (*spf, *dkim)):
        return PASS
    spf_failed = any(c.result in SPF_FAILED or (c.result == "pass" and not applies(c)) for c in spf)
    # Unsigned mail (dkim=none, or no DKIM result) fails DKIM too; a temporary error does not.
    dkim_failed = not any(c.result == "temperror" for c in dkim)
    return FAIL if spf_failed and dkim_failed else NONE


def failed_summary(checks: Sequence[Check]) -> str:
    """``dmarc=fail spf=softfail dkim=none`` for the admins' reason and the ticket."""
    seen: dict[str, str] = {}
    for check in checks:
        if check.method in METHODS and check.method not in seen:
            seen[check.method] = check.result
    return " ".join(f"{m}={seen.get(m, 'none')}" for m in METHODS)
