"""What a file really is, told from its first bytes (puremagic's signatures), never from the
name or the type the browser declared."""

from __future__ import annotations

import puremagic

# Enough for every signature we act on (PDF, PNG, JPEG, GIF, WebP, HTML, SVG, XML, executables).
SNIFF_BYTES = 4096


def sniffed_types(head: bytes) -> list[str]:
    """The types the bytes match, most likely first; empty when nothing is recognised (plain
    text, for one)."""
    if not head:
        return []
    try:
        matches = puremagic.magic_string(head)
    except (puremagic.PureError, ValueError):
        return []
    found: list[str] = []
    for match in matches:
        # "Some bytes" names nothing; matching it would confirm a declared octet-stream.
        if match.mime_type == "application/octet-stream":
            continue
        if match.mime_type and match.mime_type not in found:
            found.append(match.mime_type)
    return found


def sniffed_type(*, declared: str, head: bytes) -> str:
    """The declared type when the bytes agree with it, else the type they look like most
    ("" when unknown)."""
    found = sniffed_types(head)
    if declared in found:
        return declared
    return found[0] if found else ""
