"""CSV for spreadsheet programs without formula injection (OWASP "CSV Injection"): a text cell
that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return would be read by Excel,
LibreOffice or Google Sheets as a formula (``=HYPERLINK(...)``, ``@SUM(...)``, ``-2+3+cmd|...``), so
it is written with a single quote in front, which those programs show as text and do not display.
Numbers the export writes itself (a score, an amount) stay numbers, negative ones too: only text
is neutralised. Both exports (the registry's products, the events service's participants) write
through ``DictWriter`` below."""

from __future__ import annotations

import csv

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value):
    """``value`` as a spreadsheet program should read it: text starting like a formula gets a ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class DictWriter(csv.DictWriter):
    """``csv.DictWriter`` whose every row's text cells pass through ``cell``."""

    def writerow(self, rowdict):
        return super().writerow({k: cell(v) for k, v in rowdict.items()})

    def writerows(self, rowdicts):
        for row in rowdicts:
            self.writerow(row)
