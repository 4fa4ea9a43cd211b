"""The HTTP answer of a download, the same for the pages and the API: a redirect to the
presigned GET, or the bytes of an active type streamed as an attachment the browser may not
sniff, render or run (ADR 0077)."""

from __future__ import annotations

from django.http import HttpResponse, HttpResponseBase, HttpResponseRedirect, StreamingHttpResponse

from crm_modules.documents.services import Download

# Even opened directly, an attachment runs no script, loads nothing and is its own origin.
ATTACHMENT_POLICY = "sandbox; default-src 'none'"


def download_response(download: Download) -> HttpResponseBase:
    if download.chunks is None:
        redirect: HttpResponse = HttpResponseRedirect(download.url)
        redirect["X-Content-Type-Options"] = "nosniff"
        return redirect
    response = StreamingHttpResponse(download.chunks, content_type="application/octet-stream")
    response["Content-Length"] = str(download.size)
    response["Content-Disposition"] = download.content_disposition
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = ATTACHMENT_POLICY
    response["Cache-Control"] = "private, no-store"
    return response
