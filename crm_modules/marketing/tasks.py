"""Marketing's tasks for the worker's autodiscovery (their home is by concern)."""

from crm_modules.marketing.triggers.tasks import (  # noqa: F401
    next_best_offers_every_workspace,
    next_best_offers_refresh,
    trigger_evaluate,
    trigger_sweep,
)
