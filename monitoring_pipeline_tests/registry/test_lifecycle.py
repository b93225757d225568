"""The model lifecycle and the release ledger through the registry and the command line: each rule refuses what
it must refuse, and nothing is ever rewritten."""

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from monitoring_pipeline import cli
from monitoring_pipeline.core.lifecycle import LifecycleError
from monitoring_pipeline.registry import definitions, models
from monitoring_pipeline.registry.audit_log import read_audit, verify_audit

NOW = datetime(2026, 10, 1, tzinfo=UTC)
LATER = datetime(2026, 10, 2, tzinfo=UTC)
ALL = "event_date <= '2026-09-03'"


def _ready(config, artifact: Path, version: str = "1.0", parent: str | None = None) -> None:
    models.register(config, "credit_risk", version, artifact, "logs/credit_risk", ALL, parent, "ana", NOW)
    models.evaluate(
        config,
        "credit_risk",
        version,
        "holdout",
        "logs/credit_risk",
        "event_date == '2026-09-03'",
        {"auc": 0.8},
        "ana",
        NOW,
    )


def test_approval_refuses_the_registrant_and_a_version_without_evaluation(lake) -> None:
    config, artifact = lake
    models.register(config, "credit_risk", "1.0", artifact, "logs/credit_risk", ALL, None, "ana", NOW)
    with pytest.raises(LifecycleError, match="no evaluation checkpoint"):
        models.approve(config, "credit_risk", "1.0", "looks fine", "bob", NOW)
    models.evaluate(config, "credit_risk", "1.0", "holdout", "logs/credit_risk", ALL, {"auc": 0.8}, "ana", NOW)
    with pytest.raises(LifecycleError, match="four-eyes"):
        models.approve(config, "credit_risk", "1.0", "my own work", "ana", NOW)
    models.approve(config, "credit_risk", "1.0", "holdout ok", "bob", NOW)
    with pytest.raises(LifecycleError, match="only a registered version"):
        models.approve(config, "credit_risk", "1.0", "again", "carol", NOW)
    assert models.events(config, "credit_risk")["event"].to_list() == ["approved"]


def test_deploy_rollback_and_retire_append_to_the_release_ledger(lake, tmp_path: Path) -> None:
    config, artifact = lake
    _ready(config, artifact)
    with pytest.raises(LifecycleError, match="not approved"):
        models.deploy(config, "credit_risk", "1.0", "too early", "carol", NOW)
    models.approve(config, "credit_risk", "1.0", "ok", "bob", NOW)
    first = models.deploy(config, "credit_risk", "1.0", "first release", "carol", NOW)
    other = tmp_path / "v11.bin"
    other.write_bytes(b"weights v1.1")
    _ready(config, other, "1.1", parent="1.0")
    models.approve(config, "credit_risk", "1.1", "ok", "bob", NOW)
    with pytest.raises(LifecycleError, match="never in force"):
        models.deploy(config, "credit_risk", "1.1", "skip the deploy", "carol", NOW, rollback=True)
    models.deploy(config, "credit_risk", "1.1", "retrain", "carol", LATER)
    with pytest.raises(LifecycleError, match="is in force"):
        models.retire(config, "credit_risk", "1.1", "bad", "carol", LATER)
    back = models.deploy(config, "credit_risk", "1.0", "1.1 over-predicts default", "carol", LATER, rollback=True)
    models.retire(config, "credit_risk", "1.1", "over-predicts default", "carol", LATER)
    with pytest.raises(LifecycleError, match="retired"):
        models.deploy(config, "credit_risk", "1.1", "again", "carol", LATER)

    ledger = models.releases(config, "credit_risk")
    assert ledger.select("release_id", "model_version", "event", "approved_by").rows() == [
        ("credit_risk-r1", "1.0", "deployed", "bob"),
        ("credit_risk-r2", "1.1", "deployed", "bob"),
        ("credit_risk-r3", "1.0", "rolled_back", "bob"),
    ]
    assert first["feature_set"] == "{}" and back["reason"] == "1.1 over-predicts default"
    assert models.release_in_force(config, "credit_risk", LATER)["release_id"] == "credit_risk-r3"
    assert models.release_in_force(config, "credit_risk", NOW)["release_id"] == "credit_risk-r1"
    actions = [e.action for e in read_audit(config)]
    assert actions.count("model_deployed") == 2 and "model_rolled_back" in actions and "model_retired" in actions
    assert verify_audit(config).ok


def test_a_release_records_the_feature_definitions_and_prompt_in_force(lake) -> None:
    config, artifact = lake
    definitions.propose(config, "feature", "credit_risk", "income", {"source": "income"}, "initial", "ana", NOW)
    definitions.approve(config, "feature", "credit_risk", "income", 1, "ok", "bob", NOW)
    _ready(config, artifact)
    models.approve(config, "credit_risk", "1.0", "ok", "bob", NOW)
    release = models.deploy(config, "credit_risk", "1.0", "first", "carol", LATER)
    assert release["feature_set"] == '{"income": 1}'

    llm = "support_summarizer"
    with pytest.raises(models.RegistryError, match="is not registered"):
        models.deploy(config, llm, "2.3", "no such version", "carol", NOW)
    models.register(config, llm, "2.3", artifact, "logs/credit_risk", ALL, None, "ana", NOW)
    models.evaluate(config, llm, "2.3", "holdout", "logs/credit_risk", ALL, {"json_valid": 1.0}, "ana", NOW)
    models.approve(config, llm, "2.3", "ok", "bob", NOW)
    with pytest.raises(models.RegistryError, match="--prompt"):
        models.deploy(config, llm, "2.3", "which prompt?", "carol", NOW)
    definitions.propose(config, "prompt", llm, llm, {"template": "Summarize: {ticket}"}, "v1", "dana", NOW)
    with pytest.raises(LifecycleError, match="not approved"):
        models.deploy(config, llm, "2.3", "unapproved prompt", "carol", NOW, prompt_version=1)
    definitions.approve(config, "prompt", llm, llm, 1, "ok", "erin", NOW)
    models.deploy(config, llm, "2.3", "first", "carol", NOW, prompt_version=1)
    with pytest.raises(LifecycleError, match="already in force"):
        models.deploy(config, llm, "2.3", "same again", "carol", LATER, prompt_version=1)


def test_the_command_line_refuses_with_one_line_and_records_who(lake, capsys: pytest.CaptureFixture) -> None:
    config, artifact = lake
    where = ["--lake-root", config.lake.root]
    cli.main(
        [
            "models",
            "register",
            "credit_risk",
            "1.0",
            "--artifact",
            str(artifact),
            "--train-table",
            "logs/credit_risk",
            "--by",
            "ana",
            *where,
        ]
    )
    with pytest.raises(SystemExit, match=r"error: .*no evaluation checkpoint"):
        cli.main(["models", "approve", "credit_risk", "1.0", "--reason", "ok", "--by", "bob", *where])
    cli.main(
        [
            "models",
            "evaluate",
            "credit_risk",
            "1.0",
            "--eval-name",
            "holdout",
            "--eval-table",
            "logs/credit_risk",
            "--metric",
            "auc=0.81",
            "--metric",
            "brier=0.2",
            "--by",
            "ana",
            *where,
        ]
    )
    with pytest.raises(SystemExit, match="error: four-eyes"):
        cli.main(["models", "approve", "credit_risk", "1.0", "--reason", "ok", "--by", "ana", *where])
    cli.main(["models", "approve", "credit_risk", "1.0", "--reason", "ok", "--by", "bob", *where])
    cli.main(
        [
            "models",
            "deploy",
            "credit_risk",
            "1.0",
            "--effective-at",
            "2026-09-01T00:00",
            "--reason",
            "go",
            "--by",
            "carol",
            *where,
        ]
    )
    assert (
        "credit_risk-r1: deployed credit_risk 1.0, in force from 2026-09-01 00:00:00+00:00" in capsys.readouterr().out
    )
    evals = models.evaluations(config, "credit_risk")
    assert evals["metrics"].to_list() == ['{"auc": 0.81, "brier": 0.2}'] and evals["eval_rows"][0] == 900
    assert cli.main(["models", "verify", "credit_risk", "1.0", *where]) == 0
    cli.main(["models", "history", "credit_risk", *where])
    out = capsys.readouterr().out
    assert "credit_risk-r1" in out and "carol" in out
    assert models.events(config, "credit_risk").filter(pl.col("event") == "deployed")["actor"].to_list() == ["carol"]
