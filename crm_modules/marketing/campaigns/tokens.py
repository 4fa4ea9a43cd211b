"""Signed tracking tokens. A token names a recipient row (and for a click, the index of a link
in that recipient's variant), signed with a salt that carries the workspace's schema: a token
cannot be forged, altered to another recipient or link, or replayed on another workspace's
host. A click token never carries a URL, so the redirect can only go to a link of the campaign.
"""

from __future__ import annotations

from django.core import signing

SEPARATOR = ":"


def _signer(schema_name: str, kind: str) -> signing.Signer:
    return signing.Signer(salt=f"marketing.track.{kind}.{schema_name}", sep=SEPARATOR)


def open_token(schema_name: str, recipient_id: int) -> str:
    return _signer(schema_name, "open").sign(str(recipient_id))


def click_token(schema_name: str, recipient_id: int, link: int) -> str:
    return _signer(schema_name, "click").sign(f"{recipient_id}.{link}")


def open_read(schema_name: str, token: str) -> int | None:
    try:
        value = _signer(schema_name, "open").unsign(token)
    except signing.BadSignature:
        return None
    return int(value) if value.isdigit() else None


def click_read(schema_name: str, token: str) -> tuple[int, int] | None:
    try:
        value = _signer(schema_name, "click").unsign(token)
    except signing.BadSignature:
        return None
    recipient, _dot, link = value.partition(".")
    if not (recipient.isdigit() and link.isdigit()):
        return None
    return int(recipient), int(link)
