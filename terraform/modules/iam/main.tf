# IAM roles for service accounts. The application's pods (service account rapport) may reach
# their own bucket only, under the workspace prefixes; nothing else in AWS. Which workspace's
# prefix a request may use is the application's tenant context (D6): one role serves them all.

variable "name" { type = string }
variable "oidc_provider_arn" { type = string }
variable "oidc_provider_url" { type = string }
variable "namespace" { type = string }
variable "service_account" { type = string }
variable "documents_bucket_arn" { type = string }
variable "documents_kms_key_arn" { type = string }
variable "workspace_prefix" { type = string }
variable "app_secret_arn" { type = string }

data "aws_region" "current" {}

locals {
  issuer = replace(var.oidc_provider_url, "https://", "")
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [var.oidc_provider_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.issuer}:sub"
      values   = ["system:serviceaccount:${var.namespace}:${var.service_account}"]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.issuer}:aud"
      values   = ["sts.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "app" {
  name               = "${var.name}-app"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

data "aws_iam_policy_document" "documents" {
  # Every S3 call crm_platform/s3.py makes maps to one of these actions; the map and the check
  # that each action is granted here are tests/ops/test_iam_policy.py. Uploads in parts need
  # ListMultipartUploadParts (resume) and AbortMultipartUpload (cancel, and upload_file's own
  # clean-up after a failed part); a deleted workspace's files go with every stored version
  # (DeleteObjectVersion).
  statement {
    sid = "WorkspaceObjects"
    actions = [
      "s3:GetObject",
      "s3:PutObject",
      "s3:DeleteObject",
      "s3:GetObjectVersion",
      "s3:DeleteObjectVersion",
      "s3:ListMultipartUploadParts",
      "s3:AbortMultipartUpload",
    ]
    resources = ["${var.documents_bucket_arn}/${var.workspace_prefix}*"]
  }

  # Listing (the backup's document manifest, the sweep of abandoned uploads, a workspace's
  # deletion) and HeadBucket (/readyz) need ListBucket; the sweep lists open uploads in parts
  # with ListBucketMultipartUploads. The bucket holds nothing but this application's workspace
  # files.
  statement {
    sid = "ListDocuments"
    actions = [
      "s3:ListBucket",
      "s3:ListBucketVersions",
      "s3:ListBucketMultipartUploads",
    ]
    resources = [var.documents_bucket_arn]
  }

  # The bucket encrypts with its own KMS key (SSE-KMS): writing an object (and each part of an
  # upload in parts) asks KMS for a data key, reading one or completing an upload in parts
  # decrypts it. Only through S3, never directly.
  statement {
    sid       = "DocumentsKey"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [var.documents_kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${data.aws_region.current.name}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "documents" {
  name   = "documents"
  role   = aws_iam_role.app.id
  policy = data.aws_iam_policy_document.documents.json
}

# The External Secrets Operator's role: read the application's one secret, nothing else.
data "aws_iam_policy_document" "external_secrets_assume" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [var.oidc_provider_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.issuer}:sub"
      values   = ["system:serviceaccount:${var.namespace}:external-secrets"]
    }
  }
}

resource "aws_iam_role" "external_secrets" {
  name               = "${var.name}-external-secrets"
  assume_role_policy = data.aws_iam_policy_document.external_secrets_assume.json
}

data "aws_iam_policy_document" "read_app_secret" {
  statement {
    actions   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = [var.app_secret_arn]
  }
}

resource "aws_iam_role_policy" "read_app_secret" {
  name   = "read-app-secret"
  role   = aws_iam_role.external_secrets.id
  policy = data.aws_iam_policy_document.read_app_secret.json
}

output "app_role_arn" {
  value = aws_iam_role.app.arn
}

output "external_secrets_role_arn" {
  value = aws_iam_role.external_secrets.arn
}
