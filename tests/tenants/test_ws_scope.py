"""Parsing of the WebSocket handshake headers: hostile input yields no session, never an
error."""

from typing import Any

import pytest

from tenants.ws import _cookie, _host, _same_origin


def scope(**headers: str) -> dict[str, Any]:
    return {"headers": [(k.encode(), v.encode("latin-1")) for k, v in headers.items()]}


@pytest.mark.parametrize(
    ("header", "value"),
    [
        # Kept verbatim: such a key matches no session row, so the socket is refused.
        ('rapport_session="unterminated', '"unterminated'),
        ("\x00\x01;;;==", ""),
        ("a" * 10_000, ""),
        ("", ""),
    ],
)
def test_malformed_cookie_headers_give_no_usable_session(header, value):
    assert _cookie(scope(cookie=header), "rapport_session") == value


def test_cookie_is_read_by_name():
    assert _cookie(scope(cookie="x=1; rapport_session=abc; y=2"), "rapport_session") == "abc"


@pytest.mark.parametrize(
    ("origin", "same"),
    [
        ("http://alpha.localhost", True),
        ("HTTP://ALPHA.localhost", True),
        ("http://alpha.localhost:8000", False),
        ("https://alpha.localhost", False),
        ("http://alpha.localhost/", False),
        ("null", False),
        ("", False),
        ("http://alpha.localhost.evil.example", False),
        ("http://[::1", False),
    ],
)
def test_origin_must_be_our_exact_origin_on_the_host(origin, same):
    assert _same_origin(scope(origin=origin), "alpha.localhost") is same


def test_origin_includes_the_served_port(settings):
    settings.SITE_PORT = "8123"
    assert _same_origin(scope(origin="http://alpha.localhost:8123"), "alpha.localhost")
    assert not _same_origin(scope(origin="http://alpha.localhost"), "alpha.localhost")


def test_host_drops_the_port():
    assert _host(scope(host="Alpha.localhost:8000")) == "alpha.localhost"


@pytest.mark.parametrize("host", ["alpha\x00.localhost", "evil.example", "alpha.localhost'--"])
def test_sockets_for_hosts_we_do_not_serve_are_refused_before_any_query(host):
    from asgiref.sync import async_to_sync
    from channels.testing import WebsocketCommunicator

    from crm_platform.asgi import application

    async def handshake() -> tuple[bool, int | None]:
        communicator = WebsocketCommunicator(
            application,
            "/ws/notifications/",
            headers=[(b"host", host.encode("latin-1")), (b"origin", f"http://{host}".encode())],
        )
        connected, code = await communicator.connect()
        await communicator.disconnect()
        return connected, code

    # No database fixture: a query would fail this test.
    assert async_to_sync(handshake)() == (False, 4403)
