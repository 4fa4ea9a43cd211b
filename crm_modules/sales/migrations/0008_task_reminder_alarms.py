"""Set each workspace's reminder alarm (tenants.WorkspaceAlarm) from the tasks it already
has, so that the reminder sweep, which now visits only workspaces whose alarm is due, finds
them. The values are those of crm_modules.sales.services.reminders at the time of writing."""

from django.db import migrations

KIND = "sales.task_reminders"


def set_alarm(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT min(due_at) - interval '15 minutes' FROM sales_task"
            " WHERE NOT done AND reminded_at IS NULL AND owner_id IS NOT NULL"
            " AND due_at > now() - interval '12 hours'"
        )
        (due_at,) = cursor.fetchone()
        if due_at is None:
            return
        cursor.execute(
            "INSERT INTO public.tenants_workspacealarm (schema_name, kind, due_at, version)"
            " VALUES (current_schema(), %s, %s, 0)"
            " ON CONFLICT (kind, schema_name) DO UPDATE"
            " SET due_at = LEAST(tenants_workspacealarm.due_at, EXCLUDED.due_at),"
            " version = tenants_workspacealarm.version + 1",
            [KIND, due_at],
        )


class Migration(migrations.Migration):
    dependencies = [
        ("sales", "0007_stage_change_left_at"),
        ("tenants", "0010_workspace_alarm"),
    ]

    operations = [migrations.RunPython(set_alarm, migrations.RunPython.noop)]
