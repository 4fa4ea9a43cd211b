"""What billing adds to the product: its navigation entry and audit actions."""

from django.utils.translation import gettext_lazy as _

from tenants import capabilities, navigation
from tenants.audit.actions import register_action

BILLING = _("Billing")

navigation.register(
    "billing",
    label=_("Billing"),
    icon="credit-card",
    url_name="billing:overview",
    capability=capabilities.MANAGE_BILLING,
    order=925,
)

TRIAL_REMINDER_SENT = register_action(
    "billing.trial_reminder_sent", _("Trial reminder sent"), module=BILLING
)
TRIAL_EXPIRED = register_action(
    "billing.trial_expired", _("Trial ended, workspace read-only"), module=BILLING
)
SUBSCRIPTION_CHANGED = register_action(
    "billing.subscription_changed", _("Subscription changed"), module=BILLING
)
CHECKOUT_STARTED = register_action(
    "billing.checkout_started", _("Checkout started"), module=BILLING
)
SEATS_BILLED = register_action("billing.seats_billed", _("Seats billed changed"), module=BILLING)
PAYMENT_FAILED = register_action(
    "billing.payment_failed", _("Payment failed, workspace past due"), module=BILLING
)
PAYMENT_RECOVERED = register_action(
    "billing.payment_recovered", _("Payment received, workspace active again"), module=BILLING
)
UNPAID_READ_ONLY = register_action(
    "billing.unpaid_read_only", _("Grace period over, workspace read-only"), module=BILLING
)
SEATS_PURCHASED = register_action(
    "billing.seats_purchased", _("Seats paid for changed"), module=BILLING
)
PLAN_CHANGED = register_action("billing.plan_changed", _("Plan changed"), module=BILLING)
PLAN_CHANGE_SCHEDULED = register_action(
    "billing.plan_change_scheduled", _("Plan change planned for the period's end"), module=BILLING
)
PLAN_CHANGE_WITHDRAWN = register_action(
    "billing.plan_change_withdrawn", _("Planned plan change withdrawn"), module=BILLING
)
SUBSCRIPTION_CANCEL_SCHEDULED = register_action(
    "billing.subscription_cancel_scheduled",
    _("Subscription set to end with the period"),
    module=BILLING,
)
SUBSCRIPTION_RESUMED = register_action(
    "billing.subscription_resumed", _("Subscription resumed"), module=BILLING
)
DELETION_SCHEDULED = register_action(
    "billing.deletion_scheduled", _("Canceled workspace scheduled for deletion"), module=BILLING
)
DELETION_WARNING_SENT = register_action(
    "billing.deletion_warning_sent", _("Deletion warning sent"), module=BILLING
)
DELETION_CANCELED = register_action(
    "billing.deletion_canceled", _("Deletion withdrawn, the workspace pays again"), module=BILLING
)
DRIFT_REPAIRED = register_action(
    "billing.drift_repaired", _("Subscription repaired from Stripe"), module=BILLING
)
