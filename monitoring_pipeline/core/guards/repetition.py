"""Runaway repetition, measured the same way on one text and on a batch's candidates.

Two kinds of loop: a unit of 1-32 characters repeated back to back inside a whitespace-free stretch (`aaaa…`,
`……`, `thethethe`, `的的的`, `<br><br>`), and a unit of 1-200 words repeated back to back (a sentence, a line or
a paragraph looping). Structure that legitimately repeats is not a loop: a line drawn with `-=_*#~+|:.^` or
box drawing (a rule, an underline, a table border) needs a far longer run, and words of nothing but digits and
punctuation are skipped (so a numbered list looping still loops). Character loops are measured on the text as it
shows: a JSON output's string values with their escapes read (`\\u2500` is one `─`), each on its own lines.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from functools import cache

import numpy as np
import polars as pl

from monitoring_pipeline.core.guards.json_shape import json_strings
from monitoring_pipeline.core.text import STRING_LITERAL

MAX_UNIT_CHARS = 32
MAX_UNIT_WORDS = 200
MIN_WORD_COPIES = 4  # of a unit of words: a log line quoted three times is not a loop
MIN_COPIES = 5  # of a unit of two or more characters: a UUID's -1234-1234-1234 is not a loop
STRUCTURE_RUN = 200  # characters of a drawn line (a rule, an underline, a table border) before it counts
DRAWN_RUN = 80  # characters of a drawing character inside a line (a banner, dot leaders, a rule after a sentence)
LONGEST_SCREENED = 4096  # bytes of a whitespace-free stretch the vectorised bound screens; longer go to Python
DIGIT_RUN = 65  # characters of digits (a 40-hex address or a 64-hex hash is not a loop)
HEX_GROUP = re.compile(r"[0-9a-fA-F]*:[0-9a-fA-F:]*")  # a unit of an IPv6 address or a MAC (ffff:ffff:ffff:...)
# ASCII punctuation and box drawing (─-╿), as a regex class body that reads the same in Rust and Python
STRUCTURAL_CHARS = "!-/:-@\\[-`{-~─-╿"
RULE_LINE = re.compile(r"[-=_*#~+|:.^`'\"<>/\\─-╿\s]+")  # what rules, underlines and table borders are drawn with
# every character Python's `\s` matches, as a space: the cheap bound splits where `WORD` does
SPACES = {c: " " for c in map(chr, range(0x3001)) if c.isspace() and c != " "}
SPACE_TABLE = str.maketrans(SPACES)
NON_WORD = re.compile(rf"[\d{STRUCTURAL_CHARS}]+")  # deleted before the bound splits (same in Rust and Python)
# a whitespace-delimited word with more than digits and punctuation in it: list numbers and counters ("1.", "ticket
# 7") do not break a loop, and a table or array of numbers is not one
WORD = rf"\S*[^\s\d{STRUCTURAL_CHARS}]\S*"
# a JSON string escape; \u escapes of astral characters are read as their two surrogates, each one character
JSON_ESCAPE = re.compile(r'\\(?:u([0-9a-fA-F]{4})|(["\\/bfnrt]))')
ESCAPED = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


@cache
def _char_loop(min_run: int) -> re.Pattern[str]:
    """A character repeated `min_run` times, or a 2-16 character unit repeated `MIN_COPIES` times, back to back."""
    return re.compile(rf"(.)\1{{{min_run - 1},}}|(.{{2,{MAX_UNIT_CHARS}}}?)\2{{{MIN_COPIES - 1},}}", re.DOTALL)


def unescaped(text: str) -> str:
    """`text` with JSON string escapes read as the characters they stand for, so a JSON output's escaped table
    border (`\\u2500` five times) or line breaks (`\\n`) are measured as what they show."""
    if "\\" not in text:
        return text
    return JSON_ESCAPE.sub(lambda m: chr(int(m[1], 16)) if m[1] else ESCAPED.get(m[2], m[2]), text)


def long_stretch(min_run: int) -> str:
    """A regex (Rust syntax, for the vectorised prefilter) matching the stretches a character loop needs."""
    return rf"\S{{{min_run},}}"


def may_char_loop(texts: pl.Series, min_run: int) -> pl.Series:
    """The texts a character loop could be in (a superset of `char_loop`'s hits, in NumPy): a loop of a unit of
    `p` UTF-8 bytes stands in one whitespace-free stretch where byte `i` equals byte `i + p` over a long enough run.
    The stretches are laid end to end in one buffer, longest first, so each period reads a prefix of it; a stretch
    longer than `LONGEST_SCREENED` bytes is left to Python."""
    found = pl.DataFrame(
        {"row": pl.int_range(texts.len(), eager=True), "s": texts.str.extract_all(long_stretch(min_run))}
    )
    found = found.explode("s").drop_nulls("s").with_columns(pl.col("s").str.len_bytes().cast(pl.Int64).alias("bytes"))
    stretches = found.filter(pl.col("bytes") <= LONGEST_SCREENED).sort("bytes", descending=True)
    lengths = stretches["bytes"].to_numpy()
    flagged = np.zeros(len(lengths), bool)
    widest = 6 * MAX_UNIT_CHARS  # a character is at most 4 UTF-8 bytes, or 6 as a JSON \u escape
    buffer = np.frombuffer("".join(stretches["s"].to_list()).encode() + bytes(widest), np.uint8)
    owner = np.concatenate((np.repeat(np.arange(len(lengths)), lengths), np.full(widest, -1)))
    ends = np.cumsum(lengths)
    for period in range(1, widest + 1):
        # a multi-character unit repeats 5 times, a single character `min_run` times (at most 4 bytes each)
        need = max(min_run - period, min(MIN_COPIES - 1, min_run - 1) * period, 1)
        taken = int(np.searchsorted(-lengths, -(need + period), side="right"))  # stretches long enough
        if taken == 0:
            break
        end = int(ends[taken - 1])
        same = np.flatnonzero(buffer[:end] == buffer[period : end + period])  # bytes equal to the one a unit on
        same = same[owner[same] == owner[same + period]]  # within one stretch
        if len(same) >= need:  # `need` of them in a row: a run starts at `same[k]`
            flagged[owner[same[np.flatnonzero(same[need - 1 :] - same[: len(same) - need + 1] == need - 1)]]] = True
    rows = pl.concat(
        [stretches["row"].filter(pl.Series(flagged)), found.filter(pl.col("bytes") > LONGEST_SCREENED)["row"]]
    )
    return pl.zeros(texts.len(), pl.Boolean, eager=True).scatter(rows.unique(), True)


def _drawn(text: str) -> bool:
    return RULE_LINE.fullmatch(text) is not None


def _on_a_line_of_structure(text: str, start: int, end: int) -> bool:
    """The run stands on a line drawn with nothing but `-=_*#~+|:.^` and the like, box drawing and spaces (a
    rule, an underline, a table border such as `|----|:---:|` or `=====  =====`, a `<!-- ..... -->` banner)."""
    line_start, line_end = text.rfind("\n", 0, start) + 1, text.find("\n", end)
    line = text[line_start : len(text) if line_end < 0 else line_end]
    return _drawn(line.replace("<!--", " ").strip())  # an HTML comment drawn as a banner


def _run_needed(text: str, unit: str, start: int, end: int, min_run: int) -> int:
    """How long a loop of `unit` must run to count: longer for drawing characters and digits."""
    if _drawn(unit):
        if _on_a_line_of_structure(text, start, end):
            return STRUCTURE_RUN
        trailing_dots = unit == "." and not text[end:].strip()  # dots trailing off the end: a loop, not a leader
        return min_run if trailing_dots else max(min_run, DRAWN_RUN)
    return max(min_run, DIGIT_RUN) if unit.isdigit() or HEX_GROUP.fullmatch(unit) else min_run


def char_loop(text: str, min_run: int) -> str | None:
    """`repeated_run:<copies>x<unit chars>` for the first unit looping over at least `min_run` characters of the
    text as it shows (`_shown`)."""
    if not re.search(long_stretch(min_run), text):  # what it shows has no longer stretch than its raw text
        return None
    for shown in _shown(text):
        for stretch in re.finditer(long_stretch(min_run), shown):
            for match in _char_loop(min_run).finditer(stretch.group()):
                unit = match.group(1) or match.group(2)
                start, end = stretch.start() + match.start(), stretch.start() + match.end()
                if end - start >= _run_needed(shown, unit, start, end, min_run):
                    return f"repeated_run:{(end - start) // len(unit)}x{len(unit)}"
    return None


def _shown(text: str) -> list[str]:
    """What a reader sees of `text`: a JSON output's string values, each on its own lines, and its structure with
    every string a space; any other text with its JSON escapes read (a cut-off JSON output is one)."""
    strings = json_strings(text)
    if strings is None:
        return [unescaped(text)]
    return [*strings, re.sub(STRING_LITERAL, " ", text)]


def _longest_loops(hashes: np.ndarray, first: int, last: int) -> np.ndarray:
    """For each period p in first..last, the words covered by the longest stretch where every word equals the one
    p words before it (one pass over a words x periods table)."""
    padded = np.concatenate((hashes, -np.arange(1, last + 1, dtype=np.int64)))  # never equal to a word
    table = np.lib.stride_tricks.sliding_window_view(padded, last + 1)
    same = table[:, first:] == table[:, :1]  # same[i, p - first]: word i + p equals word i
    total = np.cumsum(same, axis=0)
    run = total - np.maximum.accumulate(np.where(same, 0, total), axis=0)  # current run length, reset at each break
    longest = run.max(axis=0)
    return np.where(longest > 0, longest + np.arange(first, last + 1), 0)


def _bound_words(text: str) -> list[str]:
    """`text` as `may_loop` counts it: split at every whitespace character with digits and punctuation deleted, so
    every word `word_loop` sees stays a word (merged at most with its variants) and counters and rules vanish."""
    return [word for word in NON_WORD.sub("", text.translate(SPACE_TABLE)).split(" ") if word]


def _most_distinct(
    words: int | pl.Series, max_share: float, min_words: int
) -> tuple[float | pl.Series, float | pl.Series]:
    """(words a loop needs, most distinct words or word pairs a text with such a loop holds): a loop covering
    `covered >= needed` words with a unit of `p <= covered / MIN_WORD_COPIES` words leaves at most
    `words - covered + p` distinct."""
    needed = max(min_words, max_share * words) if isinstance(words, int) else (words * max_share).clip(min_words)
    return needed, words - needed * (1 - 1 / MIN_WORD_COPIES)


def may_loop(text: str, max_share: float, min_words: int) -> bool:
    """The cheap bound a word loop must pass (the batch path computes the same one in Polars): few enough distinct
    words and word pairs, and at least the words a loop needs among those written `MIN_WORD_COPIES` times or more
    (each word of a looping unit is written once per copy)."""
    words = _bound_words(text)
    needed, most = _most_distinct(len(words), max_share, min_words)
    if len(words) < needed or len(set(words)) > most or len(set(itertools.pairwise(words))) > most:
        return False
    return sum(n for n in Counter(words).values() if n >= MIN_WORD_COPIES) >= needed


def may_loop_expr(text: pl.Expr, max_share: float, min_words: int) -> pl.Expr:
    """`may_loop` in Polars: words counted per text, then the pairs of the texts that pass laid end to end and
    compared by hash (a collision only lets one more text through to Python)."""

    def batch(texts: pl.Series) -> pl.Series:
        tokens = texts.str.replace_many(SPACES).str.replace_all(NON_WORD.pattern, "").str.split(" ")
        empty = tokens.list.count_matches("")
        n = tokens.list.len() - empty
        needed, most = _most_distinct(n.cast(pl.Float64), max_share, min_words)
        hit = ((n >= needed) & (tokens.list.n_unique() - (empty > 0) <= most)).fill_null(False).arg_true()
        words = pl.DataFrame({"row": hit, "word": tokens.gather(hit)}).explode("word").filter(pl.col("word") != "")
        pair = pl.col("word").hash() + pl.col("word").shift(-1).hash() * 1_000_003
        same_text = pl.col("row") == pl.col("row").shift(-1)
        pairs = words.select("row", pair.alias("pair"), same_text.alias("same")).filter("same")
        counts = pairs.group_by("row").agg(pl.col("pair").n_unique())
        limits = pl.DataFrame({"row": hit, "most": most.gather(hit), "needed": needed.gather(hit)})
        found = limits.join(counts, on="row", how="left").filter(pl.col("pair").fill_null(0) <= pl.col("most"))
        copied = words.filter(pl.col("row").is_in(found["row"].implode()))  # the last bound on the fewest words
        copies = copied.group_by("row", "word").len().filter(pl.col("len") >= MIN_WORD_COPIES)
        written = copies.group_by("row").agg(pl.col("len").sum().alias("copies"))
        rows = found.join(written, on="row").filter(pl.col("copies") >= pl.col("needed"))["row"]
        return pl.zeros(texts.len(), pl.Boolean, eager=True).scatter(rows, True)

    return text.map_batches(batch, pl.Boolean)


def word_loop(text: str, max_share: float, min_words: int) -> str | None:
    """`repetition:<share>` when a unit of words repeated `MIN_WORD_COPIES` times back to back covers more than
    `max_share` of the words (and at least `min_words` of them); for texts `may_loop` lets through."""
    words = re.findall(WORD, text)
    needed = max(min_words, max_share * len(words))
    if len(words) < needed:
        return None
    hashes = np.fromiter((hash(word) for word in words), np.int64, len(words))
    longest = min(MAX_UNIT_WORDS, len(words) // 3)
    for first, last in ((1, min(16, longest)), (17, longest)):  # short units first: most loops are found there
        if first > last:
            break
        covered = _longest_loops(hashes, first, last)
        looping = (covered >= MIN_WORD_COPIES * np.arange(first, last + 1)) & (covered >= needed)
        if looping.any():
            return f"repetition:{round(int(covered[looping].max()) / len(words), 2)}"
    return None


def repetition_reason(text: str, max_share: float, min_words: int, min_run: int) -> str | None:
    """The first loop found in `text`, character loops first."""
    if (found := char_loop(text, min_run)) or not may_loop(text, max_share, min_words):
        return found
    return word_loop(text, max_share, min_words)
