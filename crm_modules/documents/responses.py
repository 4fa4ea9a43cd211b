"""The HTTP answer of a download, the same for the pages and the API: a redirect to the
presigned GET, or the bytes of an active type streamed as an attachment the browser may not
sniff, render or run (ADR 0077)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
    StreamingHttpResponse,
)

from crm_modules.documents.services import Download

# Even opened directly, an attachment runs no script, loads nothing and is its own origin.
ATTACHMENT_POLICY = "sandbox; default-src 'none'"


def download_response(request: HttpRequest, download: Download) -> HttpResponseBase:
    if download.chunks is None:
        redirect: HttpResponse = HttpResponseRedirect(download.url)
        redirect["X-Content-Type-Options"] = "nosniff"
        return redirect
    # Under ASGI a synchronous iterator would be read whole into memory before the first byte
    # is sent; each chunk is read in a worker thread instead.
    chunks = _async_chunks(download.chunks) if isinstance(request, ASGIRequest) else download.chunks
    response = StreamingHttpResponse(chunks, content_type="application/octet-stream")
    response["Content-Length"] = str(download.size)
    response["Content-Disposition"] = download.content_disposition
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = ATTACHMENT_POLICY
    response["Cache-Control"] = "private, no-store"
    return response


async def _async_chunks(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    def following() -> bytes | None:
        return next(chunks, None)

    read = sync_to_async(following, thread_sensitive=False)
    try:
        while (chunk := await read()) is not None:
            yield chunk
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            await sync_to_async(close, thread_sensitive=False)()
