"""CSV downloads streamed row by row: a file of any length is sent without being built in memory.

`csv.writer` writes each row to a pseudo-buffer that hands the line back, and the response streams those lines.
Every cell a spreadsheet would run as a formula is written as text (OWASP's CSV injection advice), whatever the
file: job results, exports and the audit trail all echo text that partners or people typed.
"""

import csv
import re
from collections.abc import Iterable, Sequence

from django.http import StreamingHttpResponse

# A cell starting with one of these runs as a formula when the file is opened in a spreadsheet.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Text that is a plain decimal number (ASCII digits, one leading sign, a point, an exponent) is a number to every
# spreadsheet, never a formula: "-2.5" stays as written, "-2+3" and "-1)*cmd" do not.
_PLAIN_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


class _Echo:
    """The file-like object `csv.writer` wants; `write` returns the line instead of keeping it."""

    def write(self, value: str) -> str:
        return value


def csv_response(
    *, header: Sequence, rows: Iterable[Sequence], filename: str, content_type: str = "text/csv"
) -> StreamingHttpResponse:
    """A streamed CSV attachment: the header, then one line per row, read from `rows` as the client takes them.

    Text cells that a spreadsheet would run as a formula are written as text (`neutralised`); the header is the
    product's own words and is written as it is.
    """
    writer = csv.writer(_Echo())

    def lines():
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow([neutralised(cell) for cell in row])

    response = StreamingHttpResponse(lines(), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def neutralised(cell):
    """A text cell that starts like a formula, behind a leading quote that keeps it text; numbers (and text that is
    a plain number) and anything else as they are."""
    if isinstance(cell, str) and cell[:1] in FORMULA_STARTS and not _PLAIN_NUMBER.fullmatch(cell):
        return "'" + cell
    return cell
