"""The guard checks on one record in plain Python — for a serving path, where building a DataFrame per request
costs milliseconds. Each function mirrors its vectorised twin in `rules.py` reason for reason; a parity test runs
both over the same tricky inputs."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import Any

from monitoring_pipeline.core.guards.rules import (
    CLAIMS,
    CONTROL,
    DEFAULT_REFUSALS,
    DEFAULT_SPECIAL_TOKENS,
    GuardRule,
    grounding_score,
    json_problem,
)
from monitoring_pipeline.core.text import TOKEN_PATTERN

Record = Mapping[str, Any]


@cache
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _required(rule: GuardRule, record: Record) -> str | None:
    value = record.get(rule.column)
    if value is None:
        return "null"
    text = str(value)
    if not text:
        return "empty"
    return "whitespace_only" if not text.strip() else None


def _numeric_range(rule: GuardRule, record: Record) -> str | None:
    value = record.get(rule.column)
    if value is None:
        return "null"
    number = float(value)
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
    text = record.get(rule.column)
    if text is None:
        return None
    if _unencodable(text):
        return "unencodable_text"
    if "\x00" in text:
        return "nul_byte"
    if "\x1b" in text:
        return "ansi_escape"
    if _regex(CONTROL).search(text):
        return "control_character"
    return "replacement_character" if "\ufffd" in text else None


def _unencodable(text: str) -> bool:
    """Lone surrogates and other text UTF-8 cannot hold (a Polars column never contains them; a Python str can)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _special_tokens(rule: GuardRule, record: Record) -> str | None:
    text = record.get(rule.column)
    tokens = tuple(rule.params.get("tokens", DEFAULT_SPECIAL_TOKENS))
    found = _regex("|".join(re.escape(t) for t in tokens)).search(text) if text is not None else None
    return f"special_token:{found.group(0)}" if found else None


def _repetition(rule: GuardRule, record: Record) -> str | None:
    text = record.get(rule.column)
    if text is None:
        return None
    max_share = float(rule.params.get("max_share", 0.5))
    words = text.split(" ")
    n = len(words)
    if n < int(rule.params.get("min_words", 12)) or len(set(words)) >= (1 - max_share) * (n - 2) + 2:
        return None
    trigrams = list(zip(words, words[1:], words[2:], strict=False))
    share = 1 - len(set(trigrams)) / len(trigrams)
    return f"repetition:{round(share, 2)}" if share > max_share else None


def _length(rule: GuardRule, record: Record) -> str | None:
    text = record.get(rule.column)
    if text is None:
        return None
    if "min_chars" in rule.params and len(text) < rule.params["min_chars"]:
        return "too_short"
    if "max_chars" in rule.params and len(text) > rule.params["max_chars"]:
        return "too_long_chars"
    if "max_tokens" in rule.params and len(_regex(TOKEN_PATTERN).findall(text)) > rule.params["max_tokens"]:
        return "too_long_tokens"
    return None


def _json(rule: GuardRule, record: Record) -> str | None:
    text = record.get(rule.column)
    if text is None:
        return "null"
    if len(text.encode("utf-8", "surrogatepass")) > int(rule.params.get("max_bytes", 100_000)):
        return "json_too_large"
    return json_problem(text, dict(rule.params.get("required", {})), int(rule.params.get("max_depth", 20)))


def _grounding(rule: GuardRule, record: Record) -> str | None:
    text = record.get(rule.column)
    if text is None:
        return None
    claims = [claim.strip('“”\\"') for claim in _regex(CLAIMS).findall(text)]
    score = grounding_score(claims, record.get(rule.params["context"]))
    return f"ungrounded:{round(score, 2)}" if score < float(rule.params.get("min_score", 0.5)) else None


def _refusal(rule: GuardRule, record: Record) -> str | None:
    text = record.get(rule.column)
    patterns = tuple(rule.params.get("patterns", DEFAULT_REFUSALS))
    pattern = "(?i)" + "|".join(f"(?:{p})" for p in patterns)
    return "refusal" if text is not None and _regex(pattern).search(text) else None


SCALAR_CHECKS: dict[str, Callable[[GuardRule, Record], str | None]] = {
    "required": _required,
    "numeric_range": _numeric_range,
    "vocabulary": _vocabulary,
    "text_characters": _text_characters,
    "special_tokens": _special_tokens,
    "repetition": _repetition,
    "length": _length,
    "json": _json,
    "grounding": _grounding,
    "refusal": _refusal,
}


def check_one(record: Record, rules: Sequence[GuardRule]) -> list[tuple[GuardRule, str]]:
    """(rule, reason) for every rule the record fails, in rule order."""
    failed = []
    for rule in rules:
        reason = SCALAR_CHECKS[rule.check](rule, record)
        if reason is not None:
            failed.append((rule, reason))
    return failed
