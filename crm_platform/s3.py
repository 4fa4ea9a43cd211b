"""The one module that talks to S3 (D12): workspace documents live under workspaces/<schema>/.

Browsers send and fetch bytes through presigned requests; the objects the server itself writes
and reads (PDF thumbnails, inbound email attachments, import files and finished exports) go
through one django-storages ``S3Storage`` built here from the same settings (ADR 0077)."""

from __future__ import annotations

import datetime
import functools
import shutil
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import boto3
from boto3.s3.transfer import TransferConfig
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError
from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from storages.backends.s3 import S3Storage


def workspace_prefix(schema_name: str) -> str:
    return f"workspaces/{schema_name}/"


def s3_configured() -> bool:
    return bool(settings.AWS_STORAGE_BUCKET_NAME)


def s3_client(*, timeout: float = 10.0, signed: bool = True, connections: int = 10) -> Any:
    """A client (thread-safe: one client serves a pool of threads, ``connections`` at a time);
    built from boto3's default session, which is only ever used here to build clients."""
    return boto3.client(
        "s3",
        endpoint_url=settings.AWS_S3_ENDPOINT_URL or None,
        region_name=settings.AWS_S3_REGION_NAME or None,
        # Presigned URLs must carry the workspace's path style and SigV4 on every endpoint.
        config=Config(
            connect_timeout=timeout,
            read_timeout=timeout,
            retries={"max_attempts": 1},
            max_pool_connections=connections,
            signature_version="s3v4" if signed else UNSIGNED,
            s3={"addressing_style": "path"} if settings.AWS_S3_ENDPOINT_URL else None,
        ),
    )


def presigned_origin() -> str | None:
    """The origin (scheme://host[:port]) of the URLs this module presigns — where browsers PUT
    uploads and load previews, for the Content-Security-Policy — or None without a bucket.
    Read from a URL built as the presigned ones are (the client picks virtual-hosted
    ``<bucket>.s3.amazonaws.com``, a regional endpoint or the custom one), without credentials."""
    if not s3_configured():
        return None
    return _presigned_origin(
        settings.AWS_STORAGE_BUCKET_NAME, settings.AWS_S3_ENDPOINT_URL, settings.AWS_S3_REGION_NAME
    )


@functools.lru_cache(maxsize=8)
def _presigned_origin(bucket: str, endpoint: str, region: str) -> str:
    url = s3_client(signed=False).generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": f"{workspace_prefix('origin')}key"}
    )
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


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


def _folder_prefix(schema_name: str, folder: str) -> str:
    if not schema_name or not folder.isidentifier():
        raise KeyOutsideWorkspace(f"{schema_name}/{folder}")
    return f"{workspace_prefix(schema_name)}{folder}/"


def workspace_objects_before(
    *, schema_name: str, folder: str, before: datetime.datetime
) -> Iterator[list[str]]:
    """Pages (up to 1,000 keys) of the objects under ``workspaces/<schema>/<folder>/`` last
    written before ``before``: what a sweep of abandoned uploads looks at, a page at a time."""
    prefix = _folder_prefix(schema_name, folder)
    if not s3_configured():
        return
    paginator = s3_client().get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=settings.AWS_STORAGE_BUCKET_NAME, Prefix=prefix):
        keys = [item["Key"] for item in page.get("Contents", []) if item["LastModified"] < before]
        if keys:
            yield keys


def multipart_uploads_before(
    *, schema_name: str, folder: str, before: datetime.datetime
) -> list[tuple[str, str]]:
    """The open uploads in parts under ``workspaces/<schema>/<folder>/`` started before
    ``before``, as (key, upload id)."""
    prefix = _folder_prefix(schema_name, folder)
    if not s3_configured():
        return []
    paginator = s3_client().get_paginator("list_multipart_uploads")
    return [
        (upload["Key"], upload["UploadId"])
        for page in paginator.paginate(Bucket=settings.AWS_STORAGE_BUCKET_NAME, Prefix=prefix)
        for upload in page.get("Uploads", [])
        if upload["Initiated"] < before
    ]


# --- documents: keys, presigned requests, verification ------------------------------------


class KeyOutsideWorkspace(ValueError):
    """A key that does not belong to the workspace asking for it."""


class ObjectsNotDeleted(RuntimeError):
    """S3 refused to delete some objects of a batch."""


def document_key(*, schema_name: str, document_uuid: str, version: int) -> str:
    """``workspaces/<schema>/documents/<uuid>/<version>``: built only from values the server
    chose, never from a user-supplied path segment."""
    key = f"{workspace_prefix(schema_name)}documents/{uuid.UUID(str(document_uuid))}/{int(version)}"
    return workspace_key(schema_name=schema_name, key=key)


LOGO_EXTENSIONS = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "image/webp": "webp",
}


def logo_key(*, schema_name: str, logo_uuid: str, content_type: str) -> str:
    """``workspaces/<schema>/logo/<uuid>.<ext>``: a new key for each logo, so a replaced one
    is never served from a cache; the extension records the verified image type."""
    extension = LOGO_EXTENSIONS[content_type]
    key = f"{workspace_prefix(schema_name)}logo/{uuid.UUID(str(logo_uuid))}.{extension}"
    return workspace_key(schema_name=schema_name, key=key)


def thumbnail_key(*, schema_name: str, document_uuid: str, version: int) -> str:
    """``workspaces/<schema>/documents/<uuid>/thumbnails/<version>.png``: a PDF's first page."""
    key = (
        f"{workspace_prefix(schema_name)}documents/{uuid.UUID(str(document_uuid))}"
        f"/thumbnails/{int(version)}.png"
    )
    return workspace_key(schema_name=schema_name, key=key)


def workspace_key(*, schema_name: str, key: str) -> str:
    """``key`` if it lies inside the workspace's prefix; raise otherwise. Every presigned
    request and every object operation goes through this check."""
    prefix = workspace_prefix(schema_name)
    parts = key.split("/")
    if not schema_name or not key.startswith(prefix) or ".." in parts or "" in parts:
        raise KeyOutsideWorkspace(key)
    return key


# The request headers that ask S3 for encryption at rest, by the API's parameter name.
_ENCRYPTION_HEADERS = {
    "ServerSideEncryption": "x-amz-server-side-encryption",
    "SSEKMSKeyId": "x-amz-server-side-encryption-aws-kms-key-id",
}


def _encryption() -> dict[str, str]:
    """The encryption parameters every write asks for (none when the bucket's default is
    relied on)."""
    params: dict[str, str] = {}
    if settings.AWS_S3_SERVER_SIDE_ENCRYPTION:
        params["ServerSideEncryption"] = settings.AWS_S3_SERVER_SIDE_ENCRYPTION
        if settings.AWS_S3_SERVER_SIDE_ENCRYPTION == "aws:kms" and settings.AWS_S3_SSE_KMS_KEY_ID:
            params["SSEKMSKeyId"] = settings.AWS_S3_SSE_KMS_KEY_ID
    return params


@dataclass(frozen=True)
class PresignedPut:
    """A URL the browser PUTs the bytes to and the headers it must send with them: every
    header that was signed but Host and Content-Length, which the browser sets itself."""

    url: str
    headers: dict[str, str]


def presign_put(
    *, schema_name: str, key: str, content_type: str, size: int, expires_in: int
) -> PresignedPut:
    """Content-Type, Content-Length and the encryption asked for are signed, so the request
    must send exactly what was declared (S3 refuses another size or type)."""
    workspace_key(schema_name=schema_name, key=key)
    encryption = _encryption()
    params: dict[str, Any] = {
        "Bucket": settings.AWS_STORAGE_BUCKET_NAME,
        "Key": key,
        "ContentType": content_type,
        "ContentLength": size,
        **encryption,
    }
    url: str = s3_client().generate_presigned_url(
        "put_object", Params=params, ExpiresIn=expires_in, HttpMethod="PUT"
    )
    headers = {"Content-Type": content_type}
    headers.update({_ENCRYPTION_HEADERS[name]: value for name, value in encryption.items()})
    return PresignedPut(url=url, headers=headers)


# --- multipart uploads: large documents go in parts, each PUT by the browser ----------------


def multipart_create(*, schema_name: str, key: str, content_type: str) -> str:
    """Start a multipart upload; answers its upload id."""
    workspace_key(schema_name=schema_name, key=key)
    params: dict[str, Any] = {
        "Bucket": settings.AWS_STORAGE_BUCKET_NAME,
        "Key": key,
        "ContentType": content_type,
        **_encryption(),
    }
    upload_id: str = s3_client().create_multipart_upload(**params)["UploadId"]
    return upload_id


def presign_upload_part(
    *, schema_name: str, key: str, upload_id: str, part_number: int, size: int, expires_in: int
) -> PresignedPut:
    """A URL the browser PUTs one part to; its length is signed. The encryption was asked for
    when the upload started, so a part signs no header the browser must add."""
    workspace_key(schema_name=schema_name, key=key)
    url: str = s3_client().generate_presigned_url(
        "upload_part",
        Params={
            "Bucket": settings.AWS_STORAGE_BUCKET_NAME,
            "Key": key,
            "UploadId": upload_id,
            "PartNumber": part_number,
            "ContentLength": size,
        },
        ExpiresIn=expires_in,
        HttpMethod="PUT",
    )
    return PresignedPut(url=url, headers={})


def _no_such_upload(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in {"NoSuchUpload", "404", "NotFound"}


def multipart_parts(*, schema_name: str, key: str, upload_id: str) -> list[dict[str, Any]] | None:
    """The parts S3 holds for an upload (number, size, ETag), or None when the upload is no
    longer open (completed or aborted)."""
    workspace_key(schema_name=schema_name, key=key)
    client = s3_client()
    parts: list[dict[str, Any]] = []
    marker = 0
    try:
        while True:
            page = client.list_parts(
                Bucket=settings.AWS_STORAGE_BUCKET_NAME,
                Key=key,
                UploadId=upload_id,
                PartNumberMarker=marker,
            )
            parts.extend(
                {"number": p["PartNumber"], "size": p["Size"], "etag": p["ETag"]}
                for p in page.get("Parts", [])
            )
            if not page.get("IsTruncated"):
                return parts
            marker = int(page["NextPartNumberMarker"])
    except ClientError as exc:
        if _no_such_upload(exc):
            return None
        raise


def multipart_complete(
    *, schema_name: str, key: str, upload_id: str, parts: list[dict[str, Any]]
) -> bool:
    """Join the parts into the object; False when the upload is no longer open."""
    workspace_key(schema_name=schema_name, key=key)
    try:
        s3_client(timeout=60).complete_multipart_upload(
            Bucket=settings.AWS_STORAGE_BUCKET_NAME,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={
                "Parts": [{"PartNumber": p["number"], "ETag": p["etag"]} for p in parts]
            },
        )
    except ClientError as exc:
        if _no_such_upload(exc):
            return False
        raise
    return True


def multipart_abort(*, schema_name: str, key: str, upload_id: str) -> None:
    """Drop an open upload and the parts it holds (nothing happens if it is already gone)."""
    workspace_key(schema_name=schema_name, key=key)
    try:
        s3_client().abort_multipart_upload(
            Bucket=settings.AWS_STORAGE_BUCKET_NAME, Key=key, UploadId=upload_id
        )
    except ClientError as exc:
        if not _no_such_upload(exc):
            raise


def presign_get(
    *,
    schema_name: str,
    key: str,
    content_type: str,
    content_disposition: str,
    expires_in: int,
) -> str:
    workspace_key(schema_name=schema_name, key=key)
    url: str = s3_client().generate_presigned_url(
        "get_object",
        Params={
            "Bucket": settings.AWS_STORAGE_BUCKET_NAME,
            "Key": key,
            "ResponseContentType": content_type,
            "ResponseContentDisposition": content_disposition,
        },
        ExpiresIn=expires_in,
    )
    return url


def object_head(*, schema_name: str, key: str) -> dict[str, Any] | None:
    """Size and content type of an object, or None when it is not there."""
    workspace_key(schema_name=schema_name, key=key)
    client = s3_client()
    try:
        head = client.head_object(Bucket=settings.AWS_STORAGE_BUCKET_NAME, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
            return None
        raise
    return {
        "size": int(head["ContentLength"]),
        "content_type": head.get("ContentType", ""),
        "etag": head.get("ETag", "").strip('"'),
    }


def object_read_start(*, schema_name: str, key: str, length: int) -> bytes:
    """The first ``length`` bytes of an object (a ranged GET), to tell its type from its
    content."""
    workspace_key(schema_name=schema_name, key=key)
    answer = s3_client().get_object(
        Bucket=settings.AWS_STORAGE_BUCKET_NAME, Key=key, Range=f"bytes=0-{max(length, 1) - 1}"
    )
    body: bytes = answer["Body"].read(length)
    return body


def objects_delete(*, schema_name: str, keys: list[str]) -> None:
    """Delete objects of one workspace, in batches of the API's limit (1,000)."""
    for key in keys:
        workspace_key(schema_name=schema_name, key=key)
    client = s3_client()
    for start in range(0, len(keys), 1000):
        _delete_batch(client, [{"Key": key} for key in keys[start : start + 1000]])


def workspace_key_moved(*, key: str, source_schema: str, target_schema: str) -> str:
    """The key ``key`` (inside ``source_schema``'s prefix) takes under ``target_schema``'s."""
    workspace_key(schema_name=source_schema, key=key)
    moved = workspace_prefix(target_schema) + key.removeprefix(workspace_prefix(source_schema))
    return workspace_key(schema_name=target_schema, key=moved)


@dataclass(frozen=True)
class Written:
    """One object a copy or an upload wrote: its key, the version it created (None in a bucket
    without versioning), and whether the key held an object before (it was overwritten)."""

    key: str
    version_id: str | None
    replaced: bool


@dataclass(frozen=True)
class CopyResult:
    copied: list[str]  # keys written under the target prefix by this call
    present: list[str]  # keys the target prefix already held (an earlier, interrupted run)
    missing: list[str]  # source keys the bucket no longer holds
    # What this call wrote, to undo exactly that (``objects_written_undo``).
    written: list[Written] = field(default_factory=list)


# Threads copying at once (each copy is a request S3 serves in the bucket; the bytes never
# reach this process, so more threads than cores pay off).
COPY_WORKERS = 16
# Objects up to this size take one CopyObject; larger ones a multipart copy (UploadPartCopy),
# the only way past CopyObject's 5 GB limit. Parts are copied one after the other inside the
# object's thread, so the pool bounds the requests in flight.
_MANAGED = TransferConfig(
    multipart_threshold=256 * 1024**2, multipart_chunksize=256 * 1024**2, use_threads=False
)


def _head(client: Any, key: str) -> dict[str, Any] | None:
    try:
        head: dict[str, Any] = client.head_object(Bucket=settings.AWS_STORAGE_BUCKET_NAME, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
            return None
        raise
    return head


def _version(head: dict[str, Any] | None) -> str | None:
    version = (head or {}).get("VersionId")
    return None if version in (None, "null") else str(version)


def workspace_objects_copy(
    *, source_schema: str, target_schema: str, keys: list[str], workers: int = COPY_WORKERS
) -> CopyResult:
    """Copy objects of one workspace to the same places under another workspace's prefix,
    inside the bucket (the bytes never leave S3), content type and metadata kept, the
    encryption asked for as on any write. A restore under a new schema uses it, so the new
    workspace never reads the old one's prefix. ``workers`` threads copy at once, through one
    client; each copy is boto3's managed copy (multipart past ``_MANAGED``'s threshold, so an
    object over 5 GB is copied too). Running it again skips what is already there with the same
    size, so an interrupted copy resumes. What was written is answered with the versions it
    created, so a failed restore can remove exactly that and nothing the bucket held before."""
    targets = [
        workspace_key_moved(key=key, source_schema=source_schema, target_schema=target_schema)
        for key in keys
    ]
    client = s3_client(timeout=60, connections=workers)
    bucket = settings.AWS_STORAGE_BUCKET_NAME

    def one(key: str, target: str) -> tuple[str, Written | None]:
        source_head = _head(client, key)
        if source_head is None:
            return "missing", None
        target_head = _head(client, target)
        if target_head is not None and target_head["ContentLength"] == source_head["ContentLength"]:
            return "present", None
        client.copy(
            CopySource={"Bucket": bucket, "Key": key},
            Bucket=bucket,
            Key=target,
            ExtraArgs={"MetadataDirective": "COPY", **_encryption()},
            Config=_MANAGED,
        )
        return "copied", Written(
            key=target, version_id=_version(_head(client, target)), replaced=target_head is not None
        )

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = [pool.submit(one, key, target) for key, target in zip(keys, targets, strict=True)]
    failed = [error for future in futures if (error := future.exception()) is not None]
    if failed:
        # The copies that succeeded are removed again before the failure is raised: the
        # caller never learns about them.
        done = [future.result()[1] for future in futures if future.exception() is None]
        objects_written_undo(
            schema_name=target_schema, written=[item for item in done if item is not None]
        )
        raise failed[0]
    outcomes = [future.result() for future in futures]
    result = CopyResult(copied=[], present=[], missing=[])
    for key, target, (outcome, written) in zip(keys, targets, outcomes, strict=True):
        if outcome == "missing":
            result.missing.append(key)
        elif outcome == "present":
            result.present.append(target)
        elif written is not None:
            result.copied.append(target)
            result.written.append(written)
    return result


def object_upload_written(*, schema_name: str, key: str, path: str, content_type: str) -> Written:
    """Upload a local file to ``key`` (multipart for a large one), the encryption asked for as
    on any write; answers what it wrote, as ``workspace_objects_copy`` does."""
    workspace_key(schema_name=schema_name, key=key)
    client = s3_client(timeout=60)
    replaced = _head(client, key) is not None
    client.upload_file(
        path,
        settings.AWS_STORAGE_BUCKET_NAME,
        key,
        ExtraArgs={"ContentType": content_type, **_encryption()},
        Config=_MANAGED,
    )
    return Written(key=key, version_id=_version(_head(client, key)), replaced=replaced)


def objects_written_undo(*, schema_name: str, written: list[Written]) -> None:
    """Remove what a copy or an upload wrote and nothing else: in a versioned bucket the version
    it created is deleted, so an overwritten key answers its previous object again; without
    versioning a new key is deleted, and an overwritten one is left (its previous bytes are
    gone with the overwrite; deleting it would lose the key too)."""
    objects: list[dict[str, str]] = []
    for item in written:
        workspace_key(schema_name=schema_name, key=item.key)
        if item.version_id is not None:
            objects.append({"Key": item.key, "VersionId": item.version_id})
        elif not item.replaced:
            objects.append({"Key": item.key})
    client = s3_client()
    for start in range(0, len(objects), 1000):
        _delete_batch(client, objects[start : start + 1000])


def workspace_objects_purge(*, schema_name: str) -> int:
    """Delete everything a deleted workspace left under ``workspaces/<schema>/``: open uploads
    in parts are aborted, then every object — each stored version and delete marker, as the
    bucket keeps versions — is deleted, a listed page (up to 1,000 keys) at a time. Answers the
    number of object versions deleted; running it again finds nothing left to delete."""
    prefix = _purge_prefix(schema_name)
    if not s3_configured():
        return 0
    client = s3_client(timeout=60)
    bucket = settings.AWS_STORAGE_BUCKET_NAME
    # Each round lists the first page of what is left, so deleting never invalidates a page
    # marker; a round that finds the same first entry again means S3 kept what it was asked to
    # delete.
    last_seen: tuple[str, str] | None = None
    while True:
        uploads = client.list_multipart_uploads(Bucket=bucket, Prefix=prefix).get("Uploads", [])
        if not uploads:
            break
        first = (uploads[0]["Key"], uploads[0]["UploadId"])
        if first == last_seen:
            raise ObjectsNotDeleted(f"upload {first[0]} was not aborted")
        last_seen = first
        for upload in uploads:
            try:
                client.abort_multipart_upload(
                    Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                )
            except ClientError as exc:
                if not _no_such_upload(exc):
                    raise
    deleted = 0
    last_seen = None
    while True:
        page = client.list_object_versions(Bucket=bucket, Prefix=prefix, MaxKeys=1000)
        batch = [
            {"Key": item["Key"], "VersionId": item["VersionId"]}
            for item in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
        ]
        if not batch:
            return deleted
        first = (batch[0]["Key"], batch[0]["VersionId"])
        if first == last_seen:
            raise ObjectsNotDeleted(f"{first[0]} was not deleted")
        last_seen = first
        for start in range(0, len(batch), 1000):
            _delete_batch(client, batch[start : start + 1000])
        deleted += len(batch)


def _purge_prefix(schema_name: str) -> str:
    # Never a prefix that reaches beyond one workspace (an empty or dotted name would).
    if not schema_name or "/" in schema_name or schema_name in {".", ".."}:
        raise KeyOutsideWorkspace(schema_name)
    return workspace_prefix(schema_name)


def _delete_batch(client: Any, objects: list[dict[str, str]]) -> None:
    answer = client.delete_objects(
        Bucket=settings.AWS_STORAGE_BUCKET_NAME, Delete={"Objects": objects, "Quiet": True}
    )
    # A batch answers 200 even when some keys failed; the caller must not forget them.
    if answer.get("Errors"):
        failed = answer["Errors"][0]
        raise ObjectsNotDeleted(f"{len(answer['Errors'])} objects: {failed.get('Code')}")


def bucket_ensure() -> None:
    """Create the documents bucket if it is missing (the local S3 stand-in of `make run`)."""
    client = s3_client()
    try:
        client.head_bucket(Bucket=settings.AWS_STORAGE_BUCKET_NAME)
    except ClientError:
        client.create_bucket(Bucket=settings.AWS_STORAGE_BUCKET_NAME)


# --- imports and exports: files the server writes and reads itself -------------------------


def data_file_key(*, schema_name: str, kind: str, file_uuid: str, name: str) -> str:
    """``workspaces/<schema>/<imports|exports>/<uuid>/<name>``: an uploaded import file or a
    finished export, built only from values the server chose."""
    if kind not in ("imports", "exports") or name not in ("source", "export.csv", "export.xlsx"):
        raise KeyOutsideWorkspace(f"{kind}/{name}")
    key = f"{workspace_prefix(schema_name)}{kind}/{uuid.UUID(str(file_uuid))}/{name}"
    return workspace_key(schema_name=schema_name, key=key)


# A file the server reads is held in memory up to this size, on disk beyond it.
_STORAGE_MEMORY_BYTES = 8 * 1024**2


def object_storage() -> S3Storage:
    """The django-storages view of the documents bucket: the endpoint, region, path style and
    encryption of every other call here, keys used exactly as given (no prefix, never renamed,
    an existing object replaced), no ACL. Built from the settings on each use, so a test's
    settings apply."""
    endpoint = settings.AWS_S3_ENDPOINT_URL or None
    return S3Storage(
        bucket_name=settings.AWS_STORAGE_BUCKET_NAME,
        endpoint_url=endpoint,
        region_name=settings.AWS_S3_REGION_NAME or None,
        location="",
        file_overwrite=True,
        default_acl=None,
        object_parameters=_encryption(),
        max_memory_size=_STORAGE_MEMORY_BYTES,
        client_config=Config(
            connect_timeout=60,
            read_timeout=60,
            retries={"max_attempts": 1},
            signature_version="s3v4",
            s3={"addressing_style": "path"} if endpoint else None,
        ),
    )


def _stored(*, key: str, content: File[Any], content_type: str) -> None:
    storage = object_storage()
    # The storage reads the type from the file (it would otherwise guess it from the key).
    content.content_type = content_type  # type: ignore[attr-defined]
    saved = storage.save(key, content)
    if saved != key:  # never: keys are used as given, an existing object replaced
        raise KeyOutsideWorkspace(saved)


def object_upload(*, schema_name: str, key: str, path: str, content_type: str) -> None:
    """Stream a local file to the bucket (multipart for a large one)."""
    workspace_key(schema_name=schema_name, key=key)
    with open(path, "rb") as handle:
        _stored(key=key, content=File(handle), content_type=content_type)


def object_put(*, schema_name: str, key: str, data: bytes, content_type: str) -> str:
    """Write bytes the server itself received (an email attachment) to the workspace's prefix;
    returns the object's ETag."""
    workspace_key(schema_name=schema_name, key=key)
    _stored(key=key, content=ContentFile(data), content_type=content_type)
    head = object_head(schema_name=schema_name, key=key)
    return head["etag"] if head else ""


def object_download(*, schema_name: str, key: str, path: str) -> None:
    """Copy an object of the workspace to a local file."""
    workspace_key(schema_name=schema_name, key=key)
    with object_storage().open(key, "rb") as source, open(path, "wb") as target:
        shutil.copyfileobj(source, target)


# --- downloads the server serves itself ----------------------------------------------------

STREAM_CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True)
class ObjectStream:
    """An object's bytes as they come from S3, a chunk at a time (the connection is released
    when the last chunk has been read or the iterator is closed), and its size."""

    chunks: Iterator[bytes]
    size: int


def object_stream(*, schema_name: str, key: str) -> ObjectStream | None:
    """Read an object of the workspace in chunks, never whole in memory: what the server sends
    when it serves a download itself (active types, ADR 0077). None when it is not there."""
    reader = object_reader(schema_name=schema_name, key=key)
    if reader is None:
        return None
    body = reader.body

    def chunks() -> Iterator[bytes]:
        try:
            yield from body.iter_chunks(STREAM_CHUNK_BYTES)
        finally:
            body.close()

    return ObjectStream(chunks=chunks(), size=reader.size)


@dataclass(frozen=True)
class ObjectReader:
    """An object's body as a file object (``read(n)``, never whole in memory), its size and
    content type."""

    body: Any
    size: int
    content_type: str


def object_reader(*, schema_name: str, key: str) -> ObjectReader | None:
    """Open an object of the workspace for reading (a backup streams it into its archive);
    None when it is not there. The caller closes ``body``."""
    workspace_key(schema_name=schema_name, key=key)
    try:
        answer = s3_client(timeout=60).get_object(Bucket=settings.AWS_STORAGE_BUCKET_NAME, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
            return None
        raise
    return ObjectReader(
        body=answer["Body"],
        size=int(answer["ContentLength"]),
        content_type=answer.get("ContentType", ""),
    )


def objects_absent(*, schema_name: str, keys: list[str], workers: int = COPY_WORKERS) -> list[str]:
    """The keys of ``keys`` the bucket does not hold (HEAD requests, ``workers`` at once)."""
    for key in keys:
        workspace_key(schema_name=schema_name, key=key)
    client = s3_client(connections=workers)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        heads = list(pool.map(lambda key: _head(client, key), keys))
    return [key for key, head in zip(keys, heads, strict=True) if head is None]
