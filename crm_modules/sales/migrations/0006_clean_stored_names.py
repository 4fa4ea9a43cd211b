"""Names written before the text rule pass through the same normalisation (stripping what it
refuses), in every workspace schema (migrate_all runs it there)."""

from django.db import migrations

from crm_platform.name_cleanup import clean_stored_names

NAME_FIELDS = {
    "Company": ["name"],
    "Contact": ["first_name", "last_name"],
    "Lead": ["first_name", "last_name", "company_name"],
    "Pipeline": ["name"],
    "Stage": ["name"],
    "Deal": ["name"],
    "Task": ["title"],
    "CustomField": ["label"],
}


class Migration(migrations.Migration):
    dependencies = [
        ("sales", "0005_duplicates_merge_and_scores"),
    ]

    operations = [
        migrations.RunPython(
            clean_stored_names("sales", NAME_FIELDS), migrations.RunPython.noop, elidable=True
        ),
    ]
