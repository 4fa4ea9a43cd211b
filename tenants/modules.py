"""How a module plugs into the product without editing central files (D16).

A CRM module is a Django app under ``crm_modules/`` (found by the settings, see
``crm_platform.settings.base.CRM_MODULES``) whose app config subclasses ``ModuleConfig``. At
start-up every installed app's ``module.py`` is imported; that file registers what the module
adds: capabilities (``tenants.capabilities.register``), navigation entries
(``tenants.navigation.register``), audit actions (``tenants.audit.actions.register_action``)
and live-event topics (``tenants.live.register_topic``). The tenant URLconf includes each
module's ``urls.py`` under its ``url_prefix`` and namespace, and its ``api.py`` router under
``/api/v1/``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.apps import AppConfig, apps
from django.utils.module_loading import autodiscover_modules
from django.utils.translation import gettext_lazy

if TYPE_CHECKING:
    from tenants.capabilities import Capability
    from tenants.models import Membership


class ModuleConfig(AppConfig):
    """Base app config of a CRM module."""

    default_auto_field = "django.db.models.BigAutoField"
    # Never the app config Django picks for an apps.py that imports this class (it would see
    # two candidates there); every subclass is (see __init_subclass__).
    default = False
    # Where the module's pages live on a workspace host, e.g. "sales/". Its urls.py sets
    # ``app_name`` (the namespace), conventionally the app label.
    url_prefix: str = ""
    # Pages for the workspace's customers rather than its members (the service portal): a
    # path prefix on the workspace host ("portal/") → the URLconf module serving it. The
    # membership middleware lets these paths through; their views answer for their own
    # sign-in realm, never with a member's session (tests/isolation/test_portal_matrix.py).
    customer_urls: dict[str, str] = {}

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "default" not in cls.__dict__:
            cls.default = True


def module_configs() -> list[ModuleConfig]:
    return [config for config in apps.get_app_configs() if isinstance(config, ModuleConfig)]


def customer_url_prefixes() -> tuple[str, ...]:
    """The paths ("/portal/") a workspace host serves to customers, outside membership."""
    return tuple(
        f"/{prefix}" for config in module_configs() for prefix in sorted(config.customer_urls)
    )


@dataclass(frozen=True)
class HomePanel:
    """A section of a member's home page, shown to roles allowed ``capability``: the template
    is rendered with ``panel`` set to what ``context(membership)`` returns."""

    key: str
    template: str
    capability: Capability
    context: Callable[[Membership], dict[str, Any]]
    order: int


_HOME_PANELS: dict[str, HomePanel] = {}


def register_home_panel(
    key: str,
    *,
    template: str,
    capability: Capability,
    context: Callable[[Membership], dict[str, Any]],
    order: int = 100,
) -> HomePanel:
    panel = HomePanel(key, template, capability, context, order)
    _HOME_PANELS[key] = panel
    return panel


def home_panels() -> list[HomePanel]:
    return sorted(_HOME_PANELS.values(), key=lambda panel: (panel.order, panel.key))


@dataclass(frozen=True)
class RecordPanel:
    """A section a module adds to another module's record page (the service module's open
    tickets on a contact's page), shown to roles allowed ``capability``: the template is
    rendered with ``panel`` set to what ``context(membership, record)`` returns. The page
    names its record type ("sales.contact") and never imports the module that fills it."""

    key: str
    record_type: str
    template: str
    capability: Capability
    context: Callable[[Membership, Any], dict[str, Any]]
    order: int


_RECORD_PANELS: dict[str, RecordPanel] = {}


def register_record_panel(
    key: str,
    *,
    record_type: str,
    template: str,
    capability: Capability,
    context: Callable[[Membership, Any], dict[str, Any]],
    order: int = 100,
) -> RecordPanel:
    panel = RecordPanel(key, record_type, template, capability, context, order)
    _RECORD_PANELS[key] = panel
    return panel


def unregister_record_panel(key: str) -> None:
    _RECORD_PANELS.pop(key, None)


def record_panels(record_type: str) -> list[RecordPanel]:
    return sorted(
        (panel for panel in _RECORD_PANELS.values() if panel.record_type == record_type),
        key=lambda panel: (panel.order, panel.key),
    )


# Sections a module adds to the workspace settings page (documents: the storage in use),
# shown like home panels to roles allowed ``capability``.
_SETTINGS_PANELS: dict[str, HomePanel] = {}


def register_settings_panel(
    key: str,
    *,
    template: str,
    capability: Capability,
    context: Callable[[Membership], dict[str, Any]],
    order: int = 100,
) -> HomePanel:
    panel = HomePanel(key, template, capability, context, order)
    _SETTINGS_PANELS[key] = panel
    return panel


def settings_panels() -> list[HomePanel]:
    return sorted(_SETTINGS_PANELS.values(), key=lambda panel: (panel.order, panel.key))


# What other modules do when a module deletes one of its records (documents: drop the record's
# links and trash what is then linked to nothing). The deleting module asks ``record_deleted``
# and never imports the modules that hold something of its records.
RecordDeletedHook = Callable[..., None]
_RECORD_DELETED_HOOKS: dict[str, RecordDeletedHook] = {}


def register_record_deleted_hook(key: str, hook: RecordDeletedHook) -> RecordDeletedHook:
    """``hook(actor=…, record=…)`` runs inside the deleting transaction, after the deletion is
    checked and before the record's row goes (its primary key is still set); an exception
    rolls the deletion back."""
    _RECORD_DELETED_HOOKS[key] = hook
    return hook


def unregister_record_deleted_hook(key: str) -> None:
    _RECORD_DELETED_HOOKS.pop(key, None)


def record_deleted(*, actor: Membership, record: Any) -> None:
    for key in sorted(_RECORD_DELETED_HOOKS):
        _RECORD_DELETED_HOOKS[key](actor=actor, record=record)


# Reasons a module knows to hold marketing back from a contact (service: an open ticket). The
# marketing module asks them through ``contact_holds`` and so never imports the module that
# knows; that module never has to be imported by marketing either.
ContactHold = Callable[[Any], "str | None"]
# The same question for many contacts at once (a campaign's batch): ``{contact pk: sentence}``
# for the held ones only.
ContactHoldMany = Callable[[Sequence[Any]], "dict[int, str]"]
_CONTACT_HOLDS: dict[str, ContactHold] = {}
_CONTACT_HOLDS_MANY: dict[str, ContactHoldMany] = {}


def register_contact_hold(
    key: str, hold: ContactHold, *, many: ContactHoldMany | None = None
) -> ContactHold:
    """``hold(contact)`` returns a sentence saying why marketing must wait for this contact
    now, or None. It runs inside the contact's workspace schema, once per decision: keep it to
    one indexed query. ``many(contacts)`` answers for a batch in one query; without it a batch
    asks ``hold`` once per contact."""
    _CONTACT_HOLDS[key] = hold
    if many is not None:
        _CONTACT_HOLDS_MANY[key] = many
    else:
        _CONTACT_HOLDS_MANY.pop(key, None)
    return hold


def contact_holds() -> list[tuple[str, ContactHold]]:
    return sorted(_CONTACT_HOLDS.items())


def _one_by_one(hold: ContactHold) -> ContactHoldMany:
    def many(contacts: Sequence[Any]) -> dict[int, str]:
        found = {}
        for contact in contacts:
            why = hold(contact)
            if why:
                found[contact.pk] = why
        return found

    return many


def contact_holds_many() -> list[tuple[str, ContactHoldMany]]:
    """Every hold in the order of ``contact_holds``, each answering for a batch."""
    return [
        (key, _CONTACT_HOLDS_MANY.get(key) or _one_by_one(hold)) for key, hold in contact_holds()
    ]


# Things that happen to a contact which other modules react to (marketing's event triggers and
# sequence exits): a module declares the kinds it emits (``register_record_event_kind``, service:
# "ticket solved") and announces each happening with ``record_event`` inside its transaction;
# each listener (``register_record_event_listener``) gets the announced events in one call,
# there and then, and defers slow work with ``transaction.on_commit`` (nothing happens for a
# rolled-back change). Neither side imports the other. The kinds below are the kit's own:
# timeline entry types declare which of them an entry announces (activities), and sales
# announces a withdrawn email consent.
@dataclass(frozen=True)
class RecordEventKind:
    code: str
    label: Any
    # What the event's ``data`` may be matched on ("tag", "to", "form"...).
    keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class RecordEvent:
    """``occurrence`` names this happening so a reaction to it happens once ("deal:12")."""

    kind: str
    contact_id: int
    occurrence: str
    data: dict[str, Any]


RecordEventListener = Callable[[Sequence[RecordEvent]], None]
_EVENT_KINDS: dict[str, RecordEventKind] = {}
_EVENT_LISTENERS: dict[str, RecordEventListener] = {}


def register_record_event_kind(
    code: str, *, label: Any, keys: tuple[str, ...] = ()
) -> RecordEventKind:
    kind = RecordEventKind(code, label, keys)
    _EVENT_KINDS[code] = kind
    return kind


def record_event_kinds() -> list[RecordEventKind]:
    return sorted(_EVENT_KINDS.values(), key=lambda kind: kind.code)


def register_record_event_listener(key: str, listener: RecordEventListener) -> None:
    _EVENT_LISTENERS[key] = listener


def unregister_record_event_listener(key: str) -> None:
    _EVENT_LISTENERS.pop(key, None)


def record_event(
    kind: str, *, contact_ids: Any, occurrence: str, data: dict[str, Any] | None = None
) -> None:
    """Announce that ``kind`` happened to each contact (call it inside the transaction that
    makes it happen)."""
    record_events(
        [
            RecordEvent(kind, int(pk), occurrence, dict(data or {}))
            for pk in sorted({int(pk) for pk in contact_ids})
        ]
    )


def record_events(events: Sequence[RecordEvent]) -> None:
    """Announce many happenings at once (an import's timeline entries): each listener hears
    them in one call."""
    for event in events:
        if event.kind not in _EVENT_KINDS:
            raise ValueError(f"Record event kind {event.kind} is not registered")
    if not events:
        return
    for key in sorted(_EVENT_LISTENERS):
        _EVENT_LISTENERS[key](events)


CONTACT_REPLIED = register_record_event_kind(
    "contact.replied", label=gettext_lazy("Contact replied")
).code
CONTACT_MET = register_record_event_kind("contact.met", label=gettext_lazy("Meeting held")).code
CONTACT_OPENED_TICKET = register_record_event_kind(
    "contact.opened_ticket", label=gettext_lazy("Contact opened a ticket")
).code
CONTACT_UNSUBSCRIBED = register_record_event_kind(
    "contact.unsubscribed", label=gettext_lazy("Contact unsubscribed")
).code
# What a timeline entry type may announce (``activities.api.register_entry_type``).
CONTACT_EVENTS = (CONTACT_REPLIED, CONTACT_MET, CONTACT_OPENED_TICKET, CONTACT_UNSUBSCRIBED)


# Functions that fill the demo workspace with a module's sample records (``make run``).
DemoSeeder = Callable[..., None]
_DEMO_SEEDERS: list[DemoSeeder] = []


def register_demo_seeder(seeder: DemoSeeder) -> DemoSeeder:
    """``seeder(tenant=…)`` adds the module's sample records to the demo workspace; it must be
    idempotent (``make run`` calls it on every start)."""
    _DEMO_SEEDERS.append(seeder)
    return seeder


def demo_seeders() -> list[DemoSeeder]:
    return list(_DEMO_SEEDERS)


_OPEN_PATHS: list[str] = []


def register_open_path(prefix: str) -> str:
    """A path prefix of a workspace host that answers visitors who are not members (a
    campaign's tracking pixel and link redirects, the customers' ticket form). Its views must
    authenticate each request themselves (a signed token, a trap field and a rate limit) and
    appear in the isolation tests' OPEN list with the reason."""
    if not (prefix.startswith("/") and prefix.endswith("/")) or prefix == "/":
        raise ValueError(f"Open path {prefix!r} must be /a/path/")
    if prefix not in _OPEN_PATHS:
        _OPEN_PATHS.append(prefix)
    return prefix


def open_paths() -> tuple[str, ...]:
    return tuple(_OPEN_PATHS)


_discovered = False


def discover() -> None:
    """Import ``module.py`` of every installed app, once."""
    global _discovered
    if _discovered:
        return
    _discovered = True
    autodiscover_modules("module")
