"""The one module that talks to S3 (D12): workspace documents live under workspaces/<schema>/."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config
from django.conf import settings


def workspace_prefix(schema_name: str) -> str:
    return f"workspaces/{schema_name}/"


def s3_configured() -> bool:
    return bool(settings.AWS_STORAGE_BUCKET_NAME)


def s3_client(*, timeout: float = 10.0) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=settings.AWS_S3_ENDPOINT_URL or None,
        region_name=settings.AWS_S3_REGION_NAME or None,
        config=Config(connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 1}),
    )


def bucket_reachable(*, timeout: float) -> None:
    """Raise unless the documents bucket answers to our credentials."""
    s3_client(timeout=timeout).head_bucket(Bucket=settings.AWS_STORAGE_BUCKET_NAME)


def workspace_objects(*, schema_name: str) -> list[dict[str, Any]]:
    """Every document object of one workspace: key, size, ETag (for a backup's manifest)."""
    if not s3_configured():
        return []
    client = s3_client()
    paginator = client.get_paginator("list_objects_v2")
    objects: list[dict[str, Any]] = []
    for page in paginator.paginate(
        Bucket=settings.AWS_STORAGE_BUCKET_NAME, Prefix=workspace_prefix(schema_name)
    ):
        objects.extend(
            {"key": item["Key"], "size": item["Size"], "etag": item["ETag"].strip('"')}
            for item in page.get("Contents", [])
        )
    return objects
