from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("service", "0008_sla_policy_rules_next_response"),
    ]

    operations = [
        migrations.AddField(
            model_name="slapolicy",
            name="retired_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
