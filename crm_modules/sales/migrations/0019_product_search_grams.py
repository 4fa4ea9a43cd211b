# The trigram indexes behind product search by name or SKU (ADR 0069): the segment builder's
# product picker, the product list and the products API. Built without locking writes where a
# workspace exists (CREATE INDEX CONCURRENTLY, hence not atomic), in the provisioning
# transaction for a new workspace, and left out where pg_trgm is missing (crm_platform.indexes).

import crm_platform.indexes
import django.contrib.postgres.indexes
import django.db.models
import django.db.models.functions.comparison
import django.db.models.functions.text

from django.db import migrations


def _index(field, name):
    return crm_platform.indexes.TrigramIndex(
        django.contrib.postgres.indexes.OpClass(
            django.db.models.functions.text.Upper(
                django.db.models.functions.comparison.Cast(
                    field, output_field=django.db.models.TextField()
                )
            ),
            name="gin_trgm_ops",
        ),
        name=name,
    )


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("sales", "0018_contact_name_keys"),
    ]

    operations = [
        crm_platform.indexes.AddIndexUnlocked(
            model_name="product", index=_index("name", "product_name_grams")
        ),
        crm_platform.indexes.AddIndexUnlocked(
            model_name="product", index=_index("sku", "product_sku_grams")
        ),
    ]
