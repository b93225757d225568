"""Numeric signals derived from LLM text: output length, approximate tokens, JSON validity and nesting depth,
prompt length and retrieved-context size. Vectorised Polars; JSON depth is computed without recursion, so a
10,000-deep output is a number, never a crash.
"""

from __future__ import annotations

import orjson
import polars as pl

TOKEN_PATTERN = r"\w+|[^\w\s]"  # approximate tokens: words and single punctuation marks
STRING_LITERAL = r'"(?:[^"\\]|\\.)*"'
BRACKET_STEP = {"{": 1, "[": 1, "}": -1, "]": -1}


def derived_text_columns(
    text_output: str | None, prompt_text: str | None, prompt_context: str | None
) -> dict[str, str]:
    """Derived column name -> role, for the text columns a model declares."""
    derived: dict[str, str] = {}
    if text_output:
        derived |= {name: "output" for name in ("output_chars", "output_tokens", "json_valid", "json_depth")}
    if prompt_text:
        derived |= {"prompt_chars": "prompt", "prompt_tokens": "prompt"}
    if prompt_context:
        derived["context_chars"] = "prompt"
    return derived


def json_depth(text: pl.Expr) -> pl.Expr:
    """Maximum bracket nesting depth outside string literals (0 for scalars; null for null text)."""
    brackets = text.str.replace_all(STRING_LITERAL, "").str.replace_all(r"[^\[\]{}]", "")
    steps = pl.element().replace_strict(BRACKET_STEP, default=0, return_dtype=pl.Int64)
    depth = brackets.str.split("").list.eval(steps.cum_sum().max()).list.first()
    return pl.when(text.is_null()).then(None).otherwise(depth.fill_null(0).clip(lower_bound=0)).cast(pl.Float64)


def _parses(value: str) -> bool:
    try:
        orjson.loads(value)  # the parser the json guard uses, so validity means the same everywhere
    except orjson.JSONDecodeError:
        return False
    return True


def token_count(text: pl.Expr) -> pl.Expr:
    """Approximate tokens: words and single punctuation marks."""
    return text.str.count_matches(TOKEN_PATTERN)


def json_valid(text: pl.Expr) -> pl.Expr:
    """1.0 when the text parses as JSON, 0.0 when not, null for null text."""
    return text.map_elements(_parses, return_dtype=pl.Boolean, skip_nulls=True).cast(pl.Float64)


def text_metric_exprs(text_output: str | None, prompt_text: str | None, prompt_context: str | None) -> list[pl.Expr]:
    """Expressions adding every derived column of `derived_text_columns`."""
    exprs: list[pl.Expr] = []
    if text_output:
        text = pl.col(text_output)
        exprs += [
            text.str.len_chars().cast(pl.Float64).alias("output_chars"),
            token_count(text).cast(pl.Float64).alias("output_tokens"),
            json_valid(text).alias("json_valid"),
            json_depth(text).alias("json_depth"),
        ]
    if prompt_text:
        prompt = pl.col(prompt_text)
        exprs += [
            prompt.str.len_chars().cast(pl.Float64).alias("prompt_chars"),
            token_count(prompt).cast(pl.Float64).alias("prompt_tokens"),
        ]
    if prompt_context:
        exprs.append(pl.col(prompt_context).str.len_chars().cast(pl.Float64).alias("context_chars"))
    return exprs
