"""The review side's commands: `tickets` (list, show, ack, resolve, deliver), `changes`, `trace` and `audit`
(verify the chain, export its head)."""

from __future__ import annotations

import argparse
import json
import os
from datetime import date
from pathlib import Path

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
    progress,
    render,
)
from monitoring_pipeline.core.config import SIGNED, ProjectConfig

ANCHOR_KEY_ENV = "MP_AUDIT_ANCHOR_KEY"


def add(commands: argparse._SubParsersAction) -> None:
    _add_tickets(commands)
    _add_changes(commands)
    _add_trace(commands)
    _add_audit(commands)


# -- tickets -----------------------------------------------------------------------------------------------------


def _add_tickets(commands: argparse._SubParsersAction) -> None:
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
    format_option(listing)
    config_options(listing)
    listing.set_defaults(run=cmd_tickets_list)
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
        if action == "show":
            format_option(parser, tabular=False)
        else:
            actor_options(parser, reason=action == "resolve")
        config_options(parser)
        parser.set_defaults(run=run)
    deliver = sub.add_parser(
        "deliver",
        help="post every pending ticket to the configured webhook now (the review sensors also do it each tick)",
        epilog="example: MP_WEBHOOK_SECRET=... monitoring-pipeline tickets deliver",
        formatter_class=EXAMPLE,
    )
    config_options(deliver)
    deliver.set_defaults(run=cmd_tickets_deliver)


def cmd_tickets_list(args: argparse.Namespace) -> int:
    from monitoring_pipeline.review.tickets import read_tickets

    rows = read_tickets(config(args), args.model)
    if args.status:
        rows = rows.filter(pl.col("status") == args.status)
    if rows.is_empty() and args.format == "table":
        progress("no tickets")
        return 0
    if args.format == "table":
        rows = rows.select(
            "ticket_id",
            "severity",
            "status",
            "state",
            "first_day",
            "last_day",
            pl.col("breach_days").list.len().alias("days"),
            "delivery_status",
            "external_ref",
        )
    emit(render(rows, args.format))
    return 0


def cmd_tickets_show(args: argparse.Namespace) -> int:
    from monitoring_pipeline.review.dossier import stored_markdown
    from monitoring_pipeline.review.tickets import ticket

    project = config(args)
    row, dossier = ticket(project, args.ticket_id), stored_markdown(project, args.ticket_id)
    if args.format == "json":
        emit(json.dumps({"ticket": row, "dossier_markdown": dossier}, indent=2, default=str))
    else:
        fields = "\n".join(f"{key:<18} {_field(value)}" for key, value in row.items())
        emit(f"{fields}\n\n{dossier or '(no dossier built yet)'}")
    return 0


def _field(value: object) -> str:
    """One ticket field on one line: lists joined, nested values as JSON."""
    if isinstance(value, list | dict):
        return json.dumps(value, default=str)
    return "" if value is None else str(value)


def cmd_tickets_ack(args: argparse.Namespace) -> int:
    from monitoring_pipeline.review.tickets import acknowledge

    acknowledge(config(args), args.ticket_id, by(args), now())
    print(f"{args.ticket_id} acknowledged by {by(args)}")
    return 0


def cmd_tickets_resolve(args: argparse.Namespace) -> int:
    from monitoring_pipeline.review.tickets import resolve

    resolve(config(args), args.ticket_id, args.reason, by(args), now())
    print(f"{args.ticket_id} resolved by {by(args)}")
    return 0


def cmd_tickets_deliver(args: argparse.Namespace) -> int:
    from monitoring_pipeline.io.webhook import WebhookSink
    from monitoring_pipeline.review.tickets import deliver_pending

    project = config(args)
    settings = project.tickets
    if not settings.webhook_url:
        raise CommandError("no tickets.webhook.url in the config; tickets stay in the tickets table")
    secret = os.environ.get(settings.secret_env, "")
    if not secret:
        raise CommandError(f"the webhook secret variable {settings.secret_env} is not set")
    outcome = deliver_pending(project, WebhookSink.from_settings(settings, secret), now())
    for ticket_id, status in outcome.items():
        print(f"{ticket_id}: {status}")
    print(f"{len(outcome)} pending tickets tried")
    return 0


# -- changes and trace -------------------------------------------------------------------------------------------


def _add_changes(commands: argparse._SubParsersAction) -> None:
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
    format_option(changes)
    config_options(changes)
    changes.set_defaults(run=cmd_changes)


def cmd_changes(args: argparse.Namespace) -> int:
    from monitoring_pipeline.registry.audit_log import coverage
    from monitoring_pipeline.registry.signatures import identity_note
    from monitoring_pipeline.review.changes import changes, to_json, to_text
    from monitoring_pipeline.review.trace import evidence_lines

    if args.since > args.until:
        raise CommandError(f"--since {args.since} is after --until {args.until}; give the earlier day first")
    project = config(args)
    if args.model:
        project.model(args.model)
    uncovered = coverage(project)  # first: a damaged data file is named before any read trips on it
    frame = changes(project, args.since, args.until, args.model)
    note = identity_note(project.governance)
    if args.format == "table":
        emit("\n".join([*evidence_lines(uncovered), "", to_text(frame), *([f"People named: {note}."] if note else [])]))
        return 0
    for line in [*uncovered, *([f"people named: {note}"] if note else [])]:
        progress(f"warning: {line}")
    emit(to_json(frame) if args.format == "json" else render(frame, "csv"))
    return 0


def _add_trace(commands: argparse._SubParsersAction) -> None:
    trace = commands.add_parser(
        "trace",
        help="everything that produced one prediction, and what is known about it since",
        description="The prediction row, its model checkpoint (training slice, evaluations, approvals), the release, "
        "feature definitions and prompt in force, guard verdicts, the drift of its day and where its values sit in "
        "the reference, its label, tickets, and the Dagster runs and Delta versions of the report rows used.",
        epilog="example: monitoring-pipeline trace cr-20261020-000000042 --format json",
        formatter_class=EXAMPLE,
    )
    trace.add_argument("prediction_id", help="the prediction's id, as logged")
    trace.add_argument("--model", help="look only in this model's log (default: every model)")
    format_option(trace, tabular=False)
    config_options(trace)
    trace.set_defaults(run=cmd_trace)


def cmd_trace(args: argparse.Namespace) -> int:
    from monitoring_pipeline.review.trace import to_markdown, trace

    result = trace(config(args), args.prediction_id, args.model)
    emit(json.dumps(result, indent=2, default=str) if args.format == "json" else to_markdown(result))
    return 0


# -- audit -------------------------------------------------------------------------------------------------------


def _add_audit(commands: argparse._SubParsersAction) -> None:
    audit = commands.add_parser("audit", help="the tamper-evident audit log")
    audit_commands = audit.add_subparsers(dest="action", required=True)
    verify = audit_commands.add_parser(
        "verify",
        help="check the hash chain and re-hash every Delta commit it pins",
        description="Exit 0 when every entry links to the previous one and matches its hash, every pinned Delta "
        "commit file and data file still hashes to what was recorded, and every commit of an audited table is "
        "pinned; exit 3 naming the first entry or commit that is not. With --head, the exported head must still be "
        "in the chain (a truncated log fails).",
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
    complete = audit_commands.add_parser(
        "complete",
        help="record the entries of custody commits a cut-off command left without one",
        description="A registry, ticket or release command commits its row, then its audit entry; the commit "
        "carries the entry it is owed. When the command was killed between the two, or the audit log could not be "
        "written, this records the owed entries from the commits themselves (any later custody command does too).",
        epilog="example: monitoring-pipeline audit complete",
        formatter_class=EXAMPLE,
    )
    config_options(complete)
    complete.set_defaults(run=cmd_audit_complete)
    compact = audit_commands.add_parser(
        "compact",
        help="rewrite the audited tables' small files into large ones, recording an entry for each",
        description="Delta's OPTIMIZE on every audited table (same rows, fewer files), each commit pinned by an audit "
        "entry so `verify` still certifies the table. Compacting with Delta directly leaves commits `verify` names "
        "as written outside monitoring-pipeline. Earlier versions keep their files for lake.retention_days, so "
        "`trace` still reads what an entry pinned; Delta refuses a vacuum below that retention.",
        epilog="example: monitoring-pipeline audit compact --by ops",
        formatter_class=EXAMPLE,
    )
    actor_options(compact, reason=False)
    config_options(compact)
    compact.set_defaults(run=cmd_audit_compact)


def _anchor_key() -> bytes | None:
    key = os.environ.get(ANCHOR_KEY_ENV)
    return key.encode() if key else None


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from monitoring_pipeline.core.audit import Anchor
    from monitoring_pipeline.registry.audit_log import verify_audit

    anchor = None
    if args.head:
        try:
            anchor = Anchor(**json.loads(Path(args.head).read_text()))
        except (ValueError, TypeError) as exc:
            raise CommandError(
                f"--head {args.head} is not an exported head (from `audit head`: seq, entry_hash, signature): {exc}"
            ) from None
        key = _anchor_key()
        if key and not anchor.signature_ok(key):
            print(f"exported head {args.head} is NOT signed with {ANCHOR_KEY_ENV}: it cannot be trusted")
            return FOUND
    project = config(args)
    result = verify_audit(project, anchor)
    if result.ok:
        against = f", and it still holds the exported head seq {anchor.seq}" if anchor else ""
        expired = (
            f" ({result.expired} pinned commits older than the {project.lake.retention_days}-day retention were "
            "cleaned up; their entries stay chained)"
            if result.expired
            else ""
        )
        print(f"audit log verified: {result.entries} entries, chain and pinned Delta commits intact{against}{expired}")
        print(_identities(project, result.signed))
        return 0
    print(f"audit log BROKEN at seq {result.first_bad_seq}: {result.problem} ({result.entries} entries)")
    return FOUND


def _identities(project: ProjectConfig, signed: int) -> str:
    """What the log proves of who acted."""
    from monitoring_pipeline.registry.signatures import CLAIMS

    if project.governance.identity == SIGNED:
        return f"{signed} signatures verified against {project.governance.allowed_signers}"
    return f"{signed} signatures verified; other {CLAIMS}" if signed else CLAIMS[0].upper() + CLAIMS[1:]


def cmd_audit_complete(args: argparse.Namespace) -> int:
    from monitoring_pipeline.registry.audit_log import complete_chain

    completed = complete_chain(config(args))
    for entry in completed:
        print(f"recorded seq {entry.seq}: {entry.action} of {entry.subject} ({entry.data_table} v{entry.data_version})")
    print(f"{len(completed)} owed entries recorded" if completed else "no audited commit is missing its entry")
    return 0


def cmd_audit_compact(args: argparse.Namespace) -> int:
    from monitoring_pipeline.registry.audit_log import compact_audited, person

    recorded = compact_audited(config(args), person(by(args)), now())
    for entry in recorded:
        print(f"compacted {entry.subject} (v{entry.data_version}, audit seq {entry.seq})")
    print(f"{len(recorded)} tables compacted" if recorded else "nothing to compact: every audited table is compact")
    return 0


def cmd_audit_head(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from monitoring_pipeline.registry.audit_log import head_anchor

    anchor = head_anchor(config(args), _anchor_key())
    if anchor is None:
        raise CommandError("the audit log is empty")
    text = json.dumps(asdict(anchor))
    if args.out:
        Path(args.out).write_text(text + "\n")
    print(text)
    return 0
