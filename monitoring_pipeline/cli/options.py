"""What every family of commands shares: the config options, who acts and when, times on the command line, and
the one output grammar: `--format table|json|csv` (csv where the data is one table), data on standard output,
progress and errors on standard error, tables cut to the terminal's width only on a terminal, no colour codes."""

from __future__ import annotations

import argparse
import getpass
import json
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from monitoring_pipeline.core.config import SIGNED, ProjectConfig
from monitoring_pipeline.core.errors import MonitoringError

FOUND = 3  # the exit status of a check that ran and found a problem (0 done, 1 error, 2 usage; see `cli.main`)
EXAMPLE = argparse.RawDescriptionHelpFormatter  # keeps an epilog's example on its own lines


class CommandError(MonitoringError, ValueError):
    """A request the command line cannot carry out as given; `main` prints it as one line."""


def config_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="project config (default: $MP_CONFIG, else the shipped monitoring.yaml)")
    parser.add_argument("--lake-root", help="the lake root (default: $MP_LAKE_ROOT, else the configured one)")


def actor_options(parser: argparse.ArgumentParser, reason: bool = True) -> None:
    """`--reason` (when the action needs one), `--by` and `--key`: who acts, why, and the key proving it."""
    if reason:
        parser.add_argument(
            "--reason", required=True, type=reason_text, help="why (kept in the registry; its hash in the audit log)"
        )
    parser.add_argument("--by", help="who (default: the --key's principal when identities are signed, else the user)")
    parser.add_argument(
        "--key",
        help="your ed25519 SSH private key, which signs the action when governance.identity is signed "
        "(default: $MP_SIGNING_KEY; a passphrase from $MP_SIGNING_PASSPHRASE)",
    )


def config(args: argparse.Namespace) -> ProjectConfig:
    from monitoring_pipeline.io.config_file import config_source, load_config

    return load_config(*config_source(args.config, args.lake_root))


def by(args: argparse.Namespace) -> str:
    """Who acts: `--by`, else the principal the signing key belongs to (signed identities), else the user."""
    if args.by:
        return args.by
    governance = config(args).governance
    if governance.identity == SIGNED:
        from monitoring_pipeline.registry.signatures import principal

        return principal(governance)  # the key `main` set from --key, else $MP_SIGNING_KEY
    return getpass.getuser()


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


def format_option(parser: argparse.ArgumentParser, tabular: bool = True) -> None:
    """`--format`: `table` for people, `json` (and `csv` when the data is one table) for programs."""
    choices = ["table", "json", "csv"] if tabular else ["table", "json"]
    parser.add_argument(
        "--format", choices=choices, default="table", help=f"{' | '.join(choices)} (default table: for people)"
    )


def emit(text: str, output: str | None = None) -> None:
    """Data to `output` (a file) or standard output."""
    if output:
        Path(output).write_text(text + "\n")
    else:
        print(text)


def render(frame: pl.DataFrame, fmt: str) -> str:
    """`frame` as `fmt`: json records, csv (nested values flattened) or an aligned table."""
    if fmt == "json":
        return json.dumps(frame.to_dicts(), indent=2, default=str)
    if fmt == "csv":
        return _flat(frame).write_csv().rstrip("\n")
    return table_text(frame)


def table_text(frame: pl.DataFrame, width: int | None = None) -> str:
    """An aligned plain-text table. On a terminal the widest columns are cut (ending in `…`) until a row fits its
    width; piped, every value is whole."""
    if width is None and sys.stdout.isatty():
        width = shutil.get_terminal_size((120, 24)).columns
    floats = [pl.col(n).round_sig_figs(6) for n, t in frame.schema.items() if t.is_float()]
    cells = _flat(frame.with_columns(floats)).select(pl.all().cast(pl.String).fill_null("")).rows()
    headers = list(frame.columns)
    numeric = [t.is_numeric() for t in frame.dtypes]
    sizes = [max([len(h), *(len(row[i]) for row in cells)]) for i, h in enumerate(headers)]
    while width and sum(sizes) + 2 * (len(sizes) - 1) > width and max(sizes) > 8:
        sizes[sizes.index(max(sizes))] -= 1

    def line(values: list[str] | tuple[str, ...]) -> str:
        fitted = (v if len(v) <= n else v[: n - 1] + "…" for v, n in zip(values, sizes, strict=True))
        aligned = (v.rjust(n) if right else v.ljust(n) for v, n, right in zip(fitted, sizes, numeric, strict=True))
        return "  ".join(aligned).rstrip()

    return "\n".join([line(headers), *(line(row) for row in cells)])


def _flat(frame: pl.DataFrame) -> pl.DataFrame:
    """Lists joined with `; ` and structs as JSON: every value one text cell."""
    return frame.with_columns(
        [pl.col(n).cast(pl.List(pl.String)).list.join("; ") for n, t in frame.schema.items() if t == pl.List]
        + [pl.col(n).struct.json_encode() for n, t in frame.schema.items() if t == pl.Struct]
    )
