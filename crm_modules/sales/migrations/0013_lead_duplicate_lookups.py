from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("sales", "0012_contact_language"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(fields=["email"], name="lead_email_lookup"),
        ),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(fields=["phone"], name="lead_phone_lookup"),
        ),
    ]
