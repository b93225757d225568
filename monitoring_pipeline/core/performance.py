"""Model performance: realized metrics from labels, metrics estimated without labels (CBPE), noise bands and
sequential change detectors for daily series.

Everything here is NumPy on one slice (a day, a model version, a segment); callers group with Polars.

* Realized, classification: accuracy, precision, recall, F1 (at the decision threshold), ROC AUC (rank formula,
  ties averaged), log loss (probabilities clipped to [1e-15, 1 - 1e-15]), Brier score, expected calibration error
  (10 equal-width probability bins, weighted by their counts), base rate. Regression: MAE, RMSE, bias.
* Estimated (confidence-based performance estimation, as NannyML's CBPE): calibrate scores on the reference
  window's labelled rows (isotonic regression), then a day's expected confusion matrix is the sum of calibrated
  probabilities — expected TP = sum of p over predicted positives, FP = sum of 1 - p there, and so on. Valid while
  the relation between inputs and labels holds (no concept drift); its error against the realized value, once
  labels land, is monitored in its own right.
* Estimated, regression (direct loss estimation, in the spirit of NannyML's DLE): a model of each row's absolute
  and squared error from its inputs and prediction, fitted on the reference window's labelled rows; a day's
  estimated MAE and RMSE are the means of its rows' expected errors (bias has no estimate: a loss model knows the
  size of an error, not its sign). The model is additive over bins — each numeric input's reference deciles, each
  categorical input's top values, the prediction's deciles, a missing value a bin of its own — fitted by ridge
  least squares in NumPy: no gradient-boosting dependency (LightGBM or XGBoost would add a compiled wheel and its
  OpenMP runtime to every install for one estimate), and the error of the estimate against the realized value,
  once labels land, is judged as its own signal, as for CBPE.
* Noise band: mean ± k·σ of the reference days' values of a metric (as NannyML's default thresholds).
* CUSUM (one-sided, on standardized values) and Page-Hinkley: both flag a slow decline before any single day
  crosses a band.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

EPS = 1e-15
ECE_BINS = 10
LOWER, HIGHER, EITHER = "lower", "higher", "either"
WORSE_WHEN: dict[str, str] = {  # which way each realized metric moves when the model gets worse
    **dict.fromkeys(("accuracy", "precision", "recall", "f1", "roc_auc"), LOWER),
    **dict.fromkeys(("log_loss", "brier", "ece", "mae", "rmse"), HIGHER),
    **dict.fromkeys(("base_rate", "bias"), EITHER),
}
CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "brier", "ece", "base_rate")
REGRESSION_METRICS = ("mae", "rmse", "bias")
# what separates a good model from a bad one, by task: ranking (AUC) and calibration for a scored classifier, not
# only accuracy at one threshold; the size and the direction of the errors for a regressor
ALERT_METRICS: dict[str, tuple[str, ...]] = {
    "classification": ("accuracy", "roc_auc", "ece"),
    "regression": ("mae", "bias"),
}


def _ranks(values: np.ndarray) -> np.ndarray:
    """Average ranks (1-based), ties sharing the mean of their positions."""
    order = np.argsort(values, kind="mergesort")
    boundaries = np.flatnonzero(np.diff(values[order])) + 1
    starts = np.concatenate([[0], boundaries])
    ends = np.concatenate([boundaries, [len(values)]])
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.repeat((starts + ends + 1) / 2, ends - starts)
    return ranks


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    positives = int(labels.sum())
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        return None
    rank_sum = _ranks(scores)[labels == 1].sum()
    return float((rank_sum - positives * (positives + 1) / 2) / (positives * negatives))


def expected_calibration_error(labels: np.ndarray, probabilities: np.ndarray, bins: int = ECE_BINS) -> float:
    index = np.minimum((probabilities * bins).astype(int), bins - 1)
    gaps = np.bincount(index, labels, bins) - np.bincount(index, probabilities, bins)  # per bin: n·|mean y - mean p|
    return float(np.abs(gaps).sum() / len(labels))


def _ratio(numerator: float, denominator: float) -> float | None:
    return float(numerator / denominator) if denominator else None


def _confusion_metrics(tp: float, fp: float, fn: float, tn: float) -> dict[str, float | None]:
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    f1 = _ratio(2 * precision * recall, precision + recall) if precision is not None and recall is not None else None
    return {"accuracy": _ratio(tp + tn, tp + fp + fn + tn), "precision": precision, "recall": recall, "f1": f1}


def classification_metrics(
    labels: np.ndarray, probabilities: np.ndarray, threshold: float = 0.5
) -> dict[str, float | None]:
    """Realized metrics of a binary classifier; `labels` are 0/1, `probabilities` of the positive class."""
    labels = np.asarray(labels, dtype=np.float64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if len(labels) == 0:
        return {"n": 0}
    predicted = probabilities >= threshold
    positive = labels == 1
    tp, fp = float((predicted & positive).sum()), float((predicted & ~positive).sum())
    fn, tn = float((~predicted & positive).sum()), float((~predicted & ~positive).sum())
    clipped = np.clip(probabilities, EPS, 1 - EPS)
    return {
        "n": len(labels),
        **_confusion_metrics(tp, fp, fn, tn),
        "roc_auc": roc_auc(labels, probabilities),
        "log_loss": float(-(labels * np.log(clipped) + (1 - labels) * np.log(1 - clipped)).mean()),
        "brier": float(((probabilities - labels) ** 2).mean()),
        "ece": expected_calibration_error(labels, probabilities),
        "base_rate": float(labels.mean()),
    }


def regression_metrics(targets: np.ndarray, predictions: np.ndarray) -> dict[str, float | None]:
    targets, predictions = np.asarray(targets, dtype=np.float64), np.asarray(predictions, dtype=np.float64)
    if len(targets) == 0:
        return {"n": 0}
    error = predictions - targets
    return {
        "n": len(targets),
        "mae": float(np.abs(error).mean()),
        "rmse": float(np.sqrt((error**2).mean())),
        "bias": float(error.mean()),
    }


# -- estimation without labels (CBPE) ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Calibrator:
    """An isotonic (monotone, pool-adjacent-violators) map from scores to probabilities."""

    knots: np.ndarray  # increasing scores
    values: np.ndarray  # calibrated probability at each knot

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        return np.interp(np.asarray(scores, dtype=np.float64), self.knots, self.values)


def fit_calibrator(scores: np.ndarray, labels: np.ndarray) -> Calibrator:
    order = np.argsort(scores, kind="mergesort")
    x, y = np.asarray(scores, dtype=np.float64)[order], np.asarray(labels, dtype=np.float64)[order]
    means, weights, lows, highs = [], [], [], []
    for xi, yi in zip(x, y, strict=True):
        means.append(yi)
        weights.append(1.0)
        lows.append(xi)
        highs.append(xi)
        while len(means) > 1 and means[-2] > means[-1]:  # pool adjacent violators
            w = weights[-2] + weights[-1]
            m = (means[-2] * weights[-2] + means[-1] * weights[-1]) / w
            means[-2:], weights[-2:], lows[-2:], highs[-2:] = [m], [w], [lows[-2]], [highs[-1]]
    knots = np.array([(lo + hi) / 2 for lo, hi in zip(lows, highs, strict=True)])
    return Calibrator(knots, np.array(means))


def estimated_classification_metrics(
    probabilities: np.ndarray, calibrator: Calibrator, threshold: float = 0.5
) -> dict[str, float | None]:
    """Accuracy, precision, recall and F1 expected on unlabelled rows, from calibrated probabilities."""
    raw = np.asarray(probabilities, dtype=np.float64)
    if len(raw) == 0:
        return {"n": 0}
    p = calibrator(raw)
    predicted = raw >= threshold
    tp, fp = float(p[predicted].sum()), float((1 - p[predicted]).sum())
    fn, tn = float(p[~predicted].sum()), float((1 - p[~predicted]).sum())
    return {"n": len(raw), **_confusion_metrics(tp, fp, fn, tn)}


LOSS_BINS = 10  # deciles of each numeric input and of the prediction
LOSS_TOP_VALUES = 20  # categories of a categorical input with a weight of their own (the rest share one)
LOSS_RIDGE = 10.0  # the ridge penalty: a bin with few reference rows stays near the overall error
LOSS_CHUNK = 50_000  # rows of the design matrix built at once while fitting


@dataclass(frozen=True)
class LossModel:
    """Expected absolute and squared error of a regressor's rows (see the module doc)."""

    numeric: dict[str, list[float]]  # input -> its inner bin edges
    categorical: dict[str, list[str]]  # input -> its values with a weight of their own
    absolute: list[float]  # weights, intercept first
    squared: list[float]

    def design(self, inputs: Mapping[str, np.ndarray]) -> np.ndarray:
        """One row per prediction: 1, then each input's bin as a one-hot block (the last bin of a block: missing)."""
        n = len(next(iter(inputs.values())))
        blocks = [np.ones((n, 1))]
        for name, edges in self.numeric.items():
            x = np.asarray(inputs[name], dtype=np.float64)
            index = np.where(np.isfinite(x), np.searchsorted(edges, x, side="right"), len(edges) + 1)
            blocks.append(np.eye(len(edges) + 2)[index])
        for name, values in self.categorical.items():
            lookup = {value: i for i, value in enumerate(values)}
            column = inputs[name]
            index = np.array(
                [len(values) + 1 if v is None else lookup.get(str(v), len(values)) for v in column], dtype=np.int64
            )
            blocks.append(np.eye(len(values) + 2)[index])
        return np.hstack(blocks)

    def expected(self, inputs: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Each row's expected absolute and squared error (never below 0), a chunk of rows at a time."""
        weights = np.column_stack([self.absolute, self.squared])
        n = len(next(iter(inputs.values())))
        parts = [
            self.design({name: np.asarray(values)[start : start + LOSS_CHUNK] for name, values in inputs.items()})
            @ weights
            for start in range(0, n, LOSS_CHUNK)
        ]
        both = np.maximum(np.vstack(parts) if parts else np.zeros((0, 2)), 0.0)
        return both[:, 0], both[:, 1]

    def to_json(self) -> str:
        return json.dumps(
            {
                "numeric": self.numeric,
                "categorical": self.categorical,
                "absolute": self.absolute,
                "squared": self.squared,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> LossModel:
        raw = json.loads(text)
        return cls(raw["numeric"], raw["categorical"], raw["absolute"], raw["squared"])


def fit_loss_model(inputs: Mapping[str, np.ndarray], categorical: Sequence[str], errors: np.ndarray) -> LossModel:
    """Fit the loss model on labelled reference rows: `inputs` (numeric arrays, or values of the `categorical`
    names) with each row's error (prediction - truth). The normal equations are summed a chunk of rows at a time,
    so a large reference never holds its whole design matrix."""
    errors = np.asarray(errors, dtype=np.float64)
    numeric = {}
    for name, values in inputs.items():
        if name in categorical:
            continue
        finite = np.asarray(values, dtype=np.float64)
        finite = finite[np.isfinite(finite)]
        edges = np.unique(np.quantile(finite, np.linspace(0, 1, LOSS_BINS + 1)[1:-1])) if len(finite) else []
        numeric[name] = [float(e) for e in edges]
    top = {}
    for name in categorical:
        names, counts = np.unique([str(v) for v in inputs[name] if v is not None], return_counts=True)
        top[name] = [str(v) for v in names[np.argsort(-counts, kind="stable")][:LOSS_TOP_VALUES]]
    shape = LossModel(numeric, top, [], [])
    gram, moments = None, np.zeros((0, 2))
    for start in range(0, len(errors), LOSS_CHUNK):
        part = slice(start, start + LOSS_CHUNK)
        x = shape.design({name: np.asarray(values)[part] for name, values in inputs.items()})
        targets = np.column_stack([np.abs(errors[part]), errors[part] ** 2])
        gram = x.T @ x if gram is None else gram + x.T @ x
        moments = x.T @ targets if not moments.size else moments + x.T @ targets
    penalty = np.full(gram.shape[0], LOSS_RIDGE)
    penalty[0] = 0.0  # the intercept is the overall error: not shrunk
    weights = np.linalg.solve(gram + np.diag(penalty), moments)
    return LossModel(numeric, top, weights[:, 0].tolist(), weights[:, 1].tolist())


def estimated_regression_metrics(inputs: Mapping[str, np.ndarray], model: LossModel) -> dict[str, float | None]:
    """MAE and RMSE expected on unlabelled rows, from the loss model."""
    n = len(next(iter(inputs.values()))) if inputs else 0
    if n == 0:
        return {"n": 0}
    absolute, squared = model.expected(inputs)
    return {"n": n, "mae": float(absolute.mean()), "rmse": float(np.sqrt(squared.mean()))}


# -- thresholds that know the data's noise ------------------------------------------------------------------------


@dataclass(frozen=True)
class Band:
    low: float
    high: float
    mean: float
    std: float

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high

    def widened(self, factor: float) -> Band:
        """The band `factor` times as wide around its mean (for a day judged on fewer labels than usual)."""
        return Band(
            self.mean - factor * (self.mean - self.low),
            self.mean + factor * (self.high - self.mean),
            self.mean,
            factor * self.std,
        )


def noise_band(reference_values: np.ndarray, k: float = 3.0, weights: np.ndarray | None = None) -> Band:
    """mean ± k·σ of a metric over the reference days; with `weights` (each day's labelled rows) the mean and σ
    are weighted, so a day judged on few labels counts less (σ with the reliability-weights correction, which is
    ddof=1 when the weights are equal)."""
    values = np.asarray(reference_values, dtype=np.float64)
    w = np.ones_like(values) if weights is None else np.asarray(weights, dtype=np.float64)
    mean = float(np.average(values, weights=w))
    effective = w.sum() - (w**2).sum() / w.sum()  # sum(w) - sum(w^2)/sum(w): n - 1 for equal weights
    std = float(np.sqrt((w * (values - mean) ** 2).sum() / effective)) if len(values) > 1 and effective > 0 else 0.0
    return Band(mean - k * std, mean + k * std, mean, std)


def worse_alarms(values: np.ndarray, mean: float | np.ndarray, std: float | np.ndarray, worse_when: str) -> np.ndarray:
    """CUSUM alarms on the side where the metric gets worse (both sides for a metric that is worse either way)."""
    values, mean = np.asarray(values, dtype=np.float64), np.asarray(mean, dtype=np.float64)
    lower = cusum_alarms(values, mean, std) if worse_when != HIGHER else np.zeros(len(values), dtype=bool)
    higher = cusum_alarms(-values, -mean, std) if worse_when != LOWER else np.zeros(len(values), dtype=bool)
    return lower | higher


def cusum_alarms(
    values: np.ndarray, mean: float | np.ndarray, std: float | np.ndarray, slack: float = 0.5, limit: float = 5.0
) -> np.ndarray:
    """One-sided lower CUSUM on standardized values: S_t = max(0, S_{t-1} + (mean - x_t)/std - slack); alarm when
    S_t > limit (defaults: slack 0.5σ, limit 5σ — an in-control run length of about 900 days with a known σ; σ
    estimated from 30 reference days shortens it, see the tests). `mean` and `std` may be given per value."""
    std = np.asarray(std, dtype=np.float64)
    z = (mean - np.asarray(values, dtype=np.float64)) / np.where(std > 0, std, 1.0)
    state, alarms = 0.0, np.zeros(len(z), dtype=bool)
    for i, zi in enumerate(z):
        state = max(0.0, state + zi - slack)
        alarms[i] = state > limit
    return alarms


def page_hinkley_alarms(values: np.ndarray, delta: float, threshold: float) -> np.ndarray:
    """Page-Hinkley for a decrease: m_t = Σ (mean_t - x_i - delta) with the running mean; alarm when m_t minus its
    minimum so far exceeds `threshold`."""
    x = np.asarray(values, dtype=np.float64)
    alarms = np.zeros(len(x), dtype=bool)
    total = cumulative = 0.0
    lowest = 0.0
    for i, xi in enumerate(x):
        total += xi
        cumulative += (total / (i + 1)) - xi - delta
        lowest = min(lowest, cumulative)
        alarms[i] = cumulative - lowest > threshold
    return alarms
