"""Scale: a long backfill through the real nightly job, and one very large day through the same job (issue 8).

What runs is the Dagster job the schedule runs every night, `credit_risk_nightly`, once per daily partition, in
one process with a persistent (SQLite) instance: the raw log under its contract with its checks, the two Great
Expectations suites, the guards (verdicts, validated and quarantined tables), the feature and output profiles,
the drift report with its pictures, and performance (realized and estimated) with its chart. Each run goes
through `execute_in_process`, as `monitoring-pipeline demo` does. Dagster's own cost (run and event storage) is
therefore measured, not avoided, and is reported apart as the run's wall time minus its steps' times; calling
the steps functions instead would hide it. A run launched by the daemon with the multiprocess executor would
add a Python start-up per step on top of these figures (the performance step's baseline reference is stored in
`reports/performance_reference`, so a fresh process reads it instead of rebuilding it).

The shape: the demo's credit_risk model from `monitoring.yaml` (20 numeric and 5 categorical features, score,
predicted label, output length; the PCA reconstruction error; the guard rules), alone, cut to `--days`
consecutive days in the past (the contract rejects future rows) that end on the demo's day 58, so the income
drift, the channel-mix change and the model release fall inside a long run. Every day holds exactly
`--rows-per-day` rows (the generator's `rows` is a weekday volume; weekend days are asked for more so that the
weekend dip does not shrink them) and every prediction gets its label, 3-20 days late, in the label table. The
bins are frozen from the first `--baseline-days` days; each day is judged against a rolling reference of the
`--reference-days` days before it.

Phases, each a fresh process measured with `/usr/bin/time -v` (wall time, peak RSS):

1. build the lake: generate each day and append it to the log table (partitioned by event date) and its labels
   to the label table, one commit per day and table (setup, reported apart, never counted in the backfill);
2. freeze the bins (`reference_bins`, once per baseline; setup, reported apart);
3. the backfill: the nightly job for each day in order. Per day it records wall time, CPU time (every thread),
   each step's time, the load average, and the peak RSS *of that day* (the kernel's high-water mark, reset
   through /proc/self/clear_refs before each run). If memory is bounded by one day's work, the per-day peak
   stays flat from the first days after the baseline to the last, however long the backfill; the table gives
   both halves' maxima and the trend. (Baseline days are apart: until the baseline is complete, the performance
   step rebuilds its calibration from every baseline day's rows, so those days cost more.)
4. one `--day-rows` day (the day after the backfill, so its reference window is full) through the same job, in
   a fresh process.

During the backfill every Delta scan is recorded with the function that made it and the step it ran in: the
drift report's reference is read as merged daily profiles (`reports/*_profiles`), never as log or validated rows.

The lake is built whole before the backfill, so the label table holds every label from the first night (a live
lake grows it day by day): the performance step, which scans the whole label table each night, pays the final
table's size on every day here.

    uv run python benchmarks/scale_benchmark.py --days 5 --rows-per-day 100000 --day-rows 1000000
    nice -n 10 uv run python benchmarks/scale_benchmark.py --days 90 --rows-per-day 1000000 --day-rows 10000000
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import yaml

from monitoring_pipeline.demo.generator import DEMO_DAYS, DEMO_START, TABULAR_MODEL
from monitoring_pipeline.io import catalog

WEEKEND_SHARE = 0.6  # the generator's weekend volume for credit_risk
QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


# -- setup ---------------------------------------------------------------------------------------------------------


def calendar(days: int, extra: int) -> list[date]:
    """`days` + `extra` consecutive days ending on the demo's day 58, earlier if that would not be two days in the
    past (the contract rejects rows from the future)."""
    last = min(DEMO_START + timedelta(days=DEMO_DAYS - 2), datetime.now(UTC).date() - timedelta(days=2))
    first = last - timedelta(days=days + extra - 1)
    return [first + timedelta(days=i) for i in range(days + extra)]


def write_config(folder: Path, days: list[date], baseline_days: int, reference_days: int) -> Path:
    """The shipped config's credit_risk model alone, cut to `days`, with a rolling reference."""
    from monitoring_pipeline.io.config_file import DEFAULT_CONFIG

    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    model = raw["models"][TABULAR_MODEL]
    baseline = {"start": days[0], "end": days[min(baseline_days, len(days)) - 1]}
    model |= {"start_date": days[0], "end_date": days[-1] + timedelta(days=1), "baseline": baseline}
    model["reference"] = {"kind": "rolling", "days": reference_days}
    raw["models"] = {TABULAR_MODEL: model}
    raw["lake"]["root"] = str(folder / "lake")
    path = folder / "monitoring.yaml"
    path.write_text(yaml.safe_dump(raw))
    home = folder / "dagster_home"
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return path


def generator_rows(day: date, rows: int) -> int:
    """The weekday volume to ask the generator for, so that `day` gets `rows` rows."""
    return rows if day.weekday() < 5 else math.ceil(rows / WEEKEND_SHARE)


# -- phases (each runs in its own process) ---------------------------------------------------------------------------


def phase_build(config_path: Path, days: list[date], rows: list[int]) -> dict:
    """Append each day's log rows (partitioned by event date) and its labels, one commit per day and table."""
    import polars as pl

    from monitoring_pipeline.demo.generator import labels_for, tabular_day
    from monitoring_pipeline.io import delta
    from monitoring_pipeline.io.config_file import load_config

    config = load_config(config_path)
    model = config.model(TABULAR_MODEL)
    log, labels = catalog.log_table(config, model), catalog.label_table(config, model)
    written = []
    for day, n in zip(days, rows, strict=True):
        frame = tabular_day(day, generator_rows(day, n)).with_columns(pl.col("event_ts").dt.date().alias("event_date"))
        delta.append(log, frame, partition_by=["event_date"])
        delta.append(labels, labels_for(frame))
        written.append(frame.height)
        del frame
    return {"rows": written}


def phase_bins(config_path: Path) -> dict:
    import dagster as dg

    from monitoring_pipeline.definitions import build_definitions
    from monitoring_pipeline.defs.assets import model_asset_keys

    defs = build_definitions(str(config_path))
    job = dg.define_asset_job(
        "bins", selection=dg.AssetSelection.assets(model_asset_keys(TABULAR_MODEL)["reference_bins"])
    )
    resolved = dg.Definitions.merge(defs, dg.Definitions(jobs=[job]))
    with dg.DagsterInstance.get() as instance:
        result = resolved.resolve_job_def("bins").execute_in_process(
            instance=instance, run_config=QUIET_LOGS, raise_on_error=True
        )
    return {"success": result.success}


def phase_nightly(config_path: Path, days: list[date]) -> dict:
    """The nightly job for each of `days`, in order; per day: wall, step times, peak and end RSS, rows read,
    and which tables each step scanned."""
    import dagster as dg

    from monitoring_pipeline.definitions import build_definitions
    from monitoring_pipeline.defs.schedules import nightly_job_name
    from monitoring_pipeline.io.config_file import load_config

    config = load_config(config_path)
    lake_root = Path(config.lake.root)
    scans = _trace_scans(lake_root)
    defs = build_definitions(str(config_path))
    job = defs.resolve_job_def(nightly_job_name(config.model(TABULAR_MODEL)))
    out = []
    with dg.DagsterInstance.get() as instance:
        for day in days:
            scans.clear()
            _reset_peak_rss()
            cpu = _cpu_seconds()
            started = time.perf_counter()
            result = job.execute_in_process(
                partition_key=day.isoformat(), instance=instance, run_config=QUIET_LOGS, raise_on_error=True
            )
            wall = time.perf_counter() - started
            cpu = _cpu_seconds() - cpu
            peak_mb, rss_mb = _rss_mb()
            step_seconds = {
                event.step_key: event.event_specific_data.duration_ms / 1000
                for event in result.all_events
                if event.event_type == dg.DagsterEventType.STEP_SUCCESS
            }
            read = next(
                (
                    e.materialization.metadata["rows_read"].value
                    for e in result.get_asset_materialization_events()
                    if e.asset_key.path[-1] == "prediction_log"
                ),
                None,
            )
            out.append(
                {
                    "day": day.isoformat(),
                    "rows_read": read,
                    "wall_s": wall,
                    "cpu_s": cpu,
                    "load": os.getloadavg()[0],
                    "steps_s": step_seconds,
                    "peak_mb": peak_mb,
                    "rss_mb": rss_mb,
                    "scans": {step: sorted(tables) for step, tables in scans.items()},
                }
            )
            print(f"{day}: {read:,} rows, {wall:.1f} s, day peak {peak_mb:,.0f} MB", file=sys.stderr, flush=True)
    return {"days": out}


def _trace_scans(lake_root: Path) -> dict[str, set[str]]:
    """Record every Delta table scanned, with the function scanning it, by Dagster step (all reads of the pipeline
    go through `io.delta.scan`)."""
    import dagster as dg

    from monitoring_pipeline.io import delta

    scans: dict[str, set[str]] = defaultdict(set)
    scan = delta.scan

    def traced(ref, at_version=None):
        try:
            step = dg.OpExecutionContext.get().op_handle.name
        except Exception:  # outside a step, or a check's context
            step = "?"
        frame = sys._getframe(1)
        while frame.f_code.co_filename == delta.__file__:  # scan_days and friends: name their caller
            frame = frame.f_back
        table = str(Path(ref.uri).relative_to(lake_root)) if ref.uri.startswith("/") else ref.uri
        scans[step].add(f"{table} ({Path(frame.f_code.co_filename).stem}.{frame.f_code.co_name})")
        return scan(ref, at_version)

    delta.scan = traced
    return scans


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process, every thread included."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _reset_peak_rss() -> None:
    """Reset the kernel's high-water mark of this process's resident set (Linux >= 4.0)."""
    Path("/proc/self/clear_refs").write_text("5")


def _rss_mb() -> tuple[float, float]:
    status = Path("/proc/self/status").read_text()
    kb = {k: int(re.search(rf"{k}:\s+(\d+) kB", status).group(1)) for k in ("VmHWM", "VmRSS")}
    return kb["VmHWM"] / 1024, kb["VmRSS"] / 1024


PHASES = {"build", "bins", "nightly"}


def phase_arguments(parser: argparse.ArgumentParser, phases: list[str]) -> None:
    """The hidden arguments by which a benchmark runs one of its phases in a fresh process of its own."""
    parser.add_argument("--phase", choices=phases, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--phase-days", help=argparse.SUPPRESS)
    parser.add_argument("--phase-rows", help=argparse.SUPPRESS)


def run_phase(args: argparse.Namespace) -> None:
    config_path = Path(args.workdir) / "monitoring.yaml"
    os.environ["DAGSTER_HOME"] = str(Path(args.workdir) / "dagster_home")
    days = [date.fromisoformat(d) for d in args.phase_days.split(",")] if args.phase_days else []
    if args.phase == "build":
        result = phase_build(config_path, days, [int(n) for n in args.phase_rows.split(",")])
    elif args.phase == "bins":
        result = phase_bins(config_path)
    else:
        result = phase_nightly(config_path, days)
    Path(args.out).write_text(json.dumps(result))


# -- orchestration -------------------------------------------------------------------------------------------------


def measured(workdir: Path, name: str, phase: str, days: list[date], rows: list[int] | None = None) -> dict:
    """Run one phase in a fresh process under `/usr/bin/time -v`; its result plus wall seconds and peak RSS (MB),
    also kept in `<workdir>/<name>.json`."""
    out = workdir / f"{name}.json"
    command = [sys.executable, __file__, "--phase", phase, "--workdir", str(workdir), "--out", str(out)]
    if days:
        command += ["--phase-days", ",".join(d.isoformat() for d in days)]
    if rows:
        command += ["--phase-rows", ",".join(map(str, rows))]
    print(f"{name}: {len(days)} days ...", file=sys.stderr, flush=True)
    load = os.getloadavg()[0]
    started = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-v", *command], stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - started
    if done.returncode:
        sys.stderr.write(done.stderr[-5000:])
        raise SystemExit(f"phase {name} failed ({done.returncode})")
    progress = [line for line in done.stderr.splitlines() if re.match(r"\d{4}-\d\d-\d\d: ", line)]
    if progress:
        print("\n".join(progress[-3:]), file=sys.stderr)
    peak_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1))
    result = json.loads(out.read_text()) | {"wall_s": wall, "peak_mb": peak_kb / 1024, "load_before": load}
    out.write_text(json.dumps(result))
    return result


def lake_gb(workdir: Path) -> float:
    return sum(f.stat().st_size for f in (workdir / "lake").rglob("*") if f.is_file()) / 1e9


DAGSTER = "(Dagster: run minus its steps)"


def _steps(night: dict) -> dict[str, float]:
    steps = {k.removeprefix(f"{TABULAR_MODEL}__"): v for k, v in night["steps_s"].items()}
    return steps | {DAGSTER: night["wall_s"] - sum(steps.values())}


def summarize(workdir: Path, baseline_days: int) -> dict:
    """The figures of a run, from the phases' results in `workdir`."""
    build, bins, backfill = (json.loads((workdir / f"{n}.json").read_text()) for n in ("build", "bins", "backfill"))
    nights = backfill["days"]
    baseline, after = nights[: min(baseline_days, len(nights))], nights[min(baseline_days, len(nights)) :]
    runs_wall = sum(n["wall_s"] for n in nights)
    rows = sum(n["rows_read"] for n in nights)

    def median(part: list[dict], key: str) -> float | None:
        return statistics.median(n[key] for n in part) if part else None

    half = len(after) // 2
    after_peaks = [n["peak_mb"] for n in after]
    steps = defaultdict(list)
    for night in after or nights:
        for step, seconds in _steps(night).items():
            steps[step].append(seconds)
    summary = {
        "build": {k: build.get(k) for k in ("wall_s", "peak_mb", "load_before")} | {"rows": sum(build["rows"])},
        "lake_gb": build.get("lake_gb"),
        "bins": {"baseline_days": baseline_days, "wall_s": bins["wall_s"], "peak_mb": bins["peak_mb"]},
        "backfill": {
            "days": len(nights),
            "first_day": nights[0]["day"],
            "last_day": nights[-1]["day"],
            "rows": rows,
            "runs_wall_s": runs_wall,
            "process_wall_s": backfill["wall_s"],
            "cpu_s": sum(n["cpu_s"] for n in nights),
            "rows_per_s": rows / runs_wall,
            # resetting the high-water mark also resets what `time -v` reports: the process peak is the days' max
            "process_peak_mb": max(backfill["peak_mb"], *(n["peak_mb"] for n in nights)),
            "median_load": median(nights, "load"),
            "baseline_days": {
                "days": len(baseline),
                "median_wall_s": median(baseline, "wall_s"),
                "median_cpu_s": median(baseline, "cpu_s"),
                "max_day_peak_mb": max((n["peak_mb"] for n in baseline), default=None),
            },
            "after_baseline": {
                "days": len(after),
                "median_wall_s": median(after, "wall_s"),
                "max_wall_s": max((n["wall_s"] for n in after), default=None),
                "median_cpu_s": median(after, "cpu_s"),
                "day_peak_min_mb": min(after_peaks, default=None),
                "day_peak_first_half_max_mb": max(after_peaks[:half], default=None),
                "day_peak_second_half_max_mb": max(after_peaks[half:], default=None),
                "day_peak_slope_mb_per_day": float(np.polyfit(np.arange(len(after)), after_peaks, 1)[0])
                if len(after) >= 3
                else None,
                "end_rss_min_mb": min((n["rss_mb"] for n in after), default=None),
                "end_rss_max_mb": max((n["rss_mb"] for n in after), default=None),
            },
            "steps_mean_s": {k: statistics.fmean(v) for k, v in steps.items()},
            "drift_report_reads": sorted(
                {t for n in nights for step, tables in n["scans"].items() if "drift_report" in step for t in tables}
            ),
        },
    }
    if (workdir / "big_day.json").exists():
        big = json.loads((workdir / "big_day.json").read_text())
        night = big["days"][0]
        summary["big_day"] = {
            "day": night["day"],
            "rows": night["rows_read"],
            "run_wall_s": night["wall_s"],
            "cpu_s": night["cpu_s"],
            "load": night["load"],
            "process_wall_s": big["wall_s"],
            "process_peak_mb": big["peak_mb"],
            "rows_per_s": night["rows_read"] / night["wall_s"],
            "steps_s": _steps(night),
        }
    return summary


def markdown(s: dict) -> str:
    b, base, after = s["backfill"], s["backfill"]["baseline_days"], s["backfill"]["after_baseline"]
    build, big = s["build"], s.get("big_day")
    lines = [
        "| what | rows | wall time | per day: wall (CPU) | rows/s | peak memory (RSS) |",
        "|---|---|---|---|---|---|",
        f"| lake build: generate the days, append them to the log and label tables (setup, not counted) | "
        f"{build['rows']:,} | {build['wall_s'] / 60:.1f} min | - | {build['rows'] / build['wall_s']:,.0f} | "
        f"{build['peak_mb']:,.0f} MB |",
        f"| freeze bins from the {s['bins']['baseline_days']}-day baseline (setup, once) | - | "
        f"{s['bins']['wall_s']:.0f} s | - | - | {s['bins']['peak_mb']:,.0f} MB |",
        f"| **backfill: `{TABULAR_MODEL}_nightly` for each of {b['days']} days** | {b['rows']:,} | "
        f"**{b['runs_wall_s'] / 60:.1f} min** (CPU {b['cpu_s'] / 60:.1f} min) | **{_s(after['median_wall_s'])}** "
        f"median after the baseline | {b['rows_per_s']:,.0f} | **{b['process_peak_mb']:,.0f} MB** (whole process) |",
        f"| ... the {base['days']} baseline days | | | {_s(base['median_wall_s'])} ({_s(base['median_cpu_s'])}) | | "
        f"{_mb(base['max_day_peak_mb'])} (a day, max) |",
        f"| ... the {after['days']} days after | | | {_s(after['median_wall_s'])} ({_s(after['median_cpu_s'])}), "
        f"max {_s(after['max_wall_s'])} | | {_mb(after['day_peak_min_mb'])} to "
        f"{_mb(max(after['day_peak_first_half_max_mb'] or 0, after['day_peak_second_half_max_mb'] or 0))} (a day) |",
    ]
    if big:
        lines.append(
            f"| **one {big['rows']:,}-row day, same job** (fresh process) | {big['rows']:,} | "
            f"**{big['run_wall_s']:.0f} s** (CPU {big['cpu_s']:.0f} s; {big['process_wall_s']:.0f} s with start-up) "
            f"| - | {big['rows_per_s']:,.0f} | **{big['process_peak_mb']:,.0f} MB** |"
        )
    lines += [
        "",
        f"Peak RSS of a single day after the baseline (high-water mark reset before each day): first half "
        f"{_mb(after['day_peak_first_half_max_mb'])}, second half {_mb(after['day_peak_second_half_max_mb'])}"
        + (
            f", trend {after['day_peak_slope_mb_per_day']:+.0f} MB a day"
            if after["day_peak_slope_mb_per_day"] is not None
            else ""
        )
        + f"; RSS between days {_mb(after['end_rss_min_mb'])} to {_mb(after['end_rss_max_mb'])}. "
        f"Median load average during the backfill: {b['median_load']:.1f}.",
        "",
        "| step | mean s a day after the baseline |" + (" the big day (s) |" if big else ""),
        "|---|---|" + ("---|" if big else ""),
    ]
    for step, seconds in b["steps_mean_s"].items():
        lines.append(f"| {step} | {seconds:.1f} |" + (f" {big['steps_s'].get(step, 0):.1f} |" if big else ""))
    lines += ["", "Tables the drift_report step scanned: " + ", ".join(f"`{t}`" for t in b["drift_report_reads"]) + "."]
    return "\n".join(lines)


def _s(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.1f} s"


def _mb(mb: float | None) -> str:
    return "-" if mb is None else f"{mb:,.0f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=90, help="days in the backfill")
    parser.add_argument("--rows-per-day", type=int, default=1_000_000)
    parser.add_argument("--day-rows", type=int, default=10_000_000, help="rows of the single large day (0: skip it)")
    parser.add_argument("--baseline-days", type=int, default=7, help="days the bins are frozen from")
    parser.add_argument("--reference-days", type=int, default=28, help="rolling reference window")
    parser.add_argument("--workdir", help="where the lake goes (default: a temp dir); removed afterwards")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (the lake and each phase's results)")
    parser.add_argument("--report-only", action="store_true", help="print the figures of a kept --workdir again")
    parser.add_argument("--json", help="also write the figures here")
    phase_arguments(parser, sorted(PHASES))
    args = parser.parse_args()
    if args.phase:
        run_phase(args)
        return
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="scale-benchmark-"))
    if not args.report_only:
        workdir.mkdir(parents=True, exist_ok=True)
        try:
            measure(args, workdir)
            summary = summarize(workdir, args.baseline_days)
        finally:
            if not args.keep:
                shutil.rmtree(workdir, ignore_errors=True)
    else:
        summary = summarize(workdir, args.baseline_days)
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2))
    print(markdown(summary))


def measure(args: argparse.Namespace, workdir: Path) -> None:
    days = calendar(args.days, 1 if args.day_rows else 0)
    write_config(workdir, days, args.baseline_days, args.reference_days)
    rows = [args.rows_per_day] * args.days + ([args.day_rows] if args.day_rows else [])
    build = measured(workdir, "build", "build", days, rows)
    (workdir / "build.json").write_text(json.dumps(build | {"lake_gb": lake_gb(workdir)}))
    measured(workdir, "bins", "bins", [])
    measured(workdir, "backfill", "nightly", days[: args.days])
    if args.day_rows:
        measured(workdir, "big_day", "nightly", days[args.days :])


if __name__ == "__main__":
    main()
