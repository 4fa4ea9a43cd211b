"""A saved report as CSV, with the rows one member may see: the download and the scheduled
emails share it, so both are guarded against spreadsheet formulas the same way."""

from __future__ import annotations

from crm_modules.reporting.compiler import run
from crm_modules.reporting.definition import check_definition
from crm_modules.reporting.models import Report
from crm_platform.csv_export import csv_text
from tenants.models import Membership


def report_csv(*, report: Report, member: Membership) -> tuple[str, int]:
    """The CSV text and its number of data rows. Raises ``ReportError`` if the saved
    definition no longer holds (a custom field it names was deleted)."""
    definition = check_definition(report.definition)
    result = run(definition, member)
    header = [*result.group_labels, *result.measure_labels]
    rows = [[*row.labels, *("" if v is None else v for v in row.values)] for row in result.rows]
    return csv_text(header, rows), len(rows)
