"""The detector: isolation forest + autoencoder (+ a supervised model once labels exist), calibrated and combined.

Each component's raw output becomes its quantile against the training traffic (``calibration``). Without labels
the ensemble averages the surprises ``-log(1 - q)``, so one model that finds a transaction extremely strange is not
voted down by one that finds it ordinary; with labels the supervised model takes the features and those surprises as
inputs and learns how far to trust each detector. The fit trains the tail model on every training row first, then
the forest, the autoencoder and the calibrators on the rows outside its top ``trim_share`` (the "ordinary" ones).
"""

from __future__ import annotations

import pickle  # noqa: S403 - artifacts are written and read by this system only
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import average_precision_score
from threadpoolctl import ThreadpoolController

from detection.engine.autoencoder import Autoencoder
from detection.engine.boosting import CompiledBoosting
from detection.engine.calibration import QuantileCalibrator, surprise
from detection.engine.explain import MIN_RARITY, reasons_for
from detection.engine.features import (
    LABEL_FEATURES,
    NOT_READ_BY_FOREST_OR_AUTOENCODER,
    RARITY_FLOOR_FEATURES,
    REPEAT_SPIKE_FEATURES,
    FeatureMatrix,
    FeatureSpec,
    build_features,
)
from detection.engine.forest import fit_forest
from detection.engine.frame import Frame
from detection.engine.inputs import (
    HISTORY_COUNT,
    component_weights,
    history_support,
    informative_features,
    signed_attributes,
    varying,
)
from detection.engine.parallel import map_blocks
from detection.engine.profile import FeatureProfile, TailModel

# The format of the artifacts this release writes, kept beside each artifact (the model version's row), not in it:
# the artifact stays the pickled Detector alone, which every release reads as before. Raise it when a change makes
# new artifacts unreadable by the release before it (a class renamed or moved, a field that release cannot do
# without): a release then refuses an artifact newer than it reads with an error that says so, instead of failing
# inside the unpickling. Format 0: artifacts stored before formats were recorded, read as format 1.
ARTIFACT_FORMAT = 1


class ArtifactError(Exception):
    """A model artifact that this release cannot read (written by a newer release, damaged, not an artifact)."""


UNSUPERVISED = ("isolation_forest", "autoencoder", "tail")
# The tail model reads only deviation features chosen with domain knowledge; the forest and the autoencoder read
# everything and catch unusual combinations. Each half gets half of the say.
WEIGHTS = {"isolation_forest": 0.25, "autoencoder": 0.25, "tail": 0.5}
DEFAULT_PARAMS = {
    "n_estimators": 100,
    "max_samples": 256,
    "ae_hidden": (32, 8),
    "ae_epochs": 40,
    "ae_patience": 4,
    "unsupervised_max_rows": 100_000,
    "one_sided": True,
    "min_frauds": 50,
    "supervised_max_rows": 150_000,  # legitimate rows beyond it are sampled (and weighted up)
    "supervised_max_iter": 200,
    "supervised_learning_rate": 0.1,
    "supervised_l2": 10.0,
    "threads": None,  # OpenMP threads for the supervised model's training (None: all cores)
    "trim_share": 0.05,  # the second pass leaves out this share of the most extreme training rows
    # Trust: the supervised score replaces the unsupervised one only when, out of fold on the labels it learnt
    # from, it ranks them better (average precision) than the unsupervised score does (see `_measure_trust`).
    "trust_folds": 3,
    "trust_max_rows": 30_000,
    "weights": WEIGHTS,
}


_CONTROLLER: list[ThreadpoolController] = []


def _openmp_threads(limit: int | None):
    """A context limiting OpenMP threads, from one controller per process.

    ``threadpool_limits`` rescans the process's loaded libraries (``/proc/self/maps``) on every call, too slow to
    pay per scoring call; the controller scans once and then only sets the thread counts.
    """
    if not _CONTROLLER:
        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0].limit(limits=limit, user_api="openmp")


@dataclass
class ScoreOutput:
    score: np.ndarray
    components: dict[str, np.ndarray]
    reasons: Sequence[list[str]] = field(default_factory=list)  # reasons[i]: the words for row i
    rows: np.ndarray | None = None  # positions of the scored rows in the frame (score_frame only)
    features: FeatureMatrix | None = None  # the scored rows' features (score_frame only): rules read them by name


class Detector:
    def __init__(self, **params):
        self.params = {**DEFAULT_PARAMS, **params}
        self.spec: FeatureSpec | None = None
        self.algorithms: list[str] = []
        self.training_metrics: dict = {}
        self.supervised: HistGradientBoostingClassifier | None = None

    @property
    def feature_names(self) -> list[str]:
        return self.spec.names if self.spec else []

    def fit(
        self,
        frame,
        *,
        seed: int = 0,
        train_mask=None,
        validation_mask=None,
        as_of: float | None = None,
        features: FeatureMatrix | None = None,
    ) -> Detector:
        """Train on the rows of train_mask (all rows by default), with labels known at ``as_of`` (all by default).

        ``validation_mask`` rows serve the autoencoder's early stopping; ``features`` skips building the features
        of the training rows when the caller already has them (they must come from ``build_features``).
        """
        started = time.perf_counter()
        data = Frame.of(frame)
        n = len(data)
        train = np.ones(n, bool) if train_mask is None else np.asarray(train_mask, bool)
        if self.spec is None:
            self.spec = FeatureSpec.infer(data)
            if features is None:  # given features were built with the plain inferred spec: it stays so
                self.spec.linear_attributes = signed_attributes(data, train, self.spec.attributes)
        if features is None:
            features = build_features(data, target_mask=train, spec=self.spec)
        self._decide_inputs(features, data.account_id[features.rows])
        known = ~np.isnan(data.label)
        if as_of is not None:
            known &= data.label_known_ts <= as_of
        y = np.where(known, data.label, np.nan)[features.rows]
        validation = None
        if validation_mask is not None and np.any(validation_mask):
            validation = build_features(data, target_mask=validation_mask, spec=self.spec).X
        self.training_metrics = {"feature_seconds": round(time.perf_counter() - started, 3)}
        self._fit_unsupervised(features.X, y, validation, seed)
        self._fit_supervised(features.X, y, seed)
        self.training_metrics["seconds"] = round(time.perf_counter() - started, 3)
        return self

    def _decide_inputs(self, features: FeatureMatrix, account_id: np.ndarray) -> None:
        """Which features the unsupervised detectors read, from the training rows alone (``inputs``; no label)."""
        names = self.spec.names
        support = history_support(account_id, features.column(HISTORY_COUNT))
        self.informative = informative_features(names, support)
        self.history_support = round(support, 4)

    def _fit_unsupervised(self, X: np.ndarray, y: np.ndarray, validation: np.ndarray | None, seed: int) -> None:
        p, started = self.params, time.perf_counter()
        rng = np.random.default_rng(seed)
        clean = np.flatnonzero(y != 1)
        sample = (
            clean
            if len(clean) <= p["unsupervised_max_rows"]
            else np.sort(rng.choice(clean, p["unsupervised_max_rows"], replace=False))
        )
        directions = np.array([self.spec.directions[name] for name in self.spec.names])
        self.profile = FeatureProfile(X[sample], directions, seed=seed)
        informative = getattr(self, "informative", np.ones(len(self.spec.names), bool))
        deviation = np.isin(self.spec.names, self.spec.deviations) & informative
        labels = np.isin(self.spec.names, LABEL_FEATURES)
        floor = np.isin(self.spec.names, RARITY_FLOOR_FEATURES)
        signed = np.isin(self.spec.names, [f"attr_{a}" for a in self.spec.linear_attributes])
        self.tail = TailModel(
            X[sample],
            np.where(deviation, directions, 0),
            empirical=labels,
            floor=floor,
            two_sided=signed & (directions == 0) & informative,
        )
        # The forest and the autoencoder read every informative feature but the supervised-only ones and the tail
        # model's own.
        read = ~np.isin(self.spec.names, NOT_READ_BY_FOREST_OR_AUTOENCODER) & informative
        self.unsupervised_columns = np.flatnonzero(read)
        self.weights = self._component_weights(X)
        # The supervised model sees the after-spike amount through the tail model's surprise, not as a column: read
        # directly, it made the model trained on every handbook label grow far more trees, and scoring slower.
        self.supervised_columns = np.flatnonzero(~np.isin(self.spec.names, REPEAT_SPIKE_FEATURES))
        ordinary = self._ordinary(X, sample)
        Z = self._scaled(X[ordinary])
        self.forest = fit_forest(Z, seed=seed, n_estimators=p["n_estimators"], max_samples=p["max_samples"])
        self.autoencoder = Autoencoder(Z.shape[1], tuple(p["ae_hidden"])).fit(
            Z,
            seed=seed,
            epochs=p["ae_epochs"],
            patience=p["ae_patience"],
            validation=None if validation is None else self._scaled(validation),
        )
        # Components are calibrated against ordinary traffic (their surprises then separate the anomalies); the
        # ensemble against every sampled training row, so its 0.99 still means "stranger than 99% of the traffic".
        raw = self._unsupervised_raw(X[sample])
        kept = np.isin(sample, ordinary)
        self.calibrators = {name: QuantileCalibrator(values[kept]) for name, values in raw.items()}
        combined = self._combine({k: surprise(self.calibrators[k](v)) for k, v in raw.items()})
        self.calibrators["unsupervised"] = QuantileCalibrator(combined)
        self.algorithms = list(UNSUPERVISED)
        self.training_metrics.update(
            training_rows=int(len(X)),
            unsupervised_rows=int(len(sample)),
            ordinary_rows=int(len(ordinary)),  # what the second pass kept for the forest, autoencoder, calibrators
            known_frauds=int(np.sum(y == 1)),
            known_legitimate=int(np.sum(y == 0)),
            history_support=getattr(self, "history_support", None),  # share of rows with account history
            weights={name: round(weight, 4) for name, weight in self.weights.items()},
            autoencoder_epochs=len(self.autoencoder.history),
            autoencoder_validation_loss=round(float(min(self.autoencoder.history)), 6),
            unsupervised_seconds=round(time.perf_counter() - started, 3),
        )

    def _ordinary(self, X: np.ndarray, sample: np.ndarray) -> np.ndarray:
        """The sample without its ``trim_share`` most extreme rows by the tail model: the second pass of the fit.

        Unlabelled training traffic holds some anomalies; the forest, the autoencoder and the calibrators learn
        what ordinary traffic looks like from the rest, so those anomalies do not become part of "ordinary".
        """
        share = self.params.get("trim_share", 0.0)
        if share <= 0 or len(sample) < 100:
            return sample
        # Only label-free features decide: rows with known frauds nearby are no unlabelled anomaly, and trimming them
        # left the forest, the autoencoder and the calibrators blind to every label-aware value (tuning folds,
        # unsupervised ensemble AP 0.33 -> 0.44 with reported labels). Without labels nothing changes.
        label_free = ~np.isin(np.asarray(self.spec.names)[self.tail.columns], LABEL_FEATURES)
        tail = self.tail.surprises(X[sample])[:, label_free].max(axis=1, initial=0.0)
        return sample[tail <= np.quantile(tail, 1.0 - share)]

    def _component_weights(self, X: np.ndarray) -> dict[str, float]:
        """The components' say: a component none of whose inputs varies over the training rows has none."""
        read = int(np.sum(varying(X[:, self.unsupervised_columns])))
        inputs = {"isolation_forest": read, "autoencoder": read, "tail": len(self.tail.columns)}
        return component_weights(self.params.get("weights", WEIGHTS), inputs)

    def _combine(self, surprises: dict[str, np.ndarray]) -> np.ndarray:
        # Artifacts saved before the weights were decided per training set use the parameters'.
        weights = getattr(self, "weights", None) or self.params.get("weights", WEIGHTS)
        return sum(weights[name] * values for name, values in surprises.items())

    def fit_supervised(self, X: np.ndarray, y: np.ndarray, *, seed: int = 0, unlabelled_weight: float = 0.0) -> bool:
        """(Re)train only the supervised part on precomputed features and the labels known now (NaN = unknown).

        The unsupervised models stay as they are: this is the cheap daily retraining as labels arrive. Returns
        whether a supervised model is now in use (it needs ``min_frauds`` known frauds and as many legitimate).
        ``unlabelled_weight`` > 0: unlabelled rows count as legitimate with that weight each (frauds are rare, so
        most are), as a product that only hears of what its analysts reviewed can use them.
        """
        X, y = np.asarray(X, dtype=np.float32), np.asarray(y, dtype=np.float64)
        weight = None
        if unlabelled_weight > 0:
            y, weight = _unlabelled_as_legitimate(y, unlabelled_weight, self.params["supervised_max_rows"], seed)
        self._fit_supervised(X, y, seed, weight)
        return self.supervised is not None

    def _fit_supervised(self, X: np.ndarray, y: np.ndarray, seed: int, row_weight: np.ndarray | None = None) -> None:
        p, started = self.params, time.perf_counter()
        self.supervised_trust = None
        self.supervised = self._compiled_supervised = None
        self.calibrators.pop("supervised", None)
        self.algorithms = list(UNSUPERVISED)
        labelled = np.flatnonzero(~np.isnan(y))
        frauds = int(np.sum(y[labelled] == 1))
        if frauds < p["min_frauds"] or len(labelled) - frauds < p["min_frauds"]:
            return
        rng = np.random.default_rng(seed + 1)
        legit = labelled[y[labelled] == 0]
        keep = max(p["supervised_max_rows"] - frauds, 1)
        weight = 1.0
        if len(legit) > keep:
            weight = len(legit) / keep
            legit = np.sort(rng.choice(legit, keep, replace=False))
        rows = np.concatenate([labelled[y[labelled] == 1], legit])
        weights = np.where(y[rows] == 1, 1.0, weight)
        if row_weight is not None:
            weights = weights * row_weight[rows]
        self.supervised = self._new_supervised(seed)
        stacked = self._stacked(X[rows])
        with _openmp_threads(p["threads"]):
            self.supervised.fit(stacked, y[rows], sample_weight=weights)
        self._compiled_supervised = CompiledBoosting(self.supervised)
        self.supervised_trust = self._measure_trust(stacked, y[rows], weights, row_weight is not None, seed)
        sample = rng.choice(len(X), min(len(X), p["unsupervised_max_rows"]), replace=False)
        self.calibrators["supervised"] = QuantileCalibrator(self._supervised_raw(X[np.sort(sample)]))
        self.algorithms = [*UNSUPERVISED, "supervised"]
        self.training_metrics.update(
            supervised_trust=self.supervised_trust,
            supervised_rows=int(len(rows)),
            supervised_iterations=int(self.supervised.n_iter_),
            supervised_seconds=round(time.perf_counter() - started, 3),
        )

    def _new_supervised(self, seed: int) -> HistGradientBoostingClassifier:
        p = self.params
        return HistGradientBoostingClassifier(
            max_iter=p["supervised_max_iter"],
            learning_rate=p["supervised_learning_rate"],
            max_leaf_nodes=31,
            l2_regularization=p.get("supervised_l2", DEFAULT_PARAMS["supervised_l2"]),
            early_stopping=True,
            validation_fraction=0.1,
            n_iter_no_change=20,
            random_state=seed,
        )

    def _measure_trust(
        self, stacked: np.ndarray, y: np.ndarray, weights: np.ndarray, pseudo: bool, seed: int
    ) -> dict | None:
        """Out-of-fold average precision of the supervised model on the labels it learns from, beside the
        unsupervised score's on the same rows; ``trusted`` when the supervised one is at least as good.

        A few hundred labels of what the analysts chose to review can teach a model that ranks everything else
        worse than the unsupervised detectors do: then the unsupervised score stays the ensemble's. Rows counted
        legitimate without a label (``pseudo``) are measured as the legitimate rows they stand for.
        """
        p = self.params
        folds = int(p.get("trust_folds", 0) or 0)
        if folds < 2:
            return None
        rng = np.random.default_rng(seed + 2)
        rows = np.arange(len(y))
        if len(rows) > p["trust_max_rows"]:
            frauds = rows[y == 1]
            legit = rng.choice(rows[y != 1], max(p["trust_max_rows"] - len(frauds), 1), replace=False)
            rows = np.sort(np.concatenate([frauds, legit]))
        fold_of = rng.permutation(len(rows)) % folds
        out_of_fold = np.zeros(len(rows))
        for k in range(folds):
            fit, held = rows[fold_of != k], rows[fold_of == k]
            if len(np.unique(y[fit])) < 2:
                return None
            model = self._new_supervised(seed)
            with _openmp_threads(p["threads"]):
                model.fit(stacked[fit], y[fit], sample_weight=weights[fit])
            out_of_fold[fold_of == k] = model.predict_proba(stacked[held])[:, 1]
        unsupervised = self._combine(dict(zip(UNSUPERVISED, stacked[rows, -len(UNSUPERVISED) :].T, strict=True)))
        supervised_ap = _weighted_ap(y[rows], out_of_fold, weights[rows])
        unsupervised_ap = _weighted_ap(y[rows], unsupervised, weights[rows])
        return {
            "supervised_ap": round(supervised_ap, 4),
            "unsupervised_ap": round(unsupervised_ap, 4),
            "rows": int(len(rows)),
            "pseudo_labelled": bool(pseudo),
            "trusted": bool(supervised_ap >= unsupervised_ap),
        }

    def _ensemble(self, components: dict[str, np.ndarray]) -> np.ndarray:
        """The ensemble's score: the supervised one when trusted (or trust unmeasured), else the unsupervised one."""
        if "supervised" not in components:
            return components["unsupervised"]
        trust = getattr(self, "supervised_trust", None)  # absent in artifacts saved before it existed
        return components["supervised"] if trust is None or trust["trusted"] else components["unsupervised"]

    def _scaled(self, X: np.ndarray) -> np.ndarray:
        """What the forest and the autoencoder read: robust z-scores of every feature but those they never read."""
        Z = self.profile.scaled(X, one_sided=self.params["one_sided"])
        columns = getattr(self, "unsupervised_columns", None)  # absent in artifacts saved before it existed
        return Z if columns is None or len(columns) == Z.shape[1] else Z[:, columns]

    def _unsupervised_raw(self, X: np.ndarray) -> dict[str, np.ndarray]:
        Z = self._scaled(X)
        return {
            "isolation_forest": self.forest.anomaly(Z),
            "autoencoder": self.autoencoder.errors(Z),
            "tail": self.tail.anomaly(X),
        }

    def _stacked(self, X: np.ndarray) -> np.ndarray:
        raw = self._unsupervised_raw(X)
        return self._supervised_input(X, [surprise(self.calibrators[k](v)) for k, v in raw.items()])

    def _supervised_input(self, X: np.ndarray, surprises: list[np.ndarray]) -> np.ndarray:
        """What the supervised model reads: its feature columns, then the unsupervised components' surprises."""
        columns = getattr(self, "supervised_columns", None)  # absent in artifacts saved before it existed
        X = X if columns is None or len(columns) == X.shape[1] else X[:, columns]
        return np.hstack([X, *(s[:, None] for s in surprises)]).astype(np.float32)

    def _supervised_raw(self, X: np.ndarray) -> np.ndarray:
        return self._predict(self._stacked(X))

    def _predict(self, stacked: np.ndarray) -> np.ndarray:
        """The supervised model's fraud probability, equal to ``predict_proba`` bit for bit: every row descends the
        compiled node table (no per-tree Python call, no OpenMP threads; faster than scikit-learn's loop at every
        batch size), the leaf values added in scikit-learn's order."""
        compiled = getattr(self, "_compiled_supervised", None)
        if compiled is None:  # artifacts saved before compilation existed compile on first use
            compiled = self._compiled_supervised = CompiledBoosting(self.supervised)
        return compiled.probability(stacked)

    def score_features(self, X: np.ndarray, *, reasons: bool = True, amounts: np.ndarray | None = None) -> ScoreOutput:
        """Calibrated scores in [0, 1] of precomputed features (rows of ``build_features`` with this spec).

        Large batches are scored in row blocks on a small thread pool; a row's score does not depend on its block.
        ``amounts``: the rows' amounts, which the reasons quote (without them, as the features hold them: rounded).
        """
        X = np.asarray(X, dtype=np.float32)
        parts = map_blocks(lambda rows: self._score_block(X[rows], reasons, rows.start), len(X))
        components = {name: np.concatenate([p[0][name] for p in parts]) for name in parts[0][0]}
        score = self._ensemble(components)
        if not reasons:
            return ScoreOutput(score=score, components=components)
        entries = tuple(np.concatenate([p[1][k] for p in parts]) for k in range(3))
        return ScoreOutput(
            score=score, components=components, reasons=reasons_for(X, entries, self.feature_names, amounts)
        )

    def _score_block(self, X: np.ndarray, reasons: bool, offset: int) -> tuple[dict[str, np.ndarray], tuple]:
        raw = self._unsupervised_raw(X)
        components = {name: self.calibrators[name](values) for name, values in raw.items()}
        combined = self._combine({k: surprise(q) for k, q in components.items()})
        components["unsupervised"] = self.calibrators["unsupervised"](combined)
        if self.supervised is not None:
            stacked = self._supervised_input(X, [surprise(components[k]) for k in UNSUPERVISED])
            components["supervised"] = self.calibrators["supervised"](self._predict(stacked))
        if not reasons:
            return components, ()
        rows, cols, rarity = self.profile.rare_entries(X, MIN_RARITY)
        return components, (rows + offset, cols, rarity)

    def score_frame(self, frame, target_mask=None, *, reasons: bool = True) -> ScoreOutput:
        """Features and scores of the target rows (all rows by default), in frame order."""
        data = Frame.of(frame)  # a dict of columns, a DataFrame or a Frame (whose columns are not subscriptable)
        features = build_features(data, target_mask=target_mask, spec=self.spec)
        amounts = data.amount[features.rows] if reasons else None
        output = self.score_features(features.X, reasons=reasons, amounts=amounts)
        output.rows, output.features = features.rows, features
        return output

    def to_bytes(self) -> bytes:
        """The artifact, of format ARTIFACT_FORMAT (which the caller keeps beside it)."""
        return pickle.dumps(self, protocol=5)

    @classmethod
    def from_bytes(cls, blob: bytes, artifact_format: int = ARTIFACT_FORMAT) -> Detector:
        """The detector of an artifact of the given format; ArtifactError, saying why, when this release cannot read
        it."""
        if artifact_format > ARTIFACT_FORMAT:
            raise ArtifactError(
                f"model artifact format {artifact_format} was written by a newer release; this release reads formats "
                f"up to {ARTIFACT_FORMAT}"
            )
        try:
            detector = pickle.loads(blob)  # noqa: S301 - our own artifact, from our own database
        except Exception as exc:  # noqa: BLE001 - whatever unpickling raises, the artifact is unreadable here
            reason = f"{type(exc).__name__}: {exc}"
            raise ArtifactError(f"model artifact (format {artifact_format}) cannot be read: {reason}") from exc
        if not isinstance(detector, cls):
            raise ArtifactError(f"not a model artifact: it holds a {type(detector).__name__}")
        return detector


def _unlabelled_as_legitimate(y: np.ndarray, weight: float, max_rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels with unlabelled rows counted legitimate, and per-row weights: ``weight`` for each of them (a sample of
    at most half of ``max_rows`` of them when there are more, weighted up to stand for the rest), 1 for the labelled.
    """
    unlabelled = np.flatnonzero(np.isnan(y))
    y = y.copy()
    row_weight = np.ones(len(y))
    keep = max(max_rows // 2, 1)
    if len(unlabelled) > keep:
        rng = np.random.default_rng(seed + 3)
        chosen = rng.choice(unlabelled, keep, replace=False)
        row_weight[unlabelled] = weight * len(unlabelled) / keep
        left_out = np.setdiff1d(unlabelled, chosen)
        unlabelled = chosen
        y[left_out] = np.nan
    else:
        row_weight[unlabelled] = weight
    y[unlabelled] = 0.0
    return y, row_weight


def _weighted_ap(y: np.ndarray, score: np.ndarray, weights: np.ndarray) -> float:
    return float(average_precision_score(y, score, sample_weight=weights))
