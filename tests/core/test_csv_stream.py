"""core.csv_stream: the bytes of a streamed CSV download, with and without neutralised formulas."""

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


def test_cells_that_start_like_a_formula_are_left_alone_unless_neutralised():
    rows = [("=SUM(A1)", "+1", "-2", "@x", "\tt", "\rr", "ok", -3, None)]

    kept = csv_response(header=["c"] * 9, rows=rows, filename="k.csv")
    neutralised = csv_response(header=["c"] * 9, rows=rows, filename="n.csv", neutralise=True)

    assert body(kept).split(b"\r\n")[1] == b'=SUM(A1),+1,-2,@x,\tt,"\rr",ok,-3,'
    assert body(neutralised).split(b"\r\n")[1] == b"'=SUM(A1),'+1,'-2,'@x,'\tt,\"'\rr\",ok,-3,"


def test_the_header_is_never_neutralised():
    response = csv_response(header=["=a"], rows=[["=b"]], filename="h.csv", neutralise=True)

    assert body(response) == b"=a\r\n'=b\r\n"
