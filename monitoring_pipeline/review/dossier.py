"""The review dossier of a ticket: what a reviewer needs to decide on retraining, in one document.

The columns drifting on the ticket's last day ranked by drift size (the decisive statistic over its drift
threshold) with their reference and current distributions, the release in force when the trouble began and the
ones since, the quarantine trend of the last two weeks, and the exact report partitions, Dagster runs and Delta
versions it was built from.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any

import polars as pl

from monitoring_pipeline.core.alerts import RECOVERED
from monitoring_pipeline.core.bins import CategoricalBins
from monitoring_pipeline.core.config import ModelSpec, ProjectConfig
from monitoring_pipeline.core.drift.registry import INPUT_ROLES, OUTPUT_ROLES
from monitoring_pipeline.core.profile import ColumnProfile
from monitoring_pipeline.io import catalog, delta
from monitoring_pipeline.registry import models
from monitoring_pipeline.registry.audit_log import latest_entries
from monitoring_pipeline.registry.signatures import identity_note
from monitoring_pipeline.review import tickets
from monitoring_pipeline.review.trace import jsonable
from monitoring_pipeline.steps.drift import worst_drift

TOP_COLUMNS = 10
TREND_DAYS = 14


ROLES_OF_SIGNAL = {
    "feature_drift": INPUT_ROLES,
    "output_drift": OUTPUT_ROLES,
    "guard_failure": ("guard",),
    "missing_data": (*INPUT_ROLES, *OUTPUT_ROLES, "guard"),
    "performance": (*INPUT_ROLES, "output"),
}


def _distribution(profile: ColumnProfile | None, bins: Any, role: str) -> dict[str, Any]:
    """Quantiles of a numeric profile, the shares of the top categories, or a guard rule's failure rate."""
    if profile is None or profile.n_valid == 0:
        return {}
    if role == "guard":
        return {"failure_rate": round(profile.mean or 0.0, 4)}
    if isinstance(bins, CategoricalBins):
        total = int(profile.counts.sum())
        labels = [*bins.vocabulary, "(other)", "(unseen)"]
        shares = sorted(zip(labels, profile.counts.tolist(), strict=True), key=lambda kv: -kv[1])[:5]
        return {label: round(count / total, 4) for label, count in shares if count}
    names = ("p05", "p25", "p50", "p75", "p95")
    picked = [profile.quantiles[i] for i in (1, 2, 3, 4, 5)]
    return {n: None if q is None else round(q, 6) for n, q in zip(names, picked, strict=True)}


def _drifting(config: ProjectConfig, model: ModelSpec, day: date, roles: tuple[str, ...]) -> list[dict[str, Any]]:
    worst = worst_drift(config, model, day, roles, TOP_COLUMNS)
    return [
        {
            "column": r["column"],
            "role": r["role"],
            "verdict": r["verdict"],
            "method": r["method"],
            "value": r["value"],
            "threshold": r["threshold"],
            "drift_size": round(r["size"], 3),
            "reference": _distribution(worst.reference.get(r["column"]), worst.bins.get(r["column"]), r["role"]),
            "current": _distribution(worst.current.get(r["column"]), worst.bins.get(r["column"]), r["role"]),
        }
        for r in worst.ranked.iter_rows(named=True)
    ]


def _quarantine_trend(config: ProjectConfig, model: ModelSpec, last: date) -> list[dict[str, Any]]:
    signals = tickets.model_signals(config, model, last - timedelta(days=TREND_DAYS - 1), last)
    rows = signals.filter(pl.col("signal") == "guard_failure").sort("day")
    return [
        {"day": r["day"].isoformat(), "quarantined_share": round(r["value"], 4)} for r in rows.iter_rows(named=True)
    ]


def _failures_by_rule(config: ProjectConfig, model: ModelSpec, day: date) -> dict[str, int]:
    verdicts = catalog.day_rows(config, catalog.GUARD_VERDICTS, model.name, days=day)
    if verdicts is None:
        return {}
    return dict(verdicts.group_by("rule_id").len().sort("len", descending=True).collect().iter_rows())


def _releases(config: ProjectConfig, model: ModelSpec, first: date, last: date) -> dict[str, Any]:
    ledger = models.releases(config, model.name)
    began = delta.day_bounds(first)[1]
    before = ledger.filter(pl.col("effective_at") < began)
    since = ledger.filter((pl.col("effective_at") >= began) & (pl.col("effective_at") < delta.day_bounds(last)[1]))
    pick = ["release_id", "model_version", "prompt_version", "approved_by", "effective_at", "reason"]
    in_force = before.select(pick).row(-1, named=True) if before.height else None
    return {
        "in_force_when_it_began": jsonable(in_force) if in_force else None,
        "since": [jsonable(r) for r in since.select(pick).iter_rows(named=True)],
    }


def _sources(config: ProjectConfig, model: ModelSpec, days: list[date]) -> list[dict[str, Any]]:
    subjects = {f"{model.name}/{asset}@{d}" for d in days for asset in ("guards", "profiles", "drift_report")}
    return [
        {"partition": e.subject, "run": e.actor, "table": e.data_table, "delta_version": e.data_version}
        for e in latest_entries(config, subjects)
    ]


def build_dossier(config: ProjectConfig, ticket_id: str) -> dict[str, Any]:
    row = tickets.ticket(config, ticket_id)
    model = config.model(row["model_name"])
    first, last = row["first_day"], row["last_day"]
    return {
        "ticket": jsonable({k: v for k, v in row.items() if k != "breach_days"})
        | {"breach_days": [d.isoformat() for d in row["breach_days"]], "evidence": json.loads(row["evidence"])},
        "top_drifting": _drifting(config, model, last, ROLES_OF_SIGNAL[row["signal"]]),
        "guard_failures_by_rule": _failures_by_rule(config, model, last),
        "releases": _releases(config, model, first, last),
        "quarantine_trend": _quarantine_trend(config, model, last),
        "sources": _sources(config, model, sorted({first, last})),
        "identities": identity_note(config.governance),
    }


def _state(ticket: dict[str, Any]) -> str:
    if ticket.get("state") == RECOVERED:
        return f"its signal recovered on {ticket['recovered_on']}"
    return "its signal still alerting"


def to_markdown(dossier: dict[str, Any]) -> str:
    t = dossier["ticket"]
    lines = [
        f"### {t['ticket_id']} ({t['severity']}, {t['status']})",
        f"{t['signal']} of **{t['model_name']}** breached on {len(t['breach_days'])} days, {t['first_day']} .. "
        f"{t['last_day']}; {_state(t)}; delivery: {t['delivery_status']}.",
        "",
        "| column | verdict | statistic | size | reference | current |",
        "|---|---|---|---|---|---|",
    ]
    for c in dossier["top_drifting"]:
        lines.append(
            f"| {c['column']} | {c['verdict']} | {c['method']} {c['value']:.4g} | {c['drift_size']}x "
            f"| {_short(c['reference'])} | {_short(c['current'])} |"
        )
    release = dossier["releases"]["in_force_when_it_began"]
    began = f"{release['release_id']} (model {release['model_version']})" if release else "none"
    since = ", ".join(r["release_id"] for r in dossier["releases"]["since"]) or "none"
    failures = ", ".join(f"{rule} {n}" for rule, n in dossier["guard_failures_by_rule"].items()) or "none"
    lines += [
        "",
        f"Release in force when it began: {began}; releases since: {since}."
        + (f" Approvers' {dossier['identities']}." if dossier["identities"] else ""),
        f"Guard failures on {t['last_day']}: {failures}.",
        "Quarantined share, last days: "
        + ", ".join(f"{q['day'][5:]} {q['quarantined_share']:.1%}" for q in dossier["quarantine_trend"]),
        "",
        "Built from: "
        + "; ".join(f"{s['partition']} ({s['table']}@v{s['delta_version']})" for s in dossier["sources"]),
    ]
    return "\n".join(lines) + "\n"


def _short(distribution: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in distribution.items())


DOSSIER_SCHEMA: dict[str, pl.DataType] = {
    "ticket_id": pl.String(),
    "model_name": pl.String(),
    "built_at": pl.Datetime("us", "UTC"),
    "last_day": pl.Date(),
    "document": pl.String(),  # JSON
    "markdown": pl.String(),
}


def store(config: ProjectConfig, ticket_id: str, document: dict[str, Any], markdown: str, now: datetime) -> int:
    """Replace the ticket's dossier in `reports/review_dossiers`; returns the committed Delta version."""
    row = {
        "ticket_id": ticket_id,
        "model_name": document["ticket"]["model_name"],
        "built_at": now,
        "last_day": date.fromisoformat(document["ticket"]["last_day"]),
        "document": json.dumps(document, default=str),
        "markdown": markdown,
    }
    frame = pl.DataFrame([row], schema=DOSSIER_SCHEMA, orient="row")
    return delta.write_partition(catalog.table(config, catalog.DOSSIERS), frame, {"ticket_id": ticket_id})


def stored_markdown(config: ProjectConfig, ticket_id: str) -> str | None:
    """The ticket's stored dossier as markdown (None: not built yet)."""
    rows = catalog.day_rows(config, catalog.DOSSIERS)
    found = rows.filter(pl.col("ticket_id") == ticket_id).select("markdown").collect() if rows is not None else None
    return found["markdown"][0] if found is not None and found.height else None
