"""CSV downloads streamed row by row: a file of any length is sent without being built in memory.

`csv.writer` writes each row to a pseudo-buffer that hands the line back, and the response streams those lines.
"""

import csv
from collections.abc import Iterable, Sequence

from django.http import StreamingHttpResponse

# A cell starting with one of these runs as a formula when the file is opened in a spreadsheet.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _Echo:
    """The file-like object `csv.writer` wants; `write` returns the line instead of keeping it."""

    def write(self, value: str) -> str:
        return value


def csv_response(
    *,
    header: Sequence,
    rows: Iterable[Sequence],
    filename: str,
    content_type: str = "text/csv",
    neutralise: bool = False,
) -> StreamingHttpResponse:
    """A streamed CSV attachment: the header, then one line per row, read from `rows` as the client takes them.

    With `neutralise`, text cells that a spreadsheet would run as a formula are written as text (`neutralised`).
    """
    writer = csv.writer(_Echo())

    def lines():
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow([neutralised(cell) for cell in row] if neutralise else row)

    response = StreamingHttpResponse(lines(), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def neutralised(cell):
    """A text cell that starts like a formula, behind a leading quote that keeps it text; anything else as it is."""
    if isinstance(cell, str) and cell[:1] in FORMULA_STARTS:
        return "'" + cell
    return cell
