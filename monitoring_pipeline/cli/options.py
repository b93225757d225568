"""What every family of commands shares: the config options, who acts and when, times on the command line, and
how a table is printed."""

from __future__ import annotations

import argparse
import getpass
import sys
import time
from datetime import UTC, datetime

import polars as pl

from monitoring_pipeline.core.config import ProjectConfig
from monitoring_pipeline.core.errors import MonitoringError

FOUND = 3  # the exit status of a check that ran and found a problem (0 done, 1 error, 2 usage; see `cli.main`)
EXAMPLE = argparse.RawDescriptionHelpFormatter  # keeps an epilog's example on its own lines


class CommandError(MonitoringError, ValueError):
    """A request the command line cannot carry out as given; `main` prints it as one line."""


def config_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="project config (default: $MP_CONFIG, else the shipped monitoring.yaml)")
    parser.add_argument("--lake-root", help="the lake root (default: $MP_LAKE_ROOT, else the configured one)")


def actor_options(parser: argparse.ArgumentParser, reason: bool = True) -> None:
    if reason:
        parser.add_argument(
            "--reason", required=True, type=reason_text, help="why (kept in the registry; its hash in the audit log)"
        )
    parser.add_argument("--by", help="who (default: the current user)")


def config(args: argparse.Namespace) -> ProjectConfig:
    from monitoring_pipeline.io.config_file import config_source, load_config

    return load_config(*config_source(args.config, args.lake_root))


def by(args: argparse.Namespace) -> str:
    return args.by or getpass.getuser()


def now() -> datetime:
    return datetime.now(UTC)


def reason_text(text: str) -> str:
    """A reason: never blank (the audit trail records why)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("a reason cannot be blank: say why")
    return text


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def utc_time(text: str) -> datetime:
    """An ISO 8601 time; without an offset it is read as UTC."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an ISO 8601 time like 2026-10-16T12:00Z, got {text!r}") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def print_frame(frame: pl.DataFrame) -> None:
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=200, fmt_str_lengths=60, tbl_hide_dataframe_shape=True):
        print(frame)
