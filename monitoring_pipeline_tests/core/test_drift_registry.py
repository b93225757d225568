"""The method registry is the one place a drift method is defined: a row carries its function, and the
comparison reports whatever the registry holds for a column's kind, in registry order."""

import numpy as np
import polars as pl
import pytest

from monitoring_pipeline.core.bins import NumericBins, numeric_bins_from_sorted
from monitoring_pipeline.core.drift import methods, registry
from monitoring_pipeline.core.drift.compare import DriftSettings, compare_column
from monitoring_pipeline.core.drift.frames import drift_frames
from monitoring_pipeline.core.drift.registry import ColumnInputs, ColumnKind, MethodInfo, Score, Thresholds
from monitoring_pipeline.core.profile import profile_sorted

NUMERIC = frozenset({ColumnKind.NUMERIC})


def _frames(seed: int, n_current: int = 5000) -> tuple[pl.DataFrame, pl.DataFrame]:
    rng = np.random.default_rng(seed)
    reference = pl.DataFrame({"x": rng.normal(size=5000), "c": rng.choice(list("abcd"), 5000)})
    current = pl.DataFrame({"x": rng.normal(0.6, 1.0, n_current), "c": rng.choice(list("abcd"), n_current)})
    return reference, current


def _register(monkeypatch: pytest.MonkeyPatch, method: MethodInfo) -> None:
    monkeypatch.setattr(registry, "METHODS", {**registry.METHODS, method.name: method})


def _mean_shift(column: ColumnInputs) -> Score:
    return abs(column.current.mean - column.reference.mean), None


def _row_ratio(column: ColumnInputs) -> Score:
    return column.current.n_rows / column.reference.n_rows, None


def test_every_method_carries_its_statistic_and_reports_follow_registry_order() -> None:
    assert all(name == info.name and callable(info.statistic) for name, info in registry.METHODS.items())
    report = drift_frames(*_frames(0)).to_frame()
    for column, kind in (("x", ColumnKind.NUMERIC), ("c", ColumnKind.CATEGORICAL)):
        reported = report.filter(pl.col("column") == column)["method"].to_list()
        assert reported == [info.name for info in registry.methods_for(kind)]


def test_a_method_registered_as_one_row_is_computed_reported_and_can_decide(monkeypatch: pytest.MonkeyPatch) -> None:
    _register(monkeypatch, MethodInfo("mean_shift", NUMERIC, Thresholds(0.1, 0.5), "|mean shift|", _mean_shift))
    reference, current = _frames(1)
    report = drift_frames(reference, current, settings={"x": DriftSettings(decide_on=("mean_shift",))})
    x, c = report.columns
    result = x.results[-1]
    assert (result.method, result.status, result.decisive) == ("mean_shift", "drift", True)
    assert result.value == pytest.approx(abs(current["x"].mean() - reference["x"].mean()), rel=1e-9)
    assert x.verdict == "drift"
    assert "mean_shift" not in {r.method for r in c.results}  # numeric only
    with pytest.raises(ValueError, match=r"unknown drift method 'mean_shft'; expected one of \[.*'mean_shift'"):
        registry.method_info("mean_shft")


def test_a_data_quality_row_runs_on_a_blocked_column_and_never_decides(monkeypatch: pytest.MonkeyPatch) -> None:
    row_ratio = MethodInfo("row_ratio", NUMERIC, Thresholds(0.5, 1.0), "rows ratio", _row_ratio, data_quality=True)
    _register(monkeypatch, row_ratio)
    settings = {"x": DriftSettings(decide_on=("psi", "row_ratio"))}
    x = drift_frames(*_frames(2, n_current=10), settings=settings).columns[0]  # below min_sample
    by_method = {r.method: r for r in x.results}
    assert x.verdict == by_method["psi"].status == "insufficient_sample"
    assert by_method["row_ratio"].value == pytest.approx(10 / 5000)
    assert by_method["row_ratio"].status == "ok" and not by_method["row_ratio"].decisive


def test_shared_statistics_are_computed_once_per_column(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"ks_wasserstein": 0, "deciles": 0}
    binned, deciles = methods.binned_ks_wasserstein, NumericBins.decile_counts

    def counted_binned(*args):
        calls["ks_wasserstein"] += 1
        return binned(*args)

    def counted_deciles(self: NumericBins, counts: np.ndarray) -> np.ndarray:
        calls["deciles"] += 1
        return deciles(self, counts)

    monkeypatch.setattr(methods, "binned_ks_wasserstein", counted_binned)
    monkeypatch.setattr(NumericBins, "decile_counts", counted_deciles)
    rng = np.random.default_rng(3)
    ref, cur = np.sort(rng.normal(size=2000)), np.sort(rng.normal(0.2, 1.0, 2000))
    bins = numeric_bins_from_sorted(ref)
    reference, current = (profile_sorted("x", v, len(v), 0, 0, bins) for v in (ref, cur))
    compare_column(reference, current, bins, "feature", DriftSettings())
    assert calls == {"ks_wasserstein": 1, "deciles": 2}  # psi, ks, wasserstein(_norm) and JS share them
    compare_column(reference, current, bins, "feature", DriftSettings(), exact=(0.1, 0.2))
    assert calls == {"ks_wasserstein": 1, "deciles": 4}
