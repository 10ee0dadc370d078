"""The report functions' former home, kept so existing imports keep working.

Import from :mod:`simcore.report` instead: ``from simcore.report import build_report, write_report``.
"""

from simcore.report.build import build_report, report_from_dataset
from simcore.report.content import Chart, Report, Table, report_files, report_json
from simcore.report.publish import check_out_dir, write_report

__all__ = [
    "Chart",
    "Report",
    "Table",
    "build_report",
    "check_out_dir",
    "report_files",
    "report_from_dataset",
    "report_json",
    "write_report",
]
