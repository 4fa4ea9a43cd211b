# The trigram indexes behind the custom-field filter "contains" (ADR 0062), built without
# locking writes where a workspace exists (CREATE INDEX CONCURRENTLY, hence not atomic): a large
# workspace keeps working
# while they are built; a workspace being provisioned builds them in its own transaction.

import crm_platform.indexes
import django.contrib.postgres.indexes
import django.db.models
import django.db.models.functions.comparison
import django.db.models.functions.text

from django.db import migrations


def _index(name):
    return crm_platform.indexes.TrigramIndex(
        django.contrib.postgres.indexes.OpClass(
            django.db.models.functions.text.Upper(
                django.db.models.functions.comparison.Cast(
                    "custom", output_field=django.db.models.TextField()
                )
            ),
            name="gin_trgm_ops",
        ),
        name=name,
    )


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("sales", "0016_lead_custom_fields_and_defaults"),
    ]

    operations = [
        crm_platform.indexes.AddIndexUnlocked(model_name="company", index=_index("company_custom_text")),
        crm_platform.indexes.AddIndexUnlocked(model_name="contact", index=_index("contact_custom_text")),
        crm_platform.indexes.AddIndexUnlocked(model_name="deal", index=_index("deal_custom_text")),
        crm_platform.indexes.AddIndexUnlocked(model_name="lead", index=_index("lead_custom_text")),
    ]
