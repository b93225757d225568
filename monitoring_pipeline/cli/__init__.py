"""`monitoring-pipeline`: the command line, one module per family of commands — `pipeline` (drift, guard,
quarantine, report), `registry` (models, features, prompts), `review` (tickets, changes, trace, audit) and `demo`
— each parser beside the command it runs. Heavy imports (dagster) happen inside the commands that need them, so
`monitoring-pipeline drift` starts fast.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from monitoring_pipeline.core.errors import MonitoringError


def build_parser() -> argparse.ArgumentParser:
    from monitoring_pipeline.cli import demo, pipeline, registry, review

    parser = argparse.ArgumentParser(prog="monitoring-pipeline", description="ML monitoring over Delta Lake.")
    commands = parser.add_subparsers(dest="command", required=True)
    for family in (pipeline, registry, review, demo):
        family.add(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. A refusal or a mistake in the data, config or request is one line on standard error and
    exit status 1, never a traceback."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except MonitoringError as exc:
        raise SystemExit(f"error: {exc}") from None
