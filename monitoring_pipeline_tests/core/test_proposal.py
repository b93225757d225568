"""A first config proposed from a log: roles by type and name, what is left out and why, the windows, the labels."""

from datetime import UTC, date, datetime, timedelta

import polars as pl

from monitoring_pipeline.core import proposal as propose
from monitoring_pipeline.io.config_file import load_config, proposal_yaml

DAYS = [date(2026, 1, 5) + timedelta(days=i) for i in range(70)]  # from a Monday


def _sample(rows: int = 400) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "prediction_id": [f"p{i}" for i in range(rows)],
            "model_name": ["churn"] * rows,
            "model_version": ["1"] * rows,
            "event_ts": [datetime(2026, 1, 5, tzinfo=UTC)] * rows,
            "customer_id": list(range(rows)),
            "tenure_months": [i % 60 for i in range(rows)],
            "plan": [("basic", "pro", "team")[i % 3] for i in range(rows)],
            "signup_date": [date(2025, 1, 1)] * rows,
            "notes": [f"called about invoice {i}, asked for a refund on the last order" for i in range(rows)],
            "region": ["north"] * rows,
            "score": [(i % 100) / 100 for i in range(rows)],
            "prediction": [i % 2 for i in range(rows)],
        }
    )


def test_columns_get_roles_by_type_and_name_and_the_rest_is_left_out_with_why() -> None:
    plan = propose.Proposal()
    propose.propose_columns(_sample(), plan)
    assert plan.settings["features"] == {"numeric": ["tenure_months"], "categorical": ["plan"]}
    assert plan.settings["outputs"] == {"numeric": ["score"], "categorical": ["prediction"]}  # an integer prediction
    assert set(plan.left_out) == {"customer_id", "signup_date", "notes", "region"}
    assert "id" in plan.left_out["customer_id"] and "constant" in plan.left_out["region"]
    assert "free text" in plan.left_out["notes"]


def test_a_score_is_found_by_a_word_of_its_name_when_its_values_are_probabilities() -> None:
    sample = pl.DataFrame(
        {
            "probability_default": [0.1, 0.7, 0.4, 0.9],  # the model's score
            "credit_score": [612, 780, 455, 701],  # an input, whatever its name says
            "churn_prob_v2": [0.2, 0.3, 0.5, 0.05],
        }
    )
    plan = propose.Proposal()
    propose.propose_columns(sample, plan)
    assert plan.settings["outputs"] == {"numeric": ["probability_default", "churn_prob_v2"]}
    assert plan.settings["features"] == {"numeric": ["credit_score"]}
    assert propose.score_column(plan) == "probability_default"


def test_labels_without_a_score_to_judge_them_by_propose_no_performance(tmp_path) -> None:
    plan = propose.Proposal()
    propose.propose_columns(pl.DataFrame({"tenure": [1, 5, 9], "prediction": ["a", "b", "a"]}), plan)
    labels = pl.DataFrame({"label": ["a", "b", "b"]})
    propose.propose_labels(labels, None, plan, "labels/churn")
    assert "performance" not in plan.settings and "no numeric output holds the model's score" in plan.why["label_table"]


def test_a_score_that_is_no_probability_proposes_no_classifier_performance_and_a_truth_column_is_no_input() -> None:
    plan = propose.Proposal()
    sample = pl.DataFrame({"tenure": [1, 5, 9], "label": ["yes", "no", "no"], "score": [12.5, 80.0, 55.0]})
    propose.propose_columns(sample, plan)
    assert "label" in plan.left_out and "named like the truth" in plan.left_out["label"]
    scored = pl.DataFrame({"label": ["yes", "no", "no"], "score": [12.5, 80.0, 55.0]})  # a percentage
    propose.propose_labels(scored.select("label"), scored, plan, "labels/churn")
    assert "performance" not in plan.settings and "outside [0, 1] (up to 80.0)" in plan.why["label_table"]
    amounts = pl.DataFrame({"label": [float(i) for i in range(30)]})  # a regression's labels are no probabilities
    propose.propose_labels(amounts, amounts.with_columns(score=pl.col("label") * 2), plan, "labels/churn")
    assert plan.settings["performance"]["task"] == "regression"


def test_weekday_volumes_that_follow_the_week_get_a_same_weekday_reference() -> None:
    weekly = pl.DataFrame({"day": DAYS, "rows": [300 if d.weekday() >= 5 else 1000 for d in DAYS]})
    plan = propose.Proposal()
    propose.propose_windows(weekly, plan)
    assert plan.settings["baseline"] == {"start": DAYS[0], "end": DAYS[13]}  # two weeks, both ends included
    assert plan.settings["reference"]["match_weekday"] is True and "weekday volumes differ" in plan.why["reference"]
    flat = pl.DataFrame({"day": DAYS[:20], "rows": [1000] * 20})
    plan = propose.Proposal()
    propose.propose_windows(flat, plan)
    assert plan.settings["reference"]["match_weekday"] is False
    assert plan.settings["baseline"]["end"] == DAYS[6]  # under eight weeks: a quarter of the days, at least 7


def test_the_positive_label_keeps_the_labels_type_and_is_the_one_scoring_highest() -> None:
    plan = propose.Proposal(settings={"outputs": {"numeric": ["score"]}})
    labels = pl.DataFrame({"label": [0, 1, 1, 0, 0]})
    scored = pl.DataFrame({"label": [0, 1, 1, 0], "score": [0.2, 0.9, 0.7, 0.1]})
    propose.propose_labels(labels, scored, plan, "labels/churn")
    performance = plan.settings["performance"]
    assert performance["positive_label"] == 1 and isinstance(performance["positive_label"], int)
    assert performance["score_column"] == "score" and "score highest" in plan.why["performance"]


def test_a_text_output_gets_the_documented_guards_and_the_written_config_parses(tmp_path) -> None:
    rows = 300
    sample = _sample(rows).with_columns(
        pl.Series(
            "output_text", [f"Summary {i}: the customer asked about an invoice and was helped." for i in range(rows)]
        ),
        pl.Series(
            "retrieved_context", [f"Invoice {i} was paid late; the customer called support twice." for i in range(rows)]
        ),
    )
    plan = propose.Proposal()
    propose.propose_columns(sample, plan)
    propose.propose_guards(sample, plan)
    assert plan.settings["outputs"]["text"] == "output_text" and plan.settings["prompt"] == {
        "context": "retrieved_context"
    }
    rules = {r["id"]: r for r in plan.settings["guards"]["rules"]}
    assert rules["json_when_json"]["params"] == {"when": "json_like"}  # plain-text outputs pass
    assert (
        rules["grounded_claims"]["params"] == {"context": "retrieved_context"} and rules["no_pii"]["severity"] == "warn"
    )
    assert rules["score_in_unit_interval"]["params"] == {"min": 0, "max": 1}
    propose.propose_windows(pl.DataFrame({"day": DAYS, "rows": [rows] * len(DAYS)}), plan)
    text = proposal_yaml("churn", "lake", "logs/churn", plan, "log", date(2026, 12, 2))
    (tmp_path / "churn.yaml").write_text(text)
    model = load_config(tmp_path / "churn.yaml").model("churn")
    assert [r.id for r in model.guards.rules] == list(rules)
    assert "notes" in text and "# left out: notes, free text" in text
