"""Compare a current profile with a reference profile: every method, a status per method, a verdict per column.

Verdicts are decided on effect size (the column's deciding methods and their thresholds). The KS (numeric; for
discrete numeric columns the chi-square of their value counts) or chi-square (categorical) p-value,
Benjamini-Hochberg-adjusted across the report's columns, is supporting evidence only: a column whose effect
size says warn/drift but whose adjusted p-value is >= alpha is `ok` (too few rows to tell), and is never
promoted by a small p-value alone — on large days every p-value is tiny.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import polars as pl

from monitoring_pipeline.core.bins import Bins
from monitoring_pipeline.core.drift import methods
from monitoring_pipeline.core.drift.registry import (
    DEFAULT_DECIDING,
    ColumnInputs,
    ColumnKind,
    Thresholds,
    method_info,
    methods_for,
    reachable,
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
    calibrate: bool = True  # raise thresholds the reference's ordinary days already cross (see calibrate)

    def deciding(self, kind: ColumnKind) -> tuple[str, ...]:
        return self.decide_on or DEFAULT_DECIDING[kind]

    def threshold(self, method: str) -> Thresholds | None:
        return self.thresholds.get(method, method_info(method).default_thresholds)


def settings_to_json(settings: Mapping[str, DriftSettings]) -> str:
    """Settings by column as JSON (what a stored calibration keeps)."""
    return json.dumps(
        {
            column: {
                "decide_on": list(s.decide_on),
                "thresholds": {m: [t.warn, t.drift] for m, t in s.thresholds.items()},
                "alpha": s.alpha,
                "min_sample": s.min_sample,
                "band_k": s.band_k,
                "calibrate": s.calibrate,
            }
            for column, s in settings.items()
        },
        sort_keys=True,
    )


def settings_from_json(text: str) -> dict[str, DriftSettings]:
    return {
        column: DriftSettings(
            decide_on=tuple(s["decide_on"]),
            thresholds={m: Thresholds(*bounds) for m, bounds in s["thresholds"].items()},
            alpha=s["alpha"],
            min_sample=s["min_sample"],
            band_k=s["band_k"],
            calibrate=s["calibrate"],
        )
        for column, s in json.loads(text).items()
    }


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


VERDICT_KEYS = ("model_name", "day")


def column_verdicts(report: pl.DataFrame) -> pl.DataFrame:
    """One row per column (per model and day, where the report rows name them): its verdict, the rolling window's
    where judged, and the decisive method with the largest drift size, `value / threshold` (methods on different
    scales compare only through their thresholds; a column no method decides keeps a null method)."""
    keys = [k for k in VERDICT_KEYS if k in report.columns]
    window = ["window_verdict"] if "window_verdict" in report.columns else []
    decided = pl.col("decisive") & pl.col("threshold").is_not_null()
    return (
        report.with_columns((pl.col("value") / pl.col("threshold")).alias("size"))
        .sort([decided, "size"], descending=True, nulls_last=True)
        .unique([*keys, "column"], keep="first", maintain_order=True)
        .select(
            *keys,
            "column",
            "role",
            "kind",
            "verdict",
            *window,
            *(pl.when(decided).then(pl.col(c)).alias(c) for c in ("method", "value", "threshold", "size")),
            "n_reference",
            "n_current",
        )
        .sort([*keys, "column"])
    )


def _finite_or_none(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def status_of(value: float | None, threshold: Thresholds | None) -> str:
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
    """Every registry method for the column's kind, in registry order; `exact` is (KS, Wasserstein) computed on
    raw rows, else they are estimated from the fine histograms. The verdict is set later by `build_report` (it
    needs every column's p-value)."""
    kind = bins.kind
    deciding = settings.deciding(kind)
    blocked = _blocking_status(reference, current, settings)
    inputs = ColumnInputs(reference, current, bins, exact)
    results = []
    for info in methods_for(kind):
        threshold = settings.threshold(info.name)
        decisive = info.name in deciding and not info.data_quality
        if blocked and not info.data_quality:
            results.append(MethodResult(info.name, None, None, threshold, blocked, decisive))
            continue
        value, p_value = info.statistic(inputs)
        value, p_value = _finite_or_none(value), _finite_or_none(p_value)
        # a data-quality value is undefined only when one side has no rows
        status = Status.NO_DATA if value is None and info.data_quality else status_of(value, threshold)
        results.append(MethodResult(info.name, value, p_value, threshold, status, decisive))
    return ColumnDrift(
        column=reference.column,
        role=role,
        kind=kind,
        n_reference=reference.n_valid,
        n_current=current.n_valid,
        results=tuple(results),
        verdict=blocked or Status.OK,
    )


def _test_p_value(column: ColumnDrift) -> float:
    for r in column.results:
        if r.method in ("ks", "chi2") and r.p_value is not None:
            return r.p_value
    return float("nan")


def _verdict(column: ColumnDrift, p_adjusted: float, alpha: float) -> str:
    if column.verdict != Status.OK:  # a blocking status decided earlier
        return column.verdict
    # data-quality methods are never decisive (see compare_column)
    severity = max((SEVERITY.get(r.status, 0) for r in column.results if r.decisive), default=0)
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
MIN_CALIBRATION_DAYS = 5  # reference days needed before the ordinary days' range is trusted
ORDINARY = 0.95  # the quantile of the ordinary days' values that bounds their range (one odd training day cannot)
WARN_MARGIN, DRIFT_MARGIN = 1.2, 1.5  # how far beyond that bound a day must be to warn, to drift
BETWEEN_DAYS = "wasserstein_norm"  # the location effect that keeps growing with a shift; decides where days differ


Peers = Mapping[object, Sequence[object]]  # an ordinary day -> the days it is judged against (its own reference)


def _leave_one_out(
    days: Mapping[object, Mapping[str, ColumnProfile]],
    peers: Peers,
    bins: Mapping[str, Bins],
    roles: Mapping[str, str],
    settings: Mapping[str, DriftSettings],
    columns: list[str],
) -> dict[str, dict[str, list[float]]]:
    """column -> method -> its value on each ordinary day judged against its peers merged."""
    values: dict[str, dict[str, list[float]]] = {c: {} for c in columns}
    for left_out, current in days.items():
        others = [days[day] for day in peers.get(left_out, ()) if day in days and day != left_out]
        for column in columns:
            parts = [p[column] for p in others if column in p]
            if not parts or column not in current:
                continue
            result = compare_column(
                merge(parts, bins[column]), current[column], bins[column], roles[column], settings[column]
            )
            for r in result.results:
                if r.value is not None and not method_info(r.method).data_quality:
                    values[column].setdefault(r.method, []).append(r.value)
    return values


def noise_bands(
    days: Mapping[object, Mapping[str, ColumnProfile]],
    peers: Peers,
    bins: Mapping[str, Bins],
    roles: Mapping[str, str],
    settings: Mapping[str, DriftSettings],
) -> dict[str, dict[str, Thresholds]]:
    """Thresholds learned from the reference window's own noise, for the columns with `band_k`: each ordinary
    day is compared with its peers merged (leave one out), and a method's statistic over those days gives
    warn = mean + (k - 1)·σ and drift = mean + k·σ. Needs MIN_BAND_DAYS ordinary days; a column whose days vary
    a lot gets wide thresholds, a steady one narrow ones. A learned drift threshold the statistic can never reach
    (KS above 1) is refused: the method keeps its configured thresholds."""
    banded = [c for c in bins if settings[c].band_k is not None]
    if len(days) < MIN_BAND_DAYS or not banded:
        return {}
    learned: dict[str, dict[str, Thresholds]] = {}
    for column, by_method in _leave_one_out(days, peers, bins, roles, settings, banded).items():
        k = settings[column].band_k
        for method, series in by_method.items():
            if len(series) >= MIN_BAND_DAYS:
                mean, std = float(np.mean(series)), float(np.std(series, ddof=1))
                band = Thresholds(mean + (k - 1) * std, mean + k * std)
                if reachable(method, band.drift):
                    learned.setdefault(column, {})[method] = band
    return learned


def calibrate(
    days: Mapping[object, Mapping[str, ColumnProfile]],
    peers: Peers,
    bins: Mapping[str, Bins],
    roles: Mapping[str, str],
    settings: Mapping[str, DriftSettings],
) -> dict[str, DriftSettings]:
    """The settings calibrated on how ordinary days (or blocks of days) differ from one another, for the columns
    with `calibrate` (and no `band_k`). Each ordinary day is judged against its peers merged (leave one out: the
    other days of the window, or the same weekday's with weekday matching); where the ORDINARY quantile of a
    deciding method's values already crosses its threshold, the threshold rises to WARN_MARGIN and DRIFT_MARGIN
    times that value, so a day must be outside the ordinary days' range, by a margin, as well as material. A rise
    the statistic cannot reach (KS, Jensen-Shannon and shares are bounded) means the method cannot tell this
    column's days apart: it stops deciding. A numeric column whose threshold rose is then also decided by the
    Wasserstein distance in reference standard deviations, calibrated the same way: unlike PSI or KS it keeps
    growing with the shift, so a new season still stands out from an ordinary day. Columns whose days agree
    within the fixed thresholds, and fewer than MIN_CALIBRATION_DAYS ordinary days, are left as they are."""
    columns = [c for c in bins if settings[c].calibrate and settings[c].band_k is None]
    if len(days) < MIN_CALIBRATION_DAYS or not columns:
        return dict(settings)
    calibrated = dict(settings)
    for column, by_method in _leave_one_out(days, peers, bins, roles, settings, columns).items():
        setting, kind = settings[column], bins[column].kind
        thresholds, deciding = dict(setting.thresholds), list(setting.deciding(kind))
        rose = False
        for method in list(deciding):
            bound = ordinary_range(by_method.get(method, []), setting.threshold(method))
            if bound is None:
                continue
            rose = True
            if reachable(method, bound.drift):
                thresholds[method] = bound
            else:
                deciding.remove(method)
        if not rose:
            continue
        if kind is ColumnKind.NUMERIC and BETWEEN_DAYS not in deciding:
            fixed = setting.threshold(BETWEEN_DAYS)
            series = by_method.get(BETWEEN_DAYS, [])
            if fixed is not None and len(series) >= MIN_CALIBRATION_DAYS:
                thresholds[BETWEEN_DAYS] = ordinary_range(series, fixed) or fixed
                deciding.append(BETWEEN_DAYS)
        if deciding:
            calibrated[column] = replace(setting, thresholds=thresholds, decide_on=tuple(deciding))
    return calibrated


def ordinary_range(series: list[float], fixed: Thresholds | None) -> Thresholds | None:
    """Thresholds beyond the ordinary days' range (their ORDINARY quantile), when that bound crosses the fixed warn
    threshold (None: the fixed thresholds already clear the ordinary days, or too few days to tell)."""
    if fixed is None or len(series) < MIN_CALIBRATION_DAYS:
        return None
    upper = float(np.quantile(series, ORDINARY))
    if upper < fixed.warn:
        return None
    return Thresholds(max(fixed.warn, WARN_MARGIN * upper), max(fixed.drift, DRIFT_MARGIN * upper))


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
