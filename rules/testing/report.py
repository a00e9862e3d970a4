"""A test on history's report for its page, from the stored JSON: figures, charts drawn like the project's others
(server-side SVG, detection.charts), the overlaps and the sample of hits."""

from detection.charts import BarSeries, bar_chart
from rules.models import RuleTest
from transactions.models import Transaction

PER_DAY = {"y_label": "Transactions", "x_label": "Day", "width": 1300, "height": 300}


def report_context(test: RuleTest) -> dict:
    finished = test.status in (RuleTest.Status.DONE, RuleTest.Status.FAILED)
    if test.status != RuleTest.Status.DONE or not test.report:
        return {"finished": finished, "percent": round(test.progress * 100)}
    report = test.report
    per_day = report.get("per_day", [])
    return {
        "finished": True,
        "percent": 100,
        "report": report,
        "labelled": report["fraud"] + report["legitimate"],
        "hits_svg": _hits_chart(per_day),
        "labels_svg": _labels_chart(per_day),
        "sample": _sample_rows(report.get("sample", []), organisation_id=test.rule_version.rule.organisation_id),
    }


def _hits_chart(per_day: list[dict]):
    if not per_day:
        return None
    days = [day["day"][5:] for day in per_day]
    series = [BarSeries("Hits", [day["hits"] for day in per_day])]
    return bar_chart(days, series, title="Hits per day", **PER_DAY)


def _labels_chart(per_day: list[dict]):
    if not any(day["fraud"] or day["legitimate"] for day in per_day):
        return None
    days = [day["day"][5:] for day in per_day]
    series = [
        BarSeries("Labelled fraud", [day["fraud"] for day in per_day], color="#c0392b"),
        BarSeries("Labelled legitimate", [day["legitimate"] for day in per_day], color="#2e7d32"),
    ]
    return bar_chart(days, series, title="Hits with a label, per day", **PER_DAY)


def _sample_rows(ids: list[int], *, organisation_id: int) -> list[Transaction]:
    """The sampled hits still stored, of the organisation's sources, oldest first."""
    rows = Transaction.objects.filter(pk__in=ids, source__organisation_id=organisation_id).order_by("timestamp", "id")
    return list(rows.only("id", "transaction_id", "timestamp", "account_id", "merchant_id", "amount", "label"))
