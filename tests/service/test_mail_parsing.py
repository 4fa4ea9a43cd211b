"""Reading inbound mail: real byte samples in the charsets customers write (windows-1251,
KOI8-R, GB18030, TIS-620, RFC 2047 encoded words), sanitised HTML, attachments, threading
headers, malformed messages and the loop rules (RFC 3834). Pure: no database."""

from __future__ import annotations

from pathlib import Path

import pytest

from crm_modules.service.mail.loops import automatic_reason
from crm_modules.service.mail.parsing import (
    MalformedEmail,
    message_id_of,
    parse_email,
    synthetic_message_id,
)

SAMPLES = Path(__file__).parent / "mail_samples"


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def test_windows_1251_body_and_encoded_word_headers() -> None:
    parsed = parse_email(sample("windows1251.eml"))

    assert parsed.subject == "Заказ №42 не пришёл"
    assert parsed.sender == "ivan@example.ru"
    assert parsed.sender_name == "Иван Петров"
    assert parsed.text == "Заказ не пришёл, помогите."
    assert parsed.message_id == "<cp1251-1@mail.example.ru>"
    assert parsed.recipients == ["support@alpha.in.localhost"]


def test_koi8_r_base64_body() -> None:
    parsed = parse_email(sample("koi8r.eml"))

    assert parsed.subject == "Привет, мир"
    assert parsed.sender_name == "Привет, мир"
    assert parsed.text == "Добрый день! Где мой заказ?"


def test_gb18030_quoted_printable_and_gb2312_labelled_header() -> None:
    parsed = parse_email(sample("gb18030.eml"))

    assert parsed.subject == "订单问题"
    assert parsed.text == "您好，我的订单没有到。"
    # The HTML alternative is kept sanitised: the script is gone, the paragraph stays.
    assert parsed.html == "<p>您好，我的订单没有到。</p>"


def test_tis_620_thai_body_and_header() -> None:
    parsed = parse_email(sample("tis620.eml"))

    assert parsed.subject == "คำสั่งซื้อ"
    assert parsed.text == "สวัสดีครับ สินค้ายังไม่มาถึง"
    assert parsed.sender == "somchai@example.co.th"
    assert parsed.sender_name == ""


def test_gbk_declared_as_gb2312_decodes_as_gb18030() -> None:
    # Outlook labels GBK text gb2312; 镕 is in GBK, not in GB2312.
    body = "朱镕基".encode("gbk")
    raw = (
        b"From: a@example.cn\r\nSubject: x\r\nContent-Type: text/plain; charset=gb2312\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\n" + body
    )

    assert parse_email(raw).text == "朱镕基"


def test_unknown_charset_falls_back_without_losing_the_message() -> None:
    raw = (
        b"From: a@example.com\r\nSubject: x\r\nContent-Type: text/plain; charset=x-unknown-9\r\n"
        b"\r\nPlain words\r\n"
    )

    assert parse_email(raw).text == "Plain words"


def test_html_only_mail_is_sanitised_and_given_a_text_version() -> None:
    raw = (
        b"From: Eve <eve@example.com>\r\nSubject: Hi\r\nContent-Type: text/html; charset=utf-8\r\n"
        b'\r\n<div onclick="steal()">Hello<br>world <a href="javascript:alert(1)">x</a>'
        b"<script>document.cookie</script><img src=x onerror=alert(1)></div>"
    )

    parsed = parse_email(raw)

    assert "script" not in parsed.html
    assert "onclick" not in parsed.html
    assert "javascript" not in parsed.html
    assert "onerror" not in parsed.html
    assert parsed.text == "Hello\nworld x"


def test_attachments_with_encoded_file_names() -> None:
    raw = (
        b"From: a@example.com\r\nSubject: files\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="zz"\r\n\r\n'
        b"--zz\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee attached\r\n"
        b"--zz\r\nContent-Type: application/pdf\r\n"
        b"Content-Disposition: attachment; filename*=utf-8''%D1%81%D1%87%D1%91%D1%82.pdf\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJcOkw7w=\r\n"
        b'--zz\r\nContent-Type: text/plain; name="../../etc/passwd"\r\n'
        b'Content-Disposition: attachment; filename="../../etc/passwd"\r\n\r\nroot\r\n'
        b"--zz--\r\n"
    )

    parsed = parse_email(raw)

    assert parsed.text == "See attached"
    assert [(a.name, a.content_type) for a in parsed.attachments] == [
        ("счёт.pdf", "application/pdf"),
        (".._.._etc_passwd", "text/plain"),
    ]
    assert parsed.attachments[0].data == b"%PDF-1.4\n%\xc3\xa4\xc3\xbc"


def test_threading_headers_nearest_ancestor_first() -> None:
    raw = (
        b"From: a@example.com\r\nSubject: Re: x\r\nMessage-ID: <3@x>\r\n"
        b"In-Reply-To: <2@x>\r\nReferences: <1@x> <2@x>\r\n\r\nok"
    )

    parsed = parse_email(raw)

    assert parsed.in_reply_to == "<2@x>"
    assert parsed.references == ["<1@x>", "<2@x>"]
    assert parsed.thread_ids == ["<2@x>", "<1@x>"]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "The message is empty."),
        (b"\r\n\r\nno headers at all", "The message has no headers."),
        (b"Subject: lost\r\n\r\nwho sent this?", "The message has no sender address (From)."),
        (b"From: not an address\r\nSubject: x\r\n\r\nbody", "no sender address"),
    ],
)
def test_malformed_messages_are_refused_with_a_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(MalformedEmail) as caught:
        parse_email(raw)

    assert reason in str(caught.value)


def test_message_id_is_synthesised_from_the_bytes_when_missing() -> None:
    raw = b"From: a@example.com\r\nSubject: x\r\n\r\nbody"

    assert message_id_of(raw) == synthetic_message_id(raw)
    assert message_id_of(raw) == message_id_of(raw)
    assert message_id_of(raw + b"!") != message_id_of(raw)
    assert message_id_of(sample("koi8r.eml")) == "<koi8-1@mail.example.ru>"


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        (b"Auto-Submitted: auto-replied\r\n", "Auto-Submitted: auto-replied"),
        (b"Auto-Submitted: auto-generated; owner-email=x@y\r\n", "Auto-Submitted: auto-generated"),
        (b"Precedence: bulk\r\n", "Precedence: bulk"),
        (b"Precedence: list\r\n", "Precedence: list"),
        (b"Precedence: junk\r\n", "Precedence: junk"),
        (b"Return-Path: <>\r\n", "empty return path"),
        (b"X-Autoreply: yes\r\n", "header x-autoreply"),
        (b"List-Id: <news.example.com>\r\n", "header list-id"),
    ],
)
def test_automatic_mail_is_recognised(headers: bytes, reason: str) -> None:
    raw = headers + b"From: a@example.com\r\nSubject: Out of office\r\n\r\nAway"

    assert automatic_reason(parse_email(raw)) == reason


def test_mail_written_by_a_person_is_not_automatic() -> None:
    raw = (
        b"Return-Path: <a@example.com>\r\nAuto-Submitted: no\r\nPrecedence: normal\r\n"
        b"From: a@example.com\r\nSubject: Help\r\n\r\nPlease"
    )

    assert automatic_reason(parse_email(raw)) == ""


def test_bounce_from_the_mailer_daemon_is_automatic() -> None:
    raw = (
        b"From: MAILER-DAEMON@mx.example.com\r\nSubject: Undelivered\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="r"\r\n\r\n'
        b"--r\r\nContent-Type: text/plain\r\n\r\nFailed\r\n"
        b"--r\r\nContent-Type: message/delivery-status\r\n\r\nStatus: 5.1.1\r\n--r--\r\n"
    )

    assert automatic_reason(parse_email(raw)) == "delivery report"
