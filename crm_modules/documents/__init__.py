"""Documents: files on S3 attached to any record of any module."""
