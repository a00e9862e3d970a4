"""A finished job's rows analysed: the score distribution, flags by category, channel, merchant and day, the most
frequent reasons, the rows themselves filtered, and whether the file's traffic looks like the active model's training
data (the population stability index of each feature against the training sample kept in the model).

Everything is read from what the job stored (its chunks' transaction ids, their transactions and latest scores);
nothing is written. At most JOB_ANALYSIS_MAX_ROWS rows are analysed, the file's first ones.
"""

import logging
import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import orjson
import pandas as pd
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from redis.exceptions import RedisError

from detection.charts import BarSeries, bar_chart, count_format
from detection.engine.drift import features_psi
from detection.engine.features import build_features
from detection.engine.frame import Frame
from detection.jobs.services import media_path
from detection.models import Decision, ScoringJob, ScoringJobChunk, matched_rules
from detection.scoring import adapters, registry
from detection.scoring.adapters import StoredRows

logger = logging.getLogger(__name__)

HISTOGRAM_BINS = 20
TOP = 12
DRIFT_SECONDS = 3600  # a job's rows never change once it is done: its drift is kept this long per active version
COLUMNS = (
    "pk",
    "transaction_id",
    "timestamp",
    "account_id",
    "amount",
    "merchant_id",
    "merchant_category",
    "channel",
    "label",
    "score",
    "risk_level",
    "flagged",
    "reasons",
    "decision",
    "rules",
)
_ROWS_SQL = (
    "SELECT t.id, t.transaction_id, t.timestamp, t.account_id, t.amount::float8, t.merchant_id, t.merchant_category, "
    "t.channel, t.label, s.score, s.risk_level, s.is_anomaly, s.reasons, s.decision, s.rules "
    "FROM transactions_transaction t LEFT JOIN LATERAL ("
    "SELECT score, risk_level, is_anomaly, reasons, decision, rules FROM detection_score "
    "WHERE transaction_id = t.id AND transaction_time = t.timestamp ORDER BY created_at DESC, id DESC LIMIT 1"
    ") s ON true "
    "WHERE t.source_id = %s AND t.transaction_id = ANY(%s::text[])"
)
_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


def job_rows(job: ScoringJob, *, limit: int | None = None) -> pd.DataFrame:
    """The job's stored rows in file order (`row`: the file's row number), each with its transaction's latest score
    and the reasons people read (the deciding rules first, as Score.reasons_shown gives them)."""
    limit = limit or settings.JOB_ANALYSIS_MAX_ROWS
    parts, taken = [], 0
    for chunk in job.chunks.filter(status=ScoringJobChunk.Status.DONE).order_by("index"):
        ids = pd.read_parquet(media_path(chunk.file_path), columns=["transaction_id"])["transaction_id"]
        ids = ids.iloc[: limit - taken]
        parts.append(_chunk_rows(job.source_id, ids))
        taken += len(ids)
        if taken >= limit:
            break
    if not parts:
        return pd.DataFrame(columns=["row", *COLUMNS])
    return pd.concat(parts, ignore_index=True)


def _chunk_rows(source_id: int, ids: pd.Series) -> pd.DataFrame:
    with connection.cursor() as cursor:
        cursor.execute(_ROWS_SQL, [source_id, ids.astype(str).tolist()])
        stored = pd.DataFrame(cursor.fetchall(), columns=list(COLUMNS))
    order = pd.DataFrame({"row": ids.index.to_numpy(), "transaction_id": ids.astype(str).to_numpy()})
    rows = order.merge(stored, on="transaction_id", how="inner")
    rows["reasons"] = [
        _reasons_shown(_json(reasons), decision, _json(rules))
        for reasons, decision, rules in zip(rows["reasons"], rows["decision"], rows["rules"], strict=True)
    ]
    rows["decision"] = [
        decision or (Decision.REVIEW if flagged else Decision.ALLOW) if pd.notna(score) else ""
        for decision, flagged, score in zip(rows["decision"], rows["flagged"], rows["score"], strict=True)
    ]
    rows["flagged"] = rows["flagged"].fillna(False).astype(bool)
    return rows.drop(columns=["rules"])


def _json(value) -> list:
    """A jsonb column as the cursor gives it (Django has PostgreSQL send jsonb as text); [] for no score."""
    return orjson.loads(value) if isinstance(value, str) else value or []


def _reasons_shown(reasons: list[str], decision: str, rules: list[dict]) -> list[str]:
    deciding = [rule for rule in matched_rules(rules) if rule["action"] == decision]
    return [*(f"Rule: {rule['name']} ({rule['action']})" for rule in deciding), *reasons]


@dataclass(frozen=True)
class Filters:
    """The table's filters, as the query string gives them (already validated by AnalysisFilterForm)."""

    risk: str = ""
    flagged: str = ""  # "yes", "no" or ""
    decision: str = ""
    category: str = ""
    channel: str = ""
    merchant: str = ""
    day: str = ""  # YYYY-MM-DD
    min_score: float | None = None
    q: str = ""  # part of a transaction id or account

    def apply(self, rows: pd.DataFrame) -> pd.DataFrame:
        keep = np.ones(len(rows), dtype=bool)
        for column, value in (
            ("risk_level", self.risk),
            ("decision", self.decision),
            ("merchant_category", self.category),
            ("channel", self.channel),
            ("merchant_id", self.merchant),
        ):
            if value:
                keep &= (rows[column] == value).to_numpy()
        if self.flagged:
            keep &= rows["flagged"].to_numpy() == (self.flagged == "yes")
        if self.day:
            keep &= (_days(rows) == self.day).to_numpy()
        if self.min_score is not None:
            keep &= (rows["score"].fillna(-1) >= self.min_score).to_numpy()
        if self.q:
            needle = self.q.lower()
            text = rows["transaction_id"].str.lower() + " " + rows["account_id"].str.lower()
            keep &= text.str.contains(needle, regex=False).to_numpy()
        return rows[keep]


def _days(rows: pd.DataFrame) -> pd.Series:
    return pd.to_datetime(rows["timestamp"], utc=True).dt.strftime("%Y-%m-%d")


@dataclass
class Analysis:
    rows: int
    scored: int
    flagged: int
    labelled: int
    capped: bool
    decisions: dict[str, int]
    histogram: list[tuple[str, int, int]]  # (bin, rows, flagged)
    by_category: list[dict]
    by_channel: list[dict]
    by_merchant: list[dict]
    by_day: list[dict]
    reasons: list[tuple[str, int]]
    charts: dict = field(default_factory=dict)

    @property
    def flagged_share(self) -> float | None:
        return self.flagged / self.scored if self.scored else None


def job_analysis(job: ScoringJob, rows: pd.DataFrame) -> Analysis:
    """The figures of a job's rows (job_rows)."""
    scored = rows[rows["score"].notna()]
    analysis = Analysis(
        rows=len(rows),
        scored=len(scored),
        flagged=int(rows["flagged"].sum()),
        labelled=int(rows["label"].notna().sum()),
        capped=len(rows) >= settings.JOB_ANALYSIS_MAX_ROWS and job.total_rows > len(rows),
        decisions={d: int(n) for d, n in scored["decision"].value_counts().items()},
        histogram=_histogram(scored),
        by_category=_flags_by(rows, rows["merchant_category"].replace("", "(none)")),
        by_channel=_flags_by(rows, rows["channel"]),
        by_merchant=_flags_by(rows, rows["merchant_id"].replace("", "(none)")),
        by_day=_flags_by(rows, _days(rows), order="key", top=None),
        reasons=_top_reasons(rows),
    )
    analysis.charts = _charts(analysis)
    return analysis


def _histogram(scored: pd.DataFrame) -> list[tuple[str, int, int]]:
    scores = scored["score"].to_numpy(dtype=np.float64)
    bins = np.minimum((scores * HISTOGRAM_BINS).astype(int), HISTOGRAM_BINS - 1)
    counts = np.bincount(bins, minlength=HISTOGRAM_BINS)
    flagged = np.bincount(bins[scored["flagged"].to_numpy(dtype=bool)], minlength=HISTOGRAM_BINS)
    width = 1 / HISTOGRAM_BINS
    return [(f"{k * width:.2f}", int(counts[k]), int(flagged[k])) for k in range(HISTOGRAM_BINS)]


def _flags_by(rows: pd.DataFrame, keys: pd.Series, *, order: str = "flagged", top: int | None = TOP) -> list[dict]:
    """Per value of `keys`: rows, flagged, the share flagged; the most flagged first (or by key), `top` of them."""
    table = pd.DataFrame({"key": keys.to_numpy(), "flagged": rows["flagged"].to_numpy()})
    grouped = table.groupby("key", sort=False)["flagged"].agg(["size", "sum"]).reset_index()
    if order == "key":
        grouped = grouped.sort_values("key")
    else:
        grouped = grouped.sort_values(["sum", "size", "key"], ascending=[False, False, True])
    if top is not None:
        grouped = grouped.head(top)
    return [
        {"key": str(key), "rows": int(size), "flagged": int(flagged), "share": flagged / size if size else None}
        for key, size, flagged in grouped.itertuples(index=False)
    ]


def _top_reasons(rows: pd.DataFrame) -> list[tuple[str, int]]:
    """The reasons given most often to the flagged rows (to every row when none is flagged), their figures left out
    so that "amount 3.1x…" and "amount 7.4x…" count as one."""
    source = rows[rows["flagged"]] if rows["flagged"].any() else rows
    counts = Counter(_NUMBER.sub("…", reason) for reasons in source["reasons"] for reason in set(reasons))
    return counts.most_common(10)


def _charts(analysis: Analysis) -> dict:
    return {
        "histogram_svg": bar_chart(
            [label for label, _, _ in analysis.histogram],
            [
                BarSeries("transactions", [n for _, n, _ in analysis.histogram], color="#2f5bd3"),
                BarSeries("flagged", [f for _, _, f in analysis.histogram], color="#c0392b"),
            ],
            title="Score distribution",
            y_label="Transactions",
            y_format=count_format([n for _, n, _ in analysis.histogram]),
            x_label="Score (from)",
            width=900,
        ),
        "category_svg": _flags_chart(analysis.by_category, "Flags by category", "Category"),
        "channel_svg": _flags_chart(analysis.by_channel, "Flags by channel", "Channel"),
        "day_svg": _flags_chart(analysis.by_day, "Flags by day", "Day (UTC)", width=900, height=260),
    }


def _flags_chart(groups: list[dict], title: str, x_label: str, *, width: int = 600, height: int = 300):
    return bar_chart(
        [g["key"][5:] if x_label.startswith("Day") else g["key"][:14] for g in groups],
        [BarSeries("flagged", [g["flagged"] for g in groups], color="#c0392b")],
        title=title,
        y_label="Flagged",
        y_format=count_format([g["flagged"] for g in groups]),
        x_label=x_label,
        width=width,
        height=height,
    )


@dataclass(frozen=True)
class Drift:
    """The job's features against the active version's training sample."""

    version: int
    rows: int  # rows whose features were compared
    psi: dict[str, float]  # every feature's index, largest first
    threshold: float
    min_features: int = 1

    @property
    def shifted(self) -> list[tuple[str, float]]:
        """The features whose index reaches the threshold, largest first."""
        return [(name, value) for name, value in self.psi.items() if value >= self.threshold]

    @property
    def warns(self) -> bool:
        """Whether the page warns: several features moved. One feature's moderate move in a file of few accounts is
        mostly the noise of sampling them (an account's rows move together); a file from elsewhere moves many."""
        return len(self.shifted) >= self.min_features


def job_drift(job: ScoringJob, rows: pd.DataFrame, *, organisation_id: int) -> Drift | None:
    """How far the job's features lie from the active version's training sample; None without an active version, a
    version without a kept sample, or too few rows to tell (JOB_DRIFT_MIN_ROWS)."""
    if len(rows) < settings.JOB_DRIFT_MIN_ROWS:
        return None
    try:
        loaded = registry.active_model(organisation_id=organisation_id)
    except registry.NoActiveModel:
        return None
    key = f"detection:job-drift:{job.pk}:{loaded.version.pk}:{len(rows)}:{settings.JOB_DRIFT_PSI_THRESHOLD}"
    key += f":{settings.JOB_DRIFT_MIN_FEATURES}"
    drift = _cached(key)
    if drift is None:
        drift = _drift(loaded, rows, organisation_id=organisation_id)
        _keep(key, drift)
    return drift or None


def _drift(loaded, rows: pd.DataFrame, *, organisation_id: int) -> Drift | bool:
    detector = loaded.detector
    profile = getattr(detector, "profile", None)
    if profile is None or detector.spec is None:
        return False
    sample = rows["pk"].to_numpy(dtype=np.int64)
    if len(sample) > settings.JOB_DRIFT_SAMPLE_ROWS:
        sample = np.random.default_rng(0).choice(sample, settings.JOB_DRIFT_SAMPLE_ROWS, replace=False)
    columns, targets = adapters.frame_for_stored(StoredRows(pks=sample.tolist()), organisation_id=organisation_id)
    features = build_features(Frame.of(columns), target_mask=targets, spec=detector.spec)
    found = features_psi(profile.reference, features.X, features.names)
    ordered = dict(sorted(((n, round(v, 3)) for n, v in found.items()), key=lambda item: -item[1]))
    return Drift(
        version=loaded.version.version,
        rows=len(features.X),
        psi=ordered,
        threshold=settings.JOB_DRIFT_PSI_THRESHOLD,
        min_features=settings.JOB_DRIFT_MIN_FEATURES,
    )


def _cached(key: str):
    try:
        return cache.get(key)
    except RedisError:
        return None


def _keep(key: str, value) -> None:
    try:
        cache.set(key, value, timeout=DRIFT_SECONDS)
    except RedisError as exc:
        logger.warning("could not keep a job's drift in the cache: %s", exc)
