"""Starting with one's own model: `init` proposes a commented config from the model's log (Delta or Parquet) and
labels, so nobody copies the demo's and guesses; `run` monitors a range of its days through Dagster."""

from __future__ import annotations

import argparse
import difflib
import os
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl

from monitoring_pipeline.cli.options import EXAMPLE, CommandError, config, config_options, progress
from monitoring_pipeline.cli.pipeline import is_parquet, read_table

SAMPLE_ROWS = 10_000  # rows of the log the column roles are read from
LABEL_SAMPLE = 100_000  # labels the label settings are read from


def add(commands: argparse._SubParsersAction) -> None:
    init = commands.add_parser(
        "init",
        help="propose a commented config for your own model from its log (and labels)",
        description="Read the log's schema, a sample and its rows per day (and the labels): write a config naming "
        "features and outputs by type, the columns left out and why, a baseline from the first two weeks, a "
        "reference that compares like weekdays when volumes follow the week, and the label settings with "
        "positive_label in the labels' own type. A Parquet log (or labels) is copied into a Delta table under "
        "--lake-root first: the pipeline pins what it judged to Delta versions.",
        epilog="example: monitoring-pipeline init --log data/lake/logs/churn --labels data/lake/labels/churn "
        "--model churn --out churn.yaml",
        formatter_class=EXAMPLE,
    )
    init.add_argument(
        "--log",
        required=True,
        help="the prediction log: a Delta table path, or Parquet: a file, a glob or a folder of files",
    )
    init.add_argument("--model", help="the model, as the log's model_name says (default: the log's only one)")
    init.add_argument("--labels", help="the label table (prediction_id, label, label_ts): Delta or Parquet")
    init.add_argument("--label-column", default="label", help="the labels' column holding the truth (default label)")
    init.add_argument("--out", default="monitoring.yaml", help="the config to write (default monitoring.yaml)")
    init.add_argument(
        "--lake-root", help="where Parquet input is copied to and reports go (default: the Delta log's folder)"
    )
    init.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    init.set_defaults(run=cmd_init)
    run = commands.add_parser(
        "run",
        help="monitor a range of a model's days through Dagster: bins, reference profiles, then each day",
        description="Freeze the model's bins, profile its fixed reference days, then run its nightly job for every "
        "day from --from to --to (default: the model's first day to the log's last), in order, in this process: "
        "each run is recorded in the Dagster instance ($DAGSTER_HOME, else the project's dagster_home) the UI "
        "reads. A day run again is replaced, never doubled; a failing day stops the range and names it, and "
        "--resume then goes on from it.",
        epilog="example: monitoring-pipeline run --model churn --from 2026-01-01 --to 2026-03-31 --config churn.yaml",
        formatter_class=EXAMPLE,
    )
    run.add_argument("--model", required=True, help="the model, as the config names it")
    run.add_argument("--from", dest="first", type=date.fromisoformat, help="first day, YYYY-MM-DD")
    run.add_argument(
        "--to", dest="last", type=date.fromisoformat, help="last day, YYYY-MM-DD (inclusive; default: the log's last)"
    )
    run.add_argument(
        "--resume", action="store_true", help="skip the days whose nightly run already succeeded (after a stop)"
    )
    config_options(run)
    run.set_defaults(run=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    from monitoring_pipeline.io.config_file import PROJECT_ROOT, config_source

    if args.first and args.last and args.first > args.last:
        raise CommandError(f"--from {args.first} is after --to {args.last}; give the earlier day first")
    path, lake_root = config_source(args.config, args.lake_root)
    config(args).model(args.model)  # an unknown model is named before anything runs
    os.environ.setdefault("DAGSTER_HOME", str(PROJECT_ROOT / "dagster_home"))
    from monitoring_pipeline.defs.runner import run_model

    started = time.perf_counter()
    days = run_model(Path(path), lake_root, args.model, args.first, args.last, progress, args.resume)
    progress(f"{args.model}: {days} daily partitions materialized in {time.perf_counter() - started:.0f} s")
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    from monitoring_pipeline.core import proposal as propose
    from monitoring_pipeline.core.contract import ID, MODEL, TS, VERSION
    from monitoring_pipeline.io.config_file import load_config, proposal_yaml

    out = Path(args.out).resolve()
    if out.exists() and not args.force:
        raise CommandError(f"{out} exists; give another --out, or --force to replace it")
    log = read_table(args.log)
    schema = log.collect_schema()
    _require(schema, propose.CONTRACT, args.log, "the prediction log")
    for column in (ID, MODEL, VERSION):
        if schema[column] != pl.String:
            raise CommandError(
                f"{args.log}: column {column} is {schema[column]}; the log contract wants text (in Polars: "
                f"pl.col('{column}').cast(pl.String)), and labels name predictions by the same text id"
            )
    args.model = _model_name(log, args)
    _require_zone(schema, TS, args.log, " so a day means the same UTC day everywhere")
    plan = propose.Proposal()
    progress(f"reading {args.log}: a sample of {SAMPLE_ROWS:,} rows and the rows per day")
    sample = log.head(SAMPLE_ROWS).collect()
    propose.propose_columns(sample, plan)
    propose.propose_guards(sample, plan)
    daily = log.group_by(pl.col(TS).dt.convert_time_zone("UTC").dt.date().alias("day")).agg(pl.len().alias("rows"))
    daily = daily.collect()
    if daily.is_empty():
        raise CommandError(f"{args.log} holds no rows: a config is proposed from what a log holds")
    propose.propose_windows(daily, plan)
    root, tables = _lake(args, out)
    if args.labels:
        labels = read_table(args.labels)
        label_schema = labels.collect_schema()
        _require(label_schema, (ID, args.label_column, "label_ts"), args.labels, "the label table")
        _require_zone(label_schema, "label_ts", args.labels, ": a label counts from when it arrived")
        some = labels.select(ID, pl.col(args.label_column).alias("label")).head(LABEL_SAMPLE)
        score = propose.score_column(plan)
        scored = some.join(log.select(ID, pl.col(score).alias("score")), on=ID).collect() if score else None
        propose.propose_labels(some.collect(), scored, plan, tables(args.labels, "labels"), args.label_column)
    text = proposal_yaml(
        args.model, root, tables(args.log, "logs"), plan, Path(args.log).name, datetime.now(UTC).date()
    )
    out.write_text(text)
    config = load_config(out)  # the proposal parses as a config, or this is a bug to report
    model = config.model(args.model)
    progress(
        f"wrote {out}: {len(model.columns_with_role('feature'))} features, "
        f"{len(model.columns_with_role('output'))} outputs, {len(plan.left_out)} columns left out"
    )
    print(f"next: monitoring-pipeline run --model {args.model} --config {args.out}")
    return 0


def _model_name(log: pl.LazyFrame, args: argparse.Namespace) -> str:
    """The model the log's `model_name` names (the contract sets other models' rows aside)."""
    from monitoring_pipeline.core.contract import MODEL

    names = sorted(str(n) for n in log.select(pl.col(MODEL).drop_nulls().unique()).collect()[MODEL].to_list())
    if args.model is None and len(names) != 1:
        raise CommandError(f"{args.log} holds models {names[:10]}; say which with --model")
    model = args.model or names[0]
    if model not in names:
        raise CommandError(f"{args.log} holds no rows of model {model!r} (model_name holds {names[:10]})")
    if not model.replace("_", "").replace("-", "").isalnum():
        raise CommandError(f"model name {model!r}: the config needs letters, digits, _ and - only")
    return model


def _require_zone(schema: pl.Schema, column: str, source: str, why: str) -> None:
    """A timestamp column with a time zone, else one line naming the cast."""
    if getattr(schema[column], "time_zone", None) is None:
        raise CommandError(
            f"{source}: column {column} is {schema[column]}, with no time zone; store it as UTC (in Polars: "
            f"pl.col('{column}').dt.replace_time_zone('UTC')){why}"
        )


def _require(schema: pl.Schema, columns: tuple[str, ...], source: str, what: str) -> None:
    missing = [c for c in columns if c not in schema]
    if missing:
        near = {c: difflib.get_close_matches(c, list(schema), n=1, cutoff=0.5) for c in missing}
        named = ", ".join(f"{c}" + (f" (nearest: {near[c][0]})" if near[c] else "") for c in missing)
        raise CommandError(f"{source}: {what} lacks {named}; README's table contracts say what each holds")


def _lake(args: argparse.Namespace, out: Path) -> tuple[str, Callable[[str, str], str]]:
    """The lake root as the config says it (relative to the config's folder when local) and how a given table
    is named in it: a Delta table under the root by its relative path; Parquet copied into `<kind>/<model>`."""
    if any("://" in p for p in (args.log, args.labels, args.lake_root) if p):
        raise CommandError(
            "init reads local tables (paths); for a lake on an object store, write the config from README's "
            "minimal one, with lake.root the store's prefix"
        )
    delta_inputs = [p for p in (args.log, args.labels) if p and not is_parquet(p)]
    if args.lake_root:
        root = Path(args.lake_root).resolve()
    elif delta_inputs:
        root = Path(os.path.commonpath([str(Path(p).resolve().parent) for p in delta_inputs]))
        root = root.parent if root.name in ("logs", "labels") else root  # a lake laid out as logs/<model>
    else:
        root = out.parent / "lake"

    def table(path: str, kind: str) -> str:
        if is_parquet(path):
            return _copy_into_delta(path, root, f"{kind}/{args.model}")
        resolved = Path(path).resolve()
        if root not in resolved.parents:
            raise CommandError(f"{path} is not under the lake root {root}; give --lake-root a folder holding it")
        return str(resolved.relative_to(root))

    shown = os.path.relpath(root, out.parent)
    return shown, table


def _copy_into_delta(path: str, root: Path, name: str) -> str:
    from monitoring_pipeline.core.contract import TS
    from monitoring_pipeline.io.delta import Lake, exists, overwrite

    ref = Lake(str(root)).table(name)
    if exists(ref):
        raise CommandError(f"{ref} exists already; point --log/--labels at it, or choose another --lake-root")
    frame = read_table(path)
    partition = ["event_date"] if TS in frame.collect_schema() else None
    if partition:  # the UTC day, as the pipeline reads a day
        frame = frame.with_columns(pl.col(TS).dt.convert_time_zone("UTC").dt.date().alias("event_date"))
    rows = frame.select(pl.len()).collect().item()
    progress(f"copying {path} ({rows:,} rows) into the Delta table {ref}, in batches")
    overwrite(ref, frame, partition_by=partition)
    return name
