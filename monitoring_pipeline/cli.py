"""`monitoring-pipeline`: the command line. Heavy imports (dagster) happen inside the commands that need them,
so `monitoring-pipeline drift` starts fast.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import polars as pl


def _progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- drift -------------------------------------------------------------------------------------------------------


def read_table(path: str) -> pl.LazyFrame:
    """A Parquet file (or glob) or a Delta table directory/URI, lazily."""
    if path.endswith(".parquet") or "*" in path:
        return pl.scan_parquet(path)
    from monitoring_pipeline.io.delta import TableRef, exists, scan

    ref = TableRef(path)
    if not exists(ref):
        raise SystemExit(f"error: {path} is neither a Parquet file nor a Delta table")
    return scan(ref)


def cmd_drift(args: argparse.Namespace) -> int:
    from monitoring_pipeline.core.drift.frames import drift_frames

    features = [f.strip() for f in args.features.split(",")] if args.features else None
    try:
        report = drift_frames(read_table(args.reference), read_table(args.current), features)
    except (KeyError, TypeError) as exc:
        raise SystemExit(f"error: {exc}") from None
    frame = report.to_frame().rename({"column": "feature"})
    if args.format == "json":
        text = json.dumps(frame.to_dicts(), indent=2, default=str)
    else:
        with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=160, tbl_hide_dataframe_shape=True):
            text = str(frame.select("feature", "method", "value", "p_value", "threshold", "status", "verdict"))
    if args.output:
        Path(args.output).write_text(text + "\n")
    else:
        print(text)
    return 0


# -- demo --------------------------------------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    from monitoring_pipeline.io.config_file import DEFAULT_CONFIG, PROJECT_ROOT, load_config

    os.environ.setdefault("DAGSTER_HOME", str(PROJECT_ROOT / "dagster_home"))
    from monitoring_pipeline.demo.lake import build_demo_lake
    from monitoring_pipeline.demo.run import materialize_all, summary_lines

    config_path = Path(args.config or DEFAULT_CONFIG).resolve()
    config = load_config(config_path, args.lake_root)
    started = time.perf_counter()
    rows = build_demo_lake(config, args.scale, _progress)
    _progress("lake written: " + ", ".join(f"{table} {n:,} rows" for table, n in rows.items()))
    materialize_all(config_path, args.lake_root, _progress)
    print("\n".join(summary_lines(config)))
    print(f"\nDone in {time.perf_counter() - started:.0f} s. Lake: {config.lake.root}")
    lake_env = f"MP_LAKE_ROOT={args.lake_root} " if args.lake_root else ""
    print(
        "Open the Dagster UI on this lake:\n"
        f"  {lake_env}MP_CONFIG={config_path} DAGSTER_HOME={os.environ['DAGSTER_HOME']} "
        "uv run dagster dev -w workspace.yaml"
    )
    return 0


# -- parser ------------------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="monitoring-pipeline", description="ML monitoring over Delta Lake.")
    commands = parser.add_subparsers(dest="command", required=True)

    drift = commands.add_parser(
        "drift",
        help="drift between two tables (Parquet or Delta), no Dagster needed",
        description="Compare CURRENT against REFERENCE column by column (bins frozen from REFERENCE).",
        epilog="example: monitoring-pipeline drift --reference ref.parquet --current data/lake/logs/credit_risk "
        "--features income,channel --format json --output drift.json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    drift.add_argument("--reference", required=True, help="Parquet file or Delta table path/URI")
    drift.add_argument("--current", required=True, help="Parquet file or Delta table path/URI")
    drift.add_argument("--features", help="comma-separated columns (default: every column both share)")
    drift.add_argument("--format", choices=["json", "table"], default="table")
    drift.add_argument("--output", help="write to this file instead of standard output")
    drift.set_defaults(run=cmd_drift)

    demo = commands.add_parser(
        "demo",
        help="build the demo lake and materialize every partition of every asset through Dagster",
        description="Write 60 days of demo logs under the lake root, materialize every asset, print a summary.",
        epilog="example: monitoring-pipeline demo --scale 0.5",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument("--config", help="project config (default: the shipped monitoring.yaml)")
    demo.add_argument("--lake-root", help="write the lake here instead of the configured root")
    demo.add_argument("--scale", type=float, default=1.0, help="multiply the demo's rows per day (default 1.0)")
    demo.set_defaults(run=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
