import uuid

from django.db import models
from django.db.models.functions import Upper
from django.utils import timezone

from crm_platform.fields import user_reference


class Document(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.BigIntegerField()
    current_version = models.PositiveIntegerField(default=1)
    # The last version number handed out to an upload (abandoned uploads leave gaps).
    version_counter = models.PositiveIntegerField(default=1)
    uploaded_by = user_reference()
    created_at = models.DateTimeField(default=timezone.now)
    # Set while the document is in the trash; purged 30 days later.
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="document_recent"),
            models.Index(Upper("name"), name="document_name_upper"),
            models.Index(fields=["deleted_at"], name="document_trash"),
        ]

    def __str__(self) -> str:
        return self.name


class DocumentVersion(models.Model):
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    key = models.CharField(max_length=300)
    size = models.BigIntegerField()
    content_type = models.CharField(max_length=100)
    # The type the first bytes show (the declared one when they agree, "" when unknown); only a
    # version whose bytes agree with a previewable declared type is ever served inline.
    sniffed_type = models.CharField(max_length=100, blank=True)
    checksum = models.CharField(max_length=100, blank=True)
    # A PNG of a PDF's first page, rendered in the background; "" until then (or for good when
    # the PDF cannot be rendered).
    thumbnail_key = models.CharField(max_length=300, blank=True)
    # A restore makes a new version that reads the older version's object.
    restored_from = models.PositiveIntegerField(null=True, blank=True)
    uploaded_by = user_reference()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["document", "number"], name="document_version_unique")
        ]

    def __str__(self) -> str:
        return f"{self.document_id} v{self.number}"


class DocumentLink(models.Model):
    """A document attached to one record of a registered attachable type."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="links")
    record_type = models.CharField(max_length=64)
    record_id = models.BigIntegerField()
    linked_by = user_reference()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["document", "record_type", "record_id"], name="document_link_unique"
            )
        ]
        indexes = [models.Index(fields=["record_type", "record_id"], name="document_link_record")]

    def __str__(self) -> str:
        return f"{self.document_id} → {self.record_type}:{self.record_id}"
