"""First-page thumbnails of PDFs, rendered by PDFium (pypdfium2, ADR 0024) in a Celery worker:
the PDF comes from S3 to a temporary file, its first page becomes a PNG at most
``THUMBNAIL_WIDTH`` pixels wide, and the PNG goes back next to the document's versions."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import pypdfium2 as pdfium

from crm_modules.documents.models import DocumentVersion
from crm_platform import s3

logger = logging.getLogger("rapport.documents")

THUMBNAIL_WIDTH = 400
# A page larger than this (in points, 1/72 inch) is scaled down all the same; the cap keeps a
# hostile page size from asking for a huge bitmap.
_MAX_SCALE = 4.0


def render_first_page(pdf_path: str, png_path: str) -> tuple[int, int]:
    """Write the first page of the PDF at ``pdf_path`` as a PNG; answers its size in pixels."""
    document = pdfium.PdfDocument(pdf_path)
    try:
        if len(document) == 0:
            raise ValueError("the PDF has no pages")
        page = document[0]
        try:
            width = page.get_width() or 1
            scale = min(THUMBNAIL_WIDTH / width, _MAX_SCALE)
            image = page.render(scale=scale).to_pil()
        finally:
            page.close()
    finally:
        document.close()
    # PDFium rounds the bitmap up; the thumbnail keeps to the promised width.
    image.thumbnail((THUMBNAIL_WIDTH, THUMBNAIL_WIDTH * int(_MAX_SCALE)))
    image.save(png_path, format="PNG", optimize=True)
    return image.width, image.height


def version_thumbnail_render(*, schema_name: str, version_id: int) -> bool:
    """Render the thumbnail of one PDF version of the current workspace, once. False when the
    version is gone, not a PDF, already done, or its PDF cannot be rendered."""
    version = DocumentVersion.objects.select_related("document").filter(pk=version_id).first()
    if version is None or version.thumbnail_key or version.sniffed_type != "application/pdf":
        return False
    key = s3.thumbnail_key(
        schema_name=schema_name,
        document_uuid=str(version.document.uuid),
        version=version.number,
    )
    with tempfile.TemporaryDirectory() as folder:
        pdf_path, png_path = str(Path(folder) / "source.pdf"), str(Path(folder) / "page.png")
        s3.object_download(schema_name=schema_name, key=version.key, path=pdf_path)
        try:
            render_first_page(pdf_path, png_path)
        except (pdfium.PdfiumError, ValueError):
            logger.warning("PDF thumbnail not rendered", extra={"version": version_id})
            return False
        s3.object_upload(schema_name=schema_name, key=key, path=png_path, content_type="image/png")
    # Restored versions share their source's object, and so its thumbnail.
    DocumentVersion.objects.filter(document_id=version.document_id, key=version.key).update(
        thumbnail_key=key
    )
    return True
