"""The pipeline's commands: `drift` between two tables, `guard` (list the rules, or run them on a table),
`quarantine release` and the HTML `report` of a model's window."""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path

import polars as pl

from monitoring_pipeline.cli.options import (
    EXAMPLE,
    CommandError,
    actor_options,
    by,
    config,
    config_options,
    emit,
    format_option,
    now,
    positive_int,
    progress,
    render,
)
from monitoring_pipeline.core.config import ProjectConfig


def add(commands: argparse._SubParsersAction) -> None:
    _add_drift(commands)
    _add_guard(commands)
    _add_quarantine(commands)
    _add_report(commands)


def parquet_files(path: str) -> str | None:
    """The Parquet files `path` names: a file, a glob, or a local folder of them (a Hive-partitioned dataset,
    `event_date=.../part.parquet`) as a glob; None: a Delta table."""
    if path.endswith(".parquet") or "*" in path:
        return path
    folder = Path(path)
    if "://" in path or not folder.is_dir() or (folder / "_delta_log").is_dir():
        return None
    return str(folder / "**" / "*.parquet") if next(folder.rglob("*.parquet"), None) else None


def is_parquet(path: str) -> bool:
    """Whether `path` names Parquet files (else a Delta table)."""
    return parquet_files(path) is not None


def read_table(path: str) -> pl.LazyFrame:
    """Parquet files (a file, a glob, a folder of them) or a Delta table directory/URI, lazily."""
    if files := parquet_files(path):
        return pl.scan_parquet(files, hive_partitioning=True)
    from monitoring_pipeline.io.delta import TableRef, exists, scan

    ref = TableRef(path)
    if not exists(ref):
        raise CommandError(f"{path} is neither a Parquet file nor a Delta table")
    return scan(ref)


# -- drift -------------------------------------------------------------------------------------------------------


def _add_drift(commands: argparse._SubParsersAction) -> None:
    drift = commands.add_parser(
        "drift",
        help="drift between two tables (Parquet or Delta), or a model's days judged again from stored profiles",
        description="With --reference and --current: compare CURRENT against REFERENCE column by column (bins "
        "frozen from REFERENCE), no Dagster needed. With --model, --from and --to: judge those days of the model "
        "again from the profiles the pipeline stored, under the settings of --config (a what-if config: other "
        "thresholds, deciding methods or reference window), write nothing, and print how often each column "
        "was judged ok, warn or drift.",
        epilog="example: monitoring-pipeline drift --reference ref.parquet --current data/lake/logs/credit_risk "
        "--features income,channel --format json --output drift.json\n"
        "example: monitoring-pipeline drift --model credit_risk --from 2026-09-01 --to 2026-10-30 "
        "--config whatif.yaml --lake-root data/lake",
        formatter_class=EXAMPLE,
    )
    drift.add_argument("--reference", help="Parquet (a file, glob or folder) or a Delta table path/URI")
    drift.add_argument("--current", help="Parquet (a file, glob or folder) or a Delta table path/URI")
    drift.add_argument(
        "--features",
        help="comma-separated columns (default: every column both share but timestamps, dates, ids and free text)",
    )
    drift.add_argument("--model", help="judge this model's stored days again (with --from and --to)")
    drift.add_argument("--from", dest="first", type=date.fromisoformat, help="first day to judge, YYYY-MM-DD")
    drift.add_argument("--to", dest="last", type=date.fromisoformat, help="last day to judge, YYYY-MM-DD")
    format_option(drift)
    drift.add_argument("--output", help="write to this file instead of standard output")
    drift.add_argument(
        "--fail-on",
        choices=list(FAIL_ON),
        help="exit 3 when a column's verdict is this or worse (warn: warn or drift), for CI (default: exit 0)",
    )
    config_options(drift)
    drift.set_defaults(run=cmd_drift)


def cmd_drift(args: argparse.Namespace) -> int:
    if args.model:
        return _rejudge(args)
    if not (args.reference and args.current):
        raise CommandError("give --reference and --current, or --model with --from and --to")
    from monitoring_pipeline.core.drift.frames import drift_frames, judgeable

    reference, current = read_table(args.reference), read_table(args.current)
    if args.features:
        features = [f.strip() for f in args.features.split(",")]
    else:
        features, skipped = judgeable(reference, current)
        if skipped:
            named = ", ".join(f"{column} ({why})" for column, why in skipped.items())
            progress(f"skipped {named}; name a column in --features to judge it")
    try:
        report = drift_frames(reference, current, features)
    except (KeyError, TypeError) as exc:
        raise CommandError(str(exc)) from None
    frame = report.to_frame().rename({"column": "feature"})
    _write(args, frame.select("feature", "method", "value", "p_value", "threshold", "status", "verdict"), frame)
    return _verdict_exit(args, frame.rename({"feature": "column"}))


def _rejudge(args: argparse.Namespace) -> int:
    if args.first is None or args.last is None or args.first > args.last:
        raise CommandError("--model needs --from and --to, the first day not after the last")
    from monitoring_pipeline.steps.drift import rejudge

    project = config(args)
    model = project.model(args.model)
    frame, skipped = rejudge(project, model, args.first, args.last)
    if frame.is_empty():
        raise CommandError(f"no stored profiles of {model.name} between {args.first} and {args.last}")
    counts = verdict_counts(frame)
    days = frame["day"].n_unique()
    progress(f"{model.name}: {days} days judged again" + (f"; no profiles for {len(skipped)} days" if skipped else ""))
    _write(args, counts, counts)
    return _verdict_exit(args, frame)


FAIL_ON = {"warn": ("warn", "drift"), "drift": ("drift",)}


def _verdict_exit(args: argparse.Namespace, frame: pl.DataFrame) -> int:
    """3 when `--fail-on` is given and a column's verdict reaches it (named on standard error), else 0."""
    if not args.fail_on:
        return 0
    failing = sorted(set(frame.filter(pl.col("verdict").is_in(FAIL_ON[args.fail_on]))["column"].to_list()))
    if failing:
        progress(f"{len(failing)} columns at {args.fail_on} or worse: {', '.join(failing)}")
        return 3
    return 0


def verdict_counts(frame: pl.DataFrame) -> pl.DataFrame:
    """Per column: on how many days it was judged each verdict (a report has one verdict per column and day)."""
    verdicts = frame.select("column", "role", "day", "verdict").unique()
    seen = [c for c in ("drift", "warn") if c in verdicts["verdict"].unique().to_list()]
    counts = verdicts.pivot("verdict", index=["column", "role"], values="day", aggregate_function="len").fill_null(0)
    first = [c for c in ("ok", "warn", "drift") if c in counts.columns]
    return (
        counts.select("column", "role", *first, pl.exclude("column", "role", *first))
        .with_columns(pl.sum_horizontal(pl.exclude("column", "role")).alias("days"))
        .sort([*seen, "column"], descending=[*[True] * len(seen), False])
    )


def _write(args: argparse.Namespace, table: pl.DataFrame, records: pl.DataFrame) -> None:
    """`table` for people, or every column of `records` as json or csv, to --output or standard output."""
    emit(render(table if args.format == "table" else records, args.format), args.output)


# -- guards ------------------------------------------------------------------------------------------------------


def _add_guard(commands: argparse._SubParsersAction) -> None:
    guard = commands.add_parser(
        "guard",
        help="list the guard rules, or run them on a Parquet file or Delta table",
        description="`guard rules` lists every declared rule; `guard INPUT --out DIR` applies a model's rules to "
        "INPUT and writes guard_verdicts, validated_predictions and quarantined_predictions under DIR.",
        epilog="examples:\n  monitoring-pipeline guard rules --model support_summarizer\n"
        "  monitoring-pipeline guard data/lake/logs/support_summarizer --out /tmp/guarded",
        formatter_class=EXAMPLE,
    )
    guard.add_argument("target", help="`rules`, or a Parquet file / Delta table of predictions")
    guard.add_argument("--model", help="whose rules (default: the input's only model_name)")
    guard.add_argument("--out", help="folder for the three output Delta tables (with INPUT)")
    format_option(guard)
    config_options(guard)
    guard.set_defaults(run=cmd_guard)


def cmd_guard(args: argparse.Namespace) -> int:
    project = config(args)
    if args.target == "rules":
        emit(render(_rules(project, args.model), args.format))
        return 0
    from monitoring_pipeline.core.guards.evaluate import evaluate
    from monitoring_pipeline.io.delta import Lake, overwrite

    frame = read_table(args.target).collect()
    model = project.model(args.model or _only_model(frame, args.target))
    result = evaluate(frame, model.guards.rules)
    out = Lake(str(Path(args.out).resolve()))
    for name, table in (
        ("guard_verdicts", result.verdicts),
        ("validated_predictions", result.validated),
        ("quarantined_predictions", result.quarantined),
    ):
        overwrite(out.table(name), table)
    progress(f"{result.n_input} rows: {result.validated.height} validated, {result.quarantined.height} quarantined")
    failures = result.failures_by_rule()
    counts = pl.DataFrame(
        [{"rule": r.id, "severity": r.severity.value, "failed": failures.get(r.id, 0)} for r in model.guards.rules],
        schema={"rule": pl.String, "severity": pl.String, "failed": pl.Int64},
    )
    emit(render(counts, args.format))
    progress(f"tables written under {out.root}")
    return 0


def _only_model(frame: pl.DataFrame, source: str) -> str:
    names = frame["model_name"].unique().to_list() if "model_name" in frame.columns else []
    if len(names) != 1:
        raise CommandError(f"{source} holds models {names}; say which with --model")
    return names[0]


RULES_SCHEMA = {
    "model": pl.String,
    "rule": pl.String,
    "version": pl.Int64,
    "severity": pl.String,
    "check": pl.String,
    "column": pl.String,
    "params": pl.String,
    "max_blocked_share": pl.Float64,
}


def _rules(project: ProjectConfig, model_name: str | None) -> pl.DataFrame:
    """Every declared guard rule of one model or all, with its parameters and the model's blocked-share limit."""
    models = [project.model(model_name)] if model_name else list(project.models.values())
    rows = [
        {
            "model": model.name,
            "rule": rule.id,
            "version": rule.version,
            "severity": rule.severity.value,
            "check": rule.check,
            "column": rule.column,
            "params": json.dumps(dict(rule.params), default=str) if rule.params else "",
            "max_blocked_share": model.guards.max_blocked_share,
        }
        for model in models
        for rule in model.guards.rules
    ]
    return pl.DataFrame(rows, schema=RULES_SCHEMA)


def _add_quarantine(commands: argparse._SubParsersAction) -> None:
    quarantine = commands.add_parser("quarantine", help="act on quarantined predictions")
    quarantine_commands = quarantine.add_subparsers(dest="action", required=True)
    release = quarantine_commands.add_parser(
        "release",
        help="release a false positive: it moves to validated_predictions on the next run of its day",
        description="Record who released a quarantined prediction and why. Nothing is deleted: the verdicts "
        "stay, marked released, and the release itself is kept in reports/quarantine_releases.",
        epilog="example: monitoring-pipeline quarantine release ss-20261006-000000042 "
        "--reason 'ANSI colour codes are allowed in this channel'",
        formatter_class=EXAMPLE,
    )
    release.add_argument("prediction_id", help="the quarantined prediction's id")
    actor_options(release)
    release.add_argument("--model", help="the model (default: search every model's quarantine)")
    config_options(release)
    release.set_defaults(run=cmd_quarantine_release)


def cmd_quarantine_release(args: argparse.Namespace) -> int:
    from monitoring_pipeline.core.errors import MissingInputError
    from monitoring_pipeline.steps.guards import release

    project = config(args)
    models = [project.model(args.model)] if args.model else list(project.models.values())
    for model in models:
        try:
            version = release(project, model, args.prediction_id, args.reason, by(args), now())
        except MissingInputError:
            continue
        if version is None:
            print(f"{args.prediction_id} of {model.name} was released already; nothing new recorded")
            return 0
        print(
            f"released {args.prediction_id} of {model.name} (releases table version {version}); "
            "it moves to validated_predictions on the next materialization of its day"
        )
        return 0
    raise CommandError(
        f"prediction {args.prediction_id!r} is not in any quarantine"
        + (f" of model {args.model}" if args.model else "")
    )


# -- report ------------------------------------------------------------------------------------------------------


def _add_report(commands: argparse._SubParsersAction) -> None:
    report = commands.add_parser(
        "report",
        help="write one self-contained HTML report of a model's window (pictures, drift, guards, performance)",
        description="One HTML file with no external script, font or image: the drift heatmap of the window, the "
        "day's worst-drifting columns against their reference and its drift table, output trends, guard failure "
        "rates by rule, realized and estimated accuracy, the releases in the window and the open tickets. "
        "Attach it to a ticket or send it to an auditor; it opens offline.",
        epilog="example: monitoring-pipeline report --model credit_risk --date 2026-10-30 --days 60 "
        "--out credit_risk-2026-10-30.html",
        formatter_class=EXAMPLE,
    )
    report.add_argument("--model", required=True, help="the model, as named in the config")
    report.add_argument("--date", required=True, type=date.fromisoformat, help="the last day of the window, YYYY-MM-DD")
    report.add_argument("--days", type=positive_int, default=28, help="how many days the window spans (default 28)")
    report.add_argument("--out", required=True, help="the HTML file to write")
    config_options(report)
    report.set_defaults(run=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    from monitoring_pipeline.viz.report import report_html

    project = config(args)
    model = project.model(args.model)
    progress(f"building the report of {model.name} for the {args.days} days to {args.date}")
    text = report_html(project, model, args.date, args.days, progress)
    Path(args.out).write_text(text, encoding="utf-8")
    progress(f"wrote {args.out} ({len(text.encode()) / 1e6:.2f} MB)")
    return 0
