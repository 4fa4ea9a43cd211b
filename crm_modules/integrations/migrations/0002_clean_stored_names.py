"""API key names written before the text rule pass through the same normalisation, in every
workspace schema."""

from django.db import migrations

from crm_platform.name_cleanup import clean_stored_names


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(
            clean_stored_names("integrations", {"ApiKey": ["name"]}),
            migrations.RunPython.noop,
            elidable=True,
        ),
    ]
