"""The audit log as stored in Delta, through the command line: edits, deletions, reorderings and truncation of
the table itself are each caught, truncation through an exported (optionally signed) head."""

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from monitoring_pipeline import cli
from monitoring_pipeline.io import catalog, delta
from monitoring_pipeline.registry.audit_log import audit

NOW = datetime(2026, 10, 1, tzinfo=UTC)


@pytest.fixture
def chained(demo_config):
    for i in range(6):
        audit(demo_config, actor="cli:ana", action="materialize", subject=f"s{i}", payload={"rows": i}, now=NOW)
    return demo_config, ["--lake-root", demo_config.lake.root]


def _rewrite(config, change) -> None:
    """Replace the audit table's rows with `change(rows)` in one Delta commit (what a tamperer with write access
    could do)."""
    table = catalog.table(config, catalog.AUDIT_LOG)
    delta.overwrite(table, change(delta.scan(table).sort("seq").collect()))


@pytest.mark.parametrize(
    ("change", "bad_seq", "problem"),
    [
        (
            lambda rows: rows.with_columns(
                pl.when(pl.col("seq") == 2).then(pl.lit("{}")).otherwise("payload").alias("payload")
            ),
            2,
            "entry_hash does not match",
        ),
        (lambda rows: rows.filter(pl.col("seq") != 3), 3, "entry 3 is missing"),
        (lambda rows: rows.with_columns(pl.col("seq").replace({1: 2, 2: 1})), 1, "prev_hash does not link"),
    ],
    ids=["edited", "deleted", "reordered"],
)
def test_a_tampered_table_fails_at_the_first_entry_touched(chained, capsys, change, bad_seq: int, problem: str):
    config, where = chained
    assert cli.main(["audit", "verify", *where]) == 0
    _rewrite(config, change)
    assert cli.main(["audit", "verify", *where]) == 3
    out = capsys.readouterr().out
    assert f"BROKEN at seq {bad_seq}: {problem}" in out


def test_truncation_is_caught_through_the_exported_head(chained, capsys, tmp_path: Path, monkeypatch):
    config, where = chained
    monkeypatch.setenv("MP_AUDIT_ANCHOR_KEY", "s3cret")
    head = tmp_path / "head.json"
    assert cli.main(["audit", "head", "--out", str(head), *where]) == 0
    anchor = json.loads(head.read_text())
    assert anchor["seq"] == 5 and anchor["signature"]
    _rewrite(config, lambda rows: rows.filter(pl.col("seq") < 4))
    assert cli.main(["audit", "verify", *where]) == 0  # a cut chain is still a valid chain...
    assert cli.main(["audit", "verify", "--head", str(head), *where]) == 3  # ...but not the exported one
    assert "truncated" in capsys.readouterr().out
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps({**anchor, "seq": 3}))
    assert cli.main(["audit", "verify", "--head", str(forged), *where]) == 3
    assert "NOT signed" in capsys.readouterr().out


def test_the_log_is_compacted_as_it_grows_and_still_verifies(demo_config, monkeypatch) -> None:
    from monitoring_pipeline.registry import audit_log

    monkeypatch.setattr(audit_log, "COMPACT_EVERY", 4)
    for i in range(11):
        audit(demo_config, actor="cli:ana", action="materialize", subject=f"s{i}", payload={"rows": i}, now=NOW)
    table = catalog.table(demo_config, catalog.AUDIT_LOG)
    from deltalake import DeltaTable

    assert len(DeltaTable(table.uri).file_uris()) < 11  # compacted at versions 4 and 8
    result = audit_log.verify_audit(demo_config)
    assert result.ok and result.entries == 11
