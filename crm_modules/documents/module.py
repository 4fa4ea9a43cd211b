from typing import Any

from django.utils.translation import gettext_lazy as _

from crm_modules.activities.api import register_entry_type
from crm_modules.documents.models import DocumentVersion
from crm_platform.backups import register_object_keys
from tenants import capabilities, live, navigation
from tenants.audit.actions import register_action
from tenants.modules import register_record_deleted_hook, register_settings_panel
from tenants.roles import Role

MODULE = _("Documents")

VIEW_DOCUMENTS = capabilities.register(
    "documents.view",
    label=_("See and download documents"),
    module=MODULE,
    roles=set(Role.values),
)
UPLOAD_DOCUMENTS = capabilities.register(
    "documents.upload",
    label=_("Upload documents and new versions, delete documents"),
    module=MODULE,
    roles=set(Role.values) - {Role.READ_ONLY},
    writes=True,
)
MANAGE_TRASH = capabilities.register(
    "documents.manage_trash",
    label=_("Restore documents from the trash"),
    module=MODULE,
    roles={Role.OWNER, Role.ADMIN},
    writes=True,
)
navigation.register(
    "documents",
    label=MODULE,
    icon="file-text",
    url_name="documents:list",
    capability=VIEW_DOCUMENTS,
    order=60,
)
DOCUMENT_UPLOADED = register_action("document.uploaded", _("Document uploaded"), module=MODULE)
DOCUMENT_VERSION_ADDED = register_action(
    "document.version_added", _("Document version added"), module=MODULE
)
DOCUMENT_VERSION_RESTORED = register_action(
    "document.version_restored", _("Document version restored"), module=MODULE
)
DOCUMENT_DELETED = register_action(
    "document.deleted", _("Document moved to the trash"), module=MODULE
)
DOCUMENT_RESTORED = register_action(
    "document.restored", _("Document restored from the trash"), module=MODULE
)
DOCUMENT_LINKED = register_action(
    "document.linked", _("Document linked to a record"), module=MODULE
)
DOCUMENT_UNLINKED = register_action(
    "document.unlinked", _("Document unlinked from a record"), module=MODULE
)
DOCUMENTS_TOPIC = live.register_topic("documents", label=MODULE, capability=VIEW_DOCUMENTS)

# What the timeline of each record a document is linked to shows.
TIMELINE_DOCUMENT_ADDED = register_entry_type("document_added", label=_("Document attached"))
TIMELINE_DOCUMENT_VERSION = register_entry_type(
    "document_version", label=_("New version of a document")
)
TIMELINE_DOCUMENT_DELETED = register_entry_type(
    "document_deleted", label=_("Document moved to the trash")
)


def _storage(membership: Any) -> dict[str, Any]:
    from crm_modules.documents.quota import storage_usage

    usage = storage_usage(membership.tenant)
    return {
        "used": usage.used,
        "quota": usage.quota,
        "percent": usage.percent,
        # The meter turns to its warning colour past nine tenths.
        "high": (usage.quota or 0) * 9 // 10,
    }


register_settings_panel(
    "documents.storage",
    template="documents/_storage.html",
    capability=VIEW_DOCUMENTS,
    context=_storage,
)


def _logo(membership: Any) -> dict[str, Any]:
    return {"has_logo": bool(membership.tenant.logo_key)}


register_settings_panel(
    "documents.logo",
    template="documents/_logo.html",
    capability=capabilities.MANAGE_SETTINGS,
    context=_logo,
)


def _record_deleted(*, actor: Any, record: Any) -> None:
    from crm_modules.documents.services import document_links_drop_for

    document_links_drop_for(actor=actor, record=record)


# A deleted record of any attachable type loses its links; what is linked to nothing then
# goes to the trash.
register_record_deleted_hook("documents.links", _record_deleted)

# A workspace restored under another schema finds its files under its own prefix.
register_object_keys(DocumentVersion, "key", "thumbnail_key")
