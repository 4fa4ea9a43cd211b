"""A tiny authoritative DNS server on 127.0.0.1 (UDP) built from dnspython's own message
parsing: it answers TXT questions from a dict and NXDOMAIN for anything else, so the sender
domain check runs its real resolver code without the internet."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset


@dataclass
class DnsStub:
    port: int
    # Name (no trailing dot, lower case) → TXT strings (each one record).
    txt: dict[str, list[str]] = field(default_factory=dict)
    questions: list[str] = field(default_factory=list)


def _chunks(text: str) -> str:
    """A TXT record value in 255-byte quoted strings, as DNS stores long DKIM keys."""
    raw = text.encode()
    return " ".join(f'"{raw[i : i + 255].decode()}"' for i in range(0, len(raw), 255))


def _answer(stub: DnsStub, wire: bytes) -> bytes:
    query = dns.message.from_wire(wire)
    response = dns.message.make_response(query)
    response.flags |= dns.flags.AA
    question = query.question[0]
    name = question.name.to_text().rstrip(".").lower()
    stub.questions.append(name)
    texts = stub.txt.get(name)
    if texts is None:
        response.set_rcode(dns.rcode.NXDOMAIN)
    elif question.rdtype == dns.rdatatype.TXT:
        response.answer.append(
            dns.rrset.from_text_list(
                question.name, 60, dns.rdataclass.IN, dns.rdatatype.TXT, [_chunks(t) for t in texts]
            )
        )
    return response.to_wire()


@contextmanager
def dns_stub() -> Iterator[DnsStub]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stub = DnsStub(port=sock.getsockname()[1])
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                wire, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            sock.sendto(_answer(stub, wire), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        stop.set()
        thread.join()
        sock.close()
