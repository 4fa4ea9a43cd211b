"""Imports and exports of sales records. Data only; ``services/`` writes them.

An import remembers, row by row, what it did (``ImportRow``): that is what makes it resumable
(a batch's rows and its records commit together, so a restarted worker continues after the
last committed row and never applies a row twice), what its error report lists, and what its
undo removes or restores.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm_platform.fields import user_reference


class Entity(models.TextChoices):
    CONTACT = "contact", _("Contacts")
    COMPANY = "company", _("Companies")
    LEAD = "lead", _("Leads")
    DEAL = "deal", _("Deals")
    ACTIVITY = "activity", _("Activities and notes")


class ImportJob(models.Model):
    class Status(models.TextChoices):
        MAPPING = "mapping", _("Waiting for its column mapping")
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Importing")
        DONE = "done", _("Finished")
        FAILED = "failed", _("Failed")
        UNDOING = "undoing", _("Being undone")
        UNDONE = "undone", _("Undone")

    class Duplicates(models.TextChoices):
        SKIP = "skip", _("Skip the row")
        UPDATE = "update", _("Update the existing record")
        CREATE = "create", _("Create a new record anyway")

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    entity = models.CharField(max_length=10, choices=Entity.choices)
    file_name = models.CharField(max_length=255)
    file_key = models.CharField(max_length=500)
    file_size = models.BigIntegerField()
    file_format = models.CharField(max_length=4)  # csv or xlsx
    encoding = models.CharField(max_length=30, blank=True)
    delimiter = models.CharField(max_length=1, blank=True)
    headers = models.JSONField(default=list)
    # The first rows of the file, for the mapping page's preview (no file read on each visit).
    sample = models.JSONField(default=list)
    # Column index (as text) -> target field ("email", "custom:vat_id", …).
    mapping = models.JSONField(default=dict)
    date_format = models.CharField(max_length=10, default="iso")
    duplicates = models.CharField(max_length=6, choices=Duplicates.choices, default=Duplicates.SKIP)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.MAPPING)
    # Counted by the worker before the first batch; 0 until then.
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    failure = models.TextField(blank=True)
    created_by = user_reference(verbose_name=_("imported by"))
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = user_reference(verbose_name=_("undone by"))

    class Meta:
        indexes = [models.Index(fields=["-id"], name="import_newest")]

    def __str__(self) -> str:
        return self.file_name


class ImportRow(models.Model):
    """What one data row of the file became. Row numbers count data rows from 1 (the header
    is not counted), as the error report shows them."""

    class Outcome(models.TextChoices):
        CREATED = "created", _("Created")
        UPDATED = "updated", _("Updated")
        SKIPPED = "skipped", _("Skipped as a duplicate")
        FAILED = "failed", _("Not imported")

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="rows")
    number = models.PositiveIntegerField()
    outcome = models.CharField(max_length=7, choices=Outcome.choices)
    record_id = models.BigIntegerField(null=True, blank=True)
    # Companies created on the way to link a contact (removed by an undo too).
    created_companies = models.JSONField(default=list, blank=True)
    # Timeline entries the row wrote (its note column), removed by an undo.
    created_activities = models.JSONField(default=list, blank=True)
    # The values an update replaced, restored by an undo.
    previous = models.JSONField(default=dict, blank=True)
    # [{"column": "Email", "reason": "…"}]
    errors = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "number"], name="import_row_once"),
        ]
        indexes = [models.Index(fields=["job", "outcome", "number"], name="import_row_outcome")]

    def __str__(self) -> str:
        return f"{self.job_id}:{self.number}"


class ExportJob(models.Model):
    """An export too large to answer at once: written by a worker, offered when ready."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Exporting")
        DONE = "done", _("Ready")
        FAILED = "failed", _("Failed")

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    entity = models.CharField(max_length=10, choices=Entity.choices)
    file_format = models.CharField(max_length=4)
    filters = models.JSONField(default=dict)
    status = models.CharField(max_length=7, choices=Status.choices, default=Status.QUEUED)
    file_key = models.CharField(max_length=500, blank=True)
    row_count = models.PositiveIntegerField(default=0)
    created_by = user_reference(verbose_name=_("exported by"))
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["created_by", "-id"], name="export_by_member")]

    def __str__(self) -> str:
        return f"{self.entity}.{self.file_format}"
