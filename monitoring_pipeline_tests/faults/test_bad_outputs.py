"""Bad LLM outputs through the pipeline (issue 8's fault matrix, rows 23 to 25), on support_summarizer: bytes
that are not UTF-8, a 10 MB output and a 10,000-deep JSON output each get a guard verdict (quarantine with its
reasons), the run succeeds, no string column holds invalid UTF-8, reports stay small, and validated plus
quarantined plus rejected rows reconcile with the rows logged."""

from pathlib import Path

import polars as pl
import pytest

from monitoring_pipeline.core.guards.evaluate import REASONS
from monitoring_pipeline.demo.generator import llm_day
from monitoring_pipeline.io import catalog
from monitoring_pipeline_tests.faults.lake import DAYS, JUDGED, config_for, day_rows, model_for, run_days, write_log

pytestmark = pytest.mark.faults

MODEL = "support_summarizer"
INVALID = b'{"summary": "caf\xe9 r\xc3sum\xff\xfe"}'  # Latin-1 bytes and stray UTF-8 lead bytes
BAD_OUTPUTS: dict[str, bytes] = {
    "bad-bytes": INVALID,
    "huge": ('{"summary": "' + "word " * 2_000_000 + '"}').encode(),  # 10 MB
    "deep": ('{"summary": "deep", "detail": ' + "[" * 10_000 + "]" * 10_000 + "}").encode(),
}
EXPECTED_REASONS = {
    "bad-bytes": {"clean_characters:replacement_character"},
    "huge": {"output_length:too_long_chars", "summary_json:json_too_large"},
    "deep": {"summary_json:json_too_deep:10001"},  # the outer object, then 10,000 arrays
}


def _log() -> pl.DataFrame:
    """Five days of outputs logged as bytes (as a producer that never decoded them would), three rows of the last
    day replaced by the bad outputs."""
    days = pl.concat([llm_day(day, 120) for day in DAYS]).with_columns(pl.col("output_text").cast(pl.Binary))
    on_last = pl.col("event_ts").dt.date() == JUDGED
    carriers = days.filter(on_last).head(len(BAD_OUTPUTS)).drop("prediction_id", "output_text")
    bad = pl.DataFrame(
        {"prediction_id": list(BAD_OUTPUTS), "output_text": list(BAD_OUTPUTS.values())},
        schema={"prediction_id": pl.String, "output_text": pl.Binary},
    )
    injected = pl.concat([carriers, bad], how="horizontal").select(days.columns)
    return pl.concat([days.filter(~on_last), days.filter(on_last).slice(len(BAD_OUTPUTS)), injected])


def test_invalid_utf8_huge_and_deep_outputs_are_quarantined_with_reasons_and_counts_reconcile(tmp_path: Path) -> None:
    config = config_for(tmp_path, MODEL)
    model = model_for(config, MODEL)
    log = _log()
    write_log(config, model, log)
    run_days(config, model, DAYS)  # every step of every day runs: no RecursionError, no crash

    validated = day_rows(config, catalog.validated_table(model), JUDGED)
    quarantined = day_rows(config, catalog.quarantine_table(model), JUDGED)
    rejected = day_rows(config, catalog.LOG_REJECTS, JUDGED)
    logged = log.filter(pl.col("event_ts").dt.date() == JUDGED).height
    assert validated.height + quarantined.height + rejected.height == logged  # nothing lost, nothing twice
    reasons = dict(quarantined.select("prediction_id", REASONS).iter_rows())
    for prediction_id, expected in EXPECTED_REASONS.items():
        assert expected <= set(reasons[prediction_id]), (prediction_id, reasons[prediction_id])

    for rows in (validated, quarantined):  # text is stored as valid UTF-8 strings only
        assert rows.schema["output_text"] == pl.String
    held = quarantined.filter(pl.col("prediction_id") == "bad-bytes")["output_text"].item()
    assert held == INVALID.decode("utf-8", "replace") and "\ufffd" in held
    assert not validated["output_text"].str.contains("\ufffd", literal=True).any()

    for name in (catalog.FEATURE_PROFILES, catalog.OUTPUT_PROFILES, catalog.DRIFT_REPORT):
        assert day_rows(config, name, JUDGED).estimated_size() < 200_000  # aggregates only, never the text
