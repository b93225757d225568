"""The chain-of-custody commands: `models`, `features`, `prompts`, `tickets`, `changes`, `trace` and `audit`.

Every command that changes the registry records who (`--by`, default: the current user) and why (`--reason`),
appends to the audit log, and refuses what the lifecycle rules forbid with a one-line error (exit 2).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl

from monitoring_pipeline.io import catalog

EXAMPLE = argparse.RawDescriptionHelpFormatter
ANCHOR_KEY_ENV = "MP_AUDIT_ANCHOR_KEY"


def _config(args: argparse.Namespace):
    from monitoring_pipeline.io.config_file import DEFAULT_CONFIG, load_config

    return load_config(args.config or DEFAULT_CONFIG, args.lake_root)


def _now() -> datetime:
    return datetime.now(UTC)


def _by(args: argparse.Namespace) -> str:
    return args.by or getpass.getuser()


def utc_time(text: str) -> datetime:
    """An ISO 8601 time; without an offset it is read as UTC."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an ISO 8601 time like 2026-10-16T12:00Z, got {text!r}") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _refusing(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn the registry's refusals into a one-line error and exit status 2."""

    def guarded(args: argparse.Namespace) -> int:
        from monitoring_pipeline.core.config import ConfigError
        from monitoring_pipeline.core.lifecycle import LifecycleError
        from monitoring_pipeline.core.slices import FilterError
        from monitoring_pipeline.io.webhook import WebhookConfigError
        from monitoring_pipeline.registry.definitions import DefinitionError
        from monitoring_pipeline.registry.models import RegistryError
        from monitoring_pipeline.review.tickets import TicketError
        from monitoring_pipeline.review.trace import TraceError

        try:
            return run(args)
        except (
            LifecycleError,
            RegistryError,
            DefinitionError,
            FilterError,
            ConfigError,
            TraceError,
            TicketError,
            WebhookConfigError,
        ) as exc:
            raise SystemExit(f"error: {exc}") from None

    return guarded


# -- models ------------------------------------------------------------------------------------------------------


def cmd_models_register(args: argparse.Namespace) -> int:
    from monitoring_pipeline.registry.models import register

    row = register(
        _config(args),
        args.name,
        args.version,
        Path(args.artifact),
        args.train_table,
        args.train_filter or "",
        args.parent,
        _by(args),
        _now(),
    )
    print(
        f"registered {args.name} {args.version}: artifact {row['artifact_sha256'][:12]}..., training slice "
        f"{row['train_table']}@v{row['train_table_version']} ({row['train_rows']} rows, "
        f"content {row['train_content_sha256'][:12]}...)"
    )
    return 0


def _metric(text: str) -> tuple[str, float]:
    name, _, value = text.partition("=")
    try:
        return name.strip(), float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected NAME=NUMBER, got {text!r}") from None


def cmd_models_evaluate(args: argparse.Namespace) -> int:
    from monitoring_pipeline.registry.models import evaluate

    row = evaluate(
        _config(args),
        args.name,
        args.version,
        args.eval_name,
        args.eval_table,
        args.eval_filter or "",
        dict(args.metric or []),
        _by(args),
        _now(),
    )
    print(
        f"evaluation {args.eval_name} of {args.name} {args.version}: {row['eval_table']}@v{row['eval_table_version']} "
        f"({row['eval_rows']} rows), metrics {row['metrics']}"
    )
    return 0


def cmd_models_approve(args: argparse.Namespace) -> int:
    from monitoring_pipeline.registry.models import approve

    approve(_config(args), args.name, args.version, args.reason, _by(args), _now())
    print(f"approved {args.name} {args.version} (by {_by(args)})")
    return 0


def cmd_models_deploy(args: argparse.Namespace) -> int:
    from monitoring_pipeline.registry.models import deploy

    row = deploy(
        _config(args),
        args.name,
        args.version,
        args.reason,
        _by(args),
        _now(),
        effective_at=args.effective_at,
        prompt_version=args.prompt,
        rollback=args.rollback,
    )
    prompt = f", prompt v{row['prompt_version']}" if row["prompt_version"] is not None else ""
    verb = "rolled back to" if args.rollback else "deployed"
    print(f"{row['release_id']}: {verb} {args.name} {args.version}{prompt}, in force from {row['effective_at']}")
    return 0


def cmd_models_retire(args: argparse.Namespace) -> int:
    from monitoring_pipeline.registry.models import retire

    retire(_config(args), args.name, args.version, args.reason, _by(args), _now())
    print(f"retired {args.name} {args.version}")
    return 0


def cmd_models_verify(args: argparse.Namespace) -> int:
    from monitoring_pipeline.registry.models import verify

    problems = verify(_config(args), args.name, args.version)
    if not problems:
        print(f"{args.name} {args.version}: artifact, training and eval slices match what was registered")
        return 0
    print("\n".join([f"{args.name} {args.version} does NOT match its registration:", *problems]))
    return 1


def cmd_models_history(args: argparse.Namespace) -> int:
    from monitoring_pipeline.registry.models import events, registered

    config = _config(args)
    versions = registered(config, args.name).select(
        "model_version", "parent_version", "registered_by", "registered_at", "train_rows"
    )
    lifecycle = events(config, args.name).select(
        "recorded_at", "effective_at", "model_version", "event", "actor", "release_id", "prompt_version", "reason"
    )
    _print_frame(versions.sort("registered_at"))
    _print_frame(lifecycle)
    return 0


def _print_frame(frame: pl.DataFrame) -> None:
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=200, fmt_str_lengths=60, tbl_hide_dataframe_shape=True):
        print(frame)


# -- features and prompts -----------------------------------------------------------------------------------------


def _feature_model(config, name: str, model: str | None) -> str:
    if model:
        return model
    owners = [m.name for m in config.models.values() if name in {c.name for c in m.columns_with_role("feature")}]
    if len(owners) != 1:
        raise SystemExit(f"error: feature {name!r} is monitored by {owners or 'no model'}; say which with --model")
    return owners[0]


def _subject(args: argparse.Namespace, config) -> tuple[str, str, str]:
    """(kind, model, name) of a features/prompts command."""
    from monitoring_pipeline.registry.definitions import FEATURE, PROMPT, prompt_name

    if args.kind == FEATURE:
        return FEATURE, _feature_model(config, args.subject, args.model), args.subject
    return PROMPT, args.subject, prompt_name(config.model(args.subject))


def _proposed_body(args: argparse.Namespace, latest: dict[str, Any]) -> dict[str, Any]:
    """The latest version's body with the keys given on the command line changed."""
    body = dict(latest)
    if args.kind == "prompt":
        if args.template_file:
            body["template"] = Path(args.template_file).read_text()
    else:
        if args.source:
            body.pop("expression", None)
            body["source"] = args.source
        if args.expression:
            body.pop("source", None)
            body["expression"] = args.expression
        if args.allowed_range:
            body["allowed_range"] = [float(v) for v in args.allowed_range.split(",")]
        if args.allowed_values:
            body["allowed_values"] = [v.strip() for v in args.allowed_values.split(",")]
        if args.drift:
            body["drift"] = json.loads(args.drift)
        if not latest and "source" not in body and "expression" not in body:
            body["source"] = args.subject
    for key in ("description", "owner"):
        if getattr(args, key):
            body[key] = getattr(args, key)
    return body


def cmd_definitions_propose(args: argparse.Namespace) -> int:
    from monitoring_pipeline.registry import definitions

    config = _config(args)
    kind, model, name = _subject(args, config)
    known = definitions.versions(config, kind, model, name)
    latest = json.loads(known["body"][-1]) if known.height else {}
    version = definitions.propose(
        config, kind, model, name, _proposed_body(args, latest), args.reason, _by(args), _now()
    )
    print(f"proposed {kind} {model}/{name} version {version}; it becomes active once someone else approves it")
    return 0


def cmd_definitions_approve(args: argparse.Namespace) -> int:
    from monitoring_pipeline.registry import definitions

    config = _config(args)
    kind, model, name = _subject(args, config)
    definitions.approve(config, kind, model, name, args.version, args.reason, _by(args), _now(), args.effective_at)
    when = args.effective_at.isoformat() if args.effective_at else "now"
    print(f"approved {kind} {model}/{name} version {args.version}, active from {when}")
    return 0


def cmd_definitions_rollback(args: argparse.Namespace) -> int:
    from monitoring_pipeline.registry import definitions

    config = _config(args)
    kind, model, name = _subject(args, config)
    definitions.rollback(config, kind, model, name, args.to, args.reason, _by(args), _now())
    print(f"rolled {kind} {model}/{name} back to version {args.to}; the later versions stay in the history")
    return 0


def cmd_definitions_history(args: argparse.Namespace) -> int:
    from monitoring_pipeline.registry import definitions

    config = _config(args)
    kind, model, name = _subject(args, config)
    rows = definitions.history(config, kind, model, name)
    if rows.is_empty():
        raise SystemExit(f"error: {kind} {model}/{name} has no versions yet")
    active = definitions.in_force(config, kind, model, _now()).get(name)
    print(f"{kind} {model}/{name}: active version {active[0] if active else 'none'}")
    _print_frame(rows)
    return 0


def cmd_definitions_diff(args: argparse.Namespace) -> int:
    from monitoring_pipeline.registry import definitions

    config = _config(args)
    kind, model, name = _subject(args, config)
    lines = definitions.diff(config, kind, model, name, args.old, args.new)
    print(f"{kind} {model}/{name}: version {args.old} -> {args.new}")
    print("\n".join(lines) if lines else "(identical)")
    return 0


def cmd_definitions_list(args: argparse.Namespace) -> int:
    from monitoring_pipeline.registry import definitions

    config = _config(args)
    for model in [args.model] if args.model else sorted(config.models):
        for kind in (definitions.FEATURE, definitions.PROMPT):
            for name, (version, body) in sorted(definitions.in_force(config, kind, model, _now()).items()):
                how = body.get("expression") or body.get("source") or f"{len(body.get('template', ''))} chars"
                print(f"{model:<20} {kind:<8} {name:<24} v{version:<4} {how}")
    return 0


# -- tickets -----------------------------------------------------------------------------------------------------


def cmd_tickets_list(args: argparse.Namespace) -> int:
    from monitoring_pipeline.review.tickets import read_tickets

    rows = read_tickets(_config(args), args.model)
    if args.status:
        rows = rows.filter(pl.col("status") == args.status)
    if rows.is_empty():
        print("no tickets")
        return 0
    _print_frame(
        rows.select(
            "ticket_id",
            "severity",
            "status",
            "first_day",
            "last_day",
            pl.col("breach_days").list.len().alias("days"),
            "delivery_status",
            "external_ref",
        )
    )
    return 0


def cmd_tickets_show(args: argparse.Namespace) -> int:
    from monitoring_pipeline.io import delta
    from monitoring_pipeline.review.tickets import ticket

    config = _config(args)
    row = ticket(config, args.ticket_id)
    print(json.dumps(row, indent=2, default=str))
    table = catalog.table(config, catalog.DOSSIERS)
    if delta.exists(table):
        found = delta.scan(table).filter(pl.col("ticket_id") == args.ticket_id).select("markdown").collect()
        print("\n" + (found["markdown"][0] if found.height else "(no dossier built yet)"))
    return 0


def cmd_tickets_ack(args: argparse.Namespace) -> int:
    from monitoring_pipeline.review.tickets import acknowledge

    acknowledge(_config(args), args.ticket_id, _by(args), _now())
    print(f"{args.ticket_id} acknowledged by {_by(args)}")
    return 0


def cmd_tickets_resolve(args: argparse.Namespace) -> int:
    from monitoring_pipeline.review.tickets import resolve

    resolve(_config(args), args.ticket_id, args.reason, _by(args), _now())
    print(f"{args.ticket_id} resolved by {_by(args)}")
    return 0


def cmd_tickets_deliver(args: argparse.Namespace) -> int:
    from monitoring_pipeline.io.webhook import WebhookSink
    from monitoring_pipeline.review.tickets import deliver_pending

    config = _config(args)
    settings = config.tickets
    if not settings.webhook_url:
        raise SystemExit("error: no tickets.webhook.url in the config; tickets stay in the tickets table")
    secret = os.environ.get(settings.secret_env, "")
    if not secret:
        raise SystemExit(f"error: the webhook secret variable {settings.secret_env} is not set")
    sink = WebhookSink.from_settings(settings, secret)
    outcome = deliver_pending(config, sink, _now())
    for ticket_id, status in outcome.items():
        print(f"{ticket_id}: {status}")
    print(f"{len(outcome)} pending tickets tried")
    return 0


# -- changes, trace, audit ---------------------------------------------------------------------------------------


def cmd_changes(args: argparse.Namespace) -> int:
    from monitoring_pipeline.review.changes import changes, to_json, to_text

    frame = changes(_config(args), args.since, args.until, args.model)
    print(to_json(frame) if args.format == "json" else to_text(frame))
    return 0


def cmd_trace(args: argparse.Namespace) -> int:
    from monitoring_pipeline.review.trace import to_markdown, trace

    result = trace(_config(args), args.prediction_id, args.model)
    print(json.dumps(result, indent=2, default=str) if args.format == "json" else to_markdown(result))
    return 0


def _anchor_key() -> bytes | None:
    key = os.environ.get(ANCHOR_KEY_ENV)
    return key.encode() if key else None


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from monitoring_pipeline.core.audit import Anchor
    from monitoring_pipeline.registry.audit_log import verify_audit

    anchor = None
    if args.head:
        anchor = Anchor(**json.loads(Path(args.head).read_text()))
        key = _anchor_key()
        if key and not anchor.signature_ok(key):
            print(f"exported head {args.head} is NOT signed with {ANCHOR_KEY_ENV}: it cannot be trusted")
            return 1
    result = verify_audit(_config(args), anchor)
    if result.ok:
        against = f", and it still holds the exported head seq {anchor.seq}" if anchor else ""
        print(f"audit log verified: {result.entries} entries, chain and pinned Delta commits intact{against}")
        return 0
    print(f"audit log BROKEN at seq {result.first_bad_seq}: {result.problem} ({result.entries} entries)")
    return 1


def cmd_audit_head(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from monitoring_pipeline.registry.audit_log import head_anchor

    anchor = head_anchor(_config(args), _anchor_key())
    if anchor is None:
        raise SystemExit("error: the audit log is empty")
    text = json.dumps(asdict(anchor))
    if args.out:
        Path(args.out).write_text(text + "\n")
    print(text)
    return 0


# -- parsers -----------------------------------------------------------------------------------------------------


def add_commands(
    commands: argparse._SubParsersAction, config_options: Callable[[argparse.ArgumentParser], None]
) -> None:
    _add_models(commands, config_options)
    _add_definitions(commands, config_options, "feature")
    _add_definitions(commands, config_options, "prompt")
    _add_tickets(commands, config_options)

    changes = commands.add_parser(
        "changes",
        help="what changed, in order: releases, definition changes, drift breaks, quarantine spikes",
        description="List every change between two days, oldest first; each drift break and quarantine spike names "
        "the release it most likely followed.",
        epilog="example: monitoring-pipeline changes --since 2026-10-01 --until 2026-10-31 --model credit_risk",
        formatter_class=EXAMPLE,
    )
    changes.add_argument("--since", required=True, type=date.fromisoformat, help="first day, YYYY-MM-DD")
    changes.add_argument("--until", required=True, type=date.fromisoformat, help="last day, YYYY-MM-DD (inclusive)")
    changes.add_argument("--model", help="one model (default: every model)")
    changes.add_argument("--format", choices=["text", "json"], default="text", help="output format (default text)")
    config_options(changes)
    changes.set_defaults(run=_refusing(cmd_changes))

    trace = commands.add_parser(
        "trace",
        help="everything that produced one prediction, and what is known about it since",
        description="The prediction row, its model checkpoint (training slice, evaluations, approvals), the release, "
        "feature definitions and prompt in force, guard verdicts, the drift of its day and where its values sit in "
        "the reference, its label, tickets, and the Dagster runs and Delta versions of the report rows used.",
        epilog="example: monitoring-pipeline trace cr-20261020-000000042 --format markdown",
        formatter_class=EXAMPLE,
    )
    trace.add_argument("prediction_id", help="the prediction's id, as logged")
    trace.add_argument("--model", help="look only in this model's log (default: every model)")
    trace.add_argument(
        "--format", choices=["json", "markdown"], default="markdown", help="output format (default markdown)"
    )
    config_options(trace)
    trace.set_defaults(run=_refusing(cmd_trace))

    audit = commands.add_parser("audit", help="the tamper-evident audit log")
    audit_commands = audit.add_subparsers(dest="action", required=True)
    verify = audit_commands.add_parser(
        "verify",
        help="check the hash chain and re-hash every Delta commit it pins",
        description="Exit 0 when every entry links to the previous one, matches its hash and every pinned Delta "
        "commit file still hashes to what was recorded; exit 1 naming the first entry that does not. With --head, "
        "the exported head must still be in the chain (a truncated log fails).",
        epilog="example: monitoring-pipeline audit verify --head audit-head.json",
        formatter_class=EXAMPLE,
    )
    verify.add_argument("--head", help=f"an exported head (from `audit head`), signed when {ANCHOR_KEY_ENV} is set")
    config_options(verify)
    verify.set_defaults(run=cmd_audit_verify)
    head = audit_commands.add_parser(
        "head",
        help="export the chain's head (seq and hash) to keep somewhere else",
        description=f"Print the head as JSON (and write it to --out); HMAC-signed when {ANCHOR_KEY_ENV} is set.",
        epilog="example: monitoring-pipeline audit head --out /secure/audit-head.json",
        formatter_class=EXAMPLE,
    )
    head.add_argument("--out", help="also write the head to this file")
    config_options(head)
    head.set_defaults(run=cmd_audit_head)


def _registry_options(parser: argparse.ArgumentParser, reason: bool = True) -> None:
    if reason:
        parser.add_argument("--reason", required=True, help="why (kept in the registry; its hash in the audit log)")
    parser.add_argument("--by", help="who (default: the current user)")


def _add_models(commands: argparse._SubParsersAction, config_options: Callable) -> None:
    models = commands.add_parser("models", help="model checkpoints, their evaluations, lifecycle and releases")
    sub = models.add_subparsers(dest="action", required=True)

    register = sub.add_parser(
        "register",
        help="record a checkpoint: artifact hash, training table version, slice filter, rows and content hash",
        description="Register NAME VERSION once. The training slice is pinned to the table's current Delta "
        "version; the filter is a conjunction of `column op value` (op: == != >= <= > <), parsed, never "
        "interpolated.",
        epilog="example: monitoring-pipeline models register credit_risk 1.1 --artifact model.bin "
        "--train-table logs/credit_risk --train-filter \"event_date >= '2026-09-01' and event_date <= "
        "'2026-09-21'\" --parent 1.0",
        formatter_class=EXAMPLE,
    )
    register.add_argument("name", help="the model's name")
    register.add_argument("version", help="the model version, as logged in model_version")
    register.add_argument("--artifact", required=True, help="the model file")
    register.add_argument("--train-table", required=True, help="a lake table name, e.g. logs/credit_risk")
    register.add_argument("--train-filter", help="the slice, e.g. \"event_date <= '2026-09-21'\"")
    register.add_argument("--parent", help="the version this one was derived from")
    _registry_options(register, reason=False)
    config_options(register)
    register.set_defaults(run=_refusing(cmd_models_register))

    evaluate = sub.add_parser(
        "evaluate",
        help="attach an evaluation checkpoint: the eval slice pinned like the training slice, plus metrics",
        epilog="example: monitoring-pipeline models evaluate credit_risk 1.1 --eval-name holdout "
        "--eval-table logs/credit_risk --eval-filter \"event_date == '2026-09-22'\" --metric auc=0.81 "
        "--metric brier=0.12",
        formatter_class=EXAMPLE,
    )
    evaluate.add_argument("name", help="the model's name")
    evaluate.add_argument("version", help="the model version, as logged in model_version")
    evaluate.add_argument("--eval-name", required=True, help="a name for this evaluation, e.g. holdout")
    evaluate.add_argument("--eval-table", required=True, help="a lake table name")
    evaluate.add_argument("--eval-filter", help="the eval slice, same syntax as --train-filter")
    evaluate.add_argument("--metric", action="append", type=_metric, help="NAME=VALUE, repeatable")
    _registry_options(evaluate, reason=False)
    config_options(evaluate)
    evaluate.set_defaults(run=_refusing(cmd_models_evaluate))

    approve = sub.add_parser(
        "approve",
        help="approve a registered version (someone other than its registrant; it needs an evaluation)",
        epilog="example: monitoring-pipeline models approve credit_risk 1.1 --reason 'holdout AUC +0.02' --by bob",
        formatter_class=EXAMPLE,
    )
    approve.add_argument("name", help="the model's name")
    approve.add_argument("version", help="the model version, as logged in model_version")
    _registry_options(approve)
    config_options(approve)
    approve.set_defaults(run=_refusing(cmd_models_approve))

    for action, rollback in (("deploy", False), ("rollback", True)):
        parser = sub.add_parser(
            action,
            help="put an approved version in force as a new release"
            if not rollback
            else "deploy an earlier version again, as a new release (history is never rewritten)",
            description="The release records the model version, the prompt version (--prompt, or the one in force), "
            "the feature definitions active at that moment, the approver and the reason.",
            epilog=f"example: monitoring-pipeline models {action} credit_risk "
            + ("1.1 --effective-at 2026-10-16T12:00Z" if not rollback else "1.0")
            + " --reason 'see ticket 12'",
            formatter_class=EXAMPLE,
        )
        parser.add_argument("name", help="the model's name")
        parser.add_argument("version", help="the model version, as logged in model_version")
        parser.add_argument("--prompt", type=int, help="the approved prompt template version it runs with")
        parser.add_argument(
            "--effective-at", type=utc_time, help="when it took effect (default: now; both times are kept)"
        )
        _registry_options(parser)
        config_options(parser)
        parser.set_defaults(run=_refusing(cmd_models_deploy), rollback=rollback)

    retire = sub.add_parser(
        "retire",
        help="retire a version that is not in force; it can never be deployed again",
        epilog="example: monitoring-pipeline models retire credit_risk 1.0 --reason 'superseded by 1.1'",
        formatter_class=EXAMPLE,
    )
    retire.add_argument("name", help="the model's name")
    retire.add_argument("version", help="the model version, as logged in model_version")
    _registry_options(retire)
    config_options(retire)
    retire.set_defaults(run=_refusing(cmd_models_retire))

    verify = sub.add_parser(
        "verify",
        help="re-read the training and eval slices through Delta time travel and re-hash the artifact",
        epilog="example: monitoring-pipeline models verify credit_risk 1.1",
        formatter_class=EXAMPLE,
    )
    verify.add_argument("name", help="the model's name")
    verify.add_argument("version", help="the model version, as logged in model_version")
    config_options(verify)
    verify.set_defaults(run=_refusing(cmd_models_verify))

    history = sub.add_parser(
        "history",
        help="the versions of a model and every lifecycle event (the release ledger included)",
        epilog="example: monitoring-pipeline models history credit_risk",
        formatter_class=EXAMPLE,
    )
    history.add_argument("name", help="the model's name")
    config_options(history)
    history.set_defaults(run=_refusing(cmd_models_history))


def _add_definitions(commands: argparse._SubParsersAction, config_options: Callable, kind: str) -> None:
    feature = kind == "feature"
    subject = "NAME" if feature else "MODEL"
    group = commands.add_parser(
        f"{kind}s",
        help="versioned feature definitions: propose, approve, history, diff, rollback"
        if feature
        else "versioned prompt templates: propose, approve, history, diff",
    )
    sub = group.add_subparsers(dest="action", required=True)

    def add(action: str, help_text: str, example: str, run: Callable) -> argparse.ArgumentParser:
        parser = sub.add_parser(
            action, help=help_text, epilog=f"example: monitoring-pipeline {kind}s {example}", formatter_class=EXAMPLE
        )
        if action != "list":
            parser.add_argument("subject", metavar=subject, help="the feature" if feature else "the model")
        if feature or action == "list":
            parser.add_argument("--model", help="the model (needed when several monitor the feature)")
        config_options(parser)
        parser.set_defaults(run=_refusing(run), kind=kind)
        return parser

    propose = add(
        "propose",
        "propose a new version (the latest one with the options given changed); inactive until approved",
        "propose income --expression 'salary * 12' --reason 'income is now annualised' --by ana"
        if feature
        else "propose support_summarizer --template-file prompt_v2.txt --reason 'ask for topics' --by ana",
        cmd_definitions_propose,
    )
    if feature:
        propose.add_argument("--source", help="the log column it is read from")
        propose.add_argument("--expression", help="a SQL expression over log columns (parsed by Polars)")
        propose.add_argument("--allowed-range", help="LOW,HIGH")
        propose.add_argument("--allowed-values", help="comma-separated values")
        propose.add_argument(
            "--drift", help='drift settings as JSON, e.g. \'{"thresholds": {"psi": {"warn": 0.1, "drift": 0.3}}}\''
        )
    else:
        propose.add_argument("--template-file", help="the template text")
    propose.add_argument("--description", help="what it is, for the people who read it (default: the latest's)")
    propose.add_argument("--owner", help="who answers for it (default: the latest's)")
    _registry_options(propose)

    approve = add(
        "approve",
        "approve a proposed version (someone other than its proposer); it becomes active",
        f"approve {'income' if feature else 'support_summarizer'} 2 --reason 'reviewed' --by bob",
        cmd_definitions_approve,
    )
    approve.add_argument("version", type=int, help="the proposed version to approve")
    approve.add_argument("--effective-at", type=utc_time, help="active from (default: now; both times are kept)")
    _registry_options(approve)

    add(
        "history",
        "every version, proposal, approval and rollback",
        "history " + ("income" if feature else "support_summarizer"),
        cmd_definitions_history,
    )
    diff = add(
        "diff",
        "what changed between two versions",
        "diff " + ("income 1 2" if feature else "support_summarizer 1 2"),
        cmd_definitions_diff,
    )
    diff.add_argument("old", type=int, help="the older version")
    diff.add_argument("new", type=int, help="the newer version")
    add("list", "the active versions", "list --model credit_risk", cmd_definitions_list)
    if feature:
        rollback = add(
            "rollback",
            "make an earlier approved version active again, now",
            "rollback income --to 1 --reason 'v2 broke the reports'",
            cmd_definitions_rollback,
        )
        rollback.add_argument("--to", type=int, required=True, help="the version to return to")
        _registry_options(rollback)


def _add_tickets(commands: argparse._SubParsersAction, config_options: Callable) -> None:
    group = commands.add_parser("tickets", help="retraining-review tickets: list, show, ack, resolve, deliver")
    sub = group.add_subparsers(dest="action", required=True)
    listing = sub.add_parser(
        "list",
        help="the tickets, oldest first",
        epilog="example: monitoring-pipeline tickets list --status open",
        formatter_class=EXAMPLE,
    )
    listing.add_argument("--model", help="only this model's tickets")
    listing.add_argument("--status", choices=["open", "acknowledged", "resolved"], help="only tickets in this state")
    config_options(listing)
    listing.set_defaults(run=_refusing(cmd_tickets_list))
    for action, help_text, run in (
        ("show", "one ticket with its evidence and its review dossier", cmd_tickets_show),
        ("ack", "acknowledge an open ticket (someone is looking at it)", cmd_tickets_ack),
        ("resolve", "resolve a ticket, saying how", cmd_tickets_resolve),
    ):
        parser = sub.add_parser(
            action,
            help=help_text,
            formatter_class=EXAMPLE,
            epilog=f"example: monitoring-pipeline tickets {action} credit_risk:feature_drift:2026-10-12"
            + (" --reason 'retrained as 1.2'" if action == "resolve" else ""),
        )
        parser.add_argument("ticket_id", help="model:signal:first day, as `tickets list` shows")
        if action != "show":
            _registry_options(parser, reason=action == "resolve")
        config_options(parser)
        parser.set_defaults(run=_refusing(run))
    deliver = sub.add_parser(
        "deliver",
        help="post every pending ticket to the configured webhook now (the review sensors also do it each tick)",
        epilog="example: MP_WEBHOOK_SECRET=... monitoring-pipeline tickets deliver",
        formatter_class=EXAMPLE,
    )
    config_options(deliver)
    deliver.set_defaults(run=_refusing(cmd_tickets_deliver))
