"""One nightly run against its floor: `credit_risk_nightly` for one day of N rows, in a fresh process as the
daemon starts it, and the same work written directly in Polars and NumPy, in a fresh process too (issue 18).

    uv run python benchmarks/day_benchmark.py --rows 1000000

Setup (not measured): a lake holding the demo's credit_risk model alone (`scale_benchmark.py`'s config), a
7-day baseline of `--baseline-rows` rows a day and the measured day of `--rows` rows, every prediction with its
label (3-20 days late, so the day is partly labelled), the bins frozen and the baseline days run through the
nightly job. Then, each in its own process, measured from outside (CPU of every thread, user + system, and the
peak resident set, from the kernel's accounting of that child):

* the job: `credit_risk_nightly` for the day through `execute_in_process` with a persistent instance (Dagster's
  run and event storage, the audit entries, the Great Expectations suites, the pictures: everything the daemon's
  run pays);
* the floor: one read of the day; the contract, the expectations' figures and the guard flags in one select;
  the validated, quarantined, verdict, reject, profile, segment profile, expectation, drift, segment drift and
  performance rows each written in one Delta commit; profiles by sorting each column once (quantiles by position,
  histogram counts by `searchsorted` on the frozen edges, categorical counts), per model version and per value of
  each segment column; drift as PSI of each column's (and each segment's) counts against the baseline days'
  stored counts; labels read only within the day's id range; every metric vectorised. It stores
  what the job stores, in tables of its own, without Dagster, audit entries or pictures.

Prints one JSON line: rows, job_cpu_s, job_wall_s, job_peak_mb, floor_cpu_s, floor_wall_s, floor_peak_mb,
ratio_cpu.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

import scale_benchmark  # its config, lake build and nightly phases (run as a script, benchmarks/ is on the path)

BASELINE_DAYS = 7


# -- the floor -----------------------------------------------------------------------------------------------------


def floor(config_path: Path, day: date, out: Path) -> dict:
    """The nightly job's work on `day`, written directly; its tables under `out`."""
    import numpy as np
    import polars as pl

    from monitoring_pipeline.core.bins import NumericBins
    from monitoring_pipeline.core.contract import ID, MODEL, TS, VERSION
    from monitoring_pipeline.io import catalog
    from monitoring_pipeline.io.config_file import load_config
    from monitoring_pipeline.steps.bins import load_model_bins, load_reconstruction
    from monitoring_pipeline.steps.features import active_definitions, with_derived

    config = load_config(config_path)
    model = config.model("credit_risk")
    shutil.rmtree(out, ignore_errors=True)
    now = datetime.now(UTC)
    written: dict[str, int] = {}

    def write(name: str, frame: pl.DataFrame) -> None:
        frame.write_delta(str(out / name), mode="append")
        written[name] = frame.height

    raw = pl.scan_delta(str(catalog.log_table(config, model))).filter(pl.col("event_date") == day).collect()
    if raw.schema[TS].time_zone != "UTC":  # replacing a column of a many-chunk frame copies the frame
        raw = raw.with_columns(pl.col(TS).dt.convert_time_zone("UTC"))
    reason = (
        pl.when(pl.col(ID).is_null())
        .then(pl.lit("null_prediction_id"))
        .when(pl.col(TS).is_null())
        .then(pl.lit("null_event_ts"))
        .when(pl.col(TS) > now)
        .then(pl.lit("event_ts_in_future"))
        .when(pl.col(MODEL) != model.name)
        .then(pl.lit("other_model_name"))
        .when(pl.col(ID).is_duplicated())
        .then(pl.lit("duplicate_prediction_id"))
    )
    settings = model.expectations
    score = pl.col(settings.score_column)
    low, high = settings.score_range
    region = pl.col("region")
    expectation_figures = [
        pl.len().alias("rows"),
        pl.col(ID).n_unique().alias("unique_ids"),
        score.is_between(low, high).not_().sum().alias("score_out_of_range"),
        *(pl.col(c).null_count().alias(f"null_{c}") for c in settings.max_null_share),
        (~region.is_in(list(settings.allowed_values["region"])) & region.is_not_null()).sum().alias("bad_region"),
    ]
    flags = {
        "guard_score_in_unit_interval": (~score.is_between(0, 1)).fill_null(True).cast(pl.Float64),
        "guard_prediction_in_labels": (~pl.col("prediction").is_in(["approve", "reject"]))
        .fill_null(True)
        .cast(pl.Float64),
    }
    checked = raw.with_columns(reason.alias("reason"), **flags)
    figures = raw.select(expectation_figures)
    rejects = checked.filter(pl.col("reason").is_not_null())
    valid = checked.filter(pl.col("reason").is_null()).drop("reason")
    blocked = pl.sum_horizontal(*flags) > 0
    validated = valid.filter(~blocked)
    quarantined = valid.filter(blocked)
    verdicts = (
        quarantined.select(ID, *flags)
        .unpivot(index=ID, variable_name="rule_id")
        .filter(pl.col("value") > 0)
        .drop("value")
    )
    write("log_rejects", rejects.select(ID, TS, "reason", pl.lit(day).alias("day")))
    write("guard_verdicts", verdicts.with_columns(pl.lit(day).alias("day")))
    write("validated", validated.with_columns(pl.lit(day).alias("day")))
    write("quarantine", quarantined.with_columns(pl.lit(day).alias("day")))
    write(
        "expectation_results",
        pl.concat([figures, validated.select(expectation_figures)]).with_columns(
            pl.Series("checked_table", ["prediction_log", "validated_predictions"])
        ),
    )

    bins, _ = load_model_bins(config, model)
    derived = with_derived(validated, model, active_definitions(config, model, day), load_reconstruction(config, model))
    profiles = []
    lazy = derived.lazy()
    sizes = dict(derived.group_by(VERSION).len().iter_rows())
    numeric = [c for c, b in bins.items() if isinstance(b, NumericBins) and c in derived.columns]
    categorical = [c for c in bins if c not in numeric and c in derived.columns]
    category_counts = pl.collect_all(  # every categorical column counted per version in one pass each
        [lazy.group_by(VERSION, pl.col(c).cast(pl.String).alias("value")).len() for c in categorical]
    )
    for column, counted in zip(categorical, category_counts, strict=True):
        for version in sizes:
            mine = counted.filter(pl.col(VERSION) == version)
            found = dict(mine.drop_nulls("value").select("value", "len").iter_rows())
            known = [found.get(v, 0) for v in bins[column].vocabulary]
            nulls = mine.filter(pl.col("value").is_null())["len"].sum()
            row = {"n_null": nulls, "counts": [*known, 0, sum(found.values()) - sum(known)]}
            profiles.append({"model_version": str(version), "column": column, "n_rows": sizes[version]} | row)

    def numeric_row(b: NumericBins, finite: np.ndarray, nulls: int) -> dict:
        n = len(finite)
        below, at = np.searchsorted(finite, b.edges[0]), np.searchsorted(finite, b.edges, side="right")
        counts = np.diff(np.concatenate(([0, below], at, [n])))  # the profiles' fine bins
        quantiles = finite[np.round(np.array([0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99]) * (n - 1)).astype(int)]
        mean = float(finite.mean()) if n else None
        return {
            "n_null": nulls,
            "n_valid": n,
            "mean": mean,
            "m2": float(((finite - mean) ** 2).sum()) if n else None,
            "min": float(finite[0]) if n else None,
            "max": float(finite[-1]) if n else None,
            "quantiles": quantiles.tolist() if n else None,
            "counts": counts.tolist(),
        }

    # each segment column's value per row: a known value of its frozen bins, else (other), (missing) for null
    keys = {}
    for segment in model.segments:
        value = pl.col(segment).cast(pl.String)
        known_values = [str(v) for v in bins[segment].vocabulary]
        keys[f"segment_{segment}"] = (
            pl.when(value.is_null())
            .then(pl.lit("(missing)"))
            .when(value.is_in(known_values))
            .then(value)
            .otherwise(pl.lit("(other)"))
        )
    keyed = derived.with_columns(**keys)  # new columns beside the day's, nothing copied
    judged = [c for c in numeric + categorical if not c.startswith("guard_")]
    segment_rows = []
    for segment in model.segments:  # categorical counts per segment value, one pass a column
        in_segments = [c for c in judged if c in categorical]
        counted = pl.collect_all(
            [
                keyed.lazy()
                .group_by(pl.col(f"segment_{segment}").alias("s"), pl.col(c).cast(pl.String).alias("value"))
                .len()
                for c in in_segments
            ]
        )
        for column, frame in zip(in_segments, counted, strict=True):
            for (segment_value,), mine in frame.group_by("s"):
                found = dict(mine.drop_nulls("value").select("value", "len").iter_rows())
                known = [found.get(v, 0) for v in bins[column].vocabulary]
                row = {"counts": [*known, 0, sum(found.values()) - sum(known)]}
                segment_rows.append({"segment_column": segment, "segment_value": segment_value, "column": column} | row)
    # numeric columns: sorted once per model version, and once per segment value (a filter, then a sort of that
    # part alone: faster in Polars than one sort carrying the keys)
    parts = [("version", v, pl.col(VERSION) == v) for v in sizes]
    for segment in model.segments:
        values = keyed[f"segment_{segment}"].unique().to_list()
        parts += [(segment, v, pl.col(f"segment_{segment}") == v) for v in values]
    jobs = [(c, part) for c in numeric for part in parts if part[0] == "version" or c in judged]
    for start in range(0, len(jobs), 4):  # four sorts at once, in parallel
        batch = jobs[start : start + 4]
        values = pl.collect_all(
            [
                keyed.lazy()
                .filter(where)
                .select(
                    pl.col(c).cast(pl.Float64).filter(pl.col(c).is_finite()).sort(), pl.col(c).null_count().alias("n")
                )
                for c, (_, _, where) in batch
            ]
        )
        for (column, (kind, value, _)), frame in zip(batch, values, strict=True):
            row = numeric_row(bins[column], frame.to_series().to_numpy(), int(frame["n"][0]) if frame.height else 0)
            if kind == "version":
                profiles.append({"model_version": str(value), "column": column, "n_rows": sizes[value]} | row)
            else:
                segment_rows.append({"segment_column": kind, "segment_value": value, "column": column} | row)
    profile_rows = pl.DataFrame(profiles, strict=False).with_columns(pl.lit(day).alias("day"))
    write("profiles", profile_rows)

    segment_profiles = pl.DataFrame(segment_rows, strict=False).with_columns(pl.lit(day).alias("day"))
    write("segment_profiles", segment_profiles)
    baseline_segments = (
        pl.scan_delta(str(catalog.table(config, catalog.SEGMENT_PROFILES)))
        .filter(pl.col("model_name") == model.name, pl.col("day").is_between(model.baseline.start, model.baseline.end))
        .select("segment_column", "segment_value", "column", "counts")
        .collect()
    )
    segment_drift = []
    key_columns = ["segment_column", "segment_value", "column"]
    current = {tuple(r[:3]): r[3] for r in segment_profiles.select(*key_columns, "counts").iter_rows()}
    for key, group in baseline_segments.group_by(key_columns):
        expected = np.sum(np.stack([np.asarray(c, dtype=np.float64) for c in group["counts"]]), axis=0)
        mine = current.get(tuple(key))
        if mine is None or len(mine) != len(expected):
            continue
        actual = np.asarray(mine, dtype=np.float64)
        p, q = (expected + 0.5) / (expected + 0.5).sum(), (actual + 0.5) / (actual + 0.5).sum()
        psi = float(((q - p) * np.log(q / p)).sum())
        segment_drift.append(dict(zip(key_columns, key, strict=True)) | {"psi": psi})
    if model.segments and not segment_drift:
        raise SystemExit("the floor found no baseline segment profiles to judge the day's segments against")
    write("segment_drift", pl.DataFrame(segment_drift).with_columns(pl.lit(day).alias("day")))

    stored = [catalog.FEATURE_PROFILES, catalog.OUTPUT_PROFILES]
    reference = (
        pl.concat(
            [
                pl.scan_delta(str(catalog.table(config, name))).select("model_name", "day", "column", "counts")
                for name in stored
            ]
        )
        .filter(pl.col("model_name") == model.name)
        .filter(pl.col("day").is_between(model.baseline.start, model.baseline.end))
        .select("column", "counts")
        .collect()
    )
    drift = []
    for column, group in reference.group_by("column"):
        expected = np.sum(np.stack([np.asarray(c, dtype=np.float64) for c in group["counts"]]), axis=0)
        mine = profile_rows.filter(pl.col("column") == column[0])["counts"]
        if mine.is_empty() or len(mine[0]) != len(expected):
            continue
        actual = np.asarray(mine[0], dtype=np.float64)
        p, q = (expected + 0.5) / (expected + 0.5).sum(), (actual + 0.5) / (actual + 0.5).sum()
        drift.append({"column": column[0], "psi": float(((q - p) * np.log(q / p)).sum())})
    write("drift_report", pl.DataFrame(drift).with_columns(pl.lit(day).alias("day")))

    ids = validated[ID]
    labels = (
        pl.scan_delta(str(catalog.label_table(config, model)))
        .filter(pl.col(ID).is_between(pl.lit(ids.min()), pl.lit(ids.max())) & (pl.col("label_ts") <= now))
        .filter(pl.col(ID).is_in(ids.implode()))
        .select(
            ID, (pl.col(model.performance.label_column) == model.performance.positive_label).cast(pl.Int8).alias("y")
        )
        .unique(ID, keep="first")
        .collect()
    )
    joined = validated.select(ID, VERSION, "region", "score").join(labels, on=ID, how="left")
    metrics = []
    slices = [("*", "*", joined)]
    slices += [(str(v), "*", p) for (v,), p in joined.group_by(VERSION)]
    slices += [("*", str(r), p) for (r,), p in joined.group_by("region")]
    for version, segment, part in slices:
        s, y = part["score"].to_numpy(), part["y"].to_numpy()
        known = ~np.isnan(y.astype(np.float64))
        s_l, y_l = s[known], y[known].astype(np.float64)
        predicted = s_l >= model.performance.threshold
        positives = y_l.sum()
        order = np.argsort(s_l, kind="stable")  # average ranks, ties sharing the mean of their positions
        cuts = np.flatnonzero(np.diff(s_l[order])) + 1
        starts, ends = np.concatenate([[0], cuts]), np.concatenate([cuts, [len(s_l)]])
        ranks = np.empty(len(s_l))
        ranks[order] = np.repeat((starts + ends + 1) / 2, ends - starts)
        auc = (ranks[y_l == 1].sum() - positives * (positives + 1) / 2) / max(positives * (len(y_l) - positives), 1)
        clipped = np.clip(s_l, 1e-15, 1 - 1e-15)
        bin_index = np.minimum((s_l * 10).astype(int), 9)
        per_bin = np.bincount(bin_index, minlength=10)
        gap = np.abs(np.bincount(bin_index, y_l, 10) - np.bincount(bin_index, s_l, 10))
        estimated = np.where(s >= model.performance.threshold, s, 1 - s).mean()
        metrics.append(
            {
                "model_version": version,
                "segment": segment,
                "n_predictions": len(s),
                "n_labelled": int(known.sum()),
                "accuracy": float((predicted == (y_l == 1)).mean()) if len(y_l) else None,
                "roc_auc": float(auc),
                "log_loss": float(-(y_l * np.log(clipped) + (1 - y_l) * np.log(1 - clipped)).mean()),
                "brier": float(((s_l - y_l) ** 2).mean()),
                "ece": float(gap.sum() / max(per_bin.sum(), 1)),
                "estimated_accuracy": float(estimated),
            }
        )
    write("performance", pl.DataFrame(metrics).with_columns(pl.lit(day).alias("day")))
    return {"rows": raw.height, "written": written}


# -- phases and measurement ----------------------------------------------------------------------------------------


def run_phase(args: argparse.Namespace) -> None:
    workdir = Path(args.workdir)
    os.environ["DAGSTER_HOME"] = str(workdir / "dagster_home")
    config_path = workdir / "monitoring.yaml"
    days = [date.fromisoformat(d) for d in args.phase_days.split(",")]

    if args.phase == "build":
        result = scale_benchmark.phase_build(config_path, days, [int(n) for n in args.phase_rows.split(",")])
    elif args.phase == "bins":
        result = scale_benchmark.phase_bins(config_path)
    elif args.phase == "nightly":
        result = scale_benchmark.phase_nightly(config_path, days)
    else:
        result = floor(config_path, days[0], workdir / "floor")
    Path(args.out).write_text(json.dumps(result, default=str))


def measured(workdir: Path, phase: str, days: list[date], rows: list[int] | None = None) -> dict:
    """One phase in a fresh process: its result, wall seconds, CPU seconds (user + system, every thread) and
    peak resident set (MB) of that process."""
    out = workdir / f"{phase}.json"
    command = [sys.executable, __file__, "--phase", phase, "--workdir", str(workdir), "--out", str(out)]
    command += ["--phase-days", ",".join(d.isoformat() for d in days)]
    if rows:
        command += ["--phase-rows", ",".join(map(str, rows))]
    started = time.perf_counter()
    child = subprocess.Popen(command)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"phase {phase} failed ({os.waitstatus_to_exitcode(status)})")
    return json.loads(out.read_text()) | {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_mb": usage.ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the measured day")
    parser.add_argument("--baseline-rows", type=int, default=200_000, help="rows of each baseline day")
    parser.add_argument(
        "--workdir", help="keep the lake here (default: a temporary folder, removed); a kept lake is measured again"
    )
    scale_benchmark.phase_arguments(parser, ["build", "bins", "nightly", "floor"])
    args = parser.parse_args()
    if args.phase:
        run_phase(args)
        return

    with tempfile.TemporaryDirectory(prefix="day-benchmark-") as scratch:
        workdir = Path(args.workdir or scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        days = scale_benchmark.calendar(BASELINE_DAYS + 1, 0)
        scale_benchmark.write_config(workdir, days, BASELINE_DAYS, BASELINE_DAYS)
        baseline, day = days[:BASELINE_DAYS], days[-1]
        if (workdir / "build.json").exists():  # a kept lake: measure again (runs are idempotent)
            print(f"measuring again in {workdir}", file=sys.stderr)
        else:
            print(f"setup: {len(baseline)} baseline days of {args.baseline_rows:,} rows ...", file=sys.stderr)
            measured(workdir, "build", days, [args.baseline_rows] * len(baseline) + [args.rows])
            measured(workdir, "bins", days)
            measured(workdir, "nightly", baseline)
        print(f"measuring {day} ({args.rows:,} rows): the job, then its floor ...", file=sys.stderr)
        job = measured(workdir, "nightly", [day])
        bottom = measured(workdir, "floor", [day])
        print(
            json.dumps(
                {
                    "rows": job["days"][0]["rows_read"],
                    "job_cpu_s": round(job["cpu_s"], 2),
                    "job_wall_s": round(job["wall_s"], 2),
                    "job_peak_mb": round(job["peak_mb"]),
                    "floor_cpu_s": round(bottom["cpu_s"], 2),
                    "floor_wall_s": round(bottom["wall_s"], 2),
                    "floor_peak_mb": round(bottom["peak_mb"]),
                    "ratio_cpu": round(job["cpu_s"] / bottom["cpu_s"], 2),
                }
            )
        )


if __name__ == "__main__":
    main()
