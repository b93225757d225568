"""Text drift on real text (the guard corpus' normal outputs: stdlib and package docstrings, licences, READMEs):
profiles merge, days of one population stay quiet, a template or topic change fires, and n-grams explain it."""

import zlib
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from monitoring_pipeline.core.drift.compare import Status
from monitoring_pipeline.core.drift.text import (
    BUCKETS,
    FIXED,
    MAX_TEXTS,
    empty_text_profile,
    from_row,
    judge_text,
    merge_text,
    ordinary_values,
    text_mmd,
    text_profile,
    text_thresholds,
    to_row,
)

CORPUS = Path(__file__).parents[1] / "fixtures" / "guard_corpus.parquet"


@pytest.fixture(scope="module")
def normal() -> pl.DataFrame:
    frame = pl.read_parquet(CORPUS).filter(pl.col("kind") == "normal").select("output_text", "source")
    return frame.sample(fraction=1.0, shuffle=True, seed=7)


def _days(texts: pl.Series, n: int) -> list[pl.Series]:
    size = texts.len() // n
    return [texts.slice(i * size, size) for i in range(n)]


def test_a_profile_of_two_halves_merged_is_the_profile_of_the_whole(normal: pl.DataFrame) -> None:
    first, second = _days(normal["output_text"].head(1000), 2)
    whole, merged = text_profile(pl.concat([first, second])), merge_text([text_profile(first), text_profile(second)])
    assert (merged.n, merged.sum_sq) == (whole.n, pytest.approx(whole.sum_sq))
    np.testing.assert_allclose(merged.vector, whole.vector, atol=1e-9)
    assert merged.ngrams["the"] == pytest.approx(whole.ngrams["the"])
    stored = from_row(to_row(whole))  # the stored form gives back the same profile
    assert stored.n == whole.n and np.array_equal(stored.vector, whole.vector) and stored.ngrams == whole.ngrams


def test_a_text_s_vector_has_unit_length_per_family_and_the_hash_is_crc32() -> None:
    one = text_profile(pl.Series(["Hello hello world"]))
    assert one.n == 1 and one.sum_sq == pytest.approx(1.0)  # words, pairs and 3-grams: each a third
    assert one.vector @ one.vector == pytest.approx(1.0)
    alone = text_profile(pl.Series(["ok"]))  # one word: no pair, so two families
    assert alone.sum_sq == pytest.approx(2 / 3)
    bucket = zlib.crc32(b"ok") % BUCKETS  # the same bucket on every machine and Polars version
    assert alone.vector[bucket] > 0 and bucket == 3399


def test_days_of_one_population_stay_well_below_the_threshold(normal: pl.DataFrame) -> None:
    days = [text_profile(d) for d in _days(normal["output_text"], 6)]
    values = [text_mmd(merge_text(days[:i] + days[i + 1 :]), days[i]) for i in range(len(days))]
    assert max(values) < FIXED.warn / 5, values
    verdict = judge_text(merge_text(days[1:]), days[0], FIXED, 30)
    assert verdict.status == Status.OK and verdict.separating == []


def test_a_new_template_drifts_and_its_words_explain_it(normal: pl.DataFrame) -> None:
    texts = normal["output_text"]
    reference, day = text_profile(texts.head(1500)), texts.slice(1500, 800)
    released = '{"answer": "' + day + '", "analysis": {"confidence": "high"}}'
    verdict = judge_text(reference, text_profile(released), FIXED, 30)
    assert verdict.status == Status.DRIFT and verdict.value > 5 * FIXED.drift
    named = {s.ngram for s in verdict.separating[:6]}
    assert {"analysis", "confidence", "answer"} <= named, named
    assert all(s.current > s.reference for s in verdict.separating if s.ngram in named)  # they appeared


def test_a_change_of_topic_drifts(normal: pl.DataFrame) -> None:
    sources = normal["source"].str.extract(r"^([a-z]+)")
    kinds = sources.value_counts(sort=True)
    topic = kinds[0, 0]  # the most common source: a day of nothing else
    reference = text_profile(normal["output_text"].head(1500))
    narrow = text_profile(normal.filter(sources == topic)["output_text"].tail(600))
    mixed = text_profile(normal["output_text"].tail(600))
    assert judge_text(reference, narrow, FIXED, 30).status in (Status.WARN, Status.DRIFT)
    assert judge_text(reference, mixed, FIXED, 30).status == Status.OK


def test_thresholds_rise_beyond_ordinary_days_that_differ_more_than_the_floor(normal: pl.DataFrame) -> None:
    texts = normal["output_text"]
    family = normal.with_columns(pl.col("source").str.extract(r"^([a-z]+)").alias("family"))
    by_family = [part for part in family.partition_by("family") if part.height >= 50]
    assert len(by_family) >= 5
    wide = {i: text_profile(part["output_text"]) for i, part in enumerate(by_family)}
    peers = {d: [p for p in wide if p != d] for d in wide}
    raised = text_thresholds(ordinary_values(wide, peers))
    assert raised.warn > FIXED.warn and raised.drift > FIXED.drift  # days of different sources differ by nature
    quiet = {i: text_profile(d) for i, d in enumerate(_days(texts, 6))}
    assert text_thresholds(ordinary_values(quiet, {d: [p for p in quiet if p != d] for d in quiet})) == FIXED


def test_statuses_before_a_statistic() -> None:
    some = text_profile(pl.Series(["a short answer", "another short answer"] * 20))
    assert judge_text(empty_text_profile(), some, FIXED, 30).status == Status.NO_REFERENCE
    assert judge_text(some, empty_text_profile(), FIXED, 30).status == Status.NO_DATA
    assert judge_text(some, some, FIXED, 100).status == Status.INSUFFICIENT_SAMPLE
    assert text_profile(pl.Series([None, ""], dtype=pl.String)).n == 0  # nulls and empty texts are not texts


def test_a_large_day_is_profiled_from_a_seeded_sample(normal: pl.DataFrame) -> None:
    texts = pl.concat([normal["output_text"]] * 3)
    first, again = text_profile(texts), text_profile(texts)
    assert first.n == MAX_TEXTS and np.array_equal(first.vector, again.vector)


def test_numbers_that_change_every_day_are_not_a_change_of_language(normal: pl.DataFrame) -> None:
    texts = normal["output_text"].head(1200)
    stamped = [
        pl.format("Ticket {} opened 2026-09-{} at 1{}:42. ", pl.lit(str(i) * 4), pl.lit(f"{i:02d}"), pl.lit(i % 10))
        for i in (1, 2)
    ]
    days = [text_profile(pl.select(stamp + t).to_series()) for stamp, t in zip(stamped, _days(texts, 2), strict=True)]
    assert text_mmd(days[0], days[1]) < FIXED.warn / 5  # the ids, dates and hours differ; their shape does not
