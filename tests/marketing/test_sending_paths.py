"""Every place in the product's code that sends mail, found by reading the source: each one is
either mail to members or to the platform's own accounts (listed here with the reason, never
to a CRM contact), or asks the contact-pressure rule first and writes its ledger after
(``may_contact`` and ``record_contact`` in the same function). A new sending path fails this
test until it does one or the other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("crm_modules", "billing", "tenants", "crm_platform")
# What sends: Django's mail functions and message classes, a connection's send_messages.
SENDERS = {
    "send_mail",
    "send_mass_mail",
    "mail_admins",
    "mail_managers",
    "EmailMessage",
    "EmailMultiAlternatives",
    "send_messages",
}
# Asking the rule (for one contact, or for a batch) and writing its ledger.
ASK = {"may_contact", "may_contact_many"}
RECORD = {"record_contact"}
RULE = ASK | RECORD

# Mail that never goes to a CRM contact, and why.
PLATFORM_MAIL = {
    "crm_platform/mail.py::payload_to_message": (
        "the mail backend rebuilding a queued message: transport, not a sender"
    ),
    "crm_platform/tasks.py::deliver_email": (
        "the task that delivers what the backend queued: transport, not a sender"
    ),
    "tenants/services/signup.py::_send": "sign-up confirmation to the person starting a trial",
    "tenants/services/invitations.py::_send_invitation_email": (
        "an invitation to join a workspace as staff"
    ),
    "billing/services.py::_send_trial_reminder": "trial ending, to the workspace's owners",
    "billing/webhooks.py::_send_payment_failed": "billing dunning, to the workspace's owners",
    "billing/retention.py::_send_warning": "workspace deletion warning, to its owners",
    "crm_modules/sales/services/reminders.py::_tell": "a task reminder to the member who owns it",
    "crm_modules/service/services/sla_alerts.py::_tell": "an SLA alert to the agent or manager",
    "crm_modules/reporting/services/schedules.py::_send_one": (
        "a scheduled report to the member who subscribed"
    ),
    "crm_modules/marketing/campaigns/services.py::campaign_test_send": (
        "a campaign's test message to the editing member's own address"
    ),
}


def _called_name(call: ast.Call) -> str | None:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _aliases(tree: ast.Module) -> dict[str, str]:
    """Local names bound to Django's senders (``from django.core.mail import send_mail as x``)."""
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("django.core.mail"):
            for alias in node.names:
                if alias.name in SENDERS:
                    found[alias.asname or alias.name] = alias.name
    return found


def sending_paths() -> dict[str, set[str]]:
    """``path::function`` of every function that sends mail, with the names it calls."""
    paths: dict[str, set[str]] = {}
    for package in PACKAGES:
        for file in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in file.parts:
                continue
            tree = ast.parse(file.read_text(), filename=str(file))
            aliases = _aliases(tree)
            relative = file.relative_to(ROOT).as_posix()
            for function in ast.walk(tree):
                if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                calls = {
                    name
                    for node in ast.walk(function)
                    if isinstance(node, ast.Call) and (name := _called_name(node))
                }
                sends = {aliases.get(name, name) for name in calls} & SENDERS
                if sends:
                    paths[f"{relative}::{function.name}"] = calls
    return paths


PATHS = sending_paths()


def test_the_scan_finds_the_known_paths() -> None:
    # The scan itself works: it sees the double opt-in mail and every listed platform mail.
    assert "crm_modules/marketing/recipients.py::opt_in_request" in PATHS
    # An event trigger's email action (ADR 0042) asks the rule like every other path.
    trigger_mail = PATHS["crm_modules/marketing/triggers/actions.py::send_trigger_email"]
    assert trigger_mail & ASK
    assert trigger_mail >= RECORD
    assert set(PLATFORM_MAIL) <= set(PATHS)


@pytest.mark.parametrize("path", sorted(PATHS))
def test_every_sending_path_is_platform_mail_or_asks_the_rule(path: str) -> None:
    if path in PLATFORM_MAIL:
        assert not (PATHS[path] & RULE), f"{path} asks the rule: remove it from PLATFORM_MAIL"
        return
    missing = sorted(({"may_contact"} if not ASK & PATHS[path] else set()) | (RECORD - PATHS[path]))
    assert not missing, (
        f"{path} sends mail without {missing}: mail to a contact must ask "
        "crm_modules.marketing.api.may_contact first and call record_contact after; mail to "
        "members goes into PLATFORM_MAIL with the reason"
    )


def test_a_function_sending_without_the_rule_would_be_caught(tmp_path: Path) -> None:
    source = (
        "from django.core.mail import send_mail as deliver\n"
        "def newsletter(contact):\n"
        "    deliver('Hi', 'Body', None, [contact.primary_email])\n"
    )
    tree = ast.parse(source)
    aliases = _aliases(tree)
    function = tree.body[1]
    assert isinstance(function, ast.FunctionDef)
    calls = {
        name
        for node in ast.walk(function)
        if isinstance(node, ast.Call) and (name := _called_name(node))
    }
    assert {aliases.get(name, name) for name in calls} & SENDERS == {"send_mail"}
    assert RULE - calls == RULE
