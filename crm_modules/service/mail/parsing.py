"""Read one MIME message into what a ticket needs, with the standard library's parser
(``policy.default``): decoded headers (RFC 2047 encoded words in any charset), the text body,
the HTML body sanitised with nh3, the attachments, and the threading headers.

Pure: no database, no settings; the tests feed it real byte samples.
"""

from __future__ import annotations

import codecs
import hashlib
import re
from dataclasses import dataclass, field
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr

import nh3

# Charsets that mail programs declare under names Python does not know, or declare as a subset
# of what they actually wrote (Outlook labels GBK text gb2312; Thai Windows text is cp874).
CHARSET_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "ks_c_5601-1987": "cp949",
    "windows-874": "cp874",
    "x-mac-cyrillic": "mac_cyrillic",
    "iso-8859-8-i": "iso-8859-8",
    "unicode-1-1-utf-7": "utf-7",
}
MAX_ATTACHMENTS = 50
_MESSAGE_ID = re.compile(r"<[^<>\s]{1,990}>")
# Tags kept from an HTML mail: text structure, links and inline formatting; nh3 drops scripts,
# styles, event handlers and javascript: URLs.
_HTML_TAGS = {
    "a", "b", "blockquote", "br", "code", "div", "em", "h1", "h2", "h3", "h4", "hr", "i", "li",
    "ol", "p", "pre", "span", "strong", "table", "tbody", "td", "th", "thead", "tr", "u", "ul",
}  # fmt: skip


class MalformedEmail(ValueError):
    """The bytes are not a message a ticket can be made from; the text says why."""


@dataclass
class Attachment:
    name: str
    content_type: str
    data: bytes


@dataclass
class ParsedEmail:
    message_id: str
    sender: str  # lower-case address
    sender_name: str
    recipients: list[str]
    subject: str
    text: str
    html: str  # sanitised
    in_reply_to: str
    references: list[str]
    auto_submitted: str
    precedence: str
    return_path: str | None  # None: no Return-Path header at all; "": the null path <>
    is_report: bool  # a delivery status notification (a bounce)
    attachments: list[Attachment] = field(default_factory=list)
    header_names: set[str] = field(default_factory=set)

    @property
    def thread_ids(self) -> list[str]:
        """Every message this one answers, newest first: In-Reply-To, then References from
        the end (the nearest ancestor is the likeliest to be on a ticket)."""
        ids = [self.in_reply_to] if self.in_reply_to else []
        ids += [i for i in reversed(self.references) if i not in ids]
        return ids


def _codec(charset: str) -> str:
    name = CHARSET_ALIASES.get(charset.lower().strip(), charset.lower().strip())
    try:
        return codecs.lookup(name).name
    except LookupError:
        return "utf-8"


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Bytes in a declared charset; an unknown or lying declaration falls back to UTF-8 and
    then to Latin-1 (which decodes anything) rather than losing the message."""
    for name in (_codec(charset or "utf-8"), "utf-8"):
        try:
            return data.decode(name)
        except (UnicodeDecodeError, LookupError):
            continue
    return data.decode("latin-1")


def _part_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    return decode_bytes(payload, part.get_content_charset())


def _header(message: Message, name: str) -> str:
    """A header decoded to text; a header that cannot be decoded becomes empty, not an error."""
    try:
        value = message.get(name)
    except (ValueError, LookupError, IndexError):
        return ""
    return " ".join(str(value).split()) if value is not None else ""


def _ids(value: str) -> list[str]:
    return _MESSAGE_ID.findall(value or "")


def html_to_text(html: str) -> str:
    """A readable text version of an HTML body (for the ticket message and search)."""
    spaced = re.sub(r"(?i)<\s*(br|/p|/div|/li|/tr|/h[1-6])\s*/?>", "\n", html)
    text = nh3.clean(spaced, tags=set(), strip_comments=True)
    text = re.sub(r"&nbsp;", " ", text)
    for entity, char in (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&#39;", "'")):
        text = text.replace(entity, char)
    text = text.replace("&amp;", "&")
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def sanitise_html(html: str) -> str:
    return nh3.clean(
        html,
        tags=_HTML_TAGS,
        attributes={"a": {"href", "title"}, "td": {"colspan", "rowspan"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def _filename(part: Message, index: int) -> str:
    try:
        name = part.get_filename()
    except (ValueError, LookupError, IndexError):
        name = None
    name = " ".join((name or "").split()).replace("/", "_").replace("\\", "_")
    return name[:255] or f"attachment-{index}"


def _walk(message: Message, parsed: ParsedEmail) -> None:
    text_parts: list[str] = []
    html_parts: list[str] = []
    for index, part in enumerate(message.walk(), start=1):
        if part.is_multipart():
            continue
        content_type = part.get_content_type()
        disposition = (part.get_content_disposition() or "").lower()
        if disposition != "attachment" and content_type == "text/plain":
            text_parts.append(_part_text(part))
        elif disposition != "attachment" and content_type == "text/html":
            html_parts.append(_part_text(part))
        elif content_type in ("message/delivery-status", "message/disposition-notification"):
            continue
        else:
            data = part.get_payload(decode=True)
            if isinstance(data, bytes) and data:
                if len(parsed.attachments) >= MAX_ATTACHMENTS:
                    raise MalformedEmail(
                        f"More than {MAX_ATTACHMENTS} attachments; the message was not ticketed."
                    )
                parsed.attachments.append(
                    Attachment(name=_filename(part, index), content_type=content_type, data=data)
                )
    parsed.html = sanitise_html("\n".join(html_parts)) if html_parts else ""
    text = "\n\n".join(t.strip() for t in text_parts if t.strip())
    if not text and html_parts:
        text = html_to_text("\n".join(html_parts))
    parsed.text = text.replace("\r\n", "\n").replace("\x00", "").strip()


def _address(value: str) -> tuple[str, str]:
    name, address = parseaddr(value)
    return " ".join(name.split()), address.strip().lower()


def synthetic_message_id(raw: bytes) -> str:
    """A stable Message-ID for a message that has none: the same bytes received twice are the
    same message."""
    return f"<{hashlib.sha256(raw).hexdigest()}@no-message-id.invalid>"


def read_headers(raw: bytes) -> Message:
    return BytesParser(policy=policy.default).parsebytes(raw, headersonly=True)


def message_id_of(raw: bytes) -> str:
    """The message's own Message-ID (or a synthetic one): what receiving it twice is
    recognised by. Reads only the headers."""
    try:
        ids = _ids(_header(read_headers(raw), "Message-ID"))
    except Exception:
        ids = []
    return ids[0] if ids else synthetic_message_id(raw)


def parse_email(raw: bytes) -> ParsedEmail:
    if not raw.strip():
        raise MalformedEmail("The message is empty.")
    try:
        message = BytesParser(policy=policy.default).parsebytes(raw)
    except Exception as exc:
        raise MalformedEmail(f"The message cannot be read as MIME: {exc}") from exc
    if not isinstance(message, EmailMessage | Message) or not message.keys():
        raise MalformedEmail("The message has no headers.")
    sender_name, sender = _address(_header(message, "From"))
    if not sender or "@" not in sender:
        raise MalformedEmail("The message has no sender address (From).")
    try:
        Address(addr_spec=sender)
    except (ValueError, IndexError) as exc:
        raise MalformedEmail(f"The sender address is not valid: {sender}") from exc
    recipients = [
        address.lower()
        for _, address in getaddresses(
            [_header(message, "To"), _header(message, "Cc"), _header(message, "Delivered-To")]
        )
        if address
    ]
    return_path_header = message.get("Return-Path")
    return_path = None
    if return_path_header is not None:
        return_path = str(return_path_header).strip().strip("<>").strip()
    parsed = ParsedEmail(
        message_id=(_ids(_header(message, "Message-ID")) or [synthetic_message_id(raw)])[0],
        sender=sender,
        sender_name=sender_name,
        recipients=recipients,
        subject=_header(message, "Subject")[:200],
        text="",
        html="",
        in_reply_to=(_ids(_header(message, "In-Reply-To")) or [""])[0],
        references=_ids(_header(message, "References")),
        auto_submitted=_header(message, "Auto-Submitted").split(";")[0].strip().lower(),
        precedence=_header(message, "Precedence").lower(),
        return_path=return_path,
        is_report=message.get_content_type() == "multipart/report",
        header_names={name.lower() for name in message},
    )
    try:
        _walk(message, parsed)
    except MalformedEmail:
        raise
    except Exception as exc:
        raise MalformedEmail(f"The message's body cannot be read: {exc}") from exc
    return parsed
