"""Guard rules: each declared rule becomes one vectorised Polars expression that yields a reason (a short string
that never copies the output itself) when a row fails it, and null when it passes.

Checks (the `check` of a rule) and their parameters:

| check | parameters | reasons |
|---|---|---|
| required | - | null, empty, whitespace_only |
| numeric_range | min, max | null, nan, infinite, below_min, above_max |
| vocabulary | values | not_in_vocabulary |
| text_characters | - | nul_byte, ansi_escape, control_character, replacement_character (and, on one record, |
|                 |   | unencodable_text: lone surrogates a Python str can hold but a Polars column cannot) |
| special_tokens | tokens | special_token:<token> |
| repetition | max_share (0.5), min_words (12) | repetition:<share of repeated word trigrams> |
| length | min_chars, max_chars, max_tokens | too_short, too_long_chars, too_long_tokens |
| json | max_depth (20), max_bytes (100000), required ({key: type}) | json_too_large, json_too_deep:<depth>, |
|      |                                                             | json_invalid, json_not_object,          |
|      |                                                             | json_missing_key:<k>, json_wrong_type:<k> |
| grounding | context (column), min_score (0.5) | ungrounded:<score> |
| refusal | patterns | refusal |

JSON is checked without recursion: the size is measured first and only outputs within it are parsed (orjson, which
refuses more than 1,024 levels); depth is measured on the parsed value with a stack, or by one scan of the text
when it does not parse. A 10 MB or 10,000-deep output is a verdict in milliseconds, never a crash or a hang.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson
import polars as pl

from monitoring_pipeline.core.text import TOKEN_PATTERN


class Severity(StrEnum):
    BLOCK = "block"
    WARN = "warn"


@dataclass(frozen=True)
class GuardRule:
    id: str
    version: int
    severity: Severity
    check: str
    column: str
    params: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""


@dataclass(frozen=True)
class Check:
    name: str
    build: Callable[[GuardRule], pl.Expr]
    description: str


def _reason(*cases: tuple[pl.Expr, str | pl.Expr]) -> pl.Expr:
    """The reason of the first failing case, else null."""
    expr = pl.when(cases[0][0]).then(_lit(cases[0][1]))
    for condition, reason in cases[1:]:
        expr = expr.when(condition).then(_lit(reason))
    return expr.otherwise(pl.lit(None, pl.String))


def _lit(reason: str | pl.Expr) -> pl.Expr:
    return pl.lit(reason) if isinstance(reason, str) else reason


def _required(rule: GuardRule) -> pl.Expr:
    value = pl.col(rule.column)
    text = value.cast(pl.String)
    return _reason(
        (value.is_null(), "null"),
        (text.str.len_chars() == 0, "empty"),
        (text.str.strip_chars().str.len_chars() == 0, "whitespace_only"),
    )


def _numeric_range(rule: GuardRule) -> pl.Expr:
    value = pl.col(rule.column).cast(pl.Float64)
    low, high = rule.params.get("min"), rule.params.get("max")
    cases = [(value.is_null(), "null"), (value.is_nan(), "nan"), (value.is_infinite(), "infinite")]
    if low is not None:
        cases.append((value < low, "below_min"))
    if high is not None:
        cases.append((value > high, "above_max"))
    return _reason(*cases)


def _vocabulary(rule: GuardRule) -> pl.Expr:
    value = pl.col(rule.column).cast(pl.String)
    allowed = pl.Series([str(v) for v in rule.params["values"]], dtype=pl.String)
    return _reason((value.is_not_null() & ~value.is_in(allowed.implode()), "not_in_vocabulary"))


CONTROL = r"[\x01-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f]"


def _text_characters(rule: GuardRule) -> pl.Expr:
    text = pl.col(rule.column)
    return _reason(
        (text.str.contains("\x00", literal=True), "nul_byte"),
        (text.str.contains("\x1b", literal=True), "ansi_escape"),
        (text.str.contains(CONTROL), "control_character"),
        (text.str.contains("\ufffd", literal=True), "replacement_character"),
    )


DEFAULT_SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<unk>",
    "<s>",
    "</s>",
    "[PAD]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
)


def _special_tokens(rule: GuardRule) -> pl.Expr:
    tokens = list(rule.params.get("tokens", DEFAULT_SPECIAL_TOKENS))
    pattern = "|".join(re.escape(t) for t in tokens)
    text = pl.col(rule.column)
    return _reason((text.str.contains_any(tokens), pl.format("special_token:{}", text.str.extract(f"({pattern})"))))


def _where_needed(
    text: pl.Expr, needed: Callable[[pl.Series], pl.Series], compute: Callable[[pl.Series], pl.Series]
) -> pl.Expr:
    """`compute` on the texts `needed` selects (a cheap bound), 0 elsewhere. Polars evaluates both branches of a
    when/then, so an expensive measure behind a cheap bound is computed on the few rows that need it this way."""

    def batch(texts: pl.Series) -> pl.Series:
        hit = needed(texts).fill_null(False)
        values = pl.zeros(texts.len(), pl.Float64, eager=True)
        return values.scatter(hit.arg_true(), compute(texts.filter(hit)).cast(pl.Float64)) if hit.any() else values

    return text.map_batches(batch, pl.Float64)


def _trigram_repeat_share(texts: pl.Series) -> pl.Series:
    """1 - distinct word trigrams / trigrams for each text (texts under 3 words give 0)."""
    hashed = texts.str.split(" ").list.eval(pl.element().hash())
    trigrams = hashed.list.eval(
        (pl.element() * 1_000_003 + pl.element().shift(-1) * 1_009 + pl.element().shift(-2)).drop_nulls()
    )
    n = trigrams.list.len()
    return pl.select(pl.when(n > 0).then(1 - trigrams.list.n_unique() / n).otherwise(0.0)).to_series()


def _repetition(rule: GuardRule) -> pl.Expr:
    """Share of (space-separated) word trigrams that repeat an earlier one. It is computed only where the
    distinct-word count allows a share above the limit (distinct words <= distinct trigrams + 2)."""
    max_share = float(rule.params.get("max_share", 0.5))
    min_words = int(rule.params.get("min_words", 12))
    words = pl.element()
    bound = (words.len() >= min_words) & (words.n_unique() < (1 - max_share) * (words.len() - 2) + 2)

    def candidates(texts: pl.Series) -> pl.Series:
        return texts.str.split(" ").list.eval(bound).list.first()

    repeated = _where_needed(pl.col(rule.column), candidates, _trigram_repeat_share)
    return _reason((repeated > max_share, pl.format("repetition:{}", repeated.round(2))))


def _length(rule: GuardRule) -> pl.Expr:
    text = pl.col(rule.column)
    cases = []
    if "min_chars" in rule.params:
        cases.append((text.str.len_chars() < rule.params["min_chars"], "too_short"))
    if "max_chars" in rule.params:
        cases.append((text.str.len_chars() > rule.params["max_chars"], "too_long_chars"))
    if "max_tokens" in rule.params:
        # a token is at least one character, so only texts longer than the limit need counting
        limit = rule.params["max_tokens"]
        tokens = _where_needed(
            text, lambda texts: texts.str.len_chars() > limit, lambda texts: texts.str.count_matches(TOKEN_PATTERN)
        )
        cases.append((tokens > rule.params["max_tokens"], "too_long_tokens"))
    return _reason(*cases) if cases else pl.lit(None, pl.String)


JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
    "null": (type(None),),
}


def value_depth(value: Any) -> int:
    """Nesting depth of a parsed JSON value (scalars 0, "[1]" 1), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is not None:
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in children)
    return deepest


def bracket_depth(text: str) -> int:
    """Maximum bracket depth outside string literals, scanning the text once (for outputs that do not parse)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            escaped = not escaped and char == "\\"
            in_string = escaped or char != '"'
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def json_problem(text: str, required: Mapping[str, str], max_depth: int) -> str | None:
    """Parse (the caller has bounded the size) and check depth and the top-level keys' presence and types."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        opening = text.count("[") + text.count("{")
        depth = bracket_depth(text) if opening > max_depth else 0
        return f"json_too_deep:{depth}" if depth > max_depth else "json_invalid"
    depth = value_depth(value)
    if depth > max_depth:
        return f"json_too_deep:{depth}"
    if required and not isinstance(value, dict):
        return "json_not_object"
    for key, kind in required.items():
        if key not in value:
            return f"json_missing_key:{key}"
        expected = JSON_TYPES[kind]
        if not isinstance(value[key], expected) or (kind in ("number", "integer") and isinstance(value[key], bool)):
            return f"json_wrong_type:{key}"
    return None


def _json(rule: GuardRule) -> pl.Expr:
    text = pl.col(rule.column)
    max_depth = int(rule.params.get("max_depth", 20))
    max_bytes = int(rule.params.get("max_bytes", 100_000))
    required = dict(rule.params.get("required", {}))
    unknown = sorted(set(required.values()) - set(JSON_TYPES))
    if unknown:
        raise ValueError(f"rule {rule.id}: unknown JSON types {unknown}; expected one of {sorted(JSON_TYPES)}")
    too_large = text.str.len_bytes() > max_bytes
    bounded = pl.when(too_large).then(None).otherwise(text)
    parsed = bounded.map_elements(lambda t: json_problem(t, required, max_depth), return_dtype=pl.String)
    return _reason((text.is_null(), "null"), (too_large, "json_too_large"), (parsed.is_not_null(), parsed))


# URLs, [n] citations, typographic or JSON-escaped quotations of 12+ characters, numbers of 2+ digits or with a
# decimal point or percent sign (single digits are too common to check).
CLAIMS = r"https?://[^\s\"'<>)\]]+|\[\d+\]|“[^”]{12,}”|\\\"[^\"\\]{12,}\\\"|\d+[.,]\d+%?|\d{2,}%?|\d%"


def grounding_score(claims: list[str], context: str | None) -> float:
    """Share of claims found verbatim in the context; 1.0 when there is nothing to check."""
    if not claims:
        return 1.0
    context = context or ""
    return sum(claim in context for claim in claims) / len(claims)


def _grounding(rule: GuardRule) -> pl.Expr:
    """Share of the output's checkable claims (URLs, [n] citations, quoted passages, numbers) found verbatim in
    the provided context; below `min_score` the output is ungrounded."""
    min_score = float(rule.params.get("min_score", 0.5))
    claims = pl.col(rule.column).str.extract_all(CLAIMS).list.eval(pl.element().str.strip_chars('“”\\"'))
    row = pl.struct(claims.alias("claims"), pl.col(rule.params["context"]).alias("context"))
    score = row.map_elements(lambda r: grounding_score(r["claims"], r["context"]), return_dtype=pl.Float64)
    return _reason((score < min_score, pl.format("ungrounded:{}", score.round(2))))


DEFAULT_REFUSALS = (
    r"\bI(?:'m| am) (?:sorry|afraid),? (?:but )?I (?:can(?:no|')t|won't|am unable)",
    r"\bI can(?:no|')t (?:help|assist|comply|provide)",
    r"\bas an AI(?: language model)?\b",
    r"\bI(?:'m| am) (?:not able|unable) to (?:help|assist|provide)",
)


def _refusal(rule: GuardRule) -> pl.Expr:
    patterns = rule.params.get("patterns", DEFAULT_REFUSALS)
    return _reason((pl.col(rule.column).str.contains("(?i)" + "|".join(f"(?:{p})" for p in patterns)), "refusal"))


CHECKS: dict[str, Check] = {
    c.name: c
    for c in (
        Check("required", _required, "value present, not empty, not whitespace-only"),
        Check("numeric_range", _numeric_range, "finite and within [min, max]"),
        Check("vocabulary", _vocabulary, "one of the declared values"),
        Check("text_characters", _text_characters, "no NUL, ANSI escapes, control or replacement characters"),
        Check("special_tokens", _special_tokens, "no leaked special tokens"),
        Check("repetition", _repetition, "repeated word-trigram share at most max_share"),
        Check("length", _length, "length in characters and approximate tokens within limits"),
        Check("json", _json, "parses within size and depth limits; required keys with their types"),
        Check("grounding", _grounding, "claims in the output occur in the provided context"),
        Check("refusal", _refusal, "no refusal where an answer was due"),
    )
}


def check_for(name: str) -> Check:
    try:
        return CHECKS[name]
    except KeyError:
        raise ValueError(f"unknown guard check {name!r}; expected one of {sorted(CHECKS)}") from None
