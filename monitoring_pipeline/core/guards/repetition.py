"""Runaway repetition, measured the same way on one text and on a batch's candidates.

Two kinds of loop: a unit of 1-32 characters repeated back to back inside a whitespace-free stretch (`aaaa…`,
`……`, `thethethe`, `的的的`, `<br><br>`), and a unit of 1-200 words repeated back to back (a sentence, a line or
a paragraph looping). Structure that legitimately repeats is not a loop: a line drawn with `-=_*#~+|:.^` or
box drawing (a rule, an underline, a table border) needs a far longer run, and words of nothing but digits and
punctuation are skipped (so a numbered list looping still loops).
"""

from __future__ import annotations

import itertools
import re
from functools import cache

import numpy as np
import polars as pl

MAX_UNIT_CHARS = 32
MAX_UNIT_WORDS = 200
MIN_WORD_COPIES = 4  # of a unit of words: a log line quoted three times is not a loop
MIN_COPIES = 5  # of a unit of two or more characters: a UUID's -1234-1234-1234 is not a loop
STRUCTURE_RUN = 200  # characters of a drawn line (a rule, an underline, a table border) before it counts
DRAWN_RUN = 60  # characters of a drawing character inside a line (a code banner, dot leaders, a form's blanks)
DIGIT_RUN = 65  # characters of digits (a 40-hex address or a 64-hex hash is not a loop)
# ASCII punctuation and box drawing (─-╿), as a regex class body that reads the same in Rust and Python
STRUCTURAL_CHARS = "!-/:-@\\[-`{-~─-╿"
RULE_LINE = re.compile(r"[-=_*#~+|:.^`'\"<>/\\─-╿\s]+")  # what rules, underlines and table borders are drawn with
LINE_BREAKS = str.maketrans(dict.fromkeys("\n\r\t", " "))  # the cheap bound's tokens: split at spaces and breaks
# a whitespace-delimited word with more than digits and punctuation in it: list numbers and counters ("1.", "ticket
# 7") do not break a loop, and a table or array of numbers is not one
WORD = rf"\S*[^\s\d{STRUCTURAL_CHARS}]\S*"


@cache
def _char_loop(min_run: int) -> re.Pattern[str]:
    """A character repeated `min_run` times, or a 2-16 character unit repeated `MIN_COPIES` times, back to back."""
    return re.compile(rf"(.)\1{{{min_run - 1},}}|(.{{2,{MAX_UNIT_CHARS}}}?)\2{{{MIN_COPIES - 1},}}", re.DOTALL)


def long_stretch(min_run: int) -> str:
    """A regex (Rust syntax, for the vectorised prefilter) matching the stretches a character loop needs."""
    return rf"\S{{{min_run},}}"


def _drawn(text: str) -> bool:
    return RULE_LINE.fullmatch(text) is not None


def _on_a_line_of_structure(text: str, start: int, end: int) -> bool:
    """The run stands on a line drawn with nothing but `-=_*#~+|:.^` and the like, box drawing and spaces (a
    rule, an underline, a table border such as `|----|:---:|` or `=====  =====`)."""
    line_start, line_end = text.rfind("\n", 0, start) + 1, text.find("\n", end)
    return _drawn(text[line_start : len(text) if line_end < 0 else line_end].strip())


def _run_needed(text: str, unit: str, start: int, end: int, min_run: int) -> int:
    """How long a loop of `unit` must run to count: longer for drawing characters and digits."""
    if _drawn(unit):
        if _on_a_line_of_structure(text, start, end):
            return STRUCTURE_RUN
        trailing_dots = unit == "." and not text[end:].strip()  # dots trailing off the end: a loop, not a leader
        return min_run if trailing_dots else max(min_run, DRAWN_RUN)
    return max(min_run, DIGIT_RUN) if unit.isdigit() else min_run


def char_loop(text: str, min_run: int) -> str | None:
    """`repeated_run:<copies>x<unit chars>` for the first unit looping over at least `min_run` characters."""
    for stretch in re.finditer(long_stretch(min_run), text):
        for match in _char_loop(min_run).finditer(stretch.group()):
            unit = match.group(1) or match.group(2)
            start, end = stretch.start() + match.start(), stretch.start() + match.end()
            if end - start >= _run_needed(text, unit, start, end, min_run):
                return f"repeated_run:{(end - start) // len(unit)}x{len(unit)}"
    return None


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


def may_loop(text: str, max_share: float, min_words: int) -> bool:
    """The cheap bound a word loop must pass (the batch path computes the same one in Polars): a loop of `needed`
    tokens (split at spaces, tabs and line breaks) holds at most a third of them, and of their pairs, distinct."""
    tokens = text.translate(LINE_BREAKS).split(" ")
    needed = max(min_words, max_share * len(tokens))
    most = len(tokens) - 2 * needed / 3
    return len(tokens) >= needed and len(set(tokens)) <= most and len(set(itertools.pairwise(tokens))) <= most


def may_loop_expr(text: pl.Expr, max_share: float, min_words: int) -> pl.Expr:
    """`may_loop` in Polars; pairs are counted only where the tokens allow a loop, and compared by hash (a
    collision only lets one more text through to Python)."""

    def batch(texts: pl.Series) -> pl.Series:
        tokens = texts.str.replace_many({"\n": " ", "\r": " ", "\t": " "}).str.split(" ")
        n = tokens.list.len().cast(pl.Float64)
        needed = (n * max_share).clip(lower_bound=min_words)
        most = n - 2 * needed / 3
        hit = ((n >= needed) & (tokens.list.n_unique() <= most)).fill_null(False).arg_true()
        pair = pl.element().hash() + pl.element().shift(-1).hash() * 1_000_003
        pairs = tokens.gather(hit).list.eval(pair.drop_nulls().n_unique()).list.first()
        return pl.zeros(texts.len(), pl.Boolean, eager=True).scatter(hit, pairs <= most.gather(hit))

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
