"""Alert policies: which daily signals open a retraining review, with severities and hysteresis.

A model's daily signals are read off its report tables: how many features and outputs drift, the share of
rows its guards quarantined, and how many rows arrived. A rule breaches on a day when its signal crossed the
threshold on at least `days` of the `of_last` days ending that day (hysteresis: one bad day among good ones does
not open a review, and one good day does not close one — people do). Ticket bookkeeping is pure too: given the
tickets already known and today's breaches, `plan_tickets` says which to open and which to update.

Each rule's signal moves through a lifecycle (`signal_states`): `ok`, `warning` (crossed, not yet persistent),
`alert` (breached, and until it recovers), `recovered` (the day `recover_after` judged days in a row stayed on the
good side after an alert), and `no_data` (no value that day: the day did not arrive, or its labels have not).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import polars as pl

from monitoring_pipeline.core.drift.registry import INPUT_ROLES, OUTPUT_ROLES
from monitoring_pipeline.core.guards.evaluate import guarded_rows, quarantined_share

SIGNALS = ("feature_drift", "output_drift", "guard_failure", "missing_data", "performance")
IN_SAMPLE_SIGNALS = frozenset({"feature_drift", "output_drift", "performance"})  # judged against the training days
SEVERITIES = ("low", "medium", "high", "critical")
OK, WARNING, ALERT, RECOVERED, NO_DATA = "ok", "warning", "alert", "recovered", "no_data"
EPISODE_DAYS = 28  # days before the judged ones whose signals a review reads to find an alert still under way


@dataclass(frozen=True)
class AlertRule:
    """`signal` breaches when its daily value is >= `threshold` (< for missing_data) on `days` of `of_last`; an
    alert recovers after `recover_after` judged days in a row on the good side."""

    signal: str
    threshold: float
    days: int = 2
    of_last: int = 3
    severity: str = "high"
    recover_after: int = 3

    def crossed(self, value: float) -> bool:
        return value < self.threshold if self.signal == "missing_data" else value >= self.threshold


DEFAULT_RULES: tuple[AlertRule, ...] = (
    AlertRule("feature_drift", 1, 2, 3, "high"),  # at least one feature drifting on 2 of the last 3 days
    AlertRule("output_drift", 1, 2, 3, "high"),
    AlertRule("guard_failure", 0.03, 1, 1, "critical"),  # 3% of a day's rows quarantined
    AlertRule("missing_data", 1, 1, 1, "critical"),  # a day with no contract-valid rows
    AlertRule("performance", 1, 2, 3, "high"),  # an alert metric's alarm (band, CUSUM, estimate) on 2 of the last 3
)


@dataclass(frozen=True)
class Breach:
    model_name: str
    signal: str
    severity: str
    day: date
    value: float
    threshold: float
    breaching_days: tuple[date, ...]
    columns: tuple[str, ...] = ()  # the drifting columns, for drift signals

    def evidence(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "value": self.value,
            "threshold": self.threshold,
            "breaching_days": [d.isoformat() for d in self.breaching_days],
            "columns": list(self.columns),
        }


SIGNAL_SCHEMA: dict[str, pl.DataType] = {
    "day": pl.Date(),
    "signal": pl.String(),
    "value": pl.Float64(),
    "columns": pl.List(pl.String()),
}


PERFORMANCE_ALARMS = {  # the alarms of one alert metric on one day, as `alert_series` gives them
    "band_alarm": "outside its band",
    "cusum_alarm": "CUSUM",
    "estimate_alarm": "estimate outside the band",
    "estimation_alarm": "estimate off the realized value",
}


def performance_signal(alarms: pl.DataFrame) -> pl.DataFrame:
    """The `performance` signal from a model's daily rows of its alert metrics (day, metric, realized, estimated,
    label_coverage, band_low, band_high and the PERFORMANCE_ALARMS flags): the number of alarms that day over
    those metrics, with each alarming metric's figures as its `columns`."""
    flags = {name: pl.col(name).fill_null(False) for name in PERFORMANCE_ALARMS}

    def figure(column: str, digits: int = 4) -> pl.Expr:
        return pl.col(column).round(digits).cast(pl.String).fill_null("unknown")

    rows = alarms.with_columns(
        pl.sum_horizontal([flag.cast(pl.Float64) for flag in flags.values()]).alias("n_alarms"),
        pl.concat_list(
            [
                pl.when(flag).then(pl.lit(label))
                for flag, label in zip(flags.values(), PERFORMANCE_ALARMS.values(), strict=True)
            ]
        )
        .list.drop_nulls()
        .list.join(", ")
        .alias("which"),
    ).with_columns(
        pl.format(
            "{}: realized {}, estimated {}, band {}..{}, label coverage {} ({})",
            "metric",
            figure("realized"),
            figure("estimated"),
            figure("band_low"),
            figure("band_high"),
            figure("label_coverage", 3),
            "which",
        ).alias("figures")
    )
    return (
        rows.group_by("day")
        .agg(
            pl.col("n_alarms").sum().alias("value"),
            pl.col("figures").filter(pl.col("n_alarms") > 0).sort().alias("columns"),
        )
        .select("day", pl.lit("performance").alias("signal"), "value", "columns")
        .cast(SIGNAL_SCHEMA)
    )


def daily_signals(
    drift_report: pl.DataFrame | None = None,
    guard_counts: pl.DataFrame | None = None,
    performance: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """One row per (day, signal), from what is given. `drift_report`: one model's decisive report rows (column,
    role, day, verdict, and the rolling window's `window_verdict` where judged): a column drifts on a day when the
    day or the window ending it does; `guard_counts`: day, validated, quarantined; `performance`: its alert
    metrics' daily rows, when it has labels (see `performance_signal`)."""
    frames = [pl.DataFrame(schema=SIGNAL_SCHEMA)]
    if drift_report is not None:
        window = pl.col("window_verdict") if "window_verdict" in drift_report.columns else pl.lit(None, pl.String)
        drifted = (pl.col("verdict") == "drift") | (window == "drift").fill_null(False)
        drifting = drift_report.filter(drifted).select("day", "column", "role").unique()
        drift_days = drift_report.select("day").unique()
        for signal, roles in (("feature_drift", INPUT_ROLES), ("output_drift", OUTPUT_ROLES)):
            columns = drifting.filter(pl.col("role").is_in(roles)).group_by("day").agg(pl.col("column").sort())
            frames.append(
                drift_days.join(columns, on="day", how="left").select(
                    "day",
                    pl.lit(signal).alias("signal"),
                    pl.col("column").list.len().fill_null(0).cast(pl.Float64).alias("value"),
                    pl.col("column").fill_null([]).alias("columns"),
                )
            )
    if guard_counts is not None:
        no_columns = pl.lit([], pl.List(pl.String)).alias("columns")
        frames += [
            guard_counts.select(
                "day", pl.lit("guard_failure").alias("signal"), quarantined_share().alias("value"), no_columns
            ),
            guard_counts.select(
                "day",
                pl.lit("missing_data").alias("signal"),
                guarded_rows().cast(pl.Float64).alias("value"),
                no_columns,
            ),
        ]
    if performance is not None:
        frames.append(performance_signal(performance))
    return pl.concat([f.cast(SIGNAL_SCHEMA) for f in frames]).sort("signal", "day")


def breaches_on(
    model_name: str,
    signals: pl.DataFrame,
    rules: Sequence[AlertRule],
    day: date,
    training: Sequence[date] = (),
) -> list[Breach]:
    """The rules that breach on `day`, judged on the `of_last` calendar days ending that day. A `training` day
    (the window the bins and the reference came from) is in-sample for drift and performance: it neither breaches
    those rules nor counts towards a later day's breach."""
    found = []
    for rule in rules:
        window = [day - timedelta(days=i) for i in range(rule.of_last - 1, -1, -1)]
        if rule.signal in IN_SAMPLE_SIGNALS:
            window = [d for d in window if d not in training]
        rows = signals.filter((pl.col("signal") == rule.signal) & pl.col("day").is_in(window)).sort("day")
        today = rows.filter(pl.col("day") == day)
        if today.is_empty():
            continue
        bad = [r for r in rows.iter_rows(named=True) if rule.crossed(r["value"])]
        if len(bad) >= rule.days and rule.crossed(today["value"][0]):
            columns = tuple(sorted({c for r in bad for c in r["columns"]}))
            found.append(
                Breach(
                    model_name,
                    rule.signal,
                    rule.severity,
                    day,
                    float(today["value"][0]),
                    rule.threshold,
                    tuple(r["day"] for r in bad),
                    columns,
                )
            )
    return found


def signal_states(signals: pl.DataFrame, rule: AlertRule, last: date, training: Sequence[date] = ()) -> dict[date, str]:
    """The state of `rule`'s signal on each calendar day from the first `signals` holds to `last` (see the module
    doc). Pure and order-free: a review reads the signals EPISODE_DAYS before the days it judges, so an alert that
    began earlier is still one. A breach is what `breaches_on` finds; a training day is in-sample for drift and
    performance and never crosses."""
    rows = signals.filter(pl.col("signal") == rule.signal)
    values: dict[date, float] = dict(zip(rows["day"], rows["value"], strict=True))
    if not values:
        return {}
    in_sample = set(training) if rule.signal in IN_SAMPLE_SIGNALS else set()
    bad = {d for d, v in values.items() if d not in in_sample and rule.crossed(v)}
    states, alerting, quiet, day = {}, False, 0, min(values)
    while day <= last:
        if day not in values:
            state = NO_DATA
        elif day in bad and sum(day - timedelta(days=i) in bad for i in range(rule.of_last)) >= rule.days:
            state, alerting, quiet = ALERT, True, 0
        elif day in bad:
            state, quiet = (ALERT if alerting else WARNING), 0
        elif alerting:
            quiet += 1
            alerting = quiet < rule.recover_after
            state = ALERT if alerting else RECOVERED
        else:
            state = OK
        states[day] = state
        day += timedelta(days=1)
    return states


@dataclass(frozen=True)
class Reading:
    """One rule's signal on one day alone: what the day's health check shows (a ticket also needs the rule's
    persistence, `days` of `of_last`)."""

    signal: str
    value: float
    threshold: float
    crossed: bool
    columns: tuple[str, ...] = ()

    @property
    def comparison(self) -> str:
        """How the value crosses: below the threshold for missing data, at or above it for the others."""
        return "<" if self.signal == "missing_data" else ">="


def readings_on(
    signals: pl.DataFrame, rules: Sequence[AlertRule], day: date, training: Sequence[date] = ()
) -> list[Reading]:
    """Each rule's signal on `day` against its threshold (rules without a value that day are left out); on a
    `training` day drift and performance are in-sample and never cross."""
    found = []
    for rule in rules:
        today = signals.filter((pl.col("signal") == rule.signal) & (pl.col("day") == day))
        if today.is_empty():
            continue
        value = float(today["value"][0])
        in_sample = rule.signal in IN_SAMPLE_SIGNALS and day in training
        found.append(
            Reading(
                rule.signal, value, rule.threshold, rule.crossed(value) and not in_sample, tuple(today["columns"][0])
            )
        )
    return found


@dataclass(frozen=True)
class TicketPlan:
    opened: list[Breach] = field(default_factory=list)
    updated: list[tuple[str, Breach]] = field(default_factory=list)  # (ticket id, breach)


def ticket_id(breach: Breach) -> str:
    """Deterministic: the same breach always maps to the same ticket, however often it is evaluated."""
    return f"{breach.model_name}:{breach.signal}:{breach.day.isoformat()}"


def plan_tickets(known: Sequence[Mapping[str, Any]], breaches: Sequence[Breach]) -> TicketPlan:
    """Breaches in day order. A breach updates the live (open or acknowledged) ticket of its model and signal, so
    the same trouble never opens a second ticket; with no live ticket it opens one, unless a resolved ticket
    already covers its day (a re-evaluation of days someone has already dealt with)."""
    tickets = [dict(t) for t in known]
    plan = TicketPlan()
    for breach in sorted(breaches, key=lambda b: b.day):
        same = [t for t in tickets if t["model_name"] == breach.model_name and t["signal"] == breach.signal]
        live = [t for t in same if t["status"] != "resolved"]
        if live:
            ticket = max(live, key=lambda t: t["first_day"])
            if ticket["first_day"] <= breach.day <= ticket["last_day"]:
                continue  # already recorded
            ticket["first_day"], ticket["last_day"] = (
                min(ticket["first_day"], breach.day),
                max(ticket["last_day"], breach.day),
            )
            plan.updated.append((ticket["ticket_id"], breach))
        elif not any(t["first_day"] <= breach.day <= t["last_day"] for t in same):
            plan.opened.append(breach)
            tickets.append(
                {
                    "ticket_id": ticket_id(breach),
                    "model_name": breach.model_name,
                    "signal": breach.signal,
                    "status": "open",
                    "first_day": breach.day,
                    "last_day": breach.day,
                }
            )
    return plan
