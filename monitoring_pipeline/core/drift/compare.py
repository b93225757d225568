"""Compare a current profile with a reference profile: every method, a status per method, a verdict per column.

Verdicts are decided on effect size (the column's deciding methods and their thresholds). The KS (numeric; for
discrete numeric columns the chi-square of their value counts) or chi-square (categorical) p-value,
Benjamini-Hochberg-adjusted across the report's columns, is supporting evidence only: a column whose effect
size says warn/drift but whose adjusted p-value is >= alpha is `ok` (too few rows to tell), and is never
promoted by a small p-value alone — on large days every p-value is tiny.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import polars as pl

from monitoring_pipeline.core.bins import Bins, NumericBins
from monitoring_pipeline.core.drift import methods
from monitoring_pipeline.core.drift.registry import (
    DATA_QUALITY_METHODS,
    DEFAULT_DECIDING,
    ColumnKind,
    Thresholds,
    method_info,
    methods_for,
)
from monitoring_pipeline.core.profile import ColumnProfile, empty_profile, merge


class Status:
    OK = "ok"
    WARN = "warn"
    DRIFT = "drift"
    INFO = "info"
    NO_REFERENCE = "no_reference"
    NO_DATA = "no_data"
    UNDEFINED = "undefined"
    INSUFFICIENT_SAMPLE = "insufficient_sample"


SEVERITY = {Status.OK: 0, Status.WARN: 1, Status.DRIFT: 2}


@dataclass(frozen=True)
class DriftSettings:
    """How one column is judged. Thresholds not given here fall back to the method registry's defaults."""

    decide_on: tuple[str, ...] = ()
    thresholds: Mapping[str, Thresholds] = field(default_factory=dict)
    alpha: float = 0.05
    min_sample: int = 30
    band_k: float | None = None  # learn thresholds from the reference days' own day-to-day noise (see noise_bands)

    def deciding(self, kind: ColumnKind) -> tuple[str, ...]:
        return self.decide_on or DEFAULT_DECIDING[kind]

    def threshold(self, method: str) -> Thresholds | None:
        return self.thresholds.get(method, method_info(method).default_thresholds)


@dataclass(frozen=True)
class MethodResult:
    method: str
    value: float | None
    p_value: float | None
    threshold: Thresholds | None
    status: str
    decisive: bool


@dataclass(frozen=True)
class ColumnDrift:
    column: str
    role: str
    kind: ColumnKind
    n_reference: int
    n_current: int
    results: tuple[MethodResult, ...]
    verdict: str
    p_value_adjusted: float | None = None


REPORT_SCHEMA: dict[str, pl.DataType] = {
    "column": pl.String(),
    "role": pl.String(),
    "kind": pl.String(),
    "method": pl.String(),
    "value": pl.Float64(),
    "p_value": pl.Float64(),
    "p_value_adjusted": pl.Float64(),
    "threshold_warn": pl.Float64(),
    "threshold": pl.Float64(),
    "status": pl.String(),
    "decisive": pl.Boolean(),
    "verdict": pl.String(),
    "n_reference": pl.Int64(),
    "n_current": pl.Int64(),
}


@dataclass(frozen=True)
class DriftReport:
    columns: tuple[ColumnDrift, ...]

    def to_frame(self) -> pl.DataFrame:
        rows = [
            {
                "column": c.column,
                "role": c.role,
                "kind": c.kind.value,
                "method": r.method,
                "value": r.value,
                "p_value": r.p_value,
                "p_value_adjusted": c.p_value_adjusted if r.p_value is not None else None,
                "threshold_warn": r.threshold.warn if r.threshold else None,
                "threshold": r.threshold.drift if r.threshold else None,
                "status": r.status,
                "decisive": r.decisive,
                "verdict": c.verdict,
                "n_reference": c.n_reference,
                "n_current": c.n_current,
            }
            for c in self.columns
            for r in c.results
        ]
        return pl.DataFrame(rows, schema=REPORT_SCHEMA, orient="row")

    def with_verdict(self, *verdicts: str) -> list[ColumnDrift]:
        return [c for c in self.columns if c.verdict in verdicts]


def _finite_or_none(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _statistics(
    reference: ColumnProfile,
    current: ColumnProfile,
    bins: Bins,
    exact: tuple[float, float] | None,
) -> dict[str, tuple[float | None, float | None]]:
    """method -> (value, p_value) for every method that applies to the column's kind."""
    ref, cur = reference.counts, current.counts
    if isinstance(bins, NumericBins):
        ref_deciles, cur_deciles = bins.decile_counts(ref), bins.decile_counts(cur)
        if exact is not None:
            ks, wasserstein = exact
        else:
            ks, wasserstein = methods.binned_ks_wasserstein(
                bins.edges, ref, cur, (reference.minimum, reference.maximum), (current.minimum, current.maximum)
            )
        std = reference.std
        return {
            "psi": (methods.psi(ref_deciles, cur_deciles), None),
            "ks": (ks, _numeric_p_value(ks, reference, current, bins)),
            "wasserstein": (wasserstein, None),
            "wasserstein_norm": (wasserstein / std if std else float("nan"), None),
            "jensen_shannon": (methods.jensen_shannon(ref_deciles, cur_deciles), None),
        }
    stat, p_value = methods.chi2(ref, cur)
    return {
        "jensen_shannon": (methods.jensen_shannon(ref, cur), None),
        "chi2": (stat, p_value),
        "unseen_share": (float(cur[-1] / cur.sum()), None),
    }


DISCRETE_EDGES = 10


def _numeric_p_value(ks: float, reference: ColumnProfile, current: ColumnProfile, bins: NumericBins) -> float:
    """KS's asymptotic p-value for continuous columns. A column with at most DISCRETE_EDGES distinct baseline
    values (a flag, a count) gets the chi-square test of its value counts instead: KS's p-value assumes
    continuity and is far too conservative on discrete data."""
    if len(bins.edges) <= DISCRETE_EDGES:
        return methods.chi2(reference.counts, current.counts)[1]
    return methods.ks_pvalue(ks, reference.n_valid, current.n_valid)


def _status(value: float | None, threshold: Thresholds | None) -> str:
    if value is None:
        return Status.UNDEFINED
    if threshold is None:
        return Status.INFO
    if value >= threshold.drift:
        return Status.DRIFT
    return Status.WARN if value >= threshold.warn else Status.OK


def _blocking_status(reference: ColumnProfile, current: ColumnProfile, settings: DriftSettings) -> str | None:
    """A status that overrides every distribution method, or None when they can be computed."""
    if reference.n_valid == 0:
        return Status.NO_REFERENCE
    if current.n_rows == 0:
        return Status.NO_DATA
    if current.n_valid == 0:
        return Status.UNDEFINED
    if min(reference.n_valid, current.n_valid) < settings.min_sample:
        return Status.INSUFFICIENT_SAMPLE
    return None


def compare_column(
    reference: ColumnProfile,
    current: ColumnProfile,
    bins: Bins,
    role: str,
    settings: DriftSettings,
    exact: tuple[float, float] | None = None,
) -> ColumnDrift:
    """All methods for one column; `exact` is (KS, Wasserstein) computed on raw rows, else they are estimated from
    the fine histograms. The verdict is set later by `build_report` (it needs every column's p-value)."""
    kind = bins.kind
    deciding = settings.deciding(kind)
    blocked = _blocking_status(reference, current, settings)
    stats = {} if blocked else _statistics(reference, current, bins, exact)
    results = []
    for method in methods_for(kind):
        threshold = settings.threshold(method)
        if method == "null_share":
            value = _null_share_delta(reference, current)
            status = Status.NO_DATA if value is None else _status(value, threshold)
            results.append(MethodResult(method, value, None, threshold, status, False))
            continue
        if blocked:
            results.append(MethodResult(method, None, None, threshold, blocked, method in deciding))
            continue
        value, p_value = stats[method]
        value, p_value = _finite_or_none(value), _finite_or_none(p_value) if p_value is not None else None
        results.append(MethodResult(method, value, p_value, threshold, _status(value, threshold), method in deciding))
    return ColumnDrift(
        column=reference.column,
        role=role,
        kind=kind,
        n_reference=reference.n_valid,
        n_current=current.n_valid,
        results=tuple(results),
        verdict=blocked or Status.OK,
    )


def _null_share_delta(reference: ColumnProfile, current: ColumnProfile) -> float | None:
    if reference.n_rows == 0 or current.n_rows == 0:
        return None
    return current.n_missing / current.n_rows - reference.n_missing / reference.n_rows


def _test_p_value(column: ColumnDrift) -> float:
    for r in column.results:
        if r.method in ("ks", "chi2") and r.p_value is not None:
            return r.p_value
    return float("nan")


def _verdict(column: ColumnDrift, p_adjusted: float, alpha: float) -> str:
    if column.verdict != Status.OK:  # a blocking status decided earlier
        return column.verdict
    severity = max(
        (SEVERITY.get(r.status, 0) for r in column.results if r.decisive and r.method not in DATA_QUALITY_METHODS),
        default=0,
    )
    if severity and not (p_adjusted < alpha):
        return Status.OK
    return (Status.OK, Status.WARN, Status.DRIFT)[severity]


def build_report(columns: list[ColumnDrift], settings: Mapping[str, DriftSettings]) -> DriftReport:
    """Adjust the per-column test p-values across columns (Benjamini-Hochberg) and set each verdict."""
    adjusted = methods.benjamini_hochberg(np.asarray([_test_p_value(c) for c in columns], dtype=float))
    final = []
    for column, p_adj in zip(columns, adjusted, strict=True):
        verdict = _verdict(column, p_adj, settings[column.column].alpha)
        final.append(replace(column, verdict=verdict, p_value_adjusted=_finite_or_none(p_adj)))
    return DriftReport(tuple(final))


MIN_BAND_DAYS = 3


def noise_bands(
    days: Mapping[object, Mapping[str, ColumnProfile]],
    bins: Mapping[str, Bins],
    roles: Mapping[str, str],
    settings: Mapping[str, DriftSettings],
) -> dict[str, dict[str, Thresholds]]:
    """Thresholds learned from the reference window's own noise, for the columns with `band_k`: each reference
    day is compared with the other reference days merged (leave one out), and a method's statistic over those
    days gives warn = mean + (k - 1)·σ and drift = mean + k·σ. Needs MIN_BAND_DAYS reference days; a column
    whose days vary a lot gets wide thresholds, a steady one narrow ones."""
    banded = [c for c in bins if settings[c].band_k is not None]
    if len(days) < MIN_BAND_DAYS or not banded:
        return {}
    values: dict[str, dict[str, list[float]]] = {c: {} for c in banded}
    for left_out, current in days.items():
        others = [profiles for day, profiles in days.items() if day != left_out]
        for column in banded:
            parts = [p[column] for p in others if column in p]
            if not parts or column not in current:
                continue
            result = compare_column(
                merge(parts, bins[column]), current[column], bins[column], roles[column], settings[column]
            )
            for r in result.results:
                if r.value is not None and r.method not in DATA_QUALITY_METHODS:
                    values[column].setdefault(r.method, []).append(r.value)
    learned: dict[str, dict[str, Thresholds]] = {}
    for column, by_method in values.items():
        k = settings[column].band_k
        for method, series in by_method.items():
            if len(series) >= MIN_BAND_DAYS:
                mean, std = float(np.mean(series)), float(np.std(series, ddof=1))
                learned.setdefault(column, {})[method] = Thresholds(mean + (k - 1) * std, mean + k * std)
    return learned


def with_bands(settings: Mapping[str, DriftSettings], bands: Mapping[str, Mapping[str, Thresholds]]) -> dict:
    """The settings with each banded column's learned thresholds in place of the fixed ones."""
    return {
        column: replace(s, thresholds={**s.thresholds, **bands[column]}) if column in bands else s
        for column, s in settings.items()
    }


def compare_profiles(
    reference: Mapping[str, ColumnProfile],
    current: Mapping[str, ColumnProfile],
    bins: Mapping[str, Bins],
    roles: Mapping[str, str],
    settings: Mapping[str, DriftSettings],
    exact: Mapping[str, tuple[float, float]] | None = None,
) -> DriftReport:
    """A drift report over every column in `bins`; a column absent on one side is compared with an empty profile."""
    columns = []
    for column, column_bins in bins.items():
        empty = empty_profile(column, column_bins)
        columns.append(
            compare_column(
                reference.get(column, empty),
                current.get(column, empty),
                column_bins,
                roles[column],
                settings[column],
                (exact or {}).get(column),
            )
        )
    return build_report(columns, settings)
