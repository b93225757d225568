"""Text drift of LLM outputs and prompts, with no downloaded model: hashed n-grams and a kernel two-sample statistic.

A text becomes a vector of BUCKETS hashed n-gram counts in three families — words, word pairs and character
3-grams of words, lower-cased and with every digit read as 0 (a date, an id or an amount keeps its shape, not its
value: numbers that change every day are not a change of language) — each family scaled to unit length and the
three weighted alike, so every text's vector has length at most 1 and no family outweighs another by its count. A
day is profiled by the sum of its texts' vectors, their number and the sum of their squared lengths: profiles
merge by adding, so a window never re-reads texts.

The statistic is the unbiased squared maximum mean discrepancy with the linear kernel on those vectors: how far
apart the two sides' mean vectors are beyond what sampling alone puts between two draws of one population (about
0 when both sides come from the same texts, below 0 by chance). Its witness, the difference of the two means, names
what separates them: each day also keeps its TOP_NGRAMS heaviest n-grams by name, and the n-grams whose mean
weight changed most explain the day. Hashing is CRC-32 (the same bucket on every machine and library version).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from monitoring_pipeline.core.drift.compare import Status, ordinary_range, status_of
from monitoring_pipeline.core.drift.registry import TEXT_THRESHOLDS_DEFAULT, Thresholds

BUCKETS = 4096
TOP_NGRAMS = 2000  # named n-grams a day keeps, heaviest first (the explanation's vocabulary)
MAX_TEXTS = 5_000  # texts a day's profile reads (a seeded sample above that: the mean needs no more)
MAX_WORD_CHARS = 40  # characters of a word its character n-grams read (a URL or a hash is not language)
HASHING = f"crc32:{BUCKETS}:w1,w2,c3:digits0"  # stored with each profile: profiles hashed otherwise are not compared
FAMILIES = ("word", "pair", "char")
_SCALE = 1 / math.sqrt(len(FAMILIES))


@dataclass(frozen=True)
class TextProfile:
    """One column's texts of a day (or merged days): their count, summed vectors and squared lengths, and the
    summed weights of the heaviest n-grams by name."""

    n: int
    sum_sq: float
    vector: np.ndarray  # float64, BUCKETS
    ngrams: dict[str, float]


def empty_text_profile() -> TextProfile:
    return TextProfile(0, 0.0, np.zeros(BUCKETS), {})


def _grams(texts: pl.Series) -> pl.DataFrame:
    """One row per n-gram occurrence: `unit` (the text's row times 3 plus its family's index) and `ngram`."""
    words = (
        pl.DataFrame({"row": pl.int_range(texts.len(), eager=True, dtype=pl.UInt32), "word": texts})
        .select("row", pl.col("word").str.to_lowercase().str.replace_all(r"\d", "0").str.extract_all(r"\w+"))
        .explode("word")
        .drop_nulls("word")
    )
    same = pl.col("row") == pl.col("row").shift(-1)
    pair = pl.when(same).then(pl.concat_str(["word", pl.col("word").shift(-1)], separator=" "))
    padded = pl.concat_str([pl.lit("<"), pl.col("word").str.head(MAX_WORD_CHARS), pl.lit(">")])
    chars = (
        words.select("row", padded.alias("w"))
        .with_columns(pl.int_ranges(0, pl.col("w").str.len_chars() - 2, dtype=pl.Int64).alias("at"))
        .explode("at")
        .drop_nulls("at")
        .select("row", pl.col("w").str.slice(pl.col("at"), 3).alias("ngram"))
    )
    unit = pl.col("row").cast(pl.UInt64) * len(FAMILIES)
    return pl.concat(
        [
            words.select(unit.alias("unit"), pl.col("word").alias("ngram")),
            words.select((unit + 1).alias("unit"), pair.alias("ngram")).drop_nulls("ngram"),
            chars.select((unit + 2).alias("unit"), "ngram"),
        ]
    )


def _buckets(ngrams: pl.Series) -> pl.Series:
    """Each n-gram's bucket: CRC-32 of its UTF-8 bytes, modulo BUCKETS."""
    return pl.Series([zlib.crc32(g.encode()) % BUCKETS for g in ngrams.to_list()], dtype=pl.UInt32)


def text_profile(texts: pl.Series) -> TextProfile:
    """The profile of `texts` (nulls and empty texts are not texts; above MAX_TEXTS a seeded sample). N-grams are
    told apart by a 64-bit hash while counting; only each distinct one is named and bucketed."""
    texts = texts.drop_nulls()
    texts = texts.filter(texts.str.len_bytes() > 0)
    if texts.len() > MAX_TEXTS:
        texts = texts.sample(MAX_TEXTS, seed=0)
    grams = _grams(texts).with_columns(pl.col("ngram").hash().alias("key"))
    names = grams.unique("key").select("key", "ngram")
    names = names.with_columns(_buckets(names["ngram"]).alias("bucket"))
    grams = grams.select("unit", "key").join(names.select("key", "bucket"), on="key")
    per_key = grams.group_by("unit", "key", "bucket").len("count")
    per_bucket = per_key.group_by("unit", "bucket").agg(pl.col("count").sum().cast(pl.Float64))
    norms = per_bucket.group_by("unit").agg(((pl.col("count") ** 2).sum().sqrt() / _SCALE).alias("norm"))
    weight = (pl.col("count") / pl.col("norm")).sort().sum()  # summed in one order: a rerun stores the same bits
    vector = per_bucket.join(norms, on="unit").group_by("bucket").agg(weight)
    named = (
        per_key.join(norms, on="unit")
        .group_by("key")
        .agg(weight.alias("weight"))
        .top_k(TOP_NGRAMS, by=["weight", "key"])
        .join(names.select("key", "ngram"), on="key")
        .sort("weight", "ngram", descending=[True, False])
    )
    summed = np.zeros(BUCKETS)
    summed[vector["bucket"].to_numpy()] = vector["count"].to_numpy()
    ngrams = dict(zip(named["ngram"], named["weight"], strict=True))
    return TextProfile(texts.len(), norms.height * _SCALE**2, summed, ngrams)


def merge_text(profiles: Iterable[TextProfile]) -> TextProfile:
    """Several days' profiles as one: counts, vectors and named weights added (the TOP_NGRAMS heaviest kept)."""
    n, sum_sq, vector, named = 0, 0.0, np.zeros(BUCKETS), {}
    for p in profiles:
        n, sum_sq, vector = n + p.n, sum_sq + p.sum_sq, vector + p.vector
        for gram, w in p.ngrams.items():
            named[gram] = named.get(gram, 0.0) + w
    kept = sorted(named.items(), key=lambda item: -item[1])[:TOP_NGRAMS]
    return TextProfile(n, sum_sq, vector, dict(kept))


def text_mmd(reference: TextProfile, current: TextProfile) -> float | None:
    """The unbiased squared MMD (linear kernel) between the two sides; None below two texts on a side."""
    m, n = reference.n, current.n
    if m < 2 or n < 2:
        return None
    within_ref = (reference.vector @ reference.vector - reference.sum_sq) / (m * (m - 1))
    within_cur = (current.vector @ current.vector - current.sum_sq) / (n * (n - 1))
    between = reference.vector @ current.vector / (m * n)
    return float(within_ref + within_cur - 2 * between)


@dataclass(frozen=True)
class Separating:
    """An n-gram that separates the sides: its mean weight per text on each side, and its share of the squared
    distance between the named n-grams' means."""

    ngram: str
    reference: float
    current: float
    share: float


def separating_ngrams(reference: TextProfile, current: TextProfile, limit: int = 10) -> list[Separating]:
    """The named n-grams whose mean weight per text changed most (an n-gram a side does not name weighs 0 there)."""
    if not reference.n or not current.n:
        return []
    grams = sorted(set(reference.ngrams) | set(current.ngrams))
    ref = np.array([reference.ngrams.get(g, 0.0) for g in grams]) / reference.n
    cur = np.array([current.ngrams.get(g, 0.0) for g in grams]) / current.n
    squared = (cur - ref) ** 2
    total = float(squared.sum())
    if total == 0:
        return []
    order = np.argsort(-squared, kind="stable")[:limit]
    return [Separating(grams[i], float(ref[i]), float(cur[i]), float(squared[i] / total)) for i in order]


KIND = "text"
FIXED = Thresholds(*TEXT_THRESHOLDS_DEFAULT)  # a material difference: ordinary days of one population sit near 0


@dataclass(frozen=True)
class TextVerdict:
    """One text column's day against its reference: the statistic, the thresholds it was held to, the status."""

    value: float | None
    thresholds: Thresholds
    status: str
    n_reference: int
    n_current: int
    separating: list[Separating]


def text_thresholds(ordinary: Sequence[float], fixed: Thresholds = FIXED) -> Thresholds:
    """`fixed`, raised beyond the ordinary days' own range as other columns' thresholds are (`ordinary_range`)."""
    return ordinary_range(list(ordinary), fixed) or fixed


def ordinary_values(days: Mapping[date, TextProfile], peers: Mapping[date, Sequence[date]]) -> list[float]:
    """Each ordinary day against its peers merged (leave one out), where both sides have texts."""
    values = []
    for day, others in peers.items():
        if day in days:
            value = text_mmd(merge_text(days[d] for d in others if d in days), days[day])
            if value is not None:
                values.append(value)
    return values


def judge_text(reference: TextProfile, current: TextProfile, thresholds: Thresholds, min_sample: int) -> TextVerdict:
    """The day's verdict: no_reference, no_data or insufficient_sample before any statistic, else ok/warn/drift."""
    blocked = (
        Status.NO_REFERENCE
        if not reference.n
        else Status.NO_DATA
        if not current.n
        else Status.INSUFFICIENT_SAMPLE
        if min(reference.n, current.n) < min_sample
        else None
    )
    value = None if blocked else text_mmd(reference, current)
    status = blocked or status_of(value, thresholds)
    separating = separating_ngrams(reference, current) if status in (Status.WARN, Status.DRIFT) else []
    return TextVerdict(value, thresholds, status, reference.n, current.n, separating)


def to_row(profile: TextProfile) -> dict[str, object]:
    """The stored form of a profile (see `ROW_SCHEMA`)."""
    return {
        "hashing": HASHING,
        "n": profile.n,
        "sum_sq": profile.sum_sq,
        "vector": profile.vector.tolist(),
        "ngrams": [{"ngram": g, "weight": w} for g, w in profile.ngrams.items()],
    }


def from_row(row: Mapping[str, object]) -> TextProfile:
    return TextProfile(
        int(row["n"]),
        float(row["sum_sq"]),
        np.asarray(row["vector"], dtype=np.float64),
        {g["ngram"]: g["weight"] for g in row["ngrams"]},
    )


ROW_SCHEMA: dict[str, pl.DataType] = {
    "hashing": pl.String(),
    "n": pl.Int64(),
    "sum_sq": pl.Float64(),
    "vector": pl.List(pl.Float64()),
    "ngrams": pl.List(pl.Struct({"ngram": pl.String(), "weight": pl.Float64()})),
}
