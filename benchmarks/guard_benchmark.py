"""Benchmark the output guards: batch throughput, one record in-process, pathological outputs.

    uv run python benchmarks/guard_benchmark.py --rows 200000

Batch: N outputs of about 500 characters (valid JSON: four of the demo summarizer's summaries in one), with the
text rules (required, text_characters, special_tokens, repetition, length), then with every rule of
support_summarizer, then with README's summarizer example (adds json_like, nesting_depth and pii), then each rule of
that example alone. Then N real outputs: the guard corpus' normal rows (real text shipped offline, plain and JSON,
with their contexts) repeated, through the text rules, README's summarizer example and each of its rules.
Single record: a 2 KB output through every rule, p50 and p99 over 1,000 calls. Pathological: one 10 MB output
and one 10,000-deep JSON through the json and text rules.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import date

import polars as pl

from monitoring_pipeline import check_record, guard_rules
from monitoring_pipeline.core.guards.evaluate import evaluate
from monitoring_pipeline.demo.generator import llm_day
from monitoring_pipeline.io.config_file import PROJECT_ROOT
from monitoring_pipeline_tests.readme_queries import readme_guards

CORPUS = PROJECT_ROOT / "monitoring_pipeline_tests" / "fixtures" / "guard_corpus.parquet"
ID = "prediction_id"
TEXT_CHECKS = {"required", "text_characters", "special_tokens", "repetition", "length"}


def outputs(rows: int) -> pl.DataFrame:
    frame = llm_day(date(2026, 9, 2), rows)
    while frame.height < rows:
        frame = pl.concat([frame, frame]).with_columns(
            pl.format("{}-{}", "prediction_id", pl.int_range(pl.len())).alias("prediction_id")
        )
    frame = frame.head(rows)
    words = pl.col("output_text").str.json_path_match("$.summary")  # four outputs' summaries: no artificial loop
    parts = [words.shift(i, fill_value="") for i in range(4)]
    lengthened = pl.struct(pl.concat_str(parts, separator=" ").alias("summary")).struct.json_encode()
    return frame.with_columns(lengthened.alias("output_text"))


def real_outputs(rows: int) -> pl.DataFrame:
    """The guard corpus' normal outputs with their contexts, repeated to `rows` (ids made unique)."""
    corpus = pl.read_parquet(CORPUS).filter(pl.col("kind") == "normal").select(ID, "output_text", "retrieved_context")
    frame = pl.concat([corpus] * (rows // corpus.height + 1)).head(rows)
    return frame.with_columns(pl.format("{}-{}", ID, pl.int_range(pl.len())).alias(ID))


def rows_per_second(frame: pl.DataFrame, rules, repeat: int = 3) -> float:
    best = min(_timed(lambda: evaluate(frame, rules)) for _ in range(repeat))
    return frame.height / best


def _timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    rules = guard_rules("support_summarizer")
    example = readme_guards("summarizer", {"output_text", "retrieved_context"}).rules
    frame = outputs(args.rows)
    record = frame.row(0, named=True) | {"output_text": json.dumps({"summary": "word " * 390})}
    latencies = sorted(_timed(lambda: check_record(record, rules)) for _ in range(1_000))
    deep, huge = "[" * 10_000 + "]" * 10_000, '{"summary": "' + "a" * 10_000_000 + '"}'
    pathological = frame.head(2).with_columns(pl.Series("output_text", [deep, huge]))
    result = {
        "rows": frame.height,
        "mean_output_chars": round(frame["output_text"].str.len_chars().mean()),
        "text_rules_rows_per_s": round(rows_per_second(frame, [r for r in rules if r.check in TEXT_CHECKS])),
        "all_rules_rows_per_s": round(rows_per_second(frame, rules)),
        "readme_summarizer_rules_rows_per_s": round(rows_per_second(frame, example)),
        "each_readme_rule_rows_per_s": {r.id: round(rows_per_second(frame, [r], repeat=1)) for r in example},
        "single_record_bytes": len(record["output_text"].encode()),
        "single_record_p50_ms": round(statistics.median(latencies) * 1000, 2),
        "single_record_p99_ms": round(latencies[int(0.99 * len(latencies))] * 1000, 2),
        "pathological_ms": round(_timed(lambda: evaluate(pathological, rules)) * 1000, 1),
    }
    real = real_outputs(args.rows)
    result["real_outputs"] = {
        "rows": real.height,
        "mean_output_chars": round(real["output_text"].str.len_chars().mean()),
        "text_rules_rows_per_s": round(rows_per_second(real, [r for r in example if r.check in TEXT_CHECKS])),
        "readme_summarizer_rules_rows_per_s": round(rows_per_second(real, example)),
        "each_readme_rule_rows_per_s": {r.id: round(rows_per_second(real, [r], repeat=1)) for r in example},
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
