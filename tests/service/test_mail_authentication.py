"""Reading Authentication-Results (RFC 8601) and SES's verdicts into a verdict on the From
domain (ADR 0068), on headers as Gmail, Microsoft 365 and Amazon SES write them. Pure: no
database."""

from __future__ import annotations

from email import message_from_bytes, policy

import pytest

from crm_modules.service.mail.authentication import (
    Check,
    parse_authentication_results,
    sender_verdict,
    ses_checks,
    trusted_results,
)

GMAIL_PASS = (
    "mx.google.com;\r\n"
    "       dkim=pass header.i=@example.it header.s=20230601 header.b=Ab1Cd2Ef;\r\n"
    "       spf=pass (google.com: domain of maria@example.it designates 209.85.220.41 as"
    " permitted sender) smtp.mailfrom=maria@example.it;\r\n"
    "       dmarc=pass (p=NONE sp=NONE dis=NONE) header.from=example.it"
)
GMAIL_SPOOF = (
    "mx.google.com;\r\n"
    "       spf=softfail (google.com: domain of transitioning ceo@bank.example does not"
    " designate 198.51.100.7 as permitted sender) smtp.mailfrom=ceo@bank.example;\r\n"
    "       dmarc=fail (p=REJECT sp=REJECT dis=QUARANTINE) header.from=bank.example"
)
OUTLOOK_SPOOF = (
    "spf=fail (sender IP is 198.51.100.7)\r\n smtp.mailfrom=contoso.com; dkim=none (message"
    " not signed)\r\n header.d=none;dmarc=fail action=oreject\r\n header.from=contoso.com;"
    "compauth=fail\r\n reason=000"
)
SES_PASS = (
    "amazonses.com;\r\n spf=pass (spfCheck: domain of example.it designates 203.0.113.5 as"
    " permitted sender) client-ip=203.0.113.5; envelope-from=maria@example.it;"
    " helo=mail.example.it;\r\n dkim=pass header.i=@example.it;\r\n"
    " dmarc=pass header.from=example.it;"
)


def test_gmails_header_reads_into_its_checks() -> None:
    results = parse_authentication_results(GMAIL_PASS)
    assert results.authserv_id == "mx.google.com"
    assert [(c.method, c.result, c.domain) for c in results.checks] == [
        ("dkim", "pass", "example.it"),
        ("spf", "pass", "example.it"),
        ("dmarc", "pass", "example.it"),
    ]
    assert results.checks[0].properties["header.s"] == "20230601"
    assert sender_verdict(results.checks, "example.it") == "pass"


def test_a_spoof_gmail_caught_fails_by_dmarc() -> None:
    results = parse_authentication_results(GMAIL_SPOOF)
    assert [(c.method, c.result) for c in results.checks] == [
        ("spf", "softfail"),
        ("dmarc", "fail"),
    ]
    assert sender_verdict(results.checks, "bank.example") == "fail"


def test_microsoft_365s_header_names_no_authserv_id() -> None:
    results = parse_authentication_results(OUTLOOK_SPOOF)
    assert results.authserv_id == ""
    assert [(c.method, c.result) for c in results.checks] == [
        ("spf", "fail"),
        ("dkim", "none"),
        ("dmarc", "fail"),
        ("compauth", "fail"),
    ]
    assert results.checks[2].properties == {"action": "oreject", "header.from": "contoso.com"}
    assert sender_verdict(results.checks, "contoso.com") == "fail"


def test_ses_header_with_its_extra_parts() -> None:
    results = parse_authentication_results(SES_PASS)
    assert results.authserv_id == "amazonses.com"
    assert [(c.method, c.result) for c in results.checks if c.method in ("spf", "dkim")] == [
        ("spf", "pass"),
        ("dkim", "pass"),
    ]
    assert sender_verdict(results.checks, "example.it") == "pass"


def _message(*headers: str) -> bytes:
    lines = [f"Authentication-Results: {value}" for value in headers]
    return ("\r\n".join([*lines, "From: ceo@bank.example", "Subject: x", "", "body", ""])).encode()


def test_only_a_header_of_our_own_receiving_host_is_trusted() -> None:
    # The sender wrote a "pass" header of its own below ours (added earlier on the way).
    forged = "mx.rapport.test; dmarc=pass header.from=bank.example"
    ours = GMAIL_SPOOF.replace("mx.google.com", "mx.rapport.test")
    message = message_from_bytes(_message(ours, forged), policy=policy.default)
    results = trusted_results(message, ["MX.Rapport.test"])
    assert results is not None
    assert sender_verdict(results.checks, "bank.example") == "fail"
    # Without a trusted id nothing is read; a header of another host neither.
    assert trusted_results(message, []) is None
    assert trusted_results(message, ["mx.other.test"]) is None
    # A header with no authserv-id (as Microsoft 365 writes it) is never trusted.
    message = message_from_bytes(_message(OUTLOOK_SPOOF), policy=policy.default)
    assert trusted_results(message, ["mx.rapport.test", ""]) is None


def test_comments_and_quoted_values_do_not_split_results() -> None:
    results = parse_authentication_results(
        'mx.rapport.test 1; spf=pass (a; comment (nested; too)) smtp.mailfrom="a;b@x.example";'
        ' dkim=fail reason="bad signature" header.d=x.example'
    )
    assert results.authserv_id == "mx.rapport.test"
    assert [(c.method, c.result, c.domain) for c in results.checks] == [
        ("spf", "pass", "x.example"),
        ("dkim", "fail", "x.example"),
    ]
    assert parse_authentication_results("mx.rapport.test; none").checks == ()


@pytest.mark.parametrize(
    ("checks", "verdict"),
    [
        # Without DMARC: SPF and DKIM both failing fail; unsigned mail counts as failing DKIM.
        ([("spf", "fail", "bank.example"), ("dkim", "fail", "bank.example")], "fail"),
        ([("spf", "softfail", "bank.example")], "fail"),
        # SPF passing for another domain (the spoofer's own) does not vouch for the From.
        ([("spf", "pass", "spoofer.example"), ("dkim", "none", "")], "fail"),
        # A DKIM signature of another domain neither.
        ([("spf", "fail", "bank.example"), ("dkim", "pass", "spoofer.example")], "fail"),
        # One of them passing for the From domain (or a subdomain) is enough.
        ([("spf", "fail", "bank.example"), ("dkim", "pass", "mail.bank.example")], "pass"),
        # Nothing failed: handled as before.
        ([("spf", "none", "bank.example"), ("dkim", "none", "")], "none"),
        ([("spf", "fail", "bank.example"), ("dkim", "temperror", "bank.example")], "none"),
        ([], "none"),
        # DMARC decides when present; a DMARC result for another domain is not the From's.
        ([("dmarc", "fail", "bank.example"), ("dkim", "pass", "bank.example")], "fail"),
        ([("dmarc", "pass", "bank.example"), ("spf", "fail", "bank.example")], "pass"),
        ([("dmarc", "fail", "other.example"), ("spf", "pass", "bank.example")], "pass"),
        ([("dmarc", "none", "bank.example"), ("spf", "fail", "bank.example")], "fail"),
    ],
)
def test_the_verdict(checks: list[tuple[str, str, str]], verdict: str) -> None:
    made = [
        Check(method=m, result=r, properties={"header.d": d} if d else {}) for m, r, d in checks
    ]
    assert sender_verdict(made, "bank.example") == verdict


def test_ses_verdicts() -> None:
    receipt = {
        "spamVerdict": {"status": "PASS"},
        "spfVerdict": {"status": "FAIL"},
        "dkimVerdict": {"status": "GRAY"},
        "dmarcVerdict": {"status": "FAIL"},
        "dmarcPolicy": "reject",
    }
    checks = ses_checks(receipt)
    assert [(c.method, c.result) for c in checks] == [
        ("dmarc", "fail"),
        ("spf", "fail"),
        ("dkim", "none"),
    ]
    assert sender_verdict(checks, "bank.example") == "fail"
    receipt["dmarcVerdict"] = {"status": "GRAY"}
    assert sender_verdict(ses_checks(receipt), "bank.example") == "fail"
    receipt["dkimVerdict"] = {"status": "PASS"}
    assert sender_verdict(ses_checks(receipt), "bank.example") == "pass"
    receipt["dkimVerdict"] = {"status": "PROCESSING_FAILED"}
    assert sender_verdict(ses_checks(receipt), "bank.example") == "none"
    assert ses_checks(None) == ()
    assert ses_checks({"spfVerdict": "FAIL"}) == ()
