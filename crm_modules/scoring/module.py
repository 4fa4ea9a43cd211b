"""What lead scoring adds to the product's registries: who may see and define rules, its
page in the navigation, its audit actions, and its listeners on sales records."""

from django.utils.translation import gettext_lazy as _

from billing.plans import Feature, plans_with
from tenants import capabilities, navigation
from tenants.audit.actions import register_action
from tenants.modules import register_record_event_kind
from tenants.roles import ALL_ROLES, Role

MODULE = _("Lead scoring")

VIEW_RULES = capabilities.register(
    "scoring.view_rules",
    label=_("See lead scoring rules and why a record scores what it does"),
    module=MODULE,
    roles=ALL_ROLES,
)
MANAGE_RULES = capabilities.register(
    "scoring.manage_rules",
    label=_("Define lead scoring rules and thresholds"),
    module=MODULE,
    roles={Role.OWNER, Role.ADMIN},
    writes=True,
)
# Thresholds act on records (move a contact's stage, give its owner a task): workflow
# automation, on the plans that include it (ADR 0078). On another plan they are kept and paused.
MANAGE_THRESHOLDS = capabilities.register(
    "scoring.manage_thresholds",
    label=_("Define score thresholds that move contacts to a stage or give their owner a task"),
    module=MODULE,
    plans=plans_with(Feature.AUTOMATION),
    roles={Role.OWNER, Role.ADMIN},
    writes=True,
)

navigation.register(
    "scoring",
    label=MODULE,
    icon="gauge",
    url_name="scoring:rules",
    capability=MANAGE_RULES,
    order=160,
)

RULE_CREATED = register_action("scoring.rule_created", _("Scoring rule created"), module=MODULE)
RULE_UPDATED = register_action("scoring.rule_updated", _("Scoring rule changed"), module=MODULE)
RULE_DELETED = register_action("scoring.rule_deleted", _("Scoring rule deleted"), module=MODULE)
THRESHOLD_CREATED = register_action(
    "scoring.threshold_created", _("Score threshold created"), module=MODULE
)
THRESHOLD_DELETED = register_action(
    "scoring.threshold_deleted", _("Score threshold deleted"), module=MODULE
)
SCORES_RECOMPUTED = register_action("scoring.recomputed", _("Scores computed again"), module=MODULE)
# A contact's score changed (data: "from", "to"); event triggers compare it with their thresholds.
SCORE_CHANGED_EVENT = register_record_event_kind(
    "scoring.score_changed", label=_("Lead score changed"), keys=()
)


def _listen() -> None:
    from crm_modules.sales import api as sales
    from crm_modules.scoring.services import explain
    from crm_modules.scoring.tasks import on_inputs_changed

    sales.register_score_listener(on_inputs_changed)
    sales.register_score_explainer(explain)


_listen()
