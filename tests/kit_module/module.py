from tenants import capabilities, live, navigation
from tenants.audit.actions import register_action
from tenants.capabilities import Scope, plans_from
from tenants.models import Plan
from tenants.roles import Role

VIEW_NOTES = capabilities.register(
    "kit_module.view_notes",
    label="See notes",
    module="Notes",
    roles={Role.OWNER, Role.ADMIN, Role.MANAGER, Role.SALES_REP},
    scopes={Role.SALES_REP: Scope.OWN, Role.MANAGER: Scope.TEAM},
)
EDIT_NOTES = capabilities.register(
    "kit_module.edit_notes",
    label="Rename notes",
    module="Notes",
    roles={Role.OWNER, Role.ADMIN, Role.SALES_REP},
    scopes={Role.SALES_REP: Scope.OWN},
    plans=plans_from(Plan.PROFESSIONAL),
    writes=True,
)
navigation.register(
    "notes",
    label="Notes",
    icon="file-text",
    url_name="kit_module:list",
    capability=VIEW_NOTES,
    order=50,
)
NOTE_RENAMED = register_action("note.renamed", "Note renamed", module="Notes")
NOTES_TOPIC = live.register_topic("notes", label="Notes", capability=VIEW_NOTES)
