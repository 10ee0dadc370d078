"""The plan report: charts, the HTML page, CSV and xlsx tables, the text tables the CLI prints.

Layer 5 of the house (see CONTRIBUTING.md): imports every layer below it, never the command line.

Modules, in the order a report is made: :mod:`~simcore.report.content` (what a report holds),
:mod:`~simcore.report.tables` and :mod:`~simcore.report.plan_tables` (its tables),
:mod:`~simcore.report.plots` (its charts), :mod:`~simcore.report.build` (running and assembling
it), :mod:`~simcore.report.html` and :mod:`~simcore.report.workbook` (rendering it),
:mod:`~simcore.report.publish` (writing its folder, all or nothing). Numbers are formatted by
:mod:`simcore.format` only.
"""

import importlib

# Where each public name lives. Resolved lazily (PEP 562): importing ``simcore.report.labels`` or
# ``simcore.report.text`` (the CLI's tables) must not load matplotlib and openpyxl, which only a
# report needs.
_HOMES = {
    "build_report": "simcore.report.build",
    "report_from_dataset": "simcore.report.build",
    "Chart": "simcore.report.content",
    "Report": "simcore.report.content",
    "Table": "simcore.report.content",
    "report_files": "simcore.report.content",
    "report_json": "simcore.report.content",
    "check_out_dir": "simcore.report.publish",
    "write_report": "simcore.report.publish",
}

__all__ = sorted(_HOMES)


def __getattr__(name):
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'simcore.report' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_HOMES))
