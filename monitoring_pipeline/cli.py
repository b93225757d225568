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


# -- guards ------------------------------------------------------------------------------------------------------


def _config(args: argparse.Namespace):
    from monitoring_pipeline.io.config_file import DEFAULT_CONFIG, load_config

    return load_config(args.config or DEFAULT_CONFIG, args.lake_root)


def cmd_guard(args: argparse.Namespace) -> int:
    config = _config(args)
    if args.target == "rules":
        return _print_rules(config, args.model)
    from monitoring_pipeline.core.guards.evaluate import evaluate
    from monitoring_pipeline.io.delta import Lake, overwrite

    frame = read_table(args.target).collect()
    model = config.model(args.model or _only_model(frame, args.target))
    result = evaluate(frame, model.guards.rules)
    out = Lake(str(Path(args.out).resolve()))
    for name, table in (
        ("guard_verdicts", result.verdicts),
        ("validated_predictions", result.validated),
        ("quarantined_predictions", result.quarantined),
    ):
        overwrite(out.table(name), table)
    print(f"{result.n_input} rows: {result.validated.height} validated, {result.quarantined.height} quarantined")
    failures = result.failures_by_rule()
    for rule in model.guards.rules:
        print(f"  {rule.id:<32} {rule.severity.value:<6} {failures.get(rule.id, 0):>8} failed")
    print(f"tables written under {out.root}")
    return 0


def _only_model(frame: pl.DataFrame, source: str) -> str:
    names = frame["model_name"].unique().to_list() if "model_name" in frame.columns else []
    if len(names) != 1:
        raise SystemExit(f"error: {source} holds models {names}; say which with --model")
    return names[0]


def _print_rules(config, model_name: str | None) -> int:
    models = [config.model(model_name)] if model_name else list(config.models.values())
    for model in models:
        print(f"{model.name} (blocked share limit {model.guards.max_blocked_share:.0%})")
        for rule in model.guards.rules:
            params = json.dumps(dict(rule.params), default=str) if rule.params else ""
            severity = rule.severity.value
            print(f"  {rule.id:<32} v{rule.version:<3} {severity:<6} {rule.check:<16} {rule.column:<18} {params}")
    return 0


def cmd_quarantine_release(args: argparse.Namespace) -> int:
    import getpass
    from datetime import UTC, datetime

    from monitoring_pipeline.steps import release

    config = _config(args)
    models = [config.model(args.model)] if args.model else list(config.models.values())
    for model in models:
        try:
            version = release(
                config, model, args.prediction_id, args.reason, args.by or getpass.getuser(), datetime.now(UTC)
            )
        except LookupError:
            continue
        print(
            f"released {args.prediction_id} of {model.name} (releases table version {version}); "
            "it moves to validated_predictions on the next materialization of its day"
        )
        return 0
    raise SystemExit(
        f"error: prediction {args.prediction_id!r} is not in any quarantine"
        + (f" of model {args.model}" if args.model else "")
    )


def cmd_models_register(args: argparse.Namespace) -> int:
    import getpass
    from datetime import UTC, datetime

    from monitoring_pipeline.core.slices import FilterError
    from monitoring_pipeline.registry.models import RegistryError, register

    try:
        row = register(
            _config(args),
            args.name,
            args.version,
            Path(args.artifact),
            args.train_table,
            args.train_filter or "",
            args.parent,
            args.by or getpass.getuser(),
            datetime.now(UTC),
        )
    except (RegistryError, FilterError) as exc:
        raise SystemExit(f"error: {exc}") from None
    print(
        f"registered {args.name} {args.version}: artifact {row['artifact_sha256'][:12]}..., training slice "
        f"{row['train_table']}@v{row['train_table_version']} ({row['train_rows']} rows, "
        f"content {row['train_content_sha256'][:12]}...)"
    )
    return 0


def cmd_models_verify(args: argparse.Namespace) -> int:
    from monitoring_pipeline.registry.models import RegistryError, verify

    try:
        problems = verify(_config(args), args.name, args.version)
    except RegistryError as exc:
        raise SystemExit(f"error: {exc}") from None
    if not problems:
        print(f"{args.name} {args.version}: artifact and training slice match what was registered")
        return 0
    print("\n".join([f"{args.name} {args.version} does NOT match its registration:", *problems]))
    return 1


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from monitoring_pipeline.registry.audit_log import verify_audit

    result = verify_audit(_config(args))
    if result.ok:
        print(f"audit log verified: {result.entries} entries, chain and pinned Delta commits intact")
        return 0
    print(f"audit log BROKEN at seq {result.first_bad_seq}: {result.problem} ({result.entries} entries)")
    return 1


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

    guard = commands.add_parser(
        "guard",
        help="list the guard rules, or run them on a Parquet file or Delta table",
        description="`guard rules` lists every declared rule; `guard INPUT --out DIR` applies a model's rules to "
        "INPUT and writes guard_verdicts, validated_predictions and quarantined_predictions under DIR.",
        epilog="examples:\n  monitoring-pipeline guard rules --model support_summarizer\n"
        "  monitoring-pipeline guard data/lake/logs/support_summarizer --out /tmp/guarded",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    guard.add_argument("target", help="`rules`, or a Parquet file / Delta table of predictions")
    guard.add_argument("--model", help="whose rules (default: the input's only model_name)")
    guard.add_argument("--out", help="folder for the three output Delta tables (with INPUT)")
    _config_options(guard)
    guard.set_defaults(run=cmd_guard)

    quarantine = commands.add_parser("quarantine", help="act on quarantined predictions")
    quarantine_commands = quarantine.add_subparsers(dest="action", required=True)
    release = quarantine_commands.add_parser(
        "release",
        help="release a false positive: it moves to validated_predictions on the next run of its day",
        description="Record who released a quarantined prediction and why. Nothing is deleted: the verdicts "
        "stay, marked released, and the release itself is kept in reports/quarantine_releases.",
        epilog="example: monitoring-pipeline quarantine release ss-20261006-000000042 "
        "--reason 'ANSI colour codes are allowed in this channel'",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    release.add_argument("prediction_id")
    release.add_argument("--reason", required=True, help="why this is a false positive")
    release.add_argument("--by", help="who releases it (default: the current user)")
    release.add_argument("--model", help="the model (default: search every model's quarantine)")
    _config_options(release)
    release.set_defaults(run=cmd_quarantine_release)

    models = commands.add_parser("models", help="model checkpoints tied to their training slice")
    model_commands = models.add_subparsers(dest="action", required=True)
    register = model_commands.add_parser(
        "register",
        help="record a checkpoint: artifact hash, training table version, slice filter, rows and content hash",
        description="Register NAME VERSION once. The training slice is pinned to the table's current Delta "
        "version; the filter is a conjunction of `column op value` (op: == != >= <= > <), parsed, never "
        "interpolated.",
        epilog="example: monitoring-pipeline models register credit_risk 1.1 --artifact model.bin "
        "--train-table logs/credit_risk --train-filter \"event_date >= '2026-09-01' and event_date <= "
        "'2026-09-21'\" --parent 1.0",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    register.add_argument("name")
    register.add_argument("version")
    register.add_argument("--artifact", required=True, help="the model file")
    register.add_argument("--train-table", required=True, help="a lake table name, e.g. logs/credit_risk")
    register.add_argument("--train-filter", help="the slice, e.g. \"event_date <= '2026-09-21'\"")
    register.add_argument("--parent", help="the version this one was derived from")
    register.add_argument("--by", help="who registers it (default: the current user)")
    _config_options(register)
    register.set_defaults(run=cmd_models_register)
    model_verify = model_commands.add_parser(
        "verify",
        help="re-read the training slice through Delta time travel and re-hash the artifact",
        epilog="example: monitoring-pipeline models verify credit_risk 1.1",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    model_verify.add_argument("name")
    model_verify.add_argument("version")
    _config_options(model_verify)
    model_verify.set_defaults(run=cmd_models_verify)

    audit = commands.add_parser("audit", help="the tamper-evident audit log")
    audit_commands = audit.add_subparsers(dest="action", required=True)
    verify = audit_commands.add_parser(
        "verify",
        help="check the hash chain and re-hash every Delta commit it pins",
        description="Exit 0 when every entry links to the previous one, matches its hash and every pinned Delta "
        "commit file still hashes to what was recorded; exit 1 naming the first entry that does not.",
        epilog="example: monitoring-pipeline audit verify",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _config_options(verify)
    verify.set_defaults(run=cmd_audit_verify)

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


def _config_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="project config (default: the shipped monitoring.yaml)")
    parser.add_argument("--lake-root", help="the lake root (default: the configured one)")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
