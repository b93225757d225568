"""The guard checks on one record in plain Python — for a serving path, where building a DataFrame per request
costs milliseconds. Each function mirrors its vectorised twin in `rules.py` reason for reason; a parity test runs
both over the same tricky inputs."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson

from monitoring_pipeline.core.guards import grounding, pii, repetition
from monitoring_pipeline.core.guards.json_shape import LOOKS_LIKE_JSON, json_problem, text_depth
from monitoring_pipeline.core.guards.rules import (
    BIDI,
    BLANK,
    CONTROL,
    DEFAULT_SPECIAL_TOKENS,
    MENTIONED,
    MOJIBAKE,
    SUSPECT_CHARACTER,
    GuardRule,
    compiled,
    empty_content,
    json_settings,
    leaked_token,
    pii_settings,
    refusal_pattern,
    refused,
    replaced,
)
from monitoring_pipeline.core.text import TOKEN_PATTERN

Record = Mapping[str, Any]


def as_text(value: Any) -> str | None:
    """A record's value as the text a rule reads: bytes decoded (what is not UTF-8 becomes U+FFFD, which
    text_characters reports), other non-strings as JSON (a dict output is checked as the JSON it is)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS).decode()


def _text(record: Record, column: str) -> str | None:
    return as_text(record.get(column))


def _required(rule: GuardRule, record: Record) -> str | None:
    text = _text(record, rule.column)
    if text is None:
        return "null"
    if not text:
        return "empty"
    if not compiled(BLANK.replace("[", "[^", 1)).search(text):  # no character that is not blank
        return "whitespace_only"
    return empty_content(text)


def _numeric_range(rule: GuardRule, record: Record) -> str | None:
    value = record.get(rule.column)
    if value is None:
        return "null"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "not_a_number"
    if math.isnan(number):
        return "nan"
    if math.isinf(number):
        return "infinite"
    low, high = rule.params.get("min"), rule.params.get("max")
    if low is not None and number < low:
        return "below_min"
    return "above_max" if high is not None and number > high else None


def _vocabulary(rule: GuardRule, record: Record) -> str | None:
    value = record.get(rule.column)
    allowed = {str(v) for v in rule.params["values"]}
    return "not_in_vocabulary" if value is not None and str(value) not in allowed else None


def _text_characters(rule: GuardRule, record: Record) -> str | None:
    text = _text(record, rule.column)
    if text is None:
        return None
    if _unencodable(text):
        return "unencodable_text"
    if not compiled(SUSPECT_CHARACTER).search(text):  # one scan, as the batch path does
        return None
    if "\x00" in text:
        return "nul_byte"
    if "\x1b" in text:
        return "ansi_escape"
    if compiled(CONTROL).search(text):
        return "control_character"
    if "\ufffd" in text and replaced(text):
        return "replacement_character"
    if compiled(BIDI).search(text):
        return "bidi_control"
    return "mojibake" if compiled(MOJIBAKE).search(text) else None


def _unencodable(text: str) -> bool:
    """Lone surrogates and other text UTF-8 cannot hold (a Polars column never contains them; a Python str can)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _special_tokens(rule: GuardRule, record: Record) -> str | None:
    text = _text(record, rule.column)
    if text is None:
        return None
    context = _text(record, rule.params["context"]) if "context" in rule.params else None
    tokens = list(rule.params.get("tokens", DEFAULT_SPECIAL_TOKENS))
    return leaked_token(compiled(MENTIONED).sub("", text), tokens, context)


def _repetition(rule: GuardRule, record: Record) -> str | None:
    text = _text(record, rule.column)
    if text is None:
        return None
    max_share, min_words = float(rule.params.get("max_share", 0.3)), int(rule.params.get("min_words", 12))
    return repetition.repetition_reason(text, max_share, min_words, int(rule.params.get("min_run", 20)))


def _length(rule: GuardRule, record: Record) -> str | None:
    text = _text(record, rule.column)
    if text is None:
        return None
    if "min_chars" in rule.params and len(text) < rule.params["min_chars"]:
        return "too_short"
    if "max_chars" in rule.params and len(text) > rule.params["max_chars"]:
        return "too_long_chars"
    if "max_tokens" in rule.params and len(compiled(TOKEN_PATTERN).findall(text)) > rule.params["max_tokens"]:
        return "too_long_tokens"
    return None


def _json(rule: GuardRule, record: Record) -> str | None:
    max_depth, max_bytes, required, when = json_settings(rule)
    text = _text(record, rule.column)
    if text is None:
        return None if when == "json_like" else "null"
    if when == "json_like" and not compiled(LOOKS_LIKE_JSON).search(text):
        return None
    if len(text.encode("utf-8", "surrogatepass")) > max_bytes:
        return "json_too_large"
    return json_problem(text, required, max_depth)


def _nesting_depth(rule: GuardRule, record: Record) -> str | None:
    text, max_depth = _text(record, rule.column), int(rule.params.get("max_depth", 10))
    if text is None or text.count("[") + text.count("{") <= max_depth:
        return None
    depth = text_depth(text)
    return f"too_deep:{depth}" if depth > max_depth else None


def _grounding(rule: GuardRule, record: Record) -> str | None:
    text = _text(record, rule.column)
    if text is None:
        return None
    context = _text(record, rule.params["context"])
    return grounding.ungrounded(text, context, float(rule.params.get("min_score", 0.5)))


def _refusal(rule: GuardRule, record: Record) -> str | None:
    text = _text(record, rule.column)
    return refused(text, refusal_pattern(rule), int(rule.params.get("within_chars", 300))) if text else None


def _pii(rule: GuardRule, record: Record) -> str | None:
    text = _text(record, rule.column)
    return pii.pii_reason(pii.find_pii(text, *pii_settings(rule))) if text else None


SCALAR_CHECKS: dict[str, Callable[[GuardRule, Record], str | None]] = {
    "required": _required,
    "numeric_range": _numeric_range,
    "vocabulary": _vocabulary,
    "text_characters": _text_characters,
    "special_tokens": _special_tokens,
    "repetition": _repetition,
    "length": _length,
    "json": _json,
    "nesting_depth": _nesting_depth,
    "grounding": _grounding,
    "refusal": _refusal,
    "pii": _pii,
}


def check_one(record: Record, rules: Sequence[GuardRule]) -> list[tuple[GuardRule, str]]:
    """(rule, reason) for every rule the record fails, in rule order."""
    failed = []
    for rule in rules:
        reason = SCALAR_CHECKS[rule.check](rule, record)
        if reason is not None:
            failed.append((rule, reason))
    return failed
