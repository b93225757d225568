"""The demo's chain of custody, as the commands a team would type (`monitoring-pipeline demo` replays them).

Ana trains and registers the models, Bob approves them (four-eyes), Carol deploys them; Dana writes the prompt
templates and Erin approves them. The scenario's history is backfilled: each deployment and approval carries the
moment it took effect in the story (`--effective-at`), next to the real moment it was recorded.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl

from monitoring_pipeline.core.config import ProjectConfig
from monitoring_pipeline.demo.generator import LLM_MODEL, PROMPT_TEMPLATES, TABULAR_MODEL
from monitoring_pipeline.demo.lake import TRAINING_TABLES
from monitoring_pipeline.io import catalog, delta

STORY_START = "2026-09-01T00:00Z"
CREDIT_RELEASE = "2026-10-16T12:00Z"
FIRST_APPROVALS = "2026-08-31T16:00Z"  # the day before the story: approved, then deployed
CREDIT_V11_APPROVED = "2026-10-15T16:00Z"
PROMPT_V2_APPROVED = "2026-10-20T15:00Z"
PROMPT_V2_RELEASE = "2026-10-21T00:00Z"
DTI_CHANGE = "2026-10-05T00:00Z"


def classifier_metrics(score: np.ndarray, positive: np.ndarray) -> dict[str, float]:
    """Accuracy at 0.5, Brier score and ROC AUC (rank formula, ties averaged) of scores against 0/1 labels."""
    ranks = pl.Series(score).rank("average").to_numpy()
    n_pos, n_neg = positive.sum(), (1 - positive).sum()
    auc = (ranks[positive == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return {
        "accuracy": round(float(((score >= 0.5) == (positive == 1)).mean()), 4),
        "brier": round(float(((score - positive) ** 2).mean()), 4),
        "roc_auc": round(float(auc), 4),
    }


def _slice_metrics(config: ProjectConfig, table: str, first: str, last: str) -> list[str]:
    rows = (
        delta.scan(catalog.table(config, table))
        .filter(pl.col("event_date").is_between(pl.lit(first).str.to_date(), pl.lit(last).str.to_date()))
        .collect()
    )
    if "label" in rows.columns:
        found = classifier_metrics(rows["score"].to_numpy(), (rows["label"] == "default").cast(pl.Int8).to_numpy())
    else:
        valid = rows["output_text"].str.json_path_match("$.summary").is_not_null().mean()
        found = {"json_valid_rate": round(float(valid), 4), "mean_confidence": round(float(rows["score"].mean()), 4)}
    return [f"{name}={value}" for name, value in found.items()]


def _artifact(folder: Path, name: str, version: str, content: dict) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}-{version}.json"
    path.write_text(json.dumps({"model": name, "version": version, **content}, sort_keys=True))
    return str(path)


def registry_commands(config: ProjectConfig, config_path: Path) -> list[list[str]]:
    """The command lines that register the demo's models, feature definitions and prompt templates, and release
    them, in order."""
    where = ["--config", str(config_path), "--lake-root", config.lake.root]
    beside = config_path.parent if "://" in config.lake.root else Path(config.lake.root).parent
    artifacts = beside / "artifacts"  # model files stay on local disk; an object-store lake pins their hashes
    commands: list[list[str]] = []

    def run(*args: str) -> None:
        commands.append([*args, *where])

    for model in (TABULAR_MODEL, LLM_MODEL):
        for column in config.model(model).columns_with_role("feature"):
            run(
                "features",
                "propose",
                column.name,
                "--model",
                model,
                "--owner",
                f"{model}-team",
                "--description",
                f"{column.name} as logged at prediction time",
                "--reason",
                "initial definition",
                "--by",
                "ana",
            )
            run(
                "features",
                "approve",
                column.name,
                "1",
                "--model",
                model,
                "--effective-at",
                STORY_START,
                "--reason",
                "matches the training pipeline",
                "--by",
                "bob",
            )
    run(
        "features",
        "propose",
        "debt_to_income",
        "--model",
        TABULAR_MODEL,
        "--allowed-range",
        "0,2",
        "--owner",
        "credit-data-team",
        "--reason",
        "the new intake form caps DTI at 2.0",
        "--by",
        "carol",
    )
    run(
        "features",
        "approve",
        "debt_to_income",
        "2",
        "--model",
        TABULAR_MODEL,
        "--effective-at",
        DTI_CHANGE,
        "--reason",
        "range checked against September data",
        "--by",
        "bob",
    )

    train, holdout = "event_date <= '2026-08-24'", ("2026-08-25", "2026-08-31")
    table = TRAINING_TABLES[TABULAR_MODEL]
    v10 = _artifact(artifacts, TABULAR_MODEL, "1.0", {"kind": "logistic", "logit_shift": 0.0})
    run(
        "models",
        "register",
        TABULAR_MODEL,
        "1.0",
        "--artifact",
        v10,
        "--train-table",
        table,
        "--train-filter",
        train,
        "--by",
        "ana",
    )
    run(
        "models",
        "evaluate",
        TABULAR_MODEL,
        "1.0",
        "--eval-name",
        "holdout",
        "--eval-table",
        table,
        "--eval-filter",
        f"event_date >= '{holdout[0]}' and event_date <= '{holdout[1]}'",
        *[a for m in _slice_metrics(config, table, *holdout) for a in ("--metric", m)],
        "--by",
        "ana",
    )
    run(
        "models",
        "approve",
        TABULAR_MODEL,
        "1.0",
        "--effective-at",
        FIRST_APPROVALS,
        "--reason",
        "holdout metrics meet the bar",
        "--by",
        "bob",
    )
    run(
        "models",
        "deploy",
        TABULAR_MODEL,
        "1.0",
        "--effective-at",
        STORY_START,
        "--reason",
        "first release",
        "--by",
        "carol",
    )
    v11 = _artifact(artifacts, TABULAR_MODEL, "1.1", {"kind": "logistic", "logit_shift": 0.8})
    run(
        "models",
        "register",
        TABULAR_MODEL,
        "1.1",
        "--artifact",
        v11,
        "--train-table",
        "logs/credit_risk",
        "--train-filter",
        "event_date <= '2026-10-05'",
        "--parent",
        "1.0",
        "--by",
        "ana",
    )
    run(
        "models",
        "evaluate",
        TABULAR_MODEL,
        "1.1",
        "--eval-name",
        "shadow",
        "--eval-table",
        table,
        "--eval-filter",
        f"event_date >= '{holdout[0]}' and event_date <= '{holdout[1]}'",
        *[a for m in _slice_metrics(config, table, *holdout) for a in ("--metric", m)],
        "--by",
        "ana",
    )
    run(
        "models",
        "approve",
        TABULAR_MODEL,
        "1.1",
        "--effective-at",
        CREDIT_V11_APPROVED,
        "--reason",
        "retrained on September traffic",
        "--by",
        "bob",
    )
    run(
        "models",
        "deploy",
        TABULAR_MODEL,
        "1.1",
        "--effective-at",
        CREDIT_RELEASE,
        "--reason",
        "quarterly retrain",
        "--by",
        "carol",
    )

    prompts = artifacts / "prompts"
    prompts.mkdir(parents=True, exist_ok=True)
    for version, template in enumerate(PROMPT_TEMPLATES, start=1):
        path = prompts / f"{LLM_MODEL}-v{version}.txt"
        path.write_text(template)
        approved = STORY_START if version == 1 else PROMPT_V2_APPROVED
        reason = "initial template" if version == 1 else "ask for topics and a structured analysis"
        run(
            "prompts",
            "propose",
            LLM_MODEL,
            "--template-file",
            str(path),
            "--owner",
            "support-ml",
            "--reason",
            reason,
            "--by",
            "dana",
        )
        run(
            "prompts",
            "approve",
            LLM_MODEL,
            str(version),
            "--effective-at",
            approved,
            "--reason",
            "reviewed",
            "--by",
            "erin",
        )
    llm_table = TRAINING_TABLES[LLM_MODEL]
    v23 = _artifact(artifacts, LLM_MODEL, "2.3", {"kind": "hosted-llm", "temperature": 0.2})
    run(
        "models",
        "register",
        LLM_MODEL,
        "2.3",
        "--artifact",
        v23,
        "--train-table",
        llm_table,
        "--train-filter",
        train,
        "--by",
        "ana",
    )
    run(
        "models",
        "evaluate",
        LLM_MODEL,
        "2.3",
        "--eval-name",
        "holdout",
        "--eval-table",
        llm_table,
        "--eval-filter",
        f"event_date >= '{holdout[0]}' and event_date <= '{holdout[1]}'",
        *[a for m in _slice_metrics(config, llm_table, *holdout) for a in ("--metric", m)],
        "--by",
        "ana",
    )
    run(
        "models",
        "approve",
        LLM_MODEL,
        "2.3",
        "--effective-at",
        FIRST_APPROVALS,
        "--reason",
        "holdout summaries reviewed",
        "--by",
        "bob",
    )
    run(
        "models",
        "deploy",
        LLM_MODEL,
        "2.3",
        "--prompt",
        "1",
        "--effective-at",
        STORY_START,
        "--reason",
        "first release",
        "--by",
        "carol",
    )
    run(
        "models",
        "deploy",
        LLM_MODEL,
        "2.3",
        "--prompt",
        "2",
        "--effective-at",
        PROMPT_V2_RELEASE,
        "--reason",
        "prompt v2: topics and analysis",
        "--by",
        "carol",
    )

    return commands
