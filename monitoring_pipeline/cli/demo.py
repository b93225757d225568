"""`monitoring-pipeline demo`: build the demo lake, record its registry history by replaying the commands a team
would type, materialize every partition through Dagster and print what happened."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import time
from collections.abc import Callable
from pathlib import Path

from monitoring_pipeline.cli.options import EXAMPLE
from monitoring_pipeline.core.config import ProjectConfig


def add(commands: argparse._SubParsersAction) -> None:
    demo = commands.add_parser(
        "demo",
        help="build the demo lake and materialize every partition of every asset through Dagster",
        description="Write 60 days of demo logs under the lake root, materialize every asset, print a summary.",
        epilog="example: monitoring-pipeline demo --scale 0.5",
        formatter_class=EXAMPLE,
    )
    demo.add_argument("--config", help="project config (default: the shipped monitoring.yaml)")
    demo.add_argument("--lake-root", help="write the lake here instead of the configured root")
    demo.add_argument("--scale", type=float, default=1.0, help="multiply the demo's rows per day (default 1.0)")
    demo.set_defaults(run=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    from monitoring_pipeline.cli.options import progress
    from monitoring_pipeline.io.config_file import DEFAULT_CONFIG, PROJECT_ROOT, load_config

    os.environ.setdefault("DAGSTER_HOME", str(PROJECT_ROOT / "dagster_home"))
    from monitoring_pipeline.demo.lake import build_demo_lake
    from monitoring_pipeline.demo.run import first_fired_lines, materialize_all, summary_lines, ticket_lines

    config_path = Path(args.config or DEFAULT_CONFIG).resolve()
    config = load_config(config_path, args.lake_root)
    started = time.perf_counter()
    rows = build_demo_lake(config, args.scale, progress)
    progress("lake written: " + ", ".join(f"{table} {n:,} rows" for table, n in rows.items()))
    record_demo_registry(config, config_path, progress)
    runs = materialize_all(config_path, args.lake_root, progress)
    print("\n".join(summary_lines(config) + first_fired_lines(runs) + ticket_lines(config)))
    print(f"\nDone in {time.perf_counter() - started:.0f} s. Lake: {config.lake.root}")
    lake_env = f"MP_LAKE_ROOT={args.lake_root} " if args.lake_root else ""
    print(
        "Open the Dagster UI on this lake:\n"
        f"  {lake_env}MP_CONFIG={config_path} DAGSTER_HOME={os.environ['DAGSTER_HOME']} "
        "uv run dagster dev -w workspace.yaml"
    )
    return 0


def record_demo_registry(config: ProjectConfig, config_path: Path, progress: Callable[[str], None]) -> int:
    """Type the demo's registry history: every command of `demo.registry.registry_commands`, through `main`;
    returns how many ran."""
    from monitoring_pipeline.cli import main
    from monitoring_pipeline.demo.registry import registry_commands

    commands = registry_commands(config, config_path)
    progress(f"recording the registry: {len(commands)} commands (models, features, prompts, releases)")
    for argv in commands:
        with contextlib.redirect_stdout(io.StringIO()):  # each command prints a one-line confirmation
            main(argv)
    return len(commands)
