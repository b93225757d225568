"""Verdicts: effect size decides, BH-adjusted p-values only veto; statuses for the edge cases."""

import numpy as np
import polars as pl
import pytest

from monitoring_pipeline.core.drift import frames
from monitoring_pipeline.core.drift.compare import DriftSettings
from monitoring_pipeline.core.drift.frames import drift_frames
from monitoring_pipeline.core.drift.registry import Thresholds


def _verdicts(reference: pl.DataFrame, current: pl.DataFrame, **kwargs) -> dict[str, str]:
    return {c.column: c.verdict for c in drift_frames(reference, current, **kwargs).columns}


def _values(report_frame: pl.DataFrame, column: str) -> dict[str, float]:
    rows = report_frame.filter(pl.col("column") == column)
    return dict(zip(rows["method"].to_list(), rows["value"].to_list(), strict=True))


def test_identical_data_gives_no_drift_and_zero_effects() -> None:
    rng = np.random.default_rng(0)
    frame = pl.DataFrame({"x": rng.normal(size=5000), "c": rng.choice(list("abcd"), 5000)})
    report = drift_frames(frame, frame)
    assert {c.verdict for c in report.columns} == {"ok"}
    values = report.to_frame()
    assert values.filter(pl.col("method").is_in(["psi", "ks", "wasserstein", "jensen_shannon", "unseen_share"]))[
        "value"
    ].abs().max() == pytest.approx(0.0, abs=1e-12)


def test_clear_shift_drifts_and_quiet_feature_stays_ok() -> None:
    rng = np.random.default_rng(1)
    reference = pl.DataFrame({"moved": rng.normal(size=20_000), "still": rng.normal(size=20_000)})
    current = pl.DataFrame({"moved": rng.normal(0.8, 1.0, 20_000), "still": rng.normal(size=20_000)})
    assert _verdicts(reference, current) == {"moved": "drift", "still": "ok"}


def test_large_day_tiny_shift_is_not_drift_although_p_value_is_tiny() -> None:
    rng = np.random.default_rng(2)
    n = 1_000_000
    reference = pl.DataFrame({"x": rng.normal(size=n)})
    current = pl.DataFrame({"x": rng.normal(0.02, 1.0, n)})  # 0.02 sigma: real but irrelevant
    report = drift_frames(reference, current)
    ks = report.to_frame().filter(pl.col("method") == "ks")
    assert ks["p_value"].item() < 1e-10
    assert report.columns[0].verdict == "ok"


def test_near_constant_feature_is_not_a_false_alarm() -> None:
    # 99.9% of rates sit at 5.0: the reference std is tiny, so Wasserstein/std crosses its threshold while
    # PSI and KS see that almost nothing changed.
    rng = np.random.default_rng(3)
    n = 200_000

    def rates(share_raised: float) -> np.ndarray:
        return np.where(rng.random(n) < share_raised, 5.25, 5.0)

    report = drift_frames(pl.DataFrame({"rate": rates(0.001)}), pl.DataFrame({"rate": rates(0.005)}))
    values = _values(report.to_frame(), "rate")
    assert values["wasserstein_norm"] > 0.1
    assert values["psi"] < 0.1 and values["ks"] < 0.1
    assert report.columns[0].verdict == "ok"


def test_small_sample_large_psi_is_vetoed_by_adjusted_p_value() -> None:
    rng = np.random.default_rng(4)
    reference = pl.DataFrame({"x": rng.normal(size=5000)})
    current = pl.DataFrame({"x": rng.normal(size=35)})  # PSI on 10 bins is noisy at n=35
    report = drift_frames(reference, current)
    column = report.columns[0]
    assert column.p_value_adjusted > 0.05
    assert column.verdict == "ok"


def test_unseen_categories_are_their_own_signal() -> None:
    reference = pl.DataFrame({"c": ["a", "b"] * 5000})
    current = pl.DataFrame({"c": ["a", "b"] * 4500 + ["brand_new"] * 1000})
    report = drift_frames(reference, current)
    values = _values(report.to_frame(), "c")
    assert values["unseen_share"] == pytest.approx(0.1)
    statuses = report.to_frame().filter(pl.col("method") == "unseen_share")["status"].item()
    assert statuses == "drift" and report.columns[0].verdict == "drift"


def test_nulls_are_a_data_quality_signal_not_drift() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=10_000)
    current = pl.DataFrame({"x": rng.normal(size=10_000)}).with_columns(
        pl.when(pl.Series(rng.random(10_000) < 0.3)).then(None).otherwise(pl.col("x")).alias("x")
    )
    report = drift_frames(pl.DataFrame({"x": x}), current)
    frame = report.to_frame()
    assert frame.filter(pl.col("method") == "null_share")["status"].item() == "drift"
    assert report.columns[0].verdict == "ok"  # the non-null values did not move


def test_all_null_day_is_undefined_and_empty_reference_is_no_reference() -> None:
    reference = pl.DataFrame({"x": [1.0, 2.0, 3.0] * 100})
    all_null = pl.DataFrame({"x": [None] * 50}, schema={"x": pl.Float64})
    assert _verdicts(reference, all_null) == {"x": "undefined"}
    assert _verdicts(all_null, reference) == {"x": "no_reference"}


def test_per_column_thresholds_and_deciding_methods() -> None:
    rng = np.random.default_rng(6)
    reference = pl.DataFrame({"x": rng.normal(size=20_000)})
    current = pl.DataFrame({"x": rng.normal(0.25, 1.0, 20_000)})
    assert _verdicts(reference, current) == {"x": "warn"}
    strict = {"x": DriftSettings(decide_on=("psi",), thresholds={"psi": Thresholds(0.01, 0.02)})}
    assert _verdicts(reference, current, settings=strict) == {"x": "drift"}


def test_unknown_column_is_a_clear_error() -> None:
    frame = pl.DataFrame({"x": [1.0]})
    with pytest.raises(KeyError, match="current frame has no column 'y'"):
        drift_frames(pl.DataFrame({"x": [1.0], "y": [2.0]}), frame, ["x", "y"])


def test_failure_rate_flags_use_a_chi_square_p_value() -> None:
    # A 0/1 flag going from 0.5% to 2.5% on 800 rows: KS's continuous p-value (~0.99) would veto it.
    reference = pl.DataFrame({"flag": [1.0] * 12 + [0.0] * 2388})
    current = pl.DataFrame({"flag": [1.0] * 20 + [0.0] * 780})
    settings = {"flag": DriftSettings(decide_on=("ks",), thresholds={"ks": Thresholds(0.01, 0.03)})}
    report = drift_frames(reference, current, settings=settings)
    ks = report.to_frame().filter(pl.col("method") == "ks").row(0, named=True)
    assert ks["value"] == pytest.approx(0.02)
    assert ks["p_value"] < 1e-4
    assert report.columns[0].verdict == "warn"


def test_a_wide_table_judged_a_group_of_columns_at_a_time_gives_the_same_report(monkeypatch) -> None:
    rng = np.random.default_rng(7)
    columns = {f"x{i}": rng.normal(0.8 * (i % 3), 1.0, 4_000) for i in range(9)}
    reference = pl.DataFrame({f"x{i}": rng.normal(size=3_000) for i in range(9)} | {"c": rng.choice(list("ab"), 3_000)})
    current = pl.DataFrame(columns | {"c": rng.choice(list("abc"), 4_000)}).lazy()
    whole = drift_frames(reference, current).to_frame()
    monkeypatch.setattr(frames, "GROUP_BYTES", 8 * 7_000 * 2)  # two columns of both frames a group
    assert [len(g) for g in frames._column_groups(reference.lazy(), current, reference.columns)] == [2] * 5
    grouped = drift_frames(reference, current).to_frame()
    assert grouped.equals(whole)
    assert set(grouped.filter(pl.col("verdict") == "drift")["column"]) == {"x1", "x2", "x4", "x5", "x7", "x8", "c"}


def test_settings_survive_their_stored_form() -> None:
    from monitoring_pipeline.core.drift.compare import settings_from_json, settings_to_json

    settings = {
        "x": DriftSettings(("psi", "ks"), {"psi": Thresholds(0.2, 0.3)}, alpha=0.01, min_sample=200, band_k=3.0),
        "c": DriftSettings(calibrate=False),
    }
    assert settings_from_json(settings_to_json(settings)) == settings
