"""`monitoring-pipeline`: the command line, one module per family of commands — `start` (init), `pipeline`
(drift, guard, quarantine, report), `registry` (models, features, prompts), `review` (tickets, changes, trace,
audit) and `demo` — each parser beside the command it runs. Heavy imports (dagster) happen inside the commands
that need them, so `monitoring-pipeline drift` starts fast.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext

from monitoring_pipeline.core.errors import MonitoringError

DEBUG_ENV = "MP_DEBUG"  # set to see the traceback behind an `error:` line


def build_parser() -> argparse.ArgumentParser:
    from monitoring_pipeline.cli import demo, pipeline, registry, review, start

    parser = argparse.ArgumentParser(prog="monitoring-pipeline", description="ML monitoring over Delta Lake.")
    parser.add_argument("--version", action=_Version, nargs=0, help="print the version and exit")
    commands = parser.add_subparsers(dest="command", required=True)
    for family in (start, pipeline, registry, review, demo):
        family.add(commands)
    return parser


class _Version(argparse.Action):
    """`--version`, looked up only when asked (reading the installed metadata costs every command 50 ms)."""

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        from importlib.metadata import version

        print(f"{parser.prog} {version('monitoring-pipeline')}")
        parser.exit()


def _signing(key: str | None) -> AbstractContextManager[None]:
    """Custody actions signed with `--key` (imported only when given: `$MP_SIGNING_KEY` is read where they sign)."""
    if key is None:
        return nullcontext()
    from monitoring_pipeline.registry.signatures import signing_with

    return signing_with(key)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. Exit 0 when done; 1 with one `error:` line on standard error for a refusal or a mistake in
    the data, config, files or request (never a traceback; `MP_DEBUG=1` shows it); 2 for a command line argparse
    cannot read; 3 when a check (`audit verify`, `models verify`) ran and found a problem."""
    args = build_parser().parse_args(argv)
    try:
        with _signing(getattr(args, "key", None)):
            return args.run(args)
    except MonitoringError as exc:
        _debug()
        raise SystemExit(f"error: {exc}") from None
    except OSError as exc:  # a file the command was given, or told to write, that the system refuses
        _debug()
        where = f": {exc.filename}" if exc.filename else ""
        raise SystemExit(f"error: {exc.strerror or exc}{where}; check the path and its permissions") from None
    except BaseException as exc:
        if type(exc).__name__ != "PanicException":  # pyo3's: a Rust reader gave up on a damaged file
            raise
        _debug()
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "a data file could not be read"
        raise SystemExit(
            f"error: a Delta data file could not be read ({first}); `monitoring-pipeline audit verify` names the "
            "damaged file"
        ) from None


def _debug() -> None:
    if os.environ.get(DEBUG_ENV):
        raise
