"""A backtest's report, from the engine's JSON: the metrics table per model, per-day figures, charts and curves."""

from detection.charts import BarSeries, Series, bar_chart, line_chart
from detection.engine.backtest import MODELS
from detection.models import BacktestRun

ORDER = ("ensemble", *[m for m in MODELS if m != "ensemble"])

METRICS = (
    ("roc_auc", "ROC AUC"),
    ("average_precision", "Average precision"),
    ("precision_at_1pct", "Precision @1%"),
    ("recall_at_1pct", "Recall @1%"),
    ("precision_at_5pct", "Precision @5%"),
    ("recall_at_5pct", "Recall @5%"),
    ("card_precision_at_100", "Card precision @100"),
)
CHART_METRICS = (("roc_auc", "ROC AUC"), ("average_precision", "AP"), ("card_precision_at_100", "CP@100"))
DAY_METRICS = CHART_METRICS
# Both bar charts draw scores between 0 and 1, the page's full width.
SCORE_BARS = {"y_label": "Score", "y_format": "{:.1f}", "y_max": 1.0, "width": 1300, "height": 320}


def report_context(run: BacktestRun) -> dict:
    if run.status != BacktestRun.Status.DONE or not run.result:
        return {"finished": run.status in (BacktestRun.Status.DONE, BacktestRun.Status.FAILED)}
    result = run.result
    found = result.get("models", {})
    names = [m for m in ORDER if m in found] + sorted(set(found) - set(ORDER))  # JSON columns keep no key order
    models = {name: found[name] for name in names if _any(found[name])}
    per_day = result.get("per_day", [])
    return {
        "finished": True,
        "metrics": METRICS,
        "rows": [(name, [figures.get(key) for key, _ in METRICS]) for name, figures in models.items()],
        "best": {key: _best(models, key) for key, _ in METRICS},
        "models_svg": _models_chart(models),
        "per_day": per_day,
        "per_day_svg": _per_day_chart(per_day),
        "curves_svg": _curves(result.get("curves") or {}),
        "options": run.options,
    }


def _any(figures: dict) -> bool:
    return any(value is not None for value in figures.values())


def _best(models: dict, key: str) -> list[str]:
    """Every model reaching the column's best value (ties share it)."""
    known = {name: figures[key] for name, figures in models.items() if figures.get(key) is not None}
    top = max(known.values(), default=None)
    return [name for name, value in known.items() if value == top]


def _models_chart(models: dict):
    if not models:
        return None
    series = [BarSeries(label, [figures.get(key) for figures in models.values()]) for key, label in CHART_METRICS]
    return bar_chart(list(models), series, title="Models compared", x_label="Model", **SCORE_BARS)


def _per_day_chart(per_day: list[dict]):
    if not per_day:
        return None
    series = [BarSeries(label, [day.get(key) for day in per_day]) for key, label in DAY_METRICS]
    days = [str(day["day"])[5:] for day in per_day]
    return bar_chart(days, series, title="Ensemble, per test day", x_label="Day", **SCORE_BARS)


def _curves(curves: dict) -> dict:
    """ROC and precision-recall charts when the engine's report carries curves ({model: {"roc", "pr"}})."""
    drawn = {name: c for name, c in curves.items() if c.get("roc") and c.get("pr")}
    if not drawn:
        return {}
    return {
        "roc": line_chart(
            [Series(name, [tuple(p) for p in c["roc"]]) for name, c in drawn.items()],
            title="ROC curve",
            x_label="False positive rate",
            y_label="True positive rate",
            diagonal=True,
        ),
        "pr": line_chart(
            [Series(name, [tuple(p) for p in c["pr"]], step=True) for name, c in drawn.items()],
            title="Precision–recall curve",
            x_label="Recall",
            y_label="Precision",
        ),
    }
