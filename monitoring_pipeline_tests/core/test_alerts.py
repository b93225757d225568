"""Alert rules with hysteresis, and ticket planning: one bad day does not open a review, a later breach of the
same model and signal updates the open ticket, a re-evaluation changes nothing."""

from datetime import date, timedelta

import polars as pl
import pytest

from monitoring_pipeline.core.alerts import (
    AlertRule,
    breaches_on,
    daily_signals,
    plan_tickets,
    readings_on,
    signal_states,
    ticket_id,
)
from monitoring_pipeline.core.config import ConfigError, parse_alerts

D = [date(2026, 10, 1) + timedelta(days=i) for i in range(10)]
DRIFT = AlertRule("feature_drift", 1, 2, 3, "high")


def _signals(values: list[float], signal: str = "feature_drift") -> pl.DataFrame:
    return pl.DataFrame(
        {
            "day": D[: len(values)],
            "signal": signal,
            "value": values,
            "columns": [["income"] if v else [] for v in values],
        },
        schema={"day": pl.Date, "signal": pl.String, "value": pl.Float64, "columns": pl.List(pl.String)},
    )


def test_daily_signals_count_drifting_columns_and_quarantined_share() -> None:
    report = pl.DataFrame(
        {
            "day": [D[0]] * 4 + [D[1]] * 2,
            "column": ["income", "age", "score", "channel", "income", "score"],
            "role": ["feature", "feature", "output", "feature", "feature", "output"],
            "verdict": ["drift", "ok", "drift", "drift", "ok", "ok"],
        }
    )
    counts = pl.DataFrame({"day": [D[0], D[1]], "validated": [90, 0], "quarantined": [10, 0]})
    signals = {(r["day"], r["signal"]): r for r in daily_signals(report, counts).iter_rows(named=True)}
    assert signals[(D[0], "feature_drift")]["value"] == 2 and signals[(D[0], "feature_drift")]["columns"] == [
        "channel",
        "income",
    ]
    assert signals[(D[1], "feature_drift")]["value"] == 0
    assert signals[(D[0], "output_drift")]["value"] == 1
    assert signals[(D[0], "guard_failure")]["value"] == pytest.approx(0.1)
    assert signals[(D[1], "missing_data")]["value"] == 0 and signals[(D[1], "guard_failure")]["value"] == 0


@pytest.mark.parametrize(
    ("values", "breaching"),
    [
        ([0, 0, 1, 0, 0, 1, 0], []),  # isolated bad days: quiet
        ([0, 1, 1, 0, 0, 0, 0], [D[2]]),  # two in a row
        ([1, 0, 1, 1, 0, 0, 0], [D[2], D[3]]),  # 2 of 3, and today must be bad
    ],
)
def test_hysteresis_needs_two_of_the_last_three_days(values: list[float], breaching: list[date]) -> None:
    signals = _signals(values)
    found = [d for d in D[: len(values)] if breaches_on("m", signals, [DRIFT], d)]
    assert found == breaching


def test_a_training_day_never_breaches_drift_nor_counts_towards_a_later_breach() -> None:
    training = D[:4]
    drift = _signals([1, 1, 1, 1, 1, 0, 1, 1])
    found = [d for d in D[:8] if breaches_on("m", drift, [DRIFT], d, training)]
    assert found == [D[6], D[7]]  # not D[1]..D[3], and D[4] is its first bad day out of sample
    guards = _signals([0.2] * 4, "guard_failure")  # a broken output is broken in the training window too
    rule = AlertRule("guard_failure", 0.03, 1, 1, "critical")
    assert [d for d in D[:4] if breaches_on("m", guards, [rule], d, training)] == D[:4]


def test_missing_data_breaches_below_its_threshold() -> None:
    rule = AlertRule("missing_data", 1, 1, 1, "critical")
    signals = _signals([500, 0, 300], "missing_data")
    assert [d for d in D[:3] if breaches_on("m", signals, [rule], d)] == [D[1]]


def test_tickets_open_once_update_on_later_breaches_and_ignore_re_evaluation() -> None:
    signals = _signals([1, 1, 1, 1, 0, 0, 0, 0, 1, 1])
    breaches = [b for d in D for b in breaches_on("m", signals, [DRIFT], d)]
    plan = plan_tickets([], breaches)
    assert [ticket_id(b) for b in plan.opened] == ["m:feature_drift:2026-10-02"]
    assert [day.day for _, day in [(t, b.day) for t, b in plan.updated]] == [3, 4, 10]  # 10-09 is 1 of 3
    known = [
        {
            "ticket_id": "m:feature_drift:2026-10-02",
            "model_name": "m",
            "signal": "feature_drift",
            "status": "open",
            "first_day": D[1],
            "last_day": D[9],
        }
    ]
    assert plan_tickets(known, breaches) == plan_tickets(known, [])  # evaluated twice: nothing new
    resolved = [known[0] | {"status": "resolved", "last_day": D[3]}]
    again = plan_tickets(resolved, breaches)
    assert [ticket_id(b) for b in again.opened] == ["m:feature_drift:2026-10-10"] and again.updated == []


def test_alert_config_is_validated_naming_the_key() -> None:
    rules = {r.signal: r for r in parse_alerts({"guard_failure": {"threshold": 0.05}, "missing_data": False}, "a")}
    assert rules["guard_failure"].threshold == 0.05 and "missing_data" not in rules
    with pytest.raises(ConfigError, match=r"a\.latency: unknown signal"):
        parse_alerts({"latency": {"threshold": 1}}, "a")
    with pytest.raises(ConfigError, match=r"need 1 <= days <= of_last"):
        parse_alerts({"feature_drift": {"days": 4, "of_last": 3}}, "a")


def test_the_performance_signal_counts_every_alert_metrics_alarms_and_carries_their_figures() -> None:
    rows = pl.DataFrame(
        {
            "day": [*D[:3], *D[:3]],
            "metric": ["accuracy"] * 3 + ["ece"] * 3,
            "realized": [0.80, 0.74, None, 0.02, 0.09, None],
            "estimated": [0.79, 0.77, 0.70, None, None, None],
            "label_coverage": [1.0, 0.4, 0.0] * 2,
            "band_low": [0.76] * 3 + [0.0] * 3,
            "band_high": [0.82] * 3 + [0.05] * 3,
            "band_alarm": [False, True, None, False, True, None],
            "cusum_alarm": [False, True, None, False, False, None],
            "estimate_alarm": [False, False, True, None, None, None],
            "estimation_alarm": [False, True, None, None, None, None],
        }
    )
    signal = {
        r["day"]: r
        for r in daily_signals(_EMPTY_REPORT, _NO_COUNTS, rows).iter_rows(named=True)
        if r["signal"] == "performance"
    }
    # the second day: accuracy's band, CUSUM and estimation error, and calibration (ECE) outside its band; the third:
    # the estimate below the band, no labels yet
    assert [signal[d]["value"] for d in D[:3]] == [0, 4, 1]
    assert signal[D[1]]["columns"] == [
        "accuracy: realized 0.74, estimated 0.77, band 0.76..0.82, label coverage 0.4 (outside its band, CUSUM, "
        "estimate off the realized value)",
        "ece: realized 0.09, estimated unknown, band 0.0..0.05, label coverage 0.4 (outside its band)",
    ]
    assert signal[D[2]]["columns"] == [
        "accuracy: realized unknown, estimated 0.7, band 0.76..0.82, label coverage 0.0 (estimate outside the band)"
    ]


_EMPTY_REPORT = pl.DataFrame(schema={"day": pl.Date, "column": pl.String, "role": pl.String, "verdict": pl.String})
_NO_COUNTS = pl.DataFrame(schema={"day": pl.Date, "validated": pl.Int64, "quarantined": pl.Int64})


def test_a_day_reading_crosses_alone_without_the_rules_persistence() -> None:
    signals = pl.concat([_signals([0, 0, 2, 0]), _signals([500, 0, 500, 500], "missing_data")])
    rules = [DRIFT, AlertRule("missing_data", 1, 1, 1, "critical")]
    drift, missing = readings_on(signals, rules, D[2])
    assert drift.crossed and drift.value == 2 and drift.columns == ("income",)  # one day: no ticket, a warning
    assert breaches_on("m", signals, rules[:1], D[2]) == []
    assert not missing.crossed
    assert readings_on(signals, rules, D[1])[1].crossed  # no rows that day: `missing_data` crosses below
    assert not readings_on(signals, rules, D[2], training=[D[2]])[0].crossed  # drift on a training day: in-sample
    assert readings_on(signals, [], D[2]) == [] and readings_on(signals, rules, D[7]) == []


def test_a_signal_moves_ok_warning_alert_recovered_and_a_missing_day_is_no_data() -> None:
    values = [0, 1, 0, 1, 1, 0, 1, 0, 0, 0]  # a lone bad day warns; 2 of 3 alert; 3 good days in a row recover
    signals = _signals(values).filter(pl.col("day") != D[8])  # day 8 did not arrive
    states = signal_states(signals, DRIFT, D[-1])
    assert [states[d] for d in D] == [
        "ok", "warning", "ok", "alert", "alert", "alert", "alert", "alert", "no_data", "alert"
    ]  # fmt: skip
    assert signal_states(_signals(values), DRIFT, D[-1])[D[9]] == "recovered"
    eager = AlertRule("feature_drift", 1, 2, 3, "high", recover_after=1)
    assert [signal_states(_signals(values), eager, D[-1])[d] for d in D[3:]] == [
        "alert", "alert", "recovered", "alert", "recovered", "ok", "ok"
    ]  # fmt: skip
    # in-sample training days never cross, so they neither warn nor alert
    assert set(signal_states(_signals(values), DRIFT, D[4], training=D[:5]).values()) == {"ok"}


def test_recover_after_is_configured_per_signal_and_validated() -> None:
    rules = {r.signal: r for r in parse_alerts({"guard_failure": {"recover_after": 7}}, "m.alerts")}
    assert rules["guard_failure"].recover_after == 7 and rules["feature_drift"].recover_after == 3
    with pytest.raises(ConfigError, match=r"m.alerts.guard_failure.recover_after"):
        parse_alerts({"guard_failure": {"recover_after": 0}}, "m.alerts")
