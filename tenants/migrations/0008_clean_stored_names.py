"""Names written before the text rule pass through the same normalisation (stripping what it
refuses), in the public schema."""

from django.db import migrations

from crm_platform.name_cleanup import clean_stored_names

NAME_FIELDS = {
    "User": ["full_name"],
    "Tenant": ["name"],
    "Team": ["name"],
}


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0007_pending_signup"),
    ]

    operations = [
        migrations.RunPython(
            clean_stored_names("tenants", NAME_FIELDS), migrations.RunPython.noop, elidable=True
        ),
    ]
