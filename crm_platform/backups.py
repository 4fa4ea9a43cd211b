"""Backup and restore of one workspace (`manage.py workspace_export` / `workspace_restore`).

An archive is a gzipped tar with these members:

- ``schema.sql`` — ``pg_dump --schema`` of the workspace schema (plain SQL).
- ``files/<key>`` — with ``--with-files`` only: the bytes of every object under the
  workspace's prefix, streamed from S3 into the archive (never whole in memory).
- ``manifest.json`` (written last, once the files' checksums are known) — format version, the
  workspace's platform rows (tenant, domains, memberships), the migrations its schema had, a
  row count and checksum per table, the manifest of its documents in S3 (key, size, ETag; the
  objects stay in the versioned bucket) and the files the archive holds (key, size, SHA-256,
  content type).

Export reads everything from one snapshot: a REPEATABLE READ transaction exports its snapshot
and ``pg_dump --snapshot`` dumps from it, so the dump, the platform rows and the checksums agree.

Restore checks the archive before touching anything (complete, a format and migrations this
version knows), loads the schema under a new name in one transaction (``psql
--single-transaction``), verifies every table's count and checksum, then — in one database
transaction — either creates the workspace's platform rows (a new workspace) or swaps the
restored schema in for the current one (``replace``). Anything that fails on the way drops the
restored schema and removes exactly the object versions it wrote (an overwritten key answers
its previous object again): no half-restored workspace is left, no file it had is lost.

Objects in S3 live under ``workspaces/<schema>/`` and the rows name them by key. A restore
under another schema (a new workspace, or over a workspace whose schema is not the archive's)
copies every object the restored rows name — document versions, thumbnails, import and export
files, the logo — inside the bucket to the same place under the new prefix, then rewrites the
keys in the same transaction that makes the workspace live: the new workspace never reads the
old one's prefix (ADR 0073). Modules name their key columns with ``register_object_keys``.
Copies run on a bounded pool of threads (ADR 0080). A key the rows name that the bucket no
longer holds (a deleted workspace's files were purged) is uploaded from the archive when it
holds the file; every file member is checked against its checksum before anything changes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import logging
import os
import re
import secrets
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

from crm_platform import s3
from crm_platform.schema_migration_worker import migration_target
from tenants.hosts import workspace_hostname
from tenants.models import Domain, Membership, Tenant, User

FORMAT = 1
MANIFEST = "manifest.json"
SCHEMA_SQL = "schema.sql"
FILES = "files/"
SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

logger = logging.getLogger(__name__)

# Workspace tables whose columns hold object keys under ``workspaces/<schema>/``, by table.
_OBJECT_KEYS: dict[str, tuple[str, ...]] = {}


def register_object_keys(model: type[models.Model], *fields: str) -> None:
    """Declare that ``fields`` of a workspace model hold object keys (a module's
    ``module.py`` calls it, D16): a restore under another schema copies the objects they name
    and rewrites them."""
    columns: list[str] = []
    for name in fields:
        field = model._meta.get_field(name)
        if not isinstance(field, models.Field) or not field.column:
            raise ValueError(f"{model._meta.label}.{name} is not a column")
        columns.append(field.column)
    _OBJECT_KEYS[model._meta.db_table] = tuple(columns)


class BackupError(Exception):
    """An archive that cannot be written or restored; the message says why."""


@dataclass(frozen=True)
class RestoreResult:
    tenant: Tenant
    tables: int
    rows: int
    memberships: int
    skipped_members: list[str]
    # Objects copied to the workspace's prefix, and keys the bucket no longer held (their rows
    # were restored and point at the new prefix, where nothing answers).
    objects_copied: int = 0
    missing_objects: list[str] = dataclasses.field(default_factory=list)
    # Objects the bucket no longer held, uploaded from the archive's files.
    objects_uploaded: int = 0


@dataclass(frozen=True)
class ArchivedFile:
    """A file member of an archive, checked against the manifest and extracted to ``path``."""

    path: Path
    content_type: str


# --- PostgreSQL clients and checksums -------------------------------------------------------------


def _pg_env() -> dict[str, str]:
    params = connection.settings_dict
    env = dict(os.environ)
    env.update(
        # A socket directory given as ?host=… (the embedded server) lands in OPTIONS.
        PGHOST=str(params.get("HOST") or (params.get("OPTIONS") or {}).get("host") or "127.0.0.1"),
        PGPORT=str(params.get("PORT") or 5432),
        PGUSER=str(params.get("USER") or ""),
        PGDATABASE=str(params["NAME"]),
    )
    if params.get("PASSWORD"):
        env["PGPASSWORD"] = str(params["PASSWORD"])
    sslmode = (params.get("OPTIONS") or {}).get("sslmode")
    if sslmode:
        env["PGSSLMODE"] = str(sslmode)
    return env


def _client(name: str) -> str:
    """The PostgreSQL client program; PG_BIN_DIR picks a version matching the server."""
    directory = os.environ.get("PG_BIN_DIR")
    found = str(Path(directory) / name) if directory else shutil.which(name)
    if not found:
        raise BackupError(f"{name} is not installed (PostgreSQL client programs are needed).")
    return found


def _quote(name: str) -> str:
    if not SCHEMA_NAME.match(name):
        raise BackupError(f"Unexpected schema name {name!r}.")
    return f'"{name}"'


def table_checksums(schema_name: str) -> dict[str, dict[str, Any]]:
    """Row count and an order-independent md5 of every table in the schema."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY tablename",
            [schema_name],
        )
        tables = [row[0] for row in cursor.fetchall()]
        sums: dict[str, dict[str, Any]] = {}
        for table in tables:
            cursor.execute(
                f"SELECT count(*), md5(coalesce(string_agg(md5(t::text), '' ORDER BY"  # noqa: S608
                f" md5(t::text)), '')) FROM {_quote(schema_name)}.{_quote(table)} t"
            )
            count, digest = cursor.fetchone()
            sums[table] = {"rows": count, "md5": digest}
    return sums


def _applied(schema_name: str) -> list[list[str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT app, name FROM {_quote(schema_name)}.django_migrations"  # noqa: S608
            " ORDER BY app, name"
        )
        return [list(row) for row in cursor.fetchall()]


# --- export ---------------------------------------------------------------------------------


def _dump_schema(schema: str, path: Path, *, snapshot: str | None = None) -> None:
    """``pg_dump`` of one schema as plain SQL to ``path``, from ``snapshot`` when given."""
    arguments = [_client("pg_dump")]
    if snapshot is not None:
        arguments.append(f"--snapshot={snapshot}")
    arguments += [f"--schema={schema}", "--no-owner", "--no-privileges", f"--file={path}"]
    result = subprocess.run(  # noqa: S603
        arguments, env=_pg_env(), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise BackupError(f"pg_dump failed: {result.stderr.strip()}")


def schema_copy(*, source: str, target: str) -> None:
    """Create schema ``target`` as a copy of ``source`` (tables, indexes, constraints,
    sequences and rows, ``django_migrations`` included) with pg_dump and psql, in one
    transaction: a failure leaves no ``target``. Used to fill the spare-workspace pool from a
    pristine spare instead of running every migration again (ADR 0049)."""
    for name in (source, target):
        _quote(name)  # refuses a name that is not a plain schema name
    with tempfile.TemporaryDirectory() as workdir:
        dump_path = Path(workdir) / SCHEMA_SQL
        _dump_schema(source, dump_path)
        _load_schema(dump_path, source=source, target=target)


def workspace_export(*, slug: str, output: Path, with_files: bool = False) -> dict[str, Any]:
    """Write the workspace's archive to `output`; returns its manifest. With ``with_files``
    the archive also holds the bytes of the workspace's objects in S3."""
    tenant = Tenant.objects.filter(slug=slug).first()
    if tenant is None:
        raise BackupError(f"No workspace with the address {slug!r}.")
    schema_name = tenant.schema_name
    with tempfile.TemporaryDirectory() as workdir:
        dump_path = Path(workdir) / SCHEMA_SQL
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                cursor.execute("SELECT pg_export_snapshot()")
                (snapshot,) = cursor.fetchone()
            _dump_schema(schema_name, dump_path, snapshot=snapshot)
            tenant = Tenant.objects.get(pk=tenant.pk)
            manifest = {
                "format": FORMAT,
                "created_at": timezone.now().isoformat(),
                "schema_name": schema_name,
                "tenant": {
                    field: getattr(tenant, field)
                    for field in (
                        "name",
                        "slug",
                        "state",
                        "plan",
                        "seat_limit",
                        "time_zone",
                        "currency",
                        "require_mfa_for_admins",
                        "restrict_record_visibility",
                        "logo_key",
                    )
                }
                | {
                    "trial_ends_at": tenant.trial_ends_at and tenant.trial_ends_at.isoformat(),
                    "created_at": tenant.created_at.isoformat(),
                },
                "domains": list(
                    Domain.objects.filter(tenant=tenant).values("domain", "is_primary")
                ),
                "memberships": [
                    {
                        "user_id": member.user_id,
                        "email": member.user.email,
                        "role": member.role,
                        "status": member.status,
                        "created_at": member.created_at.isoformat(),
                    }
                    for member in Membership.objects.filter(tenant=tenant)
                    .select_related("user")
                    .order_by("pk")
                ],
                "migrations": _applied(schema_name),
                "tables": table_checksums(schema_name),
                "documents": s3.workspace_objects(schema_name=schema_name),
            }
        with tarfile.open(output, "w:gz") as archive:
            archive.add(dump_path, arcname=SCHEMA_SQL)
            manifest["files"] = (
                _files_archive(archive, schema_name, manifest["documents"]) if with_files else []
            )
            data = json.dumps(manifest, indent=2, default=str).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return manifest


class _Hashing:
    """A file object that hashes what is read through it."""

    def __init__(self, body: Any) -> None:
        self.body = body
        self.sha256 = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        chunk: bytes = self.body.read(size)
        self.sha256.update(chunk)
        return chunk


def _files_archive(
    archive: tarfile.TarFile, schema_name: str, documents: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Stream every listed object into the archive as ``files/<key>``; answers the manifest's
    entries. An object deleted since it was listed is left out."""
    files: list[dict[str, Any]] = []
    for document in documents:
        key = document["key"]
        reader = s3.object_reader(schema_name=schema_name, key=key)
        if reader is None:
            continue
        try:
            hashing = _Hashing(reader.body)
            info = tarfile.TarInfo(FILES + key)
            info.size = reader.size
            info.mtime = int(timezone.now().timestamp())
            archive.addfile(info, hashing)
        finally:
            reader.body.close()
        files.append(
            {
                "key": key,
                "size": reader.size,
                "sha256": hashing.sha256.hexdigest(),
                "content_type": reader.content_type,
            }
        )
    return files


# --- restore --------------------------------------------------------------------------------


def read_archive(path: Path, workdir: Path) -> tuple[dict[str, Any], Path, dict[str, ArchivedFile]]:
    """The manifest, the extracted dump and the extracted files (by key, each checked against
    the manifest's size and SHA-256), or a BackupError that says what is wrong."""
    try:
        with tarfile.open(path, "r:gz") as archive:
            names = set(archive.getnames())
            if not {MANIFEST, SCHEMA_SQL} <= names:
                raise BackupError(
                    f"{path} is not a workspace archive: it lacks {MANIFEST} or {SCHEMA_SQL}."
                )
            manifest_file = archive.extractfile(MANIFEST)
            dump_file = archive.extractfile(SCHEMA_SQL)
            if manifest_file is None or dump_file is None:
                raise BackupError(f"{path} is not a workspace archive.")
            manifest = json.loads(manifest_file.read())
            dump_path = workdir / SCHEMA_SQL
            with dump_path.open("wb") as out:
                while chunk := dump_file.read(1 << 20):
                    out.write(chunk)
            files = _files_extract(path, archive, manifest, workdir)
    except (tarfile.TarError, EOFError, OSError, json.JSONDecodeError) as exc:
        raise BackupError(
            f"{path} is truncated or damaged and cannot be restored ({exc})."
        ) from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(
            f"{path} has archive format {manifest.get('format')!r}; this version reads "
            f"format {FORMAT}. Restore it with the version that wrote it."
        )
    unknown = {tuple(key) for key in manifest["migrations"]} - migration_target()
    if unknown:
        listed = ", ".join(f"{app}.{name}" for app, name in sorted(unknown)[:5])
        raise BackupError(
            f"{path} comes from a newer version of Rapport: its schema has migrations this "
            f"version does not know ({listed}). Upgrade first, then restore."
        )
    return manifest, dump_path, files


def _files_extract(
    path: Path, archive: tarfile.TarFile, manifest: dict[str, Any], workdir: Path
) -> dict[str, ArchivedFile]:
    listed = {entry["key"]: entry for entry in manifest.get("files", [])}
    prefix = s3.workspace_prefix(str(manifest.get("schema_name", "")))
    directory = workdir / "files"
    directory.mkdir()
    files: dict[str, ArchivedFile] = {}
    for number, member in enumerate(archive.getmembers()):
        if not member.name.startswith(FILES):
            continue
        key = member.name.removeprefix(FILES)
        entry = listed.get(key)
        source = archive.extractfile(member)
        if entry is None or not key.startswith(prefix) or source is None:
            raise BackupError(f"{path} holds a file its manifest does not list: {key}.")
        target = directory / str(number)
        digest = hashlib.sha256()
        with target.open("wb") as out:
            while chunk := source.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
        if target.stat().st_size != entry["size"] or digest.hexdigest() != entry["sha256"]:
            raise BackupError(
                f"{path} is corrupt: the file {key} does not match its checksum; nothing was "
                "changed."
            )
        files[key] = ArchivedFile(path=target, content_type=entry.get("content_type") or "")
    absent = sorted(set(listed) - set(files))
    if absent:
        raise BackupError(f"{path} lacks files its manifest lists: {', '.join(absent[:5])}.")
    return files


def _rewrite_schema(dump: Path, *, source: str, target: str, out: Path) -> None:
    """The dump with its schema renamed. Only SQL lines change; COPY data passes untouched."""
    pattern = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(source)}(?![A-Za-z0-9_])")
    in_copy = False
    with dump.open(encoding="utf-8") as src, out.open("w", encoding="utf-8") as dst:
        for line in src:
            if in_copy:
                if line == "\\.\n":
                    in_copy = False
                dst.write(line)
                continue
            if line.startswith("COPY ") and line.rstrip().endswith("FROM stdin;"):
                in_copy = True
            dst.write(pattern.sub(target, line))


def _load_schema(dump: Path, *, source: str, target: str) -> None:
    rewritten = dump.with_suffix(".restore.sql")
    _rewrite_schema(dump, source=source, target=target, out=rewritten)
    result = subprocess.run(  # noqa: S603
        [
            _client("psql"),
            "--no-psqlrc",
            "--quiet",
            "--single-transaction",
            "--set=ON_ERROR_STOP=1",
            f"--file={rewritten}",
        ],
        env=_pg_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise BackupError(f"Loading the schema failed: {result.stderr.strip()[-2000:]}")


def _drop_schema(schema_name: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {_quote(schema_name)} CASCADE")


def workspace_restore(
    *, archive: Path, slug: str | None = None, replace: bool = False
) -> RestoreResult:
    """Restore an archive as a new workspace (its own slug, or `slug`), or over the existing
    workspace with that slug when `replace` is set."""
    from tenants.slugs import check_workspace_slug

    with tempfile.TemporaryDirectory() as workdir:
        manifest, dump, held = read_archive(archive, Path(workdir))
        slug = slug or manifest["tenant"]["slug"]
        try:
            slug = check_workspace_slug(slug)
        except Exception as exc:
            raise BackupError(f"{slug!r} is not a valid workspace address: {exc}") from exc
        existing = Tenant.objects.filter(slug=slug).first()
        if existing is not None and not replace:
            raise BackupError(
                f"A workspace with the address {slug!r} already exists. Pass --replace to "
                "restore over it, or --slug to restore as a new workspace."
            )
        if existing is None and replace:
            raise BackupError(f"No workspace with the address {slug!r} to replace.")

        staging = f"ws_{secrets.token_hex(8)}"
        source_schema = manifest["schema_name"]
        # Where the rows will live once restored, and so where their objects must be.
        target_schema = existing.schema_name if existing is not None else staging
        # The archive's logo, restored over an existing workspace too (ADR 0077).
        logo_key = manifest["tenant"].get("logo_key", "")
        copy = s3.CopyResult(copied=[], present=[], missing=[])
        written: list[s3.Written] = []
        uploaded: list[str] = []
        logo_missing: list[str] = []
        _load_schema(dump, source=source_schema, target=staging)
        try:
            sums = table_checksums(staging)
            if sums != manifest["tables"]:
                differing = sorted(
                    table
                    for table in set(sums) | set(manifest["tables"])
                    if sums.get(table) != manifest["tables"].get(table)
                )
                raise BackupError(
                    "The restored data does not match the archive's checksums "
                    f"(tables: {', '.join(differing)}); nothing was changed."
                )
            moving = source_schema != target_schema
            if (moving or held) and s3.s3_configured():
                keys = _object_keys(staging, prefix=s3.workspace_prefix(source_schema))
                if logo_key.startswith(s3.workspace_prefix(source_schema)):
                    keys.append(logo_key)
                if moving:
                    copy = s3.workspace_objects_copy(
                        source_schema=source_schema, target_schema=target_schema, keys=keys
                    )
                    written += copy.written
                    absent = copy.missing
                else:
                    absent = s3.objects_absent(
                        schema_name=target_schema, keys=[key for key in keys if key in held]
                    )
                # What the bucket no longer holds comes from the archive when it has the file.
                for key in absent:
                    if key not in held:
                        continue
                    written.append(
                        s3.object_upload_written(
                            schema_name=target_schema,
                            key=s3.workspace_key_moved(
                                key=key, source_schema=source_schema, target_schema=target_schema
                            ),
                            path=str(held[key].path),
                            content_type=held[key].content_type,
                        )
                    )
                    uploaded.append(key)
                copy = dataclasses.replace(
                    copy, missing=[key for key in copy.missing if key not in uploaded]
                )
            if moving:
                if logo_key.startswith(s3.workspace_prefix(source_schema)):
                    logo_key = s3.workspace_key_moved(
                        key=logo_key, source_schema=source_schema, target_schema=target_schema
                    )
                else:
                    logo_key = ""
            memberships, skipped = 0, list[str]()
            with transaction.atomic():
                if moving:
                    _object_keys_rewrite(staging, source=source_schema, target=target_schema)
                if existing is not None:
                    tenant = _swap_schema(existing, staging=staging)
                    logo_missing = _logo_restore(tenant, logo_key=logo_key)
                else:
                    tenant = _create_platform_rows(
                        manifest, schema_name=staging, slug=slug, logo_key=logo_key
                    )
                    memberships, skipped = _restore_memberships(manifest, tenant=tenant)
        except BaseException:
            _drop_schema(staging)
            _writes_undo(target_schema, written)
            raise
    _migrate_if_behind(tenant.schema_name)
    return RestoreResult(
        tenant=tenant,
        tables=len(sums),
        rows=sum(table["rows"] for table in sums.values()),
        memberships=memberships,
        skipped_members=skipped,
        objects_copied=len(copy.copied),
        missing_objects=copy.missing + [key for key in logo_missing if key not in copy.missing],
        objects_uploaded=len(uploaded),
    )


def _logo_restore(tenant: Tenant, *, logo_key: str) -> list[str]:
    """Over an existing workspace, the archive's logo replaces the current one (no logo if the
    archive had none) when the bucket holds it; the replaced logo's object is deleted after the
    commit, as when a logo is replaced. When the archive's logo is gone (replacing a logo
    deletes its object), the current one stays: answers the missing key."""
    if (
        logo_key
        and s3.s3_configured()
        and s3.object_head(schema_name=tenant.schema_name, key=logo_key) is None
    ):
        return [logo_key]
    previous = tenant.logo_key
    tenant.logo_key = logo_key
    tenant.save(update_fields=["logo_key"])
    if previous and previous != logo_key and s3.s3_configured():
        schema = tenant.schema_name
        transaction.on_commit(lambda: _objects_forget(schema, [previous]))
    return []


def _key_columns(schema_name: str) -> list[tuple[str, str]]:
    """The registered key columns the restored schema has (an older archive may lack some;
    migrating it afterwards starts them empty)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = %s",
            [schema_name],
        )
        existing = set(cursor.fetchall())
    return [
        (table, column)
        for table, columns in sorted(_OBJECT_KEYS.items())
        for column in columns
        if (table, column) in existing
    ]


def _object_keys(schema_name: str, *, prefix: str) -> list[str]:
    """Every object key the schema's rows name under ``prefix``, once each."""
    keys: set[str] = set()
    with connection.cursor() as cursor:
        for table, column in _key_columns(schema_name):
            cursor.execute(
                f"SELECT DISTINCT {_quote(column)} FROM {_quote(schema_name)}.{_quote(table)}"  # noqa: S608
                f" WHERE starts_with({_quote(column)}, %s)",
                [prefix],
            )
            keys.update(row[0] for row in cursor.fetchall())
    return sorted(keys)


def _object_keys_rewrite(schema_name: str, *, source: str, target: str) -> None:
    """Point the schema's keys under ``source``'s prefix at the same place under
    ``target``'s; a key under any other prefix is left as it is (and stays unreachable)."""
    old, new = s3.workspace_prefix(source), s3.workspace_prefix(target)
    with connection.cursor() as cursor:
        for table, column in _key_columns(schema_name):
            name = _quote(column)
            cursor.execute(
                f"UPDATE {_quote(schema_name)}.{_quote(table)}"  # noqa: S608
                f" SET {name} = %s || substr({name}, %s) WHERE starts_with({name}, %s)",
                [new, len(old) + 1, old],
            )


def _objects_forget(schema_name: str, keys: list[str]) -> None:
    """Delete the objects of a logo the restore replaced (after the commit); a failure is
    logged."""
    if not keys:
        return
    try:
        s3.objects_delete(schema_name=schema_name, keys=keys)
    except Exception:
        logger.exception(
            "restore.replaced_logo_not_deleted", extra={"restored_schema": schema_name}
        )


def _writes_undo(schema_name: str, written: list[s3.Written]) -> None:
    """A failed restore removes the object versions it wrote — copied or uploaded — and only
    those: a key it overwrote answers the object it held before (the bucket keeps versions).
    The restore itself failed already, so a failure here is logged (the sweep of abandoned
    uploads removes document versions later)."""
    if not written:
        return
    try:
        s3.objects_written_undo(schema_name=schema_name, written=written)
    except Exception:
        logger.exception(
            "restore.copied_objects_not_deleted", extra={"restored_schema": schema_name}
        )


def _swap_schema(existing: Tenant, *, staging: str) -> Tenant:
    tenant: Tenant = Tenant.objects.select_for_update().get(pk=existing.pk)
    retired = f"{tenant.schema_name}_old"[:63]
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER SCHEMA {_quote(tenant.schema_name)} RENAME TO {_quote(retired)}")
        cursor.execute(f"ALTER SCHEMA {_quote(staging)} RENAME TO {_quote(tenant.schema_name)}")
        cursor.execute(f"DROP SCHEMA {_quote(retired)} CASCADE")
    return tenant


def _create_platform_rows(
    manifest: dict[str, Any], *, schema_name: str, slug: str, logo_key: str = ""
) -> Tenant:
    source = manifest["tenant"]
    tenant = Tenant(
        schema_name=schema_name,
        slug=slug,
        name=source["name"],
        state=Tenant.State.ACTIVE,
        plan=source["plan"],
        seat_limit=source["seat_limit"],
        time_zone=source["time_zone"],
        currency=source["currency"],
        require_mfa_for_admins=source["require_mfa_for_admins"],
        # Archives written before the setting existed leave it off.
        restrict_record_visibility=source.get("restrict_record_visibility", False),
        trial_ends_at=source["trial_ends_at"],
        activated_at=timezone.now(),
        logo_key=logo_key,
    )
    tenant.auto_create_schema = False  # the schema was just restored
    tenant.save()
    Domain.objects.create(domain=workspace_hostname(slug), tenant=tenant, is_primary=True)
    return tenant


def _restore_memberships(manifest: dict[str, Any], *, tenant: Tenant) -> tuple[int, list[str]]:
    """Seats of people who still have an account here (matched by id and email)."""
    restored = 0
    skipped: list[str] = []
    for member in manifest["memberships"]:
        user = User.objects.filter(pk=member["user_id"], email__iexact=member["email"]).first()
        if user is None:
            skipped.append(member["email"])
            continue
        Membership.objects.create(
            user=user, tenant=tenant, role=member["role"], status=member["status"]
        )
        restored += 1
    return restored, skipped


def _migrate_if_behind(schema_name: str) -> None:
    """An archive from an older version is brought to the current migrations."""
    from crm_platform.schema_migration_worker import pending_schemas

    if pending_schemas([schema_name], target=migration_target()):
        from crm_platform.schema_migrations import migrate_all_schemas

        report = migrate_all_schemas(workers=1, schema_names=[schema_name], retries=0)
        if not report.ok:
            raise BackupError(
                f"Restored, but migrating {schema_name} to this version failed: "
                f"{report.failed.get(schema_name, 'interrupted')}. Run migrate_all."
            )


def default_archive_name(slug: str) -> str:
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    return f"{slug}-{stamp}.tar.gz"
