from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

from review.charts import HEIGHT, PAD_BOTTOM, PAD_LEFT, WIDTH, timeline_svg

START = datetime(2026, 3, 1, tzinfo=UTC)


def _tx(pk: int, hours: int, amount: str, label=None):
    return SimpleNamespace(
        pk=pk, timestamp=START + timedelta(hours=hours), amount=Decimal(amount), currency="EUR", label=label
    )


def test_timeline_spans_the_plot_from_the_first_to_the_last_transaction():
    history = [_tx(1, 0, "10"), _tx(2, 5, "20"), _tx(3, 10, "2480")]
    chart = timeline_svg(history, marked=history[2])
    xs = [p.x for p in chart["points"]]
    assert xs[0] == PAD_LEFT and xs[-1] == WIDTH - 16 and xs == sorted(xs)


def test_timeline_marks_this_transaction_and_colours_fraud():
    history = [_tx(1, 0, "10", label=1), _tx(2, 5, "20"), _tx(3, 10, "30")]
    chart = timeline_svg(history, marked=history[1])
    assert [p.css for p in chart["points"]] == ["fraud", "marked", "normal"]
    assert chart["marked"].pk == 2


def test_timeline_axis_rounds_up_to_a_readable_maximum_with_zero_at_the_bottom():
    history = [_tx(1, 0, "0"), _tx(2, 1, "2480")]
    chart = timeline_svg(history, marked=history[1])
    assert [t["label"] for t in chart["ticks"]] == ["0", "1,500", "3,000"]
    assert chart["points"][0].y == HEIGHT - PAD_BOTTOM


def test_timeline_of_nothing_has_no_points():
    assert timeline_svg([], marked=None)["points"] == []
