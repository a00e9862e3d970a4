"""Backtest: replay a labelled table through the real features and models in time order.

Two ways to split: a split column (``train``/``val``/``test``), or the handbook's calendar protocol (train days,
a delay, test days, repeated over prequential folds). Feedback decides which labels the system sees and when:
``none`` (a cold start: no label at all), ``reported`` (every label arrives ``label_delay_days`` after its day,
like chargebacks), ``reviews`` (each day analysts review the ``reviews_per_day`` items that the product's own queue
policy, ``offering.offer``, offers from the recent unreviewed transactions, and their truth is known the next
morning). With feedback the supervised part is retrained every day on the labels known that morning (with reviews,
unlabelled rows count as legitimate with a small weight, as the product can count them), and, as in the handbook, a
card whose fraud is already known is left out of that day's evaluation.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from detection.engine.detector import Detector
from detection.engine.features import ACCOUNT_LOOKBACK_SECONDS, MERCHANT_LOOKBACK_SECONDS, build_features
from detection.engine.frame import Frame
from detection.engine.metrics import card_precision_daily, curves, summary
from detection.engine.offering import (
    DEFAULT_EXPLORE_SHARE,
    DEFAULT_INVESTIGATE,
    DEFAULT_INVESTIGATE_SHARE,
    novelty,
    offer,
)

DAY = 86400
MODELS = ("isolation_forest", "autoencoder", "tail", "unsupervised", "supervised", "ensemble")
FEEDBACK = ("none", "reported", "reviews")
LOOKBACK = max(ACCOUNT_LOOKBACK_SECONDS, MERCHANT_LOOKBACK_SECONDS)
# The replay's detector trains its supervised part on one OpenMP thread unless ``--param threads=N`` says otherwise:
# it retrains every replayed day, and on a shared machine OpenMP's threads wait on each other (one thread fitted
# 75,000 rows 7-9x faster than two at a load of 8; the fitted model is the same).
REPLAY_PARAMS = {"threads": 1}


@dataclass
class BacktestConfig:
    split: np.ndarray | None = None  # per row: "train", "val", "test" (anything else is history only)
    train_days: int = 7
    delay_days: int = 7
    test_days: int = 7
    start: int | None = None  # first training day, epoch seconds at 00:00 UTC; default: the first day of data
    folds: int = 1  # prequential folds, each test_days after the previous one; figures are their mean
    feedback: str = "none"
    reviews_per_day: int = 100
    label_delay_days: int = 7
    # With reported labels, the supervised part also learns from the labels of this many days before the first
    # training day (known long before the test; 0: only from the training day on, as the handbook's models).
    label_history_days: int = 28
    seed: int = 0
    detector_params: dict = field(default_factory=dict)
    # With reviews: the queue policy's settings (the product's REVIEW_EXPLORE_SHARE, REVIEW_INVESTIGATE_SHARE), how
    # many days an unreviewed item stays a candidate, how long a confirmed fraud widens the investigation, and the
    # weight of an unlabelled row counted legitimate in the supervised part's training (0: unlabelled rows unused).
    explore_share: float = DEFAULT_EXPLORE_SHARE
    investigate_share: float = DEFAULT_INVESTIGATE_SHARE
    investigate: tuple = DEFAULT_INVESTIGATE  # which investigations, in order (the product's REVIEW_INVESTIGATE)
    queue_days: int = 3
    investigate_days: int = 7
    unlabelled_weight: float = 0.1


@dataclass
class _Scored:
    """Test rows and every model's scores for them, collected day by day."""

    rows: list = field(default_factory=list)
    removed: list = field(default_factory=list)
    scores: dict = field(default_factory=lambda: {m: [] for m in MODELS})

    def add(self, rows: np.ndarray, removed: np.ndarray, scores: dict[str, np.ndarray]) -> None:
        self.rows.append(rows)
        self.removed.append(removed)
        for model in MODELS:
            self.scores[model].append(scores.get(model, np.full(len(rows), np.nan)))

    def arrays(self):
        return (
            np.concatenate(self.rows),
            np.concatenate(self.removed),
            {m: np.concatenate(v) for m, v in self.scores.items()},
        )


def run_backtest(frame, config: BacktestConfig) -> dict:
    """The JSON contract: models -> figures, rows_scored, seconds, per_day (and folds when there are several)."""
    if config.feedback not in FEEDBACK:
        raise ValueError(f"feedback must be one of {FEEDBACK}")
    started = time.perf_counter()
    data = Frame.of(frame)
    origin = int(data.ts.min()) // DAY * DAY
    if config.split is not None:
        folds = [_split_fold(data, config, origin)]
    else:
        first = (config.start if config.start is not None else origin) // DAY * DAY
        folds = [_calendar_fold(data, config, origin, first + f * config.test_days * DAY) for f in range(config.folds)]
    result = {
        "models": {m: _mean([f["models"][m] for f in folds]) for m in MODELS},
        "rows_scored": int(sum(f["rows_scored"] for f in folds)),
        "seconds": round(time.perf_counter() - started, 2),
        "per_day": [day for f in folds for day in f["per_day"]],
        "feedback": config.feedback,
        "seed": config.seed,
    }
    if config.feedback == "reviews":
        result["reviews"] = [day for f in folds for day in f["reviews"]]
    if len(folds) > 1:
        result["folds"] = [{k: v for k, v in f.items() if k != "per_day"} for f in folds]
    else:
        result["curves"] = folds[0]["curves"]
    return result


def _mean(figures: list[dict]) -> dict:
    out = {}
    for key in figures[0]:
        values = [f[key] for f in figures if f[key] is not None]
        out[key] = round(float(np.mean(values)), 6) if values else None
    return out


def _split_fold(data: Frame, config: BacktestConfig, origin: int) -> dict:
    split = np.asarray(config.split).astype(str)
    train, val, test = split == "train", split == "val", split == "test"
    truth = data.label.copy()
    if config.feedback == "none":
        label, known_ts = np.full(len(data), np.nan), np.full(len(data), np.nan)
    else:  # every training label known when the test starts; test labels never seen
        label = np.where(train | val, truth, np.nan)
        known_ts = np.where(train | val, -np.inf, np.nan)
    view = data.with_labels(label, known_ts)
    detector = Detector(**REPLAY_PARAMS | config.detector_params).fit(
        view, seed=config.seed, train_mask=train, validation_mask=val
    )
    output = detector.score_frame(view, test, reasons=False)
    scored = _Scored()
    scored.add(output.rows, np.zeros(len(output.rows), bool), _model_scores(output))
    return _evaluate(data, truth, scored, origin, config, detector)


def _calendar_fold(data: Frame, config: BacktestConfig, origin: int, first_day: int) -> dict:
    train_end = first_day + config.train_days * DAY
    test_start = train_end + config.delay_days * DAY
    test_end = test_start + config.test_days * DAY
    history = config.label_history_days * DAY if config.feedback == "reported" else 0
    window = np.flatnonzero((data.ts >= first_day - history - LOOKBACK) & (data.ts < test_end))
    sub = data.take(window)
    replay = _Replay(sub, config, first_day, train_end, test_start, test_end)
    scored = replay.run()
    result = _evaluate(sub, sub.label, scored, origin, config, replay.detector)
    if config.feedback == "reviews":
        result["reviews"] = replay.reviews
    return result


class _Replay:
    """One fold in time order: fit at the end of training (or at test start for reported labels), then days."""

    def __init__(self, sub: Frame, config: BacktestConfig, first_day, train_end, test_start, test_end):
        self.sub, self.config, self.truth = sub, config, sub.label.copy()
        self.first_day, self.train_end, self.test_start, self.test_end = first_day, train_end, test_start, test_end
        self.day_start = sub.ts // DAY * DAY
        history = config.label_history_days * DAY if config.feedback == "reported" else 0
        self.history_start = first_day - history  # the first day whose labels the supervised part learns from
        self.label = np.full(len(sub), np.nan)
        self.known_ts = np.full(len(sub), np.nan)
        if config.feedback == "reported":
            self.label = self.truth.copy()
            self.known_ts = (self.day_start + (config.label_delay_days + 1) * DAY).astype(np.float64)
        self.features = np.zeros((len(sub), 0), dtype=np.float32)
        self.has_features = np.zeros(len(sub), bool)
        if config.feedback == "reviews":  # what the queue knows of each scored row
            self.cards, self.merchants = np.asarray(sub.account_id), np.asarray(sub.merchant_id)
            self.offer_score = np.full(len(sub), np.nan)
            self.offer_novelty = np.full(len(sub), np.nan)
            self.reviewed = np.zeros(len(sub), bool)
            self.reviews: list[dict] = []

    def view(self) -> Frame:
        return self.sub.with_labels(self.label, self.known_ts)

    def run(self) -> _Scored:
        train = (self.sub.ts >= self.first_day) & (self.sub.ts < self.train_end)
        fit_at = self.test_start if self.config.feedback == "reported" else self.train_end
        self.detector = Detector(**REPLAY_PARAMS | self.config.detector_params)
        self.detector.fit(self.view(), seed=self.config.seed, train_mask=train, as_of=fit_at)
        if self.config.feedback == "none":
            return self._score_all_at_once()
        if self.config.feedback == "reported":  # labels arrive on a fixed schedule: every feature is known now
            self._store_features((self.sub.ts >= self.history_start) & (self.sub.ts < self.test_end))
        else:
            self._store_features(train)
        scored = _Scored()
        first = self.test_start if self.config.feedback == "reported" else self.train_end
        for day in range(first, self.test_end, DAY):
            self._day(day, scored)
        return scored

    def _store_features(self, mask: np.ndarray) -> None:
        if not self.features.shape[1]:
            self.features = np.zeros((len(self.sub), len(self.detector.feature_names)), dtype=np.float32)
        todo = mask & ~self.has_features
        if todo.any():
            self.features[todo] = build_features(self.view(), target_mask=todo, spec=self.detector.spec).X
            self.has_features |= todo

    def _score_all_at_once(self) -> _Scored:
        test = (self.sub.ts >= self.test_start) & (self.sub.ts < self.test_end)
        output = self.detector.score_frame(self.view(), test, reasons=False)
        scored = _Scored()
        scored.add(output.rows, np.zeros(len(output.rows), bool), _model_scores(output))
        return scored

    def _day(self, day: int, scored: _Scored) -> None:
        today = self.day_start == day
        self._store_features(today)
        seen = (self.sub.ts >= self.history_start) & (self.sub.ts < day)
        y_known = np.where(self.known_ts <= day, self.label, np.nan)
        reviews = self.config.feedback == "reviews"
        unlabelled_weight = self.config.unlabelled_weight if reviews else 0.0
        self.detector.fit_supervised(
            self.features[seen], y_known[seen], seed=self.config.seed, unlabelled_weight=unlabelled_weight
        )
        rows = np.flatnonzero(today)
        output = self.detector.score_features(self.features[rows], reasons=False)
        if reviews:
            self._review(rows, output, day)
        if day >= self.test_start:
            scored.add(rows, self._known_cards(rows, day), _model_scores(output))

    def _review(self, rows: np.ndarray, output, day: int) -> None:
        """The analysts review what the product's queue policy offers from the recent unreviewed rows (scored as they
        arrived), within the day's budget; their truth is known from the next morning. The policy reads only scores
        and the frauds confirmed by this morning."""
        config = self.config
        self.offer_score[rows] = output.score
        self.offer_novelty[rows] = novelty(output.components)
        recent = self.day_start > day - config.queue_days * DAY
        queue = np.flatnonzero(recent & (self.day_start <= day) & ~self.reviewed & ~np.isnan(self.offer_score))
        confirmed = self.reviewed & (self.known_ts <= day) & (self.known_ts > day - config.investigate_days * DAY)
        confirmed &= self.label == 1
        offered = offer(
            score=self.offer_score[queue],
            novelty=self.offer_novelty[queue],
            cards=self.cards[queue],
            merchants=self.merchants[queue],
            confirmed_cards=np.unique(self.cards[confirmed]),
            confirmed_merchants=np.unique(self.merchants[confirmed]),
            budget=config.reviews_per_day,
            explore_share=config.explore_share,
            investigate_share=config.investigate_share,
            investigate=config.investigate,
        )
        chosen = queue[offered.index]
        self.reviewed[chosen] = True
        self.label[chosen] = self.truth[chosen]
        self.known_ts[chosen] = day + DAY
        codes, counts = np.unique(offered.reason, return_counts=True)
        self.reviews.append(
            {
                "day": str(np.datetime64(int(day), "s").astype("datetime64[D]")),
                "reviewed": int(len(chosen)),
                "frauds_found": int(np.nansum(self.truth[chosen])),
                "by_reason": {str(c): int(n) for c, n in zip(codes, counts, strict=True)},
                "row_ids": self.sub.row_id[chosen].tolist(),
            }
        )

    def _known_cards(self, rows: np.ndarray, day: int) -> np.ndarray:
        """Rows of cards with a fraud known this morning (from the first training day on): left out today."""
        known_fraud = (self.label == 1) & (self.known_ts <= day) & (self.sub.ts >= self.first_day)
        return np.isin(self.sub.account_id[rows], np.unique(self.sub.account_id[known_fraud]))


def _model_scores(output) -> dict[str, np.ndarray]:
    names = MODELS[:-1]
    scores = {m: output.components[m] for m in names if m in output.components}
    scores["ensemble"] = output.score
    return scores


def _evaluate(data: Frame, truth: np.ndarray, scored: _Scored, origin: int, config, detector) -> dict:
    rows, removed, scores = scored.arrays()
    keep = ~removed
    rows, scores = rows[keep], {m: v[keep] for m, v in scores.items()}
    y = truth[rows]
    days = (data.ts[rows] - origin) // DAY
    cards = data.account_id[rows]
    models, model_curves = {}, {}
    for model, values in scores.items():
        available = ~np.isnan(values)
        figures = summary(y[available], values[available], days=days[available], cards=cards[available])
        models[model] = figures if available.any() else dict.fromkeys(figures)
        model_curves[model] = curves(y[available], values[available]) if available.any() else {"roc": [], "pr": []}
    return {
        "models": models,
        "curves": model_curves,
        "rows_scored": int(len(rows) + removed.sum()),
        "rows_left_out": int(removed.sum()),
        "training": detector.training_metrics,
        "per_day": _per_day(data, truth, rows, days, cards, scores["ensemble"], origin, removed.sum()),
    }


def _per_day(data, truth, rows, days, cards, score, origin, _removed) -> list[dict]:
    daily_cp = card_precision_daily(days, cards, truth[rows], score)
    out = []
    for i, day in enumerate(np.unique(days)):
        on_day = days == day
        y = truth[rows][on_day]
        figures = summary(y, score[on_day])
        date = np.datetime64(int(origin + day * DAY), "s").astype("datetime64[D]")
        out.append(
            {
                "day": str(date),
                "rows": int(on_day.sum()),
                "frauds": int(np.nansum(y)),
                "roc_auc": figures["roc_auc"],
                "average_precision": figures["average_precision"],
                "card_precision_at_100": daily_cp[i],
            }
        )
    return out
