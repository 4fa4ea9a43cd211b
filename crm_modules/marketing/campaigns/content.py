"""A campaign's message: the block editor's JSON (validated), raw HTML (sanitised with nh3),
personalisation placeholders with fallbacks, and the responsive table-based email built once
per variant as literal pieces and slots, so that each recipient costs a join, not a template
render.

Placeholders have their own tiny grammar — ``{{ first_name }}`` or
``{{ first_name | default:"there" }}`` — and nothing else between ``{{`` and ``}}`` is accepted:
no template language runs on user text, so a campaign cannot read anything but the listed
contact fields. Values are HTML-escaped in the HTML part.
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import nh3
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils.html import escape
from django.utils.translation import gettext as _

from crm_platform.errors import ServiceError

# The contact fields a placeholder may name.
PLACEHOLDER_FIELDS = (
    "first_name",
    "last_name",
    "full_name",
    "email",
    "company",
    "job_title",
    "city",
    "country",
    # The contact's first next best offer (ADR 0042): a product name, or the default.
    "next_best_offer",
)
_PLACEHOLDER = re.compile(
    r'\{\{\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*(?:\|\s*default\s*:\s*"(?P<default>[^"{}\\]*)"\s*)?\}\}'
)
_OPENING = re.compile(r"\{\{|\{%|\}\}|%\}")
MAX_BLOCKS = 100
MAX_TEXT = 5000
MAX_HTML = 200_000
BLOCK_TYPES = ("heading", "text", "image", "button", "divider")
_HREF = re.compile(r'href="([^"]*)"')
_url_valid = URLValidator(schemes=["http", "https"])

EMAIL_TAGS = set(nh3.ALLOWED_TAGS) | {"font"}
_GENERIC = {"style", "align", "width", "height", "bgcolor", "border", "valign", "role", "dir"}
EMAIL_ATTRIBUTES: dict[str, set[str]] = {
    tag: set(nh3.ALLOWED_ATTRIBUTES.get(tag, set())) | _GENERIC for tag in EMAIL_TAGS
}
EMAIL_ATTRIBUTES["a"] |= {"title", "target"}
EMAIL_ATTRIBUTES["table"] |= {"cellpadding", "cellspacing"}
EMAIL_ATTRIBUTES["font"] |= {"color", "face", "size"}


@dataclass(frozen=True)
class Slot:
    """A hole in the built message: a contact field, a tracked link (by index), the pixel."""

    kind: str  # "field", "link", "open"
    name: str = ""
    default: str = ""
    index: int = -1


Part = str | Slot


@dataclass
class Built:
    subject: list[Part]
    preheader: list[Part]
    body: list[Part]  # the inner content (preview shows this)
    text: list[Part]
    links: list[str] = field(default_factory=list)


# --- placeholders -----------------------------------------------------------------------------


def placeholders_check(text: str, *, field: str) -> None:
    """Refuse any ``{{ … }}`` that is not a known field with an optional quoted default,
    naming the placeholder."""
    position = 0
    while True:
        found = _OPENING.search(text, position)
        if found is None:
            return
        match = _PLACEHOLDER.match(text, found.start())
        if found.group() != "{{" or match is None:
            end = text.find("}}", found.start())
            shown = text[found.start() : end + 2] if end != -1 else text[found.start() :][:40]
            raise ServiceError(
                _(
                    "The placeholder %(placeholder)s is not valid: write {{ field }} or "
                    '{{ field | default:"text" }}.'
                )
                % {"placeholder": shown},
                field=field,
            )
        if match.group("name") not in PLACEHOLDER_FIELDS:
            raise ServiceError(
                _("The placeholder %(placeholder)s names an unknown field; use one of: %(fields)s.")
                % {"placeholder": match.group(), "fields": ", ".join(PLACEHOLDER_FIELDS)},
                field=field,
            )
        position = match.end()


def _split(text: str, *, escaped: bool) -> list[Part]:
    """``text`` as literal pieces (escaped for HTML when ``escaped``) and field slots."""
    parts: list[Part] = []
    position = 0
    for match in _PLACEHOLDER.finditer(text):
        literal = text[position : match.start()]
        if literal:
            parts.append(escape(literal) if escaped else literal)
        parts.append(Slot("field", name=match.group("name"), default=match.group("default") or ""))
        position = match.end()
    if text[position:]:
        parts.append(escape(text[position:]) if escaped else text[position:])
    return parts


# --- blocks -----------------------------------------------------------------------------------


def _url(value: Any, *, field: str, required: bool = True) -> str:
    if value in (None, "") and not required:
        return ""
    if not isinstance(value, str) or len(value) > 2000:
        raise ServiceError(_("Give a web address (http or https)."), field=field)
    try:
        _url_valid(value)
    except ValidationError:
        raise ServiceError(
            _("%(value)s is not a web address (http or https).") % {"value": value[:80]},
            field=field,
        ) from None
    return value


def _string(value: Any, *, field: str, max_length: int, required: bool = True) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ServiceError(_("Give text."), field=field)
    if required and not value.strip():
        raise ServiceError(_("This block needs text."), field=field)
    if len(value) > max_length:
        raise ServiceError(_("At most %(max)d characters.") % {"max": max_length}, field=field)
    placeholders_check(value, field=field)
    return value


def check_blocks(raw: Any) -> list[dict[str, Any]]:
    """The block editor's JSON, validated and normalised; errors name ``blocks[i].key``."""
    if not isinstance(raw, list):
        raise ServiceError(_("The blocks must be a list."), field="blocks")
    if not raw:
        raise ServiceError(_("Add at least one block."), field="blocks")
    if len(raw) > MAX_BLOCKS:
        raise ServiceError(_("At most %(max)d blocks.") % {"max": MAX_BLOCKS}, field="blocks")
    blocks: list[dict[str, Any]] = []
    for i, block in enumerate(raw):
        where = f"blocks[{i}]"
        if not isinstance(block, dict) or block.get("type") not in BLOCK_TYPES:
            raise ServiceError(
                _("Each block needs a type: %(types)s.") % {"types": ", ".join(BLOCK_TYPES)},
                field=f"{where}.type",
            )
        kind = block["type"]
        allowed = {
            "heading": {"type", "text"},
            "text": {"type", "text"},
            "image": {"type", "src", "alt", "href"},
            "button": {"type", "text", "href"},
            "divider": {"type"},
        }[kind]
        unknown = sorted(set(block) - allowed)
        if unknown:
            raise ServiceError(
                _("Unknown key %(key)s in a %(type)s block.") % {"key": unknown[0], "type": kind},
                field=f"{where}.{unknown[0]}",
            )
        clean: dict[str, Any] = {"type": kind}
        if kind in ("heading", "button"):
            clean["text"] = _string(block.get("text"), field=f"{where}.text", max_length=200)
        elif kind == "text":
            clean["text"] = _string(block.get("text"), field=f"{where}.text", max_length=MAX_TEXT)
        if kind == "image":
            clean["src"] = _url(block.get("src"), field=f"{where}.src")
            clean["alt"] = _string(
                block.get("alt"), field=f"{where}.alt", max_length=200, required=False
            )
            clean["href"] = _url(block.get("href"), field=f"{where}.href", required=False)
        if kind == "button":
            clean["href"] = _url(block.get("href"), field=f"{where}.href")
        blocks.append(clean)
    return blocks


def sanitise_html(raw: str) -> str:
    """Raw HTML made safe to show in the product and to send: no scripts, handlers, frames or
    forms; links and images only over http(s) (and mailto for links)."""
    return nh3.clean(
        raw,
        tags=EMAIL_TAGS,
        attributes=EMAIL_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )


def check_html(raw: Any) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise ServiceError(_("Write the message's HTML."), field="html")
    if len(raw) > MAX_HTML:
        raise ServiceError(_("At most %(max)d characters.") % {"max": MAX_HTML}, field="html")
    clean = sanitise_html(raw)
    placeholders_check(clean, field="html")
    for href in _HREF.findall(clean):
        if "{{" in href:
            raise ServiceError(_("A link cannot hold a placeholder."), field="html")
    return raw


# --- building ---------------------------------------------------------------------------------

_FONT = "font-family:Arial,Helvetica,sans-serif;color:#1f2933;"


def _link(links: list[str], url: str) -> Slot:
    if url not in links:
        links.append(url)
    return Slot("link", index=links.index(url))


def _blocks_body(blocks: list[dict[str, Any]], links: list[str]) -> tuple[list[Part], list[Part]]:
    body: list[Part] = []
    text: list[Part] = []
    for block in blocks:
        kind = block["type"]
        body.append('<tr><td style="padding:8px 24px;' + _FONT + '">')
        if kind == "heading":
            body.append('<h2 style="margin:0;font-size:22px;line-height:1.3;">')
            body += _split(block["text"], escaped=True)
            body.append("</h2>")
            text += [*_split(block["text"], escaped=False), "\n\n"]
        elif kind == "text":
            for n, paragraph in enumerate(block["text"].split("\n\n")):
                body.append('<p style="margin:0 0 12px;font-size:16px;line-height:1.5;">')
                for m, line in enumerate(paragraph.split("\n")):
                    if m:
                        body.append("<br>")
                    body += _split(line, escaped=True)
                body.append("</p>")
                if n:
                    text.append("\n\n")
                text += _split(paragraph, escaped=False)
            text.append("\n\n")
        elif kind == "image":
            img = [
                '<img src="',
                escape(block["src"]),
                '" alt="',
                *_split(block["alt"], escaped=True),
                '" width="552" style="display:block;width:100%;max-width:552px;height:auto;'
                'border:0;">',
            ]
            if block["href"]:
                body += ['<a href="', _link(links, block["href"]), '">', *img, "</a>"]
            else:
                body += img
            if block["alt"]:
                text += [*_split(block["alt"], escaped=False), "\n\n"]
        elif kind == "button":
            slot = _link(links, block["href"])
            body += [
                '<table role="presentation" cellpadding="0" cellspacing="0" border="0"><tr>'
                '<td bgcolor="#1d4ed8" style="border-radius:6px;">'
                '<a href="',
                slot,
                '" style="display:inline-block;padding:12px 24px;font-size:16px;color:#ffffff;'
                'text-decoration:none;font-weight:bold;">',
                *_split(block["text"], escaped=True),
                "</a></td></tr></table>",
            ]
            text += [*_split(block["text"], escaped=False), ": ", slot, "\n\n"]
        else:
            body.append('<hr style="border:0;border-top:1px solid #d5dbe1;margin:8px 0;">')
            text.append("----\n\n")
        body.append("</td></tr>")
    return body, text


def _html_body(raw: str, links: list[str]) -> tuple[list[Part], list[Part]]:
    clean = sanitise_html(raw)
    body: list[Part] = ['<tr><td style="padding:8px 24px;' + _FONT + '">']
    position = 0
    for match in _HREF.finditer(clean):
        body += _split_html(clean[position : match.start()])
        url = html_lib.unescape(match.group(1))
        if url.startswith(("http://", "https://")):
            body += ['href="', _link(links, url), '"']
        else:
            body.append(match.group())
        position = match.end()
    body += _split_html(clean[position:])
    body.append("</td></tr>")
    plain = html_lib.unescape(nh3.clean(clean, tags=set()))
    return body, _split(plain, escaped=False)


def _split_html(sanitised: str) -> list[Part]:
    """Sanitised HTML is already markup: only the placeholders become slots (nh3 escapes the
    text, so a placeholder's quotes may appear as entities)."""
    parts: list[Part] = []
    position = 0
    for match in _PLACEHOLDER.finditer(sanitised):
        if sanitised[position : match.start()]:
            parts.append(sanitised[position : match.start()])
        parts.append(Slot("field", name=match.group("name"), default=match.group("default") or ""))
        position = match.end()
    if sanitised[position:]:
        parts.append(sanitised[position:])
    return parts


def build(*, subject: str, preheader: str, mode: str, blocks: Any, html: str) -> Built:
    links: list[str] = []
    if mode == "html":
        body, text = _html_body(html, links)
    else:
        body, text = _blocks_body(blocks, links)
    return Built(
        subject=_split(subject, escaped=False),
        preheader=_split(preheader, escaped=False),
        body=body,
        text=text,
        links=links,
    )


_HEAD = (
    '<!DOCTYPE html><html><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width,initial-scale=1">'
    "<title></title></head>"
    '<body style="margin:0;padding:0;background:#f3f5f7;">'
)


@dataclass(frozen=True)
class Rendered:
    subject: str
    preheader: str
    body: str
    html: str
    text: str


def _fill(
    parts: list[Part],
    values: Mapping[str, str],
    *,
    escaped: bool,
    link_url: Callable[[int], str],
) -> str:
    out: list[str] = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
        elif part.kind == "field":
            value = values.get(part.name, "") or part.default
            out.append(escape(value) if escaped else value)
        elif part.kind == "link":
            url = link_url(part.index)
            out.append(escape(url) if escaped else url)
    return "".join(out)


def render(
    built: Built,
    values: Mapping[str, str],
    *,
    link_url: Callable[[int], str],
    open_url: str = "",
) -> Rendered:
    """The message for one recipient. ``link_url(i)`` gives the address of link ``i`` (the
    tracked redirect when sending, the link itself in a preview)."""
    subject = " ".join(_fill(built.subject, values, escaped=False, link_url=link_url).split())
    preheader = _fill(built.preheader, values, escaped=False, link_url=link_url)
    body = (
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0">'
        + _fill(built.body, values, escaped=True, link_url=link_url)
        + "</table>"
    )
    pixel = (
        f'<img src="{escape(open_url)}" width="1" height="1" alt=""'
        ' style="display:block;border:0;">'
        if open_url
        else ""
    )
    hidden = (
        '<div style="display:none;max-height:0;overflow:hidden;mso-hide:all;">'
        + escape(preheader)
        + "</div>"
        if preheader
        else ""
    )
    document = (
        _HEAD
        + hidden
        + '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0"'
        ' bgcolor="#f3f5f7"><tr><td align="center" style="padding:16px 8px;">'
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0"'
        ' bgcolor="#ffffff" style="max-width:600px;width:100%;border-radius:8px;">'
        + _fill(built.body, values, escaped=True, link_url=link_url)
        + "</table>"
        + pixel
        + "</td></tr></table></body></html>"
    )
    text = _fill(built.text, values, escaped=False, link_url=link_url).strip() + "\n"
    return Rendered(subject=subject, preheader=preheader, body=body, html=document, text=text)


def fill_text(text: str, values: Mapping[str, str]) -> str:
    """Plain text with its (checked) placeholders replaced, each by its value or default."""
    return _PLACEHOLDER.sub(
        lambda match: values.get(match.group("name"), "") or (match.group("default") or ""), text
    )


def contact_values(contact: Any, *, offer: str = "") -> dict[str, str]:
    """The placeholder values of a contact (a ``sales.Contact`` or a row with the same
    attribute names); ``offer`` is its next best offer's product name, when known."""
    first = contact.first_name or ""
    last = contact.last_name or ""
    company = getattr(contact, "company_name", None)
    if company is None:
        company_obj = getattr(contact, "company", None)
        company = company_obj.name if company_obj is not None else ""
    return {
        "first_name": first,
        "last_name": last,
        "full_name": f"{first} {last}".strip(),
        "email": contact.primary_email or "",
        "company": company or "",
        "job_title": getattr(contact, "job_title", "") or "",
        "city": getattr(contact, "city", "") or "",
        "country": str(getattr(contact, "country", "") or ""),
        "next_best_offer": offer,
    }
