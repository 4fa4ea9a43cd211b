import django.db.models.deletion
from django.db import migrations, models

# The stage totals get a row per status and currency too, so reports can read them: the
# pipeline chart sums open deals only, and only amounts it need not convert. The triggers of
# 0020 are replaced by the same statement triggers grouping by the two new columns; the rows
# are then counted again from the deals, under a lock that holds writers of deals until commit.
SYNC = r"""
CREATE OR REPLACE FUNCTION sales_deal_stage_total_add(changed jsonb) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO sales_dealstagetotal AS total (stage_id, owner_id, status, currency, deals, amount)
    SELECT stage_id, owner_id, status, currency, deals, amount
    FROM jsonb_to_recordset(changed)
        AS c(stage_id bigint, owner_id bigint, status text, currency text, deals bigint,
             amount numeric)
    WHERE deals <> 0 OR amount <> 0
    ORDER BY stage_id, owner_id, status, currency
    ON CONFLICT (stage_id, owner_id, status, currency) DO UPDATE
        SET deals = total.deals + EXCLUDED.deals, amount = total.amount + EXCLUDED.amount;
$$;
CREATE OR REPLACE FUNCTION sales_deal_stage_total_sync() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    changed jsonb;
BEGIN
    IF TG_TABLE_SCHEMA <> current_schema() THEN
        RAISE EXCEPTION 'sales_deal in schema % written with search_path %',
            TG_TABLE_SCHEMA, current_setting('search_path');
    END IF;
    IF TG_OP = 'INSERT' THEN
        SELECT jsonb_agg(c) INTO changed FROM (
            SELECT stage_id, owner_id, status, currency, count(*) AS deals, sum(amount) AS amount
            FROM new_deals GROUP BY stage_id, owner_id, status, currency) AS c;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT jsonb_agg(c) INTO changed FROM (
            SELECT stage_id, owner_id, status, currency, -count(*) AS deals,
                -sum(amount) AS amount
            FROM old_deals GROUP BY stage_id, owner_id, status, currency) AS c;
    ELSE
        SELECT jsonb_agg(c) INTO changed FROM (
            SELECT stage_id, owner_id, status, currency, sum(n) AS deals, sum(a) AS amount
            FROM (
                SELECT stage_id, owner_id, status, currency, 1 AS n, amount AS a FROM new_deals
                UNION ALL
                SELECT stage_id, owner_id, status, currency, -1, -amount FROM old_deals
            ) AS moved
            GROUP BY stage_id, owner_id, status, currency) AS c;
    END IF;
    IF changed IS NOT NULL THEN
        PERFORM sales_deal_stage_total_add(changed);
    END IF;
    RETURN NULL;
END $$;
"""
# Back to 0020's functions (the rows of several statuses and currencies stay apart).
UNSYNC = r"""
CREATE OR REPLACE FUNCTION sales_deal_stage_total_add(changed jsonb) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO sales_dealstagetotal AS total (stage_id, owner_id, deals, amount)
    SELECT stage_id, owner_id, deals, amount
    FROM jsonb_to_recordset(changed)
        AS c(stage_id bigint, owner_id bigint, deals bigint, amount numeric)
    WHERE deals <> 0 OR amount <> 0
    ORDER BY stage_id, owner_id
    ON CONFLICT (stage_id, owner_id) DO UPDATE
        SET deals = total.deals + EXCLUDED.deals, amount = total.amount + EXCLUDED.amount;
$$;
CREATE OR REPLACE FUNCTION sales_deal_stage_total_sync() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    changed jsonb;
BEGIN
    IF TG_TABLE_SCHEMA <> current_schema() THEN
        RAISE EXCEPTION 'sales_deal in schema % written with search_path %',
            TG_TABLE_SCHEMA, current_setting('search_path');
    END IF;
    IF TG_OP = 'INSERT' THEN
        SELECT jsonb_agg(c) INTO changed FROM (
            SELECT stage_id, owner_id, count(*) AS deals, sum(amount) AS amount
            FROM new_deals GROUP BY stage_id, owner_id) AS c;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT jsonb_agg(c) INTO changed FROM (
            SELECT stage_id, owner_id, -count(*) AS deals, -sum(amount) AS amount
            FROM old_deals GROUP BY stage_id, owner_id) AS c;
    ELSE
        SELECT jsonb_agg(c) INTO changed FROM (
            SELECT stage_id, owner_id, sum(n) AS deals, sum(a) AS amount FROM (
                SELECT stage_id, owner_id, 1 AS n, amount AS a FROM new_deals
                UNION ALL
                SELECT stage_id, owner_id, -1, -amount FROM old_deals) AS moved
            GROUP BY stage_id, owner_id) AS c;
    END IF;
    IF changed IS NOT NULL THEN
        PERFORM sales_deal_stage_total_add(changed);
    END IF;
    RETURN NULL;
END $$;
"""
REFILL = """
LOCK TABLE sales_deal IN SHARE MODE;
DELETE FROM sales_dealstagetotal;
INSERT INTO sales_dealstagetotal (stage_id, owner_id, status, currency, deals, amount)
SELECT stage_id, owner_id, status, currency, count(*), coalesce(sum(amount), 0) FROM sales_deal
GROUP BY stage_id, owner_id, status, currency;
"""
UNFILL = """
LOCK TABLE sales_deal IN SHARE MODE;
DELETE FROM sales_dealstagetotal;
INSERT INTO sales_dealstagetotal (stage_id, owner_id, status, currency, deals, amount)
SELECT stage_id, owner_id, '', '', count(*), coalesce(sum(amount), 0) FROM sales_deal
GROUP BY stage_id, owner_id;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("sales", "0020_deal_stage_totals"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="dealstagetotal", name="deal_stage_total_key"),
        # The column stays ``stage_id``: only the model learns that it names a stage.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(model_name="dealstagetotal", name="stage_id"),
                migrations.AddField(
                    model_name="dealstagetotal",
                    name="stage",
                    field=models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="sales.stage",
                    ),
                    preserve_default=False,
                ),
            ],
        ),
        migrations.AddField(
            model_name="dealstagetotal",
            name="status",
            field=models.CharField(db_default="", default="", max_length=5),
        ),
        migrations.AddField(
            model_name="dealstagetotal",
            name="currency",
            field=models.CharField(db_default="", default="", max_length=3),
        ),
        migrations.AddConstraint(
            model_name="dealstagetotal",
            constraint=models.UniqueConstraint(
                fields=("stage", "owner", "status", "currency"),
                name="deal_stage_total_key",
                nulls_distinct=False,
            ),
        ),
        migrations.RunSQL(sql=SYNC, reverse_sql=UNSYNC),
        migrations.RunSQL(sql=REFILL, reverse_sql=UNFILL),
    ]
