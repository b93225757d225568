"""Performance metrics against hand-computed values; CBPE tracks realized accuracy on a calibrated model; the
noise band and CUSUM catch a planted slow decline and stay silent on a stationary series."""

import math

import numpy as np
import pytest

from monitoring_pipeline.core import performance as perf

LABELS = np.array([1, 0, 1, 1, 0, 0])
PROBS = np.array([0.9, 0.8, 0.6, 0.4, 0.3, 0.1])


def test_classification_metrics_match_hand_computed_values() -> None:
    m = perf.classification_metrics(LABELS, PROBS)
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["precision"] == pytest.approx(2 / 3) and m["recall"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 / 3)
    assert m["roc_auc"] == pytest.approx(7 / 9)  # 7 of the 9 positive-negative pairs ordered right
    expected_log_loss = -sum(math.log(p) for p in (0.9, 0.2, 0.6, 0.4, 0.7, 0.9)) / 6
    assert m["log_loss"] == pytest.approx(expected_log_loss)
    assert m["brier"] == pytest.approx(1.27 / 6)
    assert m["ece"] == pytest.approx(2.3 / 6)  # every probability alone in its bin
    assert m["base_rate"] == 0.5 and m["n"] == 6


def test_edge_cases_are_defined_not_crashes() -> None:
    assert perf.roc_auc(np.array([1, 0]), np.array([0.5, 0.5])) == 0.5  # a tie counts half
    assert perf.roc_auc(np.array([1, 1]), np.array([0.2, 0.9])) is None  # one class only
    assert perf.classification_metrics(np.array([]), np.array([])) == {"n": 0}
    nothing_predicted = perf.classification_metrics(np.array([1, 0]), np.array([0.1, 0.2]))
    assert nothing_predicted["precision"] is None and nothing_predicted["recall"] == 0.0
    assert perf.classification_metrics(np.array([1]), np.array([1.0]))["log_loss"] < 1e-12  # clipped, finite


def test_regression_metrics() -> None:
    m = perf.regression_metrics(np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 5.0]))
    assert (m["mae"], m["bias"]) == (1.0, 1.0) and m["rmse"] == pytest.approx(math.sqrt(5 / 3))


def test_isotonic_calibration_pools_violators() -> None:
    calibrator = perf.fit_calibrator(np.array([1.0, 2.0, 3.0, 4.0]), np.array([0, 1, 0, 1]))
    assert calibrator(np.array([1.0, 2.5, 4.0])).tolist() == [0.0, 0.5, 1.0]


@pytest.mark.parametrize("distort", [lambda p: p, lambda p: p**2], ids=["calibrated", "miscalibrated scores"])
def test_cbpe_tracks_realized_accuracy_within_a_point_and_a_half(distort) -> None:
    rng = np.random.default_rng(3)
    p_ref = rng.beta(2, 5, 20_000)
    calibrator = perf.fit_calibrator(distort(p_ref), rng.random(20_000) < p_ref)
    for shift in (0, 1.5):  # covariate shift: more high-risk rows, same relation between inputs and labels
        p_day = rng.beta(2 + shift, 5 - shift, 20_000)
        labels = (rng.random(20_000) < p_day).astype(int)
        realized = perf.classification_metrics(labels, distort(p_day))["accuracy"]
        estimated = perf.estimated_classification_metrics(distort(p_day), calibrator)["accuracy"]
        assert estimated == pytest.approx(realized, abs=0.015)  # the documented tolerance, 20,000-row days


def _series(decline_from: int | None, seed: int, days: int = 70) -> np.ndarray:
    """A daily accuracy around 0.80 (sd 0.01); from `decline_from` on it falls by 0.2 points a day."""
    rng = np.random.default_rng(seed)
    values = 0.80 + rng.normal(0, 0.01, days)
    if decline_from is not None:
        values[decline_from:] -= 0.002 * np.arange(1, days - decline_from + 1)
    return values


def _first(alarms: np.ndarray) -> int | None:
    return int(np.argmax(alarms)) if alarms.any() else None


def test_band_and_cusum_catch_a_slow_decline_early_and_stay_silent_when_stationary() -> None:
    """40 series of 70 days, 30 reference days each: stationary ones, and the same with a decline from day 30."""
    false_cusum = false_ph = earlier_than_band = 0
    for seed in range(40):
        quiet = _series(None, seed)
        band = perf.noise_band(quiet[:30])
        false_cusum += perf.cusum_alarms(quiet[30:], band.mean, band.std).any()
        false_ph += perf.page_hinkley_alarms(quiet[30:], delta=0.005, threshold=0.1).any()
        declining = _series(30, seed)
        band = perf.noise_band(declining[:30])
        cusum = _first(perf.cusum_alarms(declining[30:], band.mean, band.std))
        outside = next(i for i, v in enumerate(declining[30:]) if not band.contains(v))
        assert cusum is not None and cusum <= 14  # within two weeks (a 2.8-point fall)
        assert _first(perf.page_hinkley_alarms(declining[30:], delta=0.005, threshold=0.1)) is not None
        earlier_than_band += cusum < outside
    assert false_cusum <= 3 and false_ph == 0  # at most 3 of 40 stationary series ever alarm in 40 days
    assert earlier_than_band >= 28  # CUSUM usually fires before any single day leaves the 3-sigma band


def test_alarms_sound_on_the_side_where_each_metric_gets_worse() -> None:
    rising = np.linspace(0.02, 0.12, 20)  # calibration error climbing: worse
    assert perf.worse_alarms(rising, 0.02, 0.01, perf.WORSE_WHEN["ece"]).any()
    assert not perf.worse_alarms(rising, 0.02, 0.01, perf.WORSE_WHEN["roc_auc"]).any()  # a rising AUC is no alarm
    assert perf.worse_alarms(-rising, -0.02, 0.01, perf.WORSE_WHEN["bias"]).any()  # bias is worse either way
    assert set(perf.ALERT_METRICS["classification"]) <= set(perf.CLASSIFICATION_METRICS)
    assert set(perf.WORSE_WHEN) == {*perf.CLASSIFICATION_METRICS, *perf.REGRESSION_METRICS}


def test_bands_weigh_days_by_their_labels_and_widen_for_a_day_judged_on_few() -> None:
    """Accuracy of 30 days with 400 labels each, plus 10 days judged on 20 labels (far noisier)."""
    rng = np.random.default_rng(5)
    full = rng.binomial(400, 0.8, 30) / 400
    sparse = rng.binomial(20, 0.8, 10) / 20
    values, weights = np.concatenate([full, sparse]), np.array([400] * 30 + [20] * 10)
    weighted, plain = perf.noise_band(values, 3.0, weights), perf.noise_band(values)
    assert weighted.std < 0.6 * plain.std  # the noisy days barely widen the band learned from the full ones
    assert weighted.std == pytest.approx(perf.noise_band(full).std, rel=0.25)
    assert perf.noise_band(full, 3.0, np.full(30, 7.0)).std == pytest.approx(perf.noise_band(full).std)
    wide = weighted.widened(math.sqrt(400 / 20))
    assert wide.mean == weighted.mean and wide.high - wide.low == pytest.approx(
        math.sqrt(20) * (weighted.high - weighted.low)
    )
    misses = sum(not weighted.contains(v) for v in sparse) - sum(not wide.contains(v) for v in sparse)
    assert misses >= 3  # judged on 20 labels, ordinary days leave the learned band; the widened band holds them


def test_the_loss_model_learns_where_a_regressor_errs_from_numeric_and_categorical_inputs() -> None:
    rng = np.random.default_rng(5)
    n = 60_000  # more than one chunk of the design matrix (LOSS_CHUNK)
    x = rng.uniform(0, 10, n)
    x[:200] = np.nan  # a missing input is a bin of its own
    shop = rng.choice(np.array(["a", "b", None], dtype=object), n)
    scale = np.where(shop == "b", 3.0, 1.0) * (1 + np.nan_to_num(x, nan=5.0) / 5)
    errors = rng.normal(0, 1, n) * scale
    model = perf.fit_loss_model({"x": x, "shop": shop}, ["shop"], errors)
    assert perf.LossModel.from_json(model.to_json()) == model
    probe = {"x": np.array([1.0, 9.0, 9.0, np.nan]), "shop": np.array(["a", "a", "b", "zzz"], dtype=object)}
    absolute, squared = model.expected(probe)
    assert absolute[0] < absolute[1] < absolute[2] and squared[1] < squared[2]  # larger x errs more, shop b most
    estimated = perf.estimated_regression_metrics({"x": x, "shop": shop}, model)
    assert estimated["mae"] == pytest.approx(np.abs(errors).mean(), rel=0.02)
    assert estimated["rmse"] == pytest.approx(np.sqrt((errors**2).mean()), rel=0.05)
