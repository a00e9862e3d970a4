"""core.csv_stream: the bytes of a streamed CSV download, every formula cell neutralised (OWASP's CSV injection)."""

import csv
import io
from decimal import Decimal

import pytest

from core.csv_stream import csv_response


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_csv_response_streams_the_header_then_each_row_as_excel_csv():
    response = csv_response(
        header=("row", "note"), rows=[(1, "plain"), (2, 'a "quoted", line\nbreak')], filename="x.csv"
    )

    assert body(response) == b'row,note\r\n1,plain\r\n2,"a ""quoted"", line\nbreak"\r\n'


def test_csv_response_is_an_attachment_named_and_typed_as_asked():
    plain = csv_response(header=["a"], rows=[], filename="job-3-scores.csv")
    utf8 = csv_response(header=["a"], rows=[], filename="audit.csv", content_type="text/csv; charset=utf-8")

    assert (plain.status_code, plain["Content-Type"]) == (200, "text/csv")
    assert plain["Content-Disposition"] == 'attachment; filename="job-3-scores.csv"'
    assert utf8["Content-Type"] == "text/csv; charset=utf-8"
    assert body(plain) == b"a\r\n"


def test_rows_are_read_only_as_the_response_is_sent():
    read = []

    def rows():
        for n in range(3):
            read.append(n)
            yield (n,)

    response = csv_response(header=["n"], rows=rows(), filename="n.csv")

    assert read == []
    assert body(response) == b"n\r\n0\r\n1\r\n2\r\n"
    assert read == [0, 1, 2]


FORMULAS = ["=SUM(A1)", '=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "@SUM(1+1)", "-2+3", "\tt", "\rr"]


@pytest.mark.parametrize("cell", FORMULAS)
def test_every_text_cell_that_starts_like_a_formula_reads_back_as_text_behind_a_quote(cell):
    response = csv_response(header=["c", "n"], rows=[(cell, 1)], filename="n.csv")

    [row] = list(csv.reader(io.StringIO(body(response).decode())))[1:]

    assert row == ["'" + cell, "1"]


def test_numbers_and_text_that_is_a_plain_number_stay_numbers():
    rows = [(-3, -2.5, Decimal("-0.10"), "-2.5", "+1", "-1e5", "ok", None, False)]

    response = csv_response(header=["c"] * 9, rows=rows, filename="n.csv")

    assert body(response).split(b"\r\n")[1] == b"-3,-2.5,-0.10,-2.5,+1,-1e5,ok,,False"


@pytest.mark.parametrize("cell", ["-2.5x", "- 2", "--2", "-٢", "-1,5", "-.", "+-1"])
def test_text_that_only_looks_like_a_number_is_neutralised(cell):
    response = csv_response(header=["c"], rows=[(cell,)], filename="n.csv")

    assert list(csv.reader(io.StringIO(body(response).decode())))[1] == ["'" + cell]


def test_the_header_is_never_neutralised():
    response = csv_response(header=["=a"], rows=[["=b"]], filename="h.csv")

    assert body(response) == b"=a\r\n'=b\r\n"
