"""The plan report: charts, the HTML page, CSV and xlsx tables, the text tables the CLI prints.

Layer 5 of the house (see CONTRIBUTING.md): imports every layer below it, never the command line.
"""

from simcore.report.document import build_report, report_from_dataset, write_report

__all__ = ["build_report", "report_from_dataset", "write_report"]
