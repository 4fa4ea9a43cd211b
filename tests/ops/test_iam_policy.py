"""The application's IAM role grants every action the S3 calls of crm_platform/s3.py need.

The calls are found in s3.py's source (methods called on the S3 client, and the operations
named to ``get_paginator`` and ``generate_presigned_url``); each must appear in ``ACTIONS``
below, and each action it maps to must be granted by the ``documents`` policy document of
terraform/modules/iam on the right resource: the bucket, the workspace objects, or the
bucket's KMS key. A new call without an entry here, or an entry the policy lacks, fails.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
S3_MODULE = ROOT / "crm_platform" / "s3.py"
IAM_MODULE = ROOT / "terraform" / "modules" / "iam" / "main.tf"

BUCKET = "bucket"
OBJECTS = "objects"
KEY = "key"

# boto3 method (or operation named to a paginator or a presigned URL) → the IAM actions it
# needs, each with the resource it applies to. The bucket encrypts with its own KMS key
# (SSE-KMS): writes ask for a data key, reads and the completion of an upload in parts decrypt.
ACTIONS: dict[str, set[tuple[str, str]]] = {
    "head_bucket": {("s3:ListBucket", BUCKET)},
    "list_objects_v2": {("s3:ListBucket", BUCKET)},
    "list_object_versions": {("s3:ListBucketVersions", BUCKET)},
    "list_multipart_uploads": {("s3:ListBucketMultipartUploads", BUCKET)},
    "head_object": {("s3:GetObject", OBJECTS)},
    "get_object": {("s3:GetObject", OBJECTS), ("kms:Decrypt", KEY)},
    "download_file": {("s3:GetObject", OBJECTS), ("kms:Decrypt", KEY)},
    "put_object": {("s3:PutObject", OBJECTS), ("kms:GenerateDataKey", KEY)},
    "create_multipart_upload": {("s3:PutObject", OBJECTS), ("kms:GenerateDataKey", KEY)},
    "upload_part": {("s3:PutObject", OBJECTS), ("kms:GenerateDataKey", KEY)},
    "complete_multipart_upload": {
        ("s3:PutObject", OBJECTS),
        ("kms:GenerateDataKey", KEY),
        ("kms:Decrypt", KEY),
    },
    # A restore under another schema copies files within the bucket: reads the source
    # (decrypting it) and writes the copy (with a new data key).
    "copy_object": {
        ("s3:GetObject", OBJECTS),
        ("s3:PutObject", OBJECTS),
        ("kms:Decrypt", KEY),
        ("kms:GenerateDataKey", KEY),
    },
    # The managed copy: a HEAD of the source, then one CopyObject, or above its threshold an
    # upload in parts copied from the source (UploadPartCopy), aborted when a part fails.
    "copy": {
        ("s3:GetObject", OBJECTS),
        ("s3:PutObject", OBJECTS),
        ("s3:AbortMultipartUpload", OBJECTS),
        ("kms:Decrypt", KEY),
        ("kms:GenerateDataKey", KEY),
    },
    "list_parts": {("s3:ListMultipartUploadParts", OBJECTS)},
    "abort_multipart_upload": {("s3:AbortMultipartUpload", OBJECTS)},
    # The managed transfer goes in parts above its threshold and aborts the upload when a part
    # fails.
    "upload_file": {
        ("s3:PutObject", OBJECTS),
        ("s3:AbortMultipartUpload", OBJECTS),
        ("kms:GenerateDataKey", KEY),
        ("kms:Decrypt", KEY),
    },
    # A batch names versions too (a deleted workspace's files, every stored version).
    "delete_objects": {("s3:DeleteObject", OBJECTS), ("s3:DeleteObjectVersion", OBJECTS)},
    # Only `make run`'s local S3 stand-in creates its bucket; in AWS the bucket is terraform's
    # and the application's role must not create any.
    "create_bucket": set(),
}

# Client methods that call no S3 operation themselves; their argument names one.
OPERATION_BY_ARGUMENT = {"get_paginator", "generate_presigned_url"}
NEVER_GRANTED = {"s3:CreateBucket", "s3:DeleteBucket", "s3:PutBucketPolicy", "s3:*", "kms:*"}


def s3_operations(source: str) -> set[str]:
    """The S3 operations ``source`` calls: methods called on ``s3_client(...)`` or on a name
    bound to it, and the operation named to ``get_paginator``/``generate_presigned_url``."""
    tree = ast.parse(source)

    def is_client_call(node: ast.AST) -> bool:
        return (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "s3_client"
        )

    client_names = {
        target.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and is_client_call(node.value)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    operations: set[str] = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        receiver = node.func.value
        on_client = is_client_call(receiver) or (
            isinstance(receiver, ast.Name) and receiver.id in client_names
        )
        if not on_client:
            continue
        method = node.func.attr
        if method in OPERATION_BY_ARGUMENT:
            first = node.args[0] if node.args else None
            if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                raise AssertionError(f"{method} called without a literal operation name")
            operations.add(first.value)
        else:
            operations.add(method)
    return operations


def _block(text: str, start: int) -> str:
    """The text between the brace at or after ``start`` and its matching closing brace."""
    opening = text.index("{", start)
    depth = 0
    for position in range(opening, len(text)):
        if text[position] == "{":
            depth += 1
        elif text[position] == "}":
            depth -= 1
            if depth == 0:
                return text[opening + 1 : position]
    raise AssertionError("unbalanced braces")


def _strings(listing: str) -> list[str]:
    return re.findall(r'"((?:[^"\\]|\\.)*)"', listing)


def policy_statements(hcl: str, document: str) -> list[tuple[set[str], list[str]]]:
    """(actions, resources) of each statement of one ``aws_iam_policy_document``; every
    statement here allows (none of them sets ``effect``)."""
    header = re.search(rf'data\s+"aws_iam_policy_document"\s+"{re.escape(document)}"\s*', hcl)
    assert header, f"no policy document {document}"
    body = _block(hcl, header.end())
    statements = []
    for match in re.finditer(r"\bstatement\s*(?=\{)", body):
        statement = _block(body, match.end())
        assert "effect" not in statement, "a Deny statement would need reading here"
        actions = re.search(r"\bactions\s*=\s*\[(.*?)\]", statement, re.S)
        resources = re.search(r"\bresources\s*=\s*\[(.*?)\]", statement, re.S)
        assert actions, statement
        assert resources, statement
        statements.append((set(_strings(actions.group(1))), _strings(resources.group(1))))
    return statements


def resource_kind(resource: str) -> str:
    if resource == "${var.documents_bucket_arn}":
        return BUCKET
    if resource.startswith("${var.documents_bucket_arn}/${var.workspace_prefix}"):
        return OBJECTS
    if resource == "${var.documents_kms_key_arn}":
        return KEY
    raise AssertionError(f"unexpected resource {resource}")


def granted() -> set[tuple[str, str]]:
    hcl = IAM_MODULE.read_text()
    # Resources written as bare references are compared in their interpolated form.
    hcl = re.sub(r"(resources\s*=\s*\[)\s*var\.(\w+)\s*\]", r'\1"${var.\2}"]', hcl)
    return {
        (action, resource_kind(resource))
        for actions, resources in policy_statements(hcl, "documents")
        for action in actions
        for resource in resources
    }


def test_the_scanner_finds_calls_on_the_client_and_named_operations() -> None:
    source = (
        "def f():\n"
        "    client = s3_client()\n"
        "    client.list_parts(Bucket='b')\n"
        "    s3_client(timeout=60).put_object(Bucket='b')\n"
        "    client.get_paginator('list_objects_v2')\n"
        "    s3_client().generate_presigned_url('upload_part', Params={})\n"
        "    other.delete_bucket()\n"
    )

    assert s3_operations(source) == {"list_parts", "put_object", "list_objects_v2", "upload_part"}


def test_every_s3_call_has_its_iam_actions_mapped() -> None:
    operations = s3_operations(S3_MODULE.read_text())

    # The scan sees the module's calls at all (a rename of s3_client would otherwise pass).
    assert {"list_parts", "abort_multipart_upload", "list_multipart_uploads"} <= operations
    assert sorted(operations - ACTIONS.keys()) == []


@pytest.mark.parametrize("operation", sorted(s3_operations(S3_MODULE.read_text())))
def test_the_app_role_grants_what_each_s3_call_needs(operation: str) -> None:
    missing = ACTIONS.get(operation, {("<unmapped>", "")}) - granted()

    assert sorted(missing) == []


def test_the_app_role_grants_no_bucket_administration() -> None:
    assert {action for action, _ in granted()} & NEVER_GRANTED == set()


def test_the_policy_reader_sees_a_missing_action() -> None:
    hcl = IAM_MODULE.read_text().replace('"s3:ListMultipartUploadParts",', "")
    statements = policy_statements(hcl, "documents")

    assert not any("s3:ListMultipartUploadParts" in actions for actions, _ in statements)
    assert any("s3:AbortMultipartUpload" in actions for actions, _ in statements)


def test_the_iam_module_is_given_the_documents_key() -> None:
    root = (ROOT / "terraform" / "main.tf").read_text()
    storage = (ROOT / "terraform" / "modules" / "storage" / "main.tf").read_text()

    assert re.search(r"documents_kms_key_arn\s*=\s*module\.storage\.kms_key_arn", root)
    assert re.search(
        r'output\s+"kms_key_arn"\s*\{\s*value\s*=\s*aws_kms_key\.documents\.arn', storage
    )
