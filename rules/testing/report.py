"""A test on history's report for its page, from the stored JSON: figures, charts drawn like the project's others
(server-side SVG, detection.charts), the overlaps and the sample of hits."""

from datetime import date, datetime, timedelta

from detection.charts import BarSeries, bar_chart
from rules.models import RuleTest
from transactions.models import Transaction

PER_DAY = {"y_label": "Transactions", "x_label": "Day", "width": 1300, "height": 300}


def report_context(test: RuleTest) -> dict:
    finished = test.status in (RuleTest.Status.DONE, RuleTest.Status.FAILED)
    if test.status != RuleTest.Status.DONE or not test.report:
        return {"finished": finished, "percent": round(test.progress * 100)}
    report = test.report
    per_day = _every_day(report)
    return {
        "finished": True,
        "percent": 100,
        "report": report,
        "labelled": report["fraud"] + report["legitimate"],
        "hits_svg": _hits_chart(per_day),
        "labels_svg": _labels_chart(per_day),
        "sample": _sample_rows(report.get("sample", []), organisation_id=test.rule_version.rule.organisation_id),
    }


def _every_day(report: dict) -> list[dict]:
    """The report's days, with the window's days without a transaction as zeros (the charts show the whole window)."""
    found = {day["day"]: day for day in report.get("per_day", [])}
    if not found or "since" not in report:
        return list(found.values())
    first = date.fromisoformat(report["since"][:10])
    last = (datetime.fromisoformat(report["until"]) - timedelta(microseconds=1)).date()
    days = [(first + timedelta(days=k)).isoformat() for k in range((last - first).days + 1)]
    empty = {"hits": 0, "fraud": 0, "legitimate": 0, "rows": 0}
    return [found.get(day, {"day": day, **empty}) for day in days]


def _axis(values: list[int]) -> dict:
    """Counts: whole ticks even when they are small (the shared charts' ticks would halve 2 into 0, 0.5, 1, …)."""
    return {"y_max": 5.0} if max(values, default=0) < 5 else {}


def _hits_chart(per_day: list[dict]):
    if not per_day:
        return None
    days = [day["day"][5:] for day in per_day]
    hits = [day["hits"] for day in per_day]
    return bar_chart(days, [BarSeries("Hits", hits)], title="Hits per day", **PER_DAY, **_axis(hits))


def _labels_chart(per_day: list[dict]):
    if not any(day["fraud"] or day["legitimate"] for day in per_day):
        return None
    days = [day["day"][5:] for day in per_day]
    series = [
        BarSeries("Labelled fraud", [day["fraud"] for day in per_day], color="#c0392b"),
        BarSeries("Labelled legitimate", [day["legitimate"] for day in per_day], color="#2e7d32"),
    ]
    counts = [value for s in series for value in s.values]
    return bar_chart(days, series, title="Hits with a label, per day", **PER_DAY, **_axis(counts))


def _sample_rows(ids: list[int], *, organisation_id: int) -> list[Transaction]:
    """The sampled hits still stored, of the organisation's sources, oldest first."""
    rows = Transaction.objects.filter(pk__in=ids, source__organisation_id=organisation_id).order_by("timestamp", "id")
    return list(rows.only("id", "transaction_id", "timestamp", "account_id", "merchant_id", "amount", "label"))
