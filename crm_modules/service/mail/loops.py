"""Mail loops (RFC 3834): which messages must never get an automatic answer.

An automatic acknowledgement goes only to a message a person wrote: not to one marked
``Auto-Submitted`` (other than ``no``), ``Precedence: bulk/list/junk``, sent with the null
return path (bounces), a delivery report, a list message, or one a known auto-responder marks.
Such a message is still kept on its ticket (nothing is lost), but it never reopens a ticket.
"""

from __future__ import annotations

from crm_modules.service.mail.parsing import ParsedEmail

_BULK_PRECEDENCE = {"bulk", "list", "junk"}
# Headers the common auto-responders add instead of (or besides) Auto-Submitted.
_AUTORESPONDER_HEADERS = {
    "x-autoreply",
    "x-autorespond",
    "x-auto-response-suppress",
    "list-id",
    "list-unsubscribe",
    "feedback-id",
}
_DAEMON_LOCAL_PARTS = {"mailer-daemon", "postmaster", "no-reply", "noreply", "do-not-reply"}


def automatic_reason(parsed: ParsedEmail) -> str:
    """Why ``parsed`` must not be answered automatically ("" when a person wrote it)."""
    if parsed.auto_submitted and parsed.auto_submitted != "no":
        return f"Auto-Submitted: {parsed.auto_submitted}"
    if parsed.precedence in _BULK_PRECEDENCE:
        return f"Precedence: {parsed.precedence}"
    if parsed.return_path == "":
        return "empty return path"
    if parsed.is_report:
        return "delivery report"
    found = sorted(parsed.header_names & _AUTORESPONDER_HEADERS)
    if found:
        return f"header {found[0]}"
    if parsed.sender.partition("@")[0] in _DAEMON_LOCAL_PARTS:
        return f"sender {parsed.sender}"
    return ""
