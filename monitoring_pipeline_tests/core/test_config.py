"""Config parsing and reference windows."""

from datetime import date
from pathlib import Path

import pytest
import yaml

from monitoring_pipeline.core.config import ConfigError, ReferenceWindow, parse_config, parse_window
from monitoring_pipeline.core.drift.registry import Thresholds
from monitoring_pipeline.io.config_file import DEFAULT_CONFIG, load_config

MINIMAL = {
    "lake": {"root": "/tmp/lake"},
    "models": {
        "m": {
            "log_table": "logs/m",
            "start_date": "2026-01-01",
            "baseline": {"start": "2026-01-01", "end": "2026-01-14"},
            "reference": {"kind": "rolling", "days": 7},
            "features": {"numeric": ["x"], "categorical": ["c"]},
            "outputs": {"numeric": ["score"], "text": "out"},
            "drift": {"columns": {"x": {"thresholds": {"psi": {"warn": 0.2, "drift": 0.3}}, "decide_on": ["psi"]}}},
        }
    },
}


def test_a_positive_label_given_as_a_number_or_a_boolean_is_compared_as_the_labels_text() -> None:
    for given, text in ((1, "1"), ("default", "default"), (True, "true")):
        performance = {"positive_label": given, "score_column": "score"}
        raw = {**MINIMAL, "models": {"m": {**MINIMAL["models"]["m"], "label_table": "l", "performance": performance}}}
        assert parse_config(raw).model("m").performance.positive_label == text


def test_minimal_config_parses_with_derived_text_columns() -> None:
    model = parse_config(MINIMAL).model("m")
    assert [c.name for c in model.columns] == [
        "x",
        "c",
        "score",
        "output_chars",
        "output_tokens",
        "json_valid",
        "json_depth",
    ]
    assert model.source_columns == ("x", "c", "score", "out")
    assert model.settings_for("x").threshold("psi") == Thresholds(0.2, 0.3)
    assert model.settings_for("x").decide_on == ("psi",)
    assert model.settings_for("c").threshold("psi") == Thresholds(0.10, 0.25)  # registry default


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"reference": {"kind": "weekly"}}, r"models\.m\.reference\.kind: expected one of"),
        ({"reference": {"kind": "rolling", "days": 0}}, r"models\.m\.reference\.days: expected a positive integer"),
        ({"start_date": "yesterday"}, r"models\.m\.start_date: expected a date"),
        ({"drift": {"columns": {"x": {"decide_on": ["psl"]}}}}, r"unknown drift method 'psl'; expected one of \["),
        ({"drift": {"columns": {"nope": {}}}}, r"models\.m\.drift\.columns\.nope: not a monitored column"),
        ({"features": {"numeric": ["x", "x"]}}, r"columns listed twice: \['x'\]"),
        (
            {"label_table": "l", "performance": {"positive_label": "y", "score_column": "x", "min_coverage": 0}},
            r"models\.m\.performance\.min_coverage: expected a share in \(0, 1\], got 0",
        ),
        ({"performance": {"positive_label": "y"}}, r"models\.m\.label_table: required for performance monitoring"),
        (
            {"reference": {"kind": "fixed", "start": "2025-12-01", "end": "2025-12-07"}},
            r"models\.m\.reference: 2025-12-01 \.\. 2025-12-07 is not within the model's days \(from 2026-01-01\)",
        ),
        (
            {"label_table": "l", "performance": {"positive_label": [1], "score_column": "x"}},
            r"models\.m\.performance\.positive_label: expected a label \(text, a whole number or true/false\)",
        ),
    ],
)
def test_config_errors_name_the_path(change: dict, message: str) -> None:
    raw = {**MINIMAL, "models": {"m": {**MINIMAL["models"]["m"], **change}}}
    with pytest.raises(ConfigError, match=message):
        parse_config(raw)


def test_unknown_model_lists_the_configured_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown model 'x'; configured: \['m'\]"):
        parse_config(MINIMAL).model("x")


def test_fixed_window_with_weekday_matching() -> None:
    window = parse_window({"kind": "fixed", "start": "2026-09-01", "end": "2026-09-21", "match_weekday": True}, "w")
    monday = date(2026, 10, 19)
    assert window.days_for(monday) == [date(2026, 9, 7), date(2026, 9, 14), date(2026, 9, 21)]
    assert len(ReferenceWindow("fixed", date(2026, 9, 1), date(2026, 9, 21)).days_for(monday)) == 21


def test_rolling_and_same_weekday_windows_look_back() -> None:
    day = date(2026, 10, 19)
    assert ReferenceWindow("rolling", days=3).days_for(day) == [
        date(2026, 10, 16),
        date(2026, 10, 17),
        date(2026, 10, 18),
    ]
    assert ReferenceWindow("same_weekday", weeks=2).days_for(day) == [date(2026, 10, 5), date(2026, 10, 12)]


def test_alert_metrics_name_metrics_of_the_task() -> None:
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    raw["models"]["credit_risk"]["performance"]["alert_metrics"] = ["roc_auc", "mae"]
    with pytest.raises(ConfigError, match=r"alert_metrics: 'mae' is not a classification metric; expected one of"):
        parse_config(raw)
    raw["models"]["credit_risk"]["performance"]["alert_metrics"] = ["roc_auc"]
    assert parse_config(raw).model("credit_risk").performance.alerting() == ("roc_auc",)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda raw: raw["models"]["m"].update(gaurds={}), r"models\.m\.gaurds: unknown key; did you mean 'guards'\?"),
        (lambda raw: raw.update(modles={}), r"config\.modles: unknown key; did you mean 'models'\?"),
        (lambda raw: raw["models"]["m"]["drift"].update(defualts={}), r"models\.m\.drift\.defualts: .*'defaults'"),
        (
            lambda raw: raw["models"]["m"]["drift"]["columns"]["x"].update(alpah=0.1),
            r"models\.m\.drift\.columns\.x\.alpah: unknown key; did you mean 'alpha'\?",
        ),
        (
            lambda raw: raw["models"]["m"]["drift"].update(defaults={"alpha": 0}),
            r"models\.m\.drift\.defaults\.alpha: expected a number between 0 and 1 \(exclusive\), got 0",
        ),
        (
            lambda raw: raw["models"]["m"]["drift"].update(defaults={"min_sample": 0}),
            r"models\.m\.drift\.defaults\.min_sample: expected a whole number of at least 1, got 0",
        ),
        (
            lambda raw: raw["models"]["m"]["drift"]["columns"]["x"]["thresholds"]["psi"].update(drift=float("nan")),
            r"models\.m\.drift\.columns\.x\.thresholds\.psi\.drift: expected a finite number, got nan",
        ),
        (
            lambda raw: raw["models"]["m"]["drift"]["columns"]["x"]["thresholds"]["psi"].update(warn=0.5),
            r"thresholds\.psi: need 0 <= warn <= drift, got warn 0\.5 and drift 0\.3",
        ),
        (
            lambda raw: raw["models"]["m"]["drift"].update(defaults={"band_k": float("inf")}),
            r"models\.m\.drift\.defaults\.band_k .*: expected a finite number, got inf",
        ),
        (
            lambda raw: raw["models"]["m"].update(alerts={"feature_drift": {"threshold": -1}}),
            r"models\.m\.alerts\.feature_drift\.threshold: expected a number above 0, got -1",
        ),
        (
            lambda raw: raw["models"]["m"].update(alerts={"feature_drift": {"days": True}}),
            r"models\.m\.alerts\.feature_drift\.days: expected a positive integer, got True",
        ),
    ],
)
def test_a_typo_or_an_impossible_number_is_refused_by_its_path(edit, message) -> None:
    raw = yaml.safe_load(yaml.safe_dump(MINIMAL))  # a deep copy
    edit(raw)
    with pytest.raises(ConfigError, match=message):
        parse_config(raw)


def test_a_key_given_twice_in_the_config_file_is_refused(tmp_path) -> None:
    from monitoring_pipeline.io.config_file import load_config

    text = DEFAULT_CONFIG.read_text()
    twice = text.replace("\nmodels:\n", "\nmodels:\n  support_summarizer: {}\n", 1)
    path = tmp_path / "monitoring.yaml"
    path.write_text(twice)
    with pytest.raises(ConfigError, match=r"monitoring.yaml, line \d+: the key 'support_summarizer' is given twice"):
        load_config(path)


def test_readme_s_minimal_config_parses(tmp_path) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    block = readme.split("<!-- minimal-config -->\n```yaml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "mymodel.yaml").write_text(block)
    model = load_config(tmp_path / "mymodel.yaml").model("churn")
    assert model.performance.positive_label == "1" and model.reference.match_weekday
    assert [c.name for c in model.columns_with_role("feature")] == ["tenure_months", "plan"]


def test_a_text_column_takes_text_drift_thresholds_and_nothing_else_does() -> None:
    raw = yaml.safe_load(yaml.safe_dump(MINIMAL))
    raw["models"]["m"]["drift"]["columns"]["out"] = {"thresholds": {"ngram_mmd": {"warn": 0.02, "drift": 0.04}}}
    assert parse_config(raw).model("m").settings_for("out").thresholds["ngram_mmd"] == Thresholds(0.02, 0.04)
    raw["models"]["m"]["drift"]["columns"]["out"] = {"thresholds": {"ngram_mdm": {"warn": 0.02, "drift": 0.04}}}
    with pytest.raises(ConfigError, match=r"drift\.columns\.out\.thresholds\.ngram_mdm: .*unknown drift method"):
        parse_config(raw)
