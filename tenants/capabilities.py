"""The capability matrix: which role may do what. The one place permissions are defined.

Every module registers its capabilities here (usually at import of its own
``capabilities.py``); views declare the capability they need with ``requires`` and the
isolation tests read that declaration to know which status each role must receive.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from tenants.roles import ALL_ROLES, Role


@dataclass(frozen=True)
class Capability:
    code: str
    label: str | Promise
    module: str | Promise
    roles: frozenset[str]


_REGISTRY: dict[str, Capability] = {}


def register(
    code: str, *, label: str | Promise, module: str | Promise, roles: Iterable[str]
) -> Capability:
    roles = frozenset(roles)
    unknown = roles - ALL_ROLES
    if unknown:
        raise ValueError(f"Unknown roles for capability {code}: {sorted(unknown)}")
    if code in _REGISTRY:
        raise ValueError(f"Capability {code} is already registered")
    capability = Capability(code=code, label=label, module=module, roles=roles)
    _REGISTRY[code] = capability
    return capability


def get(code: str) -> Capability:
    return _REGISTRY[code]


def all_capabilities() -> list[Capability]:
    return list(_REGISTRY.values())


def role_has(role: str, code: str) -> bool:
    return role in _REGISTRY[code].roles


PLATFORM = _("Workspace")
EVERYONE = ALL_ROLES

USE_WORKSPACE = register(
    "platform.use_workspace",
    label=_("Open the workspace, see members and roles"),
    module=PLATFORM,
    roles=EVERYONE,
)
MANAGE_MEMBERS = register(
    "platform.manage_members",
    label=_("Invite members, change roles, deactivate and reactivate members"),
    module=PLATFORM,
    roles={Role.OWNER, Role.ADMIN},
)
TRANSFER_OWNERSHIP = register(
    "platform.transfer_ownership",
    label=_("Make another member an Owner, transfer ownership"),
    module=PLATFORM,
    roles={Role.OWNER},
)
MANAGE_BILLING = register(
    "platform.manage_billing",
    label=_("Manage the plan, seats and payment details"),
    module=PLATFORM,
    roles={Role.OWNER, Role.ADMIN},
)
VIEW_AUDIT_LOG = register(
    "platform.view_audit_log",
    label=_("View the audit log"),
    module=PLATFORM,
    roles={Role.OWNER, Role.ADMIN},
)
EXPORT_DATA = register(
    "platform.export_data",
    label=_("Export workspace data"),
    module=PLATFORM,
    roles={Role.OWNER, Role.ADMIN, Role.MANAGER},
)
MANAGE_SETTINGS = register(
    "platform.manage_settings",
    label=_("Change workspace settings (name, time zone, currency, security)"),
    module=PLATFORM,
    roles={Role.OWNER, Role.ADMIN},
)
