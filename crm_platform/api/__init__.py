"""The API base every module's endpoints use (D9): DRF on workspace hosts only, under
``/api/v1/``; session and API-key authentication; the one permission question; one JSON error
shape; cursor (keyset) pagination; the OpenAPI schema at ``/api/schema/``."""
