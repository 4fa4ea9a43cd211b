from __future__ import annotations

import pytest
from django.db import connection

from tests.conftest import Workspace
from tests.sales.conftest import fresh

__all__ = ["fresh"]


@pytest.fixture
def in_alpha(alpha: Workspace) -> Workspace:
    """Run the test's queries in workspace alpha's schema."""
    connection.set_tenant(alpha.tenant)  # type: ignore[attr-defined]
    return alpha


# A real S3 API for attachments stored through documents (moto's server, as documents' tests).
from tests.documents.conftest import s3_bucket  # noqa: E402
from tests.ops.conftest import s3_endpoint  # noqa: E402

__all__ += ["s3_bucket", "s3_endpoint"]
