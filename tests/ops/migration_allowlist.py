"""Migrations written before the expand/contract rule of tests/ops/test_migration_safety.py.

Each entry (app label, migration, operation) predates the rule: it was applied everywhere before
the check existed, so it stays as written. Nothing is ever added here; a migration that removes
or renames on purpose goes in ``CONTRACT`` in the test, with its reason.
"""

PREDATE_RULE: frozenset[tuple[str, str, str]] = frozenset(
    {
        (
            "billing",
            "0005_subscription_changes",
            "AddField NOT NULL without db_default billingaccount.cancel_at_period_end",
        ),
        (
            "billing",
            "0005_subscription_changes",
            "AddField NOT NULL without db_default billingaccount.currency",
        ),
        (
            "billing",
            "0005_subscription_changes",
            "AddField NOT NULL without db_default billingaccount.interval",
        ),
        (
            "billing",
            "0005_subscription_changes",
            "AddField NOT NULL without db_default billingaccount.scheduled_interval",
        ),
        (
            "billing",
            "0005_subscription_changes",
            "AddField NOT NULL without db_default billingaccount.scheduled_plan",
        ),
        (
            "billing",
            "0005_subscription_changes",
            "AddField NOT NULL without db_default billingaccount.seats_purchased",
        ),
        (
            "billing",
            "0005_subscription_changes",
            "AddField NOT NULL without db_default billingaccount.stripe_schedule_id",
        ),
        (
            "billing",
            "0007_billingaccount_payment_version",
            "AddField NOT NULL without db_default billingaccount.payment_version",
        ),
        (
            "billing",
            "0008_revenue_rollup",
            "AddField NOT NULL without db_default billingaccount.last_payment_failed",
        ),
        (
            "dataio",
            "0002_import_activities_and_notes",
            "AddField NOT NULL without db_default importrow.created_activities",
        ),
        (
            "documents",
            "0002_version_sniffed_type",
            "AddField NOT NULL without db_default documentversion.sniffed_type",
        ),
        (
            "documents",
            "0003_version_thumbnail",
            "AddField NOT NULL without db_default documentversion.thumbnail_key",
        ),
        ("sales", "0002_short_grams", "AddField NOT NULL without db_default company.search_grams"),
        ("sales", "0002_short_grams", "AddField NOT NULL without db_default contact.search_grams"),
        ("sales", "0002_short_grams", "AddField NOT NULL without db_default deal.search_grams"),
        ("sales", "0002_short_grams", "AddField NOT NULL without db_default lead.search_grams"),
        (
            "sales",
            "0005_duplicates_merge_and_scores",
            "AddField NOT NULL without db_default company.name_key",
        ),
        (
            "sales",
            "0005_duplicates_merge_and_scores",
            "AddField NOT NULL without db_default contact.name_key",
        ),
        (
            "sales",
            "0005_duplicates_merge_and_scores",
            "AddField NOT NULL without db_default contact.score",
        ),
        (
            "sales",
            "0005_duplicates_merge_and_scores",
            "AddField NOT NULL without db_default contact.score_breakdown",
        ),
        (
            "sales",
            "0005_duplicates_merge_and_scores",
            "AddField NOT NULL without db_default lead.score",
        ),
        (
            "sales",
            "0005_duplicates_merge_and_scores",
            "AddField NOT NULL without db_default lead.score_breakdown",
        ),
        (
            "sales",
            "0009_contact_time_zone_consent_proof",
            "AddField NOT NULL without db_default consent.user_agent",
        ),
        (
            "sales",
            "0009_contact_time_zone_consent_proof",
            "AddField NOT NULL without db_default contact.time_zone",
        ),
        (
            "sales",
            "0010_first_and_last_touch",
            "AddField NOT NULL without db_default contact.first_touch",
        ),
        (
            "sales",
            "0010_first_and_last_touch",
            "AddField NOT NULL without db_default contact.last_touch",
        ),
        (
            "sales",
            "0010_first_and_last_touch",
            "AddField NOT NULL without db_default lead.first_touch",
        ),
        (
            "sales",
            "0010_first_and_last_touch",
            "AddField NOT NULL without db_default lead.last_touch",
        ),
        ("sales", "0011_lead_deal_tags", "AddField NOT NULL without db_default deal.tags"),
        ("sales", "0011_lead_deal_tags", "AddField NOT NULL without db_default lead.tags"),
        ("sales", "0012_contact_language", "AddField NOT NULL without db_default contact.language"),
        (
            "sales",
            "0015_custom_field_help_required_archive_customers",
            "AddField NOT NULL without db_default customfield.customer_visible",
        ),
        (
            "sales",
            "0015_custom_field_help_required_archive_customers",
            "AddField NOT NULL without db_default customfield.help_text",
        ),
        (
            "sales",
            "0015_custom_field_help_required_archive_customers",
            "AddField NOT NULL without db_default customfield.required",
        ),
        (
            "sales",
            "0016_lead_custom_fields_and_defaults",
            "AddField NOT NULL without db_default lead.custom",
        ),
        (
            "service",
            "0002_sla_alerts",
            "AddField NOT NULL without db_default ticket.first_response_warned",
        ),
        (
            "service",
            "0002_sla_alerts",
            "AddField NOT NULL without db_default ticket.resolution_warned",
        ),
        ("service", "0004_work", "AddField NOT NULL without db_default ticket.language"),
        ("service", "0004_work", "AddField NOT NULL without db_default ticket.skills"),
        ("service", "0007_ticket_custom", "AddField NOT NULL without db_default ticket.custom"),
        (
            "service",
            "0008_sla_policy_rules_next_response",
            "AddField NOT NULL without db_default slapolicy.channels",
        ),
        (
            "service",
            "0008_sla_policy_rules_next_response",
            "AddField NOT NULL without db_default slapolicy.position",
        ),
        (
            "service",
            "0008_sla_policy_rules_next_response",
            "AddField NOT NULL without db_default slapolicy.team_ids",
        ),
        (
            "service",
            "0008_sla_policy_rules_next_response",
            "AddField NOT NULL without db_default slapolicy.tiers",
        ),
        (
            "service",
            "0008_sla_policy_rules_next_response",
            "AddField NOT NULL without db_default slapolicy.types",
        ),
        (
            "service",
            "0008_sla_policy_rules_next_response",
            "AddField NOT NULL without db_default ticket.next_response_breached",
        ),
        (
            "service",
            "0008_sla_policy_rules_next_response",
            "AddField NOT NULL without db_default ticket.next_response_paused_base",
        ),
        (
            "service",
            "0008_sla_policy_rules_next_response",
            "AddField NOT NULL without db_default ticket.next_response_warned",
        ),
        (
            "service",
            "0010_unverified_sender",
            "AddField NOT NULL without db_default inboundmessage.authentication",
        ),
        (
            "service",
            "0010_unverified_sender",
            "AddField NOT NULL without db_default ticket.unverified_sender",
        ),
        ("tenants", "0002_user_preferences", "AddField NOT NULL without db_default user.language"),
        ("tenants", "0002_user_preferences", "AddField NOT NULL without db_default user.time_zone"),
        (
            "tenants",
            "0004_tenant_billing_status",
            "AddField NOT NULL without db_default tenant.billing_status",
        ),
        (
            "tenants",
            "0012_pending_signup_currency",
            "AddField NOT NULL without db_default pendingsignup.currency",
        ),
    }
)
