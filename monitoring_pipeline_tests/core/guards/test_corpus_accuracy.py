"""Precision and recall of every guard rule, and of all of them together, on the labelled corpus of real text
(`monitoring_pipeline_tests/guard_corpus.py`). The rules are README's example for a summarizer whose outputs are
sometimes JSON, every parameter at its default; README publishes this table and a test holds it to what runs."""

import polars as pl
import pytest

from monitoring_pipeline.core.guards.evaluate import evaluate
from monitoring_pipeline.io.config_file import PROJECT_ROOT
from monitoring_pipeline_tests.readme_queries import readme_guards

CORPUS = PROJECT_ROOT / "monitoring_pipeline_tests" / "fixtures" / "guard_corpus.parquet"
RULES = readme_guards("summarizer", {"output_text", "retrieved_context"}).rules
TARGETS = {  # the abnormal kinds each rule is for
    "output_present": {"missing"},
    "clean_characters": {"bad_characters"},
    "no_special_tokens": {"special_token"},
    "no_runaway_repetition": {"repetition"},
    "json_when_json": {"bad_json", "deep_json"},
    "nesting_depth": {"deep_json"},
    "grounded_claims": {"ungrounded"},
    "no_refusal": {"refusal"},
    "no_pii": {"pii"},
}
PER_RULE = {"precision": 0.95, "recall": 0.95}
OVERALL = {"precision": 0.98, "recall": 0.95}


def accuracy(corpus: pl.DataFrame) -> pl.DataFrame:
    """One row per rule and one for all of them: rows flagged, precision (flagged rows that are abnormal) and
    recall (rows of the rule's kinds it flagged; overall: abnormal rows any rule flagged)."""
    flagged = evaluate(corpus, RULES).verdicts.select("prediction_id", "rule_id")
    labelled = corpus.select("prediction_id", "kind", abnormal=pl.col("kind") != "normal")
    hits = flagged.join(labelled, on="prediction_id")
    rows = []
    for rule in [*TARGETS, None]:
        mine = hits if rule is None else hits.filter(pl.col("rule_id") == rule)
        ids = mine["prediction_id"].unique()
        target = labelled.filter(pl.col("abnormal") if rule is None else pl.col("kind").is_in(TARGETS[rule]))
        precision = labelled.filter(pl.col("prediction_id").is_in(ids.implode()))["abnormal"].mean()
        rows.append(
            {
                "rule": rule or "all rules",
                "flagged": ids.len(),
                "precision": precision,
                "recall": target["prediction_id"].is_in(ids.implode()).mean(),
            }
        )
    return pl.DataFrame(rows)


@pytest.fixture(scope="module")
def table() -> pl.DataFrame:
    table = accuracy(pl.read_parquet(CORPUS))
    with pl.Config(tbl_rows=-1, float_precision=3):
        print(table)
    return table


def test_the_corpus_is_real_text_with_every_kind_and_its_hard_negatives() -> None:
    corpus = pl.read_parquet(CORPUS)
    kinds = corpus.group_by("kind").len()
    assert set(kinds["kind"]) == {"normal", *set().union(*TARGETS.values())}
    assert kinds.filter(pl.col("kind") != "normal")["len"].min() >= 40
    assert corpus.filter(pl.col("kind") == "normal").height >= 2000
    assert corpus["prediction_id"].is_unique().all()


def test_each_rule_is_precise_and_catches_its_kinds(table: pl.DataFrame) -> None:
    rules = table.filter(pl.col("rule") != "all rules")
    for metric, floor in PER_RULE.items():
        below = rules.filter(pl.col(metric) < floor)
        assert below.is_empty(), f"{metric} under {floor}:\n{below}"


def test_all_rules_together_reach_the_published_bar(table: pl.DataFrame) -> None:
    overall = table.filter(pl.col("rule") == "all rules").row(0, named=True)
    assert overall["precision"] >= OVERALL["precision"] and overall["recall"] >= OVERALL["recall"], overall


def markdown(table: pl.DataFrame) -> str:
    lines = ["| rule | flagged | precision | recall |", "|---|---|---|---|"]
    for row in table.iter_rows(named=True):
        lines.append(f"| {row['rule']} | {row['flagged']} | {row['precision']:.3f} | {row['recall']:.3f} |")
    return "\n".join(lines)


def test_readme_publishes_this_table(table: pl.DataFrame) -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    assert f"<!-- guard-accuracy -->\n{markdown(table)}\n" in readme, markdown(table)
