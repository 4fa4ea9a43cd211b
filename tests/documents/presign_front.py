"""A front for the run's moto server that checks presigned requests as S3 does, for the tests
that need it: moto's server checks neither a presigned URL's signature nor its expiry (it takes
a PUT to a key the URL was not signed for, and an expired URL). The front recomputes the SigV4
query signature (method, path, query, signed headers, unsigned payload) and refuses a
mismatch (403 SignatureDoesNotMatch) or an expired URL (403 AccessDenied, "Request has
expired"), then passes the request on to moto unchanged. Requests signed in headers (the
server's own calls) pass straight on. ``advance`` moves the front's clock forward, so expiry is
shown without waiting."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import threading
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import parse_qsl, quote

import requests
from werkzeug.serving import make_server

_HOP_BY_HOP = {"connection", "transfer-encoding", "content-length", "keep-alive", "server", "date"}


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def _header(environ: dict[str, Any], name: str) -> str:
    if name == "content-type":
        value = environ.get("CONTENT_TYPE", "")
    elif name == "content-length":
        value = environ.get("CONTENT_LENGTH", "")
    else:
        value = environ.get("HTTP_" + name.upper().replace("-", "_"), "")
    return " ".join(str(value).split())


class PresignFront:
    def __init__(self, upstream: str, secret: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.secret = secret
        self.skew = datetime.timedelta(0)
        self._server = make_server("127.0.0.1", 0, self, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> PresignFront:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)

    def advance(self, seconds: int) -> None:
        self.skew += datetime.timedelta(seconds=seconds)

    def refusal(self, environ: dict[str, Any]) -> tuple[str, str] | None:
        params = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        query = dict(params)
        if "X-Amz-Signature" not in query:
            return None
        signed_at = datetime.datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(
            tzinfo=datetime.UTC
        )
        now = datetime.datetime.now(datetime.UTC) + self.skew
        if now > signed_at + datetime.timedelta(seconds=int(query["X-Amz-Expires"])):
            return "AccessDenied", "Request has expired"
        if not hmac.compare_digest(
            self._signature(environ, params, query), query["X-Amz-Signature"]
        ):
            return "SignatureDoesNotMatch", "The request signature we calculated does not match"
        return None

    def _signature(
        self, environ: dict[str, Any], params: list[tuple[str, str]], query: dict[str, str]
    ) -> str:
        path = str(environ.get("RAW_URI") or environ.get("REQUEST_URI") or "").split("?")[0]
        canonical_query = "&".join(
            f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
            for k, v in sorted(params)
            if k != "X-Amz-Signature"
        )
        signed = query["X-Amz-SignedHeaders"].split(";")
        headers = "".join(f"{name}:{_header(environ, name)}\n" for name in signed)
        request = "\n".join(
            [environ["REQUEST_METHOD"], path, canonical_query, headers, ";".join(signed)]
        )
        request += "\nUNSIGNED-PAYLOAD"
        _, date, region, service, _ = query["X-Amz-Credential"].split("/")
        scope = f"{date}/{region}/{service}/aws4_request"
        to_sign = "\n".join(
            [
                "AWS4-HMAC-SHA256",
                query["X-Amz-Date"],
                scope,
                hashlib.sha256(request.encode()).hexdigest(),
            ]
        )
        key = _hmac(("AWS4" + self.secret).encode(), date)
        for part in (region, service, "aws4_request"):
            key = _hmac(key, part)
        return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        refused = self.refusal(environ)
        if refused is not None:
            code, message = refused
            body = (
                f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
                f"<Message>{message}</Message></Error>"
            ).encode()
            start_response("403 Forbidden", [("Content-Type", "application/xml")])
            return [body]
        return self._forward(environ, start_response)

    def _forward(self, environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        length = environ.get("CONTENT_LENGTH")
        if length:
            body = environ["wsgi.input"].read(int(length))
        elif environ.get("wsgi.input_terminated"):
            body = environ["wsgi.input"].read()  # sent in chunks, joined by the server
        else:
            body = b""
        headers = {
            key[5:].replace("_", "-").title(): str(value)
            for key, value in environ.items()
            if key.startswith("HTTP_") and key not in {"HTTP_HOST", "HTTP_TRANSFER_ENCODING"}
        }
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        query = environ.get("QUERY_STRING", "")
        path = str(environ.get("RAW_URI") or environ.get("REQUEST_URI") or "").split("?")[0]
        answer = requests.request(
            environ["REQUEST_METHOD"],
            f"{self.upstream}{path}" + (f"?{query}" if query else ""),
            headers=headers,
            data=body,
            allow_redirects=False,
            stream=True,
            timeout=60,
        )
        content = answer.raw.read()
        length = answer.headers.get("Content-Length", "0")
        if environ["REQUEST_METHOD"] != "HEAD":
            length = str(len(content))
        start_response(
            f"{answer.status_code} {answer.reason}",
            [(k, v) for k, v in answer.headers.items() if k.lower() not in _HOP_BY_HOP]
            + [("Content-Length", length)],
        )
        yield content
