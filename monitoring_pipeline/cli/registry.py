"""The registry's commands: `models` (checkpoints, evaluations, approvals, releases), `features` and `prompts`
(versioned definitions). Each change records who (`--by`, default: the current user) and why (`--reason`) and
appends to the audit log; what the lifecycle rules forbid is refused in one line."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

from monitoring_pipeline.cli.options import (
    EXAMPLE,
    FOUND,
    CommandError,
    actor_options,
    by,
    config,
    config_options,
    emit,
    format_option,
    now,
    render,
    table_text,
    utc_time,
)
from monitoring_pipeline.core.config import ProjectConfig


def add(commands: argparse._SubParsersAction) -> None:
    models = commands.add_parser("models", help="model checkpoints, their evaluations, lifecycle and releases")
    sub = models.add_subparsers(dest="action", required=True)
    for add_command in (
        _add_register,
        _add_evaluate,
        _add_approve,
        _add_deploy,
        _add_retire,
        _add_verify,
        _add_history,
    ):
        add_command(sub)
    _add_definitions(commands, "feature")
    _add_definitions(commands, "prompt")


def _model_version(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="the model's name")
    parser.add_argument("version", help="the model version, as logged in model_version")


# -- models ------------------------------------------------------------------------------------------------------


def _add_register(sub: argparse._SubParsersAction) -> None:
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
    _model_version(register)
    register.add_argument("--artifact", required=True, help="the model file")
    register.add_argument("--train-table", required=True, help="a lake table name, e.g. logs/credit_risk")
    register.add_argument("--train-filter", help="the slice, e.g. \"event_date <= '2026-09-21'\"")
    register.add_argument("--parent", help="the version this one was derived from")
    actor_options(register, reason=False)
    config_options(register)
    register.set_defaults(run=cmd_models_register)


def cmd_models_register(args: argparse.Namespace) -> int:
    from monitoring_pipeline.registry.models import register

    row = register(
        config(args),
        args.name,
        args.version,
        Path(args.artifact),
        args.train_table,
        args.train_filter or "",
        args.parent,
        by(args),
        now(),
    )
    print(
        f"registered {args.name} {args.version}: artifact {row['artifact_sha256'][:12]}..., training slice "
        f"{row['train_table']}@v{row['train_table_version']} ({row['train_rows']} rows, "
        f"content {row['train_content_sha256'][:12]}...)"
    )
    return 0


def _add_evaluate(sub: argparse._SubParsersAction) -> None:
    evaluate = sub.add_parser(
        "evaluate",
        help="attach an evaluation checkpoint: the eval slice pinned like the training slice, plus metrics",
        epilog="example: monitoring-pipeline models evaluate credit_risk 1.1 --eval-name holdout "
        "--eval-table logs/credit_risk --eval-filter \"event_date == '2026-09-22'\" --metric auc=0.81 "
        "--metric brier=0.12",
        formatter_class=EXAMPLE,
    )
    _model_version(evaluate)
    evaluate.add_argument("--eval-name", required=True, help="a name for this evaluation, e.g. holdout")
    evaluate.add_argument("--eval-table", required=True, help="a lake table name")
    evaluate.add_argument("--eval-filter", help="the eval slice, same syntax as --train-filter")
    evaluate.add_argument("--metric", action="append", type=_metric, help="NAME=VALUE, repeatable")
    actor_options(evaluate, reason=False)
    config_options(evaluate)
    evaluate.set_defaults(run=cmd_models_evaluate)


def _metric(text: str) -> tuple[str, float]:
    name, _, value = text.partition("=")
    try:
        return name.strip(), float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected NAME=NUMBER, got {text!r}") from None


def cmd_models_evaluate(args: argparse.Namespace) -> int:
    from monitoring_pipeline.registry.models import evaluate

    row = evaluate(
        config(args),
        args.name,
        args.version,
        args.eval_name,
        args.eval_table,
        args.eval_filter or "",
        dict(args.metric or []),
        by(args),
        now(),
    )
    print(
        f"evaluation {args.eval_name} of {args.name} {args.version}: {row['eval_table']}@v{row['eval_table_version']} "
        f"({row['eval_rows']} rows), metrics {row['metrics']}"
    )
    return 0


def _add_approve(sub: argparse._SubParsersAction) -> None:
    approve = sub.add_parser(
        "approve",
        help="approve a registered version (someone other than its registrant; it needs an evaluation)",
        epilog="example: monitoring-pipeline models approve credit_risk 1.1 --reason 'holdout AUC +0.02' --by bob",
        formatter_class=EXAMPLE,
    )
    _model_version(approve)
    approve.add_argument(
        "--effective-at", type=utc_time, help="when it took effect (default: now; both times are kept)"
    )
    actor_options(approve)
    config_options(approve)
    approve.set_defaults(run=cmd_models_approve)


def cmd_models_approve(args: argparse.Namespace) -> int:
    from monitoring_pipeline.registry.models import approve

    approve(config(args), args.name, args.version, args.reason, by(args), now(), args.effective_at)
    print(f"approved {args.name} {args.version} (by {by(args)})")
    return 0


def _add_deploy(sub: argparse._SubParsersAction) -> None:
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
        _model_version(parser)
        parser.add_argument("--prompt", type=int, help="the approved prompt template version it runs with")
        parser.add_argument(
            "--effective-at", type=utc_time, help="when it took effect (default: now; both times are kept)"
        )
        actor_options(parser)
        config_options(parser)
        parser.set_defaults(run=cmd_models_deploy, rollback=rollback)


def cmd_models_deploy(args: argparse.Namespace) -> int:
    from monitoring_pipeline.registry.models import deploy

    row = deploy(
        config(args),
        args.name,
        args.version,
        args.reason,
        by(args),
        now(),
        effective_at=args.effective_at,
        prompt_version=args.prompt,
        rollback=args.rollback,
    )
    prompt = f", prompt v{row['prompt_version']}" if row["prompt_version"] is not None else ""
    verb = "rolled back to" if args.rollback else "deployed"
    print(f"{row['release_id']}: {verb} {args.name} {args.version}{prompt}, in force from {row['effective_at']}")
    return 0


def _add_retire(sub: argparse._SubParsersAction) -> None:
    retire = sub.add_parser(
        "retire",
        help="retire a version that is not in force; it can never be deployed again",
        epilog="example: monitoring-pipeline models retire credit_risk 1.0 --reason 'superseded by 1.1'",
        formatter_class=EXAMPLE,
    )
    _model_version(retire)
    actor_options(retire)
    config_options(retire)
    retire.set_defaults(run=cmd_models_retire)


def cmd_models_retire(args: argparse.Namespace) -> int:
    from monitoring_pipeline.registry.models import retire

    retire(config(args), args.name, args.version, args.reason, by(args), now())
    print(f"retired {args.name} {args.version}")
    return 0


def _add_verify(sub: argparse._SubParsersAction) -> None:
    verify = sub.add_parser(
        "verify",
        help="re-read the training and eval slices through Delta time travel and re-hash the artifact",
        epilog="example: monitoring-pipeline models verify credit_risk 1.1",
        formatter_class=EXAMPLE,
    )
    _model_version(verify)
    config_options(verify)
    verify.set_defaults(run=cmd_models_verify)


def cmd_models_verify(args: argparse.Namespace) -> int:
    from monitoring_pipeline.registry.models import verify

    problems = verify(config(args), args.name, args.version)
    if not problems:
        print(f"{args.name} {args.version}: artifact, training and eval slices match what was registered")
        return 0
    print("\n".join([f"{args.name} {args.version} does NOT match its registration:", *problems]))
    return FOUND


def _add_history(sub: argparse._SubParsersAction) -> None:
    history = sub.add_parser(
        "history",
        help="the versions of a model and every lifecycle event (the release ledger included)",
        epilog="example: monitoring-pipeline models history credit_risk",
        formatter_class=EXAMPLE,
    )
    history.add_argument("name", help="the model's name")
    format_option(history, tabular=False)
    config_options(history)
    history.set_defaults(run=cmd_models_history)


def cmd_models_history(args: argparse.Namespace) -> int:
    from monitoring_pipeline.registry.models import events, registered
    from monitoring_pipeline.registry.signatures import identity_note

    project = config(args)
    project.model(args.name)  # an unknown model is named, not shown as an empty history
    versions = registered(project, args.name).select(
        "model_version", "parent_version", "registered_by", "registered_at", "train_rows"
    )
    lifecycle = events(project, args.name).select(
        "recorded_at", "effective_at", "model_version", "event", "actor", "release_id", "prompt_version", "reason"
    )
    versions = versions.sort("registered_at")
    note = identity_note(project.governance)
    if args.format == "json":
        shown = {"versions": versions.to_dicts(), "events": lifecycle.to_dicts(), "identities": note}
        emit(json.dumps(shown, indent=2, default=str))
    else:
        people = f"\n\npeople named: {note}" if note else ""
        emit(f"versions\n{table_text(versions)}\n\nlifecycle events\n{table_text(lifecycle)}{people}")
    return 0


# -- features and prompts -----------------------------------------------------------------------------------------


def _add_definitions(commands: argparse._SubParsersAction, kind: str) -> None:
    """`features` or `prompts`: the same actions on either kind, each parser beside the command it runs below."""
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
        if action in ("history", "list"):
            format_option(parser)
        config_options(parser)
        parser.set_defaults(run=run, kind=kind)
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
    actor_options(propose)

    approve = add(
        "approve",
        "approve a proposed version (someone other than its proposer); it becomes active",
        f"approve {'income' if feature else 'support_summarizer'} 2 --reason 'reviewed' --by bob",
        cmd_definitions_approve,
    )
    approve.add_argument("version", type=int, help="the proposed version to approve")
    approve.add_argument("--effective-at", type=utc_time, help="active from (default: now; both times are kept)")
    actor_options(approve)

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
        actor_options(rollback)


def _feature_model(project: ProjectConfig, name: str, model: str | None) -> str:
    if model:
        return model
    owners = [m.name for m in project.models.values() if name in {c.name for c in m.columns_with_role("feature")}]
    if len(owners) != 1:
        raise CommandError(f"feature {name!r} is monitored by {owners or 'no model'}; say which with --model")
    return owners[0]


def _subject(args: argparse.Namespace, project: ProjectConfig) -> tuple[str, str, str]:
    """(kind, model, name) of a features/prompts command."""
    from monitoring_pipeline.registry.definitions import FEATURE, PROMPT, prompt_name

    if args.kind == FEATURE:
        return FEATURE, _feature_model(project, args.subject, args.model), args.subject
    return PROMPT, args.subject, prompt_name(project.model(args.subject))


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

    project = config(args)
    kind, model, name = _subject(args, project)
    known = definitions.versions(project, kind, model, name)
    latest = json.loads(known["body"][-1]) if known.height else {}
    version = definitions.propose(
        project, kind, model, name, _proposed_body(args, latest), args.reason, by(args), now()
    )
    print(f"proposed {kind} {model}/{name} version {version}; it becomes active once someone else approves it")
    return 0


def cmd_definitions_approve(args: argparse.Namespace) -> int:
    from monitoring_pipeline.registry import definitions

    project = config(args)
    kind, model, name = _subject(args, project)
    definitions.approve(project, kind, model, name, args.version, args.reason, by(args), now(), args.effective_at)
    when = args.effective_at.isoformat() if args.effective_at else "now"
    print(f"approved {kind} {model}/{name} version {args.version}, active from {when}")
    return 0


def cmd_definitions_rollback(args: argparse.Namespace) -> int:
    from monitoring_pipeline.registry import definitions

    project = config(args)
    kind, model, name = _subject(args, project)
    definitions.rollback(project, kind, model, name, args.to, args.reason, by(args), now())
    print(f"rolled {kind} {model}/{name} back to version {args.to}; the later versions stay in the history")
    return 0


def cmd_definitions_history(args: argparse.Namespace) -> int:
    from monitoring_pipeline.registry import definitions

    project = config(args)
    kind, model, name = _subject(args, project)
    rows = definitions.history(project, kind, model, name)
    if rows.is_empty():
        raise CommandError(f"{kind} {model}/{name} has no versions yet")
    if args.format != "table":
        emit(render(rows, args.format))
        return 0
    active = definitions.in_force(project, kind, model, now()).get(name)
    emit(f"{kind} {model}/{name}: active version {active[0] if active else 'none'}\n{table_text(rows)}")
    return 0


def cmd_definitions_diff(args: argparse.Namespace) -> int:
    from monitoring_pipeline.registry import definitions

    project = config(args)
    kind, model, name = _subject(args, project)
    lines = definitions.diff(project, kind, model, name, args.old, args.new)
    print(f"{kind} {model}/{name}: version {args.old} -> {args.new}")
    print("\n".join(lines) if lines else "(identical)")
    return 0


def cmd_definitions_list(args: argparse.Namespace) -> int:
    from monitoring_pipeline.registry import definitions

    project = config(args)
    rows = [
        {"model": model, "kind": kind, "name": name, "version": version, "definition": _definition(body)}
        for model in ([project.model(args.model).name] if args.model else sorted(project.models))
        for kind in (definitions.FEATURE, definitions.PROMPT)
        for name, (version, body) in sorted(definitions.in_force(project, kind, model, now()).items())
    ]
    schema = {"model": pl.String, "kind": pl.String, "name": pl.String, "version": pl.Int64, "definition": pl.String}
    emit(render(pl.DataFrame(rows, schema=schema), args.format))
    return 0


def _definition(body: dict[str, Any]) -> str:
    """What a definition in force computes: its expression or source column, or a prompt's length."""
    return body.get("expression") or body.get("source") or f"{len(body.get('template', ''))} chars"
