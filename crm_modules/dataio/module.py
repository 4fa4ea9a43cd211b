"""What import and export add to the product's registries (docs/roles.md, ADR 0017).

- Importing creates and changes records in bulk: Owner, Admin and Manager.
- Exporting takes the workspace's customer data out of the product: Owner, Admin and Manager;
  Sales reps cannot by default. An export holds only what the member may see in the list.
- Exporting the audit log (a date range, as CSV): those who read it, Owner and Admin, on the
  plans with audit export (ADR 0078).
"""

from django.utils.translation import gettext_lazy as _

from billing.plans import Feature, plans_with
from crm_modules.dataio.models import ExportJob, ImportJob
from crm_platform.backups import register_object_keys
from tenants import capabilities, live, navigation
from tenants.audit.actions import register_action
from tenants.roles import Role

MODULE = _("Import and export")
MANAGERS = {Role.OWNER, Role.ADMIN, Role.MANAGER}

IMPORT_RECORDS = capabilities.register(
    "dataio.import",
    label=_(
        "Import companies, contacts, leads, deals and activities from CSV and Excel files, "
        "undo an import"
    ),
    module=MODULE,
    roles=MANAGERS,
    writes=True,
)
EXPORT_RECORDS = capabilities.register(
    "dataio.export",
    label=_("Export lists of companies, contacts, leads and deals"),
    module=MODULE,
    roles=MANAGERS,
)
EXPORT_AUDIT_LOG = capabilities.register(
    "dataio.export_audit_log",
    label=_("Export the audit log of a date range"),
    module=MODULE,
    plans=plans_with(Feature.AUDIT_EXPORT),
    roles=capabilities.VIEW_AUDIT_LOG.roles,
)

navigation.register(
    "imports",
    label=_("Import"),
    icon="arrow-right-left",
    url_name="dataio:import_list",
    capability=IMPORT_RECORDS,
    order=150,
)

IMPORT_STARTED = register_action("import.started", _("Import started"), module=MODULE)
IMPORT_FINISHED = register_action("import.finished", _("Import finished"), module=MODULE)
IMPORT_UNDONE = register_action("import.undone", _("Import undone"), module=MODULE)
IMPORT_FIELD_CREATED = register_action(
    "import.field_created", _("Custom field created from an imported column"), module=MODULE
)
RECORDS_EXPORTED = register_action("records.exported", _("Records exported"), module=MODULE)
AUDIT_LOG_EXPORTED = register_action("audit_log.exported", _("Audit log exported"), module=MODULE)

IMPORTS_TOPIC = live.register_topic("imports", label=_("Imports"), capability=IMPORT_RECORDS)

# A workspace restored under another schema finds its import and export files under its own
# prefix.
register_object_keys(ImportJob, "file_key")
register_object_keys(ExportJob, "file_key")
