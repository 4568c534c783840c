"""CSV cells a spreadsheet shows as text and never runs as formulas (CSV injection).

Excel, LibreOffice and Google Sheets read a cell that starts with `=`, `+`, `-` or `@` as a
formula — and some strip a leading tab or carriage return first — so a family whose Telegram
name is `=HYPERLINK("https://evil.example/x","Click me")` would put a live link (or worse) in
a staff member's export. Every CSV the bot writes goes through `writer` / `DictWriter` here, so
no export can forget it. The fix is OWASP's: prefix such a cell with a single quote, which the
spreadsheet shows as text and a person still reads as the original value.

Only text is touched: an int or float the code computed (a count) stays a number. Anything
else is written as its `str()`, and neutralized like any other text.

Rows end in CRLF (RFC 4180), and callers cannot change it: the csv module quotes a cell only
for the characters of the line ending, so with a bare `\\n` a carriage return inside a name
would be written unquoted and split the row in two in a spreadsheet.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"
LINE_END = "\r\n"


def neutralize(value: Any) -> Any:
    """The cell as it is safe to write: text starting like a formula gets a leading `'`;
    numbers and None (an empty cell) are returned unchanged."""
    if value is None or isinstance(value, (int, float)):  # bool is an int: written as True/False
        return value
    text = value if isinstance(value, str) else str(value)
    return QUOTE + text if text.startswith(FORMULA_STARTS) else text


def safe_row(row: Iterable[Any]) -> list[Any]:
    return [neutralize(cell) for cell in row]


class Writer:
    """`csv.writer` whose every cell is neutralized."""

    def __init__(self, out: Any) -> None:
        self._writer = csv.writer(out, lineterminator=LINE_END)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow(safe_row(row))

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def writer(out: Any) -> Writer:
    """Like `csv.writer(out)`, with formula-safe cells. Open a file with `newline=""`."""
    return Writer(out)


class DictWriter(csv.DictWriter):
    """`csv.DictWriter` whose every value is neutralized (`writerows` too: the standard one
    bypasses `writerow`)."""

    def __init__(self, out: Any, fieldnames: Sequence[str]) -> None:
        super().__init__(out, fieldnames, lineterminator=LINE_END)

    def writerow(self, rowdict: Mapping[str, Any]) -> Any:
        return super().writerow({key: neutralize(value) for key, value in rowdict.items()})

    def writerows(self, rowdicts: Iterable[Mapping[str, Any]]) -> None:
        for rowdict in rowdicts:
            self.writerow(rowdict)
