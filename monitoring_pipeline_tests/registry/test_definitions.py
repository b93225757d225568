"""Versioned feature definitions and prompt templates: proposals are checked, approvals need a second person,
history and diffs read back, and a rollback makes an earlier version active again without rewriting anything."""

from datetime import UTC, datetime

import pytest

from monitoring_pipeline import cli
from monitoring_pipeline.core.lifecycle import LifecycleError
from monitoring_pipeline.registry import definitions
from monitoring_pipeline.registry.audit_log import read_audit, verify_audit
from monitoring_pipeline.registry.definitions import FEATURE, PROMPT, DefinitionError

T1, T2, T3 = (datetime(2026, 10, d, tzinfo=UTC) for d in (1, 2, 3))


@pytest.mark.parametrize(
    ("name", "body", "message"),
    [
        ("salary", {"source": "salary"}, "not a monitored feature"),
        ("income", {"source": "income", "expression": "income * 2"}, "exactly one of"),
        ("income", {}, "exactly one of"),
        ("income", {"expression": "income +"}, "does not parse"),
        ("income", {"source": "income", "dtype": "categorical"}, "differs from the monitored kind"),
        ("income", {"source": "income", "allowed_range": [5, 1]}, "is empty"),
        ("income", {"source": "income", "drift": {"decide_on": ["no_such_method"]}}, "drift.decide_on"),
        ("income", {"source": "income", "colour": "red"}, "unknown keys"),
    ],
)
def test_a_bad_proposal_is_refused_naming_what_is_wrong(demo_config, name: str, body: dict, message: str) -> None:
    with pytest.raises(DefinitionError, match=message):
        definitions.propose(demo_config, FEATURE, "credit_risk", name, body, "why", "ana", T1)


def test_approval_activation_history_diff_and_rollback(demo_config) -> None:
    config, model = demo_config, "credit_risk"
    assert definitions.propose(config, FEATURE, model, "income", {"source": "income"}, "initial", "ana", T1) == 1
    with pytest.raises(DefinitionError, match="identical to version 1"):
        definitions.propose(config, FEATURE, model, "income", {"source": "income"}, "again", "ana", T1)
    with pytest.raises(LifecycleError, match="four-eyes"):
        definitions.approve(config, FEATURE, model, "income", 1, "mine", "ana", T1)
    definitions.approve(config, FEATURE, model, "income", 1, "ok", "bob", T1)
    body = {"expression": "income / 12", "owner": "risk", "drift": {"thresholds": {"psi": {"warn": 0.2, "drift": 0.4}}}}
    assert definitions.propose(config, FEATURE, model, "income", body, "monthly income", "carol", T2) == 2
    assert definitions.active_versions(config, model, T2) == {"income": 1}  # proposed is not active
    definitions.approve(config, FEATURE, model, "income", 2, "ok", "bob", T2, effective_at=T3)
    assert definitions.active_versions(config, model, T2) == {"income": 1}  # active from T3
    assert definitions.active_versions(config, model, T3) == {"income": 2}
    assert definitions.diff(config, FEATURE, model, "income", 1, 2) == [
        '+ drift: {"thresholds": {"psi": {"drift": 0.4, "warn": 0.2}}}',
        '+ expression: "income / 12"',
        '+ owner: "risk"',
        '- source: "income"',
    ]
    later = datetime(2026, 10, 4, tzinfo=UTC)
    definitions.rollback(config, FEATURE, model, "income", 1, "v2 broke the reports", "dana", later)
    assert definitions.active_versions(config, model, later) == {"income": 1}
    with pytest.raises(LifecycleError, match="already active"):
        definitions.rollback(config, FEATURE, model, "income", 1, "again", "dana", later)
    events = definitions.history(config, FEATURE, model, "income").select("version", "event", "actor").rows()
    assert events == [
        (1, "proposed", "ana"),
        (1, "approved", "bob"),
        (2, "proposed", "carol"),
        (2, "approved", "bob"),
        (1, "rolled_back", "dana"),
    ]
    actions = [e.action for e in read_audit(config)]
    assert actions == [
        "feature_propose",
        "feature_approved",
        "feature_propose",
        "feature_approved",
        "feature_rolled_back",
    ]
    assert verify_audit(config).ok
    assert "v2 broke" not in str(read_audit(config))  # reasons are hashed into the audit log, not copied


def test_prompt_templates_diff_line_by_line_through_the_command_line(demo_config, tmp_path, capsys) -> None:
    where = ["--lake-root", demo_config.lake.root]
    for version, text in enumerate(["Summarize:\n{ticket}\n", "Summarize as JSON:\n{ticket}\nAdd topics.\n"], 1):
        path = tmp_path / f"v{version}.txt"
        path.write_text(text)
        cli.main(
            [
                "prompts",
                "propose",
                "support_summarizer",
                "--template-file",
                str(path),
                "--reason",
                "r",
                "--by",
                "dana",
                *where,
            ]
        )
        cli.main(["prompts", "approve", "support_summarizer", str(version), "--reason", "ok", "--by", "erin", *where])
    capsys.readouterr()
    cli.main(["prompts", "diff", "support_summarizer", "1", "2", *where])
    out = capsys.readouterr().out
    assert "-Summarize:" in out and "+Summarize as JSON:" in out and "+Add topics." in out
    assert (
        definitions.in_force(demo_config, PROMPT, "support_summarizer", datetime.now(UTC))["support_summarizer"][0] == 2
    )


def test_a_feature_name_shared_by_no_model_or_given_without_model_is_resolved_or_refused(demo_config, capsys) -> None:
    where = ["--lake-root", demo_config.lake.root]
    cli.main(["features", "propose", "income", "--reason", "initial", "--by", "ana", *where])  # credit_risk's only
    assert definitions.versions(demo_config, FEATURE, "credit_risk", "income")["body"][0] == (
        '{"dtype":"numeric","source":"income"}'
    )
    with pytest.raises(SystemExit, match="monitored by no model"):
        cli.main(["features", "history", "salary", *where])
    with pytest.raises(SystemExit, match="error: version 1 was never approved"):
        cli.main(["features", "rollback", "income", "--to", "1", "--reason", "r", "--by", "ana", *where])
