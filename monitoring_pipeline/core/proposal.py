"""A first config for a team's own model, proposed from what its log and labels hold (`monitoring-pipeline init`):
which columns are features and outputs and which are left out, the baseline and reference windows, and the
label settings — each choice with the reason a person reads beside it in the written file."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import polars as pl

from monitoring_pipeline.core.contract import ID, MODEL, TS, VERSION
from monitoring_pipeline.core.drift.frames import ID_NAME

CONTRACT = (ID, MODEL, VERSION, TS)
SCORE_NAMES = re.compile(r"^(score|proba|probability|prob|confidence|y_score|prediction_score|p_\w+)$", re.I)
# a score by a word of its name (`probability_default`, `churn_score`) when its values are probabilities: a
# `credit_score` of 300-850 is an input
SCORE_WORDS = re.compile(r"(^|_)(score|proba|probability|prob|confidence)(_|$)", re.I)
PREDICTION_NAMES = re.compile(r"^(prediction|predicted|pred|y_pred|predicted_label|prediction_label)$", re.I)
TEXT_OUTPUT_NAMES = re.compile(r"^(output_text|output|response|completion|answer|generated_text|summary)$", re.I)
PROMPT_NAMES = re.compile(r"^(prompt|prompt_text|input_text|question|query)$", re.I)
TRUTH_NAMES = re.compile(r"^(label|target|y|y_true|ground_truth|truth|actual|outcome)$", re.I)
CONTEXT_NAMES = re.compile(r"^(context|retrieved_context|documents|passages)$", re.I)
FREE_TEXT_CHARS = 40  # a text column whose values average more characters is free text, not a category
MAX_CATEGORIES = 200  # a text column with more distinct values in the sample is an id or free text
BASELINE_DAYS = 14
WEEKLY_SPREAD = 0.15  # weekday volumes differing by more than this (coefficient of variation): weekly seasonality


@dataclass
class Proposal:
    """A model's proposed settings (as the config holds them), each key's reason, and the columns left out."""

    settings: dict[str, Any] = field(default_factory=dict)
    why: dict[str, str] = field(default_factory=dict)
    left_out: dict[str, str] = field(default_factory=dict)


def propose_columns(sample: pl.DataFrame, proposal: Proposal) -> None:
    """Features and outputs by type and name from a sample of the log; ids, timestamps, free text and constant
    columns left out, each with why."""
    numeric, categorical, out_numeric, out_categorical = [], [], [], []
    text_output: dict[str, str] = {}
    for name, dtype in sample.schema.items():
        if name in CONTRACT:
            continue
        values = sample[name].drop_nulls()
        if dtype.is_temporal():
            proposal.left_out[name] = "a timestamp or date: two windows differ by construction"
        elif ID_NAME.search(name):
            proposal.left_out[name] = "an id, by its name"
        elif TRUTH_NAMES.match(name):
            proposal.left_out[name] = "named like the truth: a model's input is not its label (labels go to --labels)"
        elif values.n_unique() <= 1:
            proposal.left_out[name] = "constant in the sample: nothing to judge"
        elif dtype == pl.String and values.str.len_chars().mean() > FREE_TEXT_CHARS:
            _text_role(name, text_output, proposal)
        elif dtype == pl.String and values.n_unique() > MAX_CATEGORIES:
            proposal.left_out[name] = (
                f"{values.n_unique()} distinct values in {values.len()} rows: an id or a high-cardinality column "
                "(list it under categorical to judge its top values)"
            )
        elif dtype.is_numeric() and (
            SCORE_NAMES.match(name) or (SCORE_WORDS.search(name) and values.cast(pl.Float64).is_between(0, 1).all())
        ):
            out_numeric.append(name)
            proposal.why["outputs.numeric"] = "the model's score, by its name" + (
                "" if SCORE_NAMES.match(name) else " and its values, all in [0, 1]"
            )
        elif PREDICTION_NAMES.match(name) and values.n_unique() <= MAX_CATEGORIES:
            out_categorical.append(name)
            proposal.why["outputs.categorical"] = (
                f"{values.n_unique()} distinct values: judged as categories (an integer prediction may be one)"
            )
        elif dtype.is_numeric():
            numeric.append(name)
        elif dtype in (pl.String, pl.Boolean, pl.Categorical) or isinstance(dtype, pl.Enum):
            categorical.append(name)
        else:
            proposal.left_out[name] = f"of type {dtype}: neither a number nor a category"
    features = {k: v for k, v in (("numeric", numeric), ("categorical", categorical)) if v}
    outputs = {k: v for k, v in (("numeric", out_numeric), ("categorical", out_categorical)) if v} | text_output
    if features:
        proposal.settings["features"] = features
    if outputs:
        proposal.settings["outputs"] = outputs


def _text_role(name: str, text_output: dict[str, str], proposal: Proposal) -> None:
    """A free-text column: the model's text output, its prompt or context by name, else left out."""
    if TEXT_OUTPUT_NAMES.match(name) and not text_output:
        text_output["text"] = name
        proposal.why["outputs.text"] = "free text: profiled as length, tokens, JSON validity and depth"
    elif PROMPT_NAMES.match(name) or CONTEXT_NAMES.match(name):
        key = "text" if PROMPT_NAMES.match(name) else "context"
        proposal.settings.setdefault("prompt", {})[key] = name
        proposal.why["prompt"] = "free text: profiled as prompt length and context size"
    else:
        proposal.left_out[name] = "free text (long values): not a category"


def propose_windows(daily: pl.DataFrame, proposal: Proposal) -> None:
    """Start, baseline and reference from the rows logged per day (`day`, `rows`): the first two weeks (a
    quarter of the days when fewer than eight weeks are logged, at least 7) as the baseline, and a reference that
    compares like weekdays when weekday volumes differ."""
    days = daily.sort("day")
    first, last = days["day"][0], days["day"][-1]
    span = (last - first).days + 1
    length = BASELINE_DAYS if span >= 4 * BASELINE_DAYS else max(7, span // 4)
    baseline = {"start": first, "end": first + timedelta(days=length - 1)}
    proposal.settings["start_date"] = first
    proposal.settings["baseline"] = baseline
    proposal.why["start_date"] = f"the log's first day ({span} days logged, to {last})"
    proposal.why["baseline"] = (
        f"the first {length} days, both ends included: bins are frozen from them and they are in-sample"
    )
    by_weekday = days.group_by(pl.col("day").dt.weekday()).agg(pl.col("rows").mean())["rows"]
    spread = float(by_weekday.std() / by_weekday.mean()) if by_weekday.len() == 7 and by_weekday.mean() else 0.0
    weekly = spread > WEEKLY_SPREAD
    proposal.settings["reference"] = {"kind": "fixed", **baseline, "match_weekday": weekly}
    proposal.why["reference"] = (
        f"weekday volumes differ by {spread:.0%}: each day is judged against the baseline's same weekdays"
        if weekly
        else f"weekday volumes differ by {spread:.0%} (no weekly pattern): every baseline day is the reference"
    )


def propose_labels(
    labels: pl.DataFrame, scored: pl.DataFrame | None, proposal: Proposal, label_table: str, column: str = "label"
) -> None:
    """Performance settings from the labels (their truth as `label`, read from the table's `column`) and, for a
    classifier, the label its score is the probability of: the one whose predictions score highest on average
    (`scored`: label, score), else the rarer one."""
    values = labels["label"].drop_nulls()
    vocabulary = values.unique().sort()
    proposal.settings["label_table"] = label_table
    named = {} if column == "label" else {"label_column": column}
    if score_column(proposal) is None:
        proposal.why["label_table"] = (
            "performance left out: no numeric output holds the model's score (name it score, or add "
            "performance: {score_column: <column>, positive_label: <label>} with the column listed under outputs)"
        )
        return
    if values.dtype.is_float() and vocabulary.len() > 20:
        proposal.settings["performance"] = {"task": "regression", **named, "score_column": score_column(proposal)}
        proposal.why["performance"] = f"{vocabulary.len()} distinct numeric labels: a regression"
        return
    if scored is not None and scored.height and not scored["score"].is_between(0, 1).all():
        proposal.why["label_table"] = (
            f"performance left out: {score_column(proposal)} holds values outside [0, 1] (up to "
            f"{scored['score'].max()}); a classifier's score is the probability of the positive label: rescale it "
            "in the log, then add performance: {score_column: ..., positive_label: ...}"
        )
        return
    if scored is not None and scored.height and scored["label"].n_unique() > 1:
        means = scored.group_by("label").agg(pl.col("score").mean()).sort("score", descending=True)
        positive, why = means["label"][0], f"its predictions score highest (mean score {means['score'][0]:.2f})"
    else:
        counts = values.value_counts().sort("count")
        positive, why = counts["label"][0], "the rarer label (no score to tell)"
    proposal.settings["performance"] = {
        "task": "classification",
        **named,
        "positive_label": positive,
        "score_column": score_column(proposal),
        "threshold": 0.5,
    }
    shown = ", ".join(str(v) for v in vocabulary.head(10).to_list())
    proposal.why["performance"] = f"labels {shown} ({values.dtype}); positive: {positive!r}, {why}"


def score_column(proposal: Proposal) -> str | None:
    """The proposed numeric output a classifier's score is read from (None: none)."""
    scores = proposal.settings.get("outputs", {}).get("numeric", [])
    return scores[0] if scores else None


TEXT_GUARDS = (  # (rule id, check, severity, params): the documented defaults, measured on the guard corpus
    ("output_present", "required", "block", {}),
    ("clean_characters", "text_characters", "block", {}),
    ("no_special_tokens", "special_tokens", "block", {}),
    ("no_runaway_repetition", "repetition", "block", {}),
    ("json_when_json", "json", "block", {"when": "json_like"}),
    ("nesting_depth", "nesting_depth", "warn", {}),
    ("no_refusal", "refusal", "warn", {}),
    ("no_pii", "pii", "warn", {}),
)


def propose_guards(sample: pl.DataFrame, proposal: Proposal) -> None:
    """Output guards at their documented defaults: on a text output the rules whose precision README publishes
    (blocking what is broken — empty, garbled, leaked tokens, loops, invalid JSON where JSON is meant — and
    recording refusals, deep nesting and personal data), grounding when a context is logged, and a score kept
    in [0, 1] when every sampled score is."""
    outputs, rules = proposal.settings.get("outputs", {}), []
    text = outputs.get("text")
    if text:
        for rule_id, check, severity, params in TEXT_GUARDS:
            rules.append(_rule(rule_id, check, severity, text, params))
        context = proposal.settings.get("prompt", {}).get("context")
        if context:
            rules.append(_rule("grounded_claims", "grounding", "warn", text, {"context": context}))
    score = score_column(proposal)
    if score and sample[score].is_between(0, 1).all():
        rules.append(_rule("score_in_unit_interval", "numeric_range", "block", score, {"min": 0, "max": 1}))
    if rules:
        proposal.settings["guards"] = {"max_blocked_share": 0.05, "rules": rules}
        proposal.why["guards"] = (
            "block: the row is quarantined before anything reads it; warn: only recorded. Defaults as README's "
            "per-rule precision table measures them"
        )


def _rule(rule_id: str, check: str, severity: str, column: str, params: dict[str, Any]) -> dict[str, Any]:
    rule = {"id": rule_id, "version": 1, "severity": severity, "check": check, "column": column}
    return rule | ({"params": params} if params else {})
