"""Each guard check: pass, fail and edge cases (empty, unicode, emoji, right-to-left, huge, pathological JSON)."""

import time

import polars as pl
import pytest

from monitoring_pipeline.core.guards.evaluate import evaluate
from monitoring_pipeline.core.guards.grounding import ungrounded
from monitoring_pipeline.core.guards.json_shape import LOOKS_LIKE_JSON
from monitoring_pipeline.core.guards.rules import (
    GuardRule,
    Severity,
    check_for,
    grounding_doubtful,
    json_problem,
    json_proven,
)
from monitoring_pipeline.io.config_file import PROJECT_ROOT


def _reasons(check: str, values: list, params: dict | None = None, extra: dict | None = None) -> list[str | None]:
    rule = GuardRule("r", 1, Severity.BLOCK, check, "x", params or {})
    frame = pl.DataFrame({"x": values, **(extra or {})}, strict=False)
    return frame.select(check_for(check).build(rule).alias("reason"))["reason"].to_list()


UNICODE_OK = ["héllo wörld", "emoji 🙂🚀 fine", "שלום עולם مرحبا بالعالم", "中文文本", "zero\u200bwidth joiner"]


def test_required() -> None:
    assert (
        _reasons("required", ["ok", None, "", "  \t\n", *UNICODE_OK])
        == [None, "null", "empty", "whitespace_only"] + [None] * 5
    )


def test_numeric_range() -> None:
    values = [0.0, 1.0, 0.5, -0.01, 1.01, float("nan"), float("inf"), None]
    expected = [None, None, None, "below_min", "above_max", "nan", "infinite", "null"]
    assert _reasons("numeric_range", values, {"min": 0, "max": 1}) == expected


def test_vocabulary() -> None:
    assert _reasons("vocabulary", ["approve", "reject", "Approve", None], {"values": ["approve", "reject"]}) == [
        None,
        None,
        "not_in_vocabulary",
        None,
    ]


def test_text_characters() -> None:
    values = [
        "clean",
        "nul\x00byte",
        "\x1b[31mred",
        "bell\x07",
        "bad \ufffd byte",
        "tabs\tand\nnewlines\r",
        *UNICODE_OK,
    ]
    expected = [None, "nul_byte", "ansi_escape", "control_character", "replacement_character", None] + [None] * 5
    assert _reasons("text_characters", values) == expected


def test_special_tokens_default_and_configured() -> None:
    values = ["plain", "leak <|endoftext|> here", "pad [PAD]", "a < unk > spaced", "emoji 🙂"]
    assert _reasons("special_tokens", values) == [
        None,
        "special_token:<|endoftext|>",
        "special_token:[PAD]",
        None,
        None,
    ]
    assert _reasons("special_tokens", ["<<SYS>> x"], {"tokens": ["<<SYS>>"]}) == ["special_token:<<SYS>>"]


def test_repetition() -> None:
    prose = "the quick brown fox jumps over the lazy dog while a cat sleeps near the warm fire tonight"
    loop = " ".join(["I will help you with that."] * 20)
    reasons = _reasons("repetition", [prose, loop, "short short short", "", None, " ".join(["🙂"] * 40)])
    assert reasons[0] is None and reasons[2] is None and reasons[3] is None and reasons[4] is None
    assert reasons[1] == "repetition:1.0"  # the whole output is one sentence looping
    assert reasons[5] == "repetition:1.0"


def test_length_in_characters_and_tokens() -> None:
    params = {"min_chars": 2, "max_chars": 20, "max_tokens": 5}
    values = ["fine text", "x", "a" * 21, "a, b, c, d, e", "🙂" * 20]
    # 20 emoji are 20 characters (within max_chars) but 20 approximate tokens
    assert _reasons("length", values, params) == [
        None,
        "too_short",
        "too_long_chars",
        "too_long_tokens",
        "too_long_tokens",
    ]


def test_json_valid_schema_depth_and_size() -> None:
    params = {"max_depth": 4, "max_bytes": 200, "required": {"summary": "string", "n": "integer"}, "when": "always"}
    values = [
        '{"summary": "ok", "n": 3}',
        '{"summary": "ok"}',
        '{"summary": 1, "n": 3}',
        '{"summary": "ok", "n": true}',
        '{"summary": "ok", "n": 3',
        "[1, 2]",
        '{"summary": "ok", "n": 3, "deep": [[[[[1]]]]]}',
        '{"summary": "' + "x" * 300 + '", "n": 1}',
        '{"summary": "emoji 🙂 שלום", "n": 0}',
        None,
    ]
    expected = [
        None,
        "json_missing_key:n",
        "json_wrong_type:summary",
        "json_wrong_type:n",
        "json_invalid",
        "json_not_object",
        "json_too_deep:6",
        "json_too_large",
        None,
        "null",
    ]
    assert _reasons("json", values, params) == expected


TRICKY_JSON = [
    '{"k": "a"}',
    '  {"k" : ""}  \n',
    '{"k": "a", "k": 5}',
    '{"k": 5, "k": "a"}',
    '{"k": null}',
    '{"x": {"k": "a"}}',
    '{"x": "\\"k\\":\\"a\\"", "k": 1}',
    '{"k": "a", "x": {"k": 1}}',
    '{"k": 1.0}',
    '{"k": 1e5}',
    '{"k": -0}',
    '{"k": 12345678901234567890123}',
    '{"k": true}',
    '{"k": [1, {"k": 2}]}',
    '{"k": [1, 2]}',
    '{"k": {}}',
    '{"k": "5"}',
    '{"k": "true"}',
    '{"k": "{}"}',
    '{"k": "\\ud800"}',
    '{"k": "a"} trailing',
    '{"k": "a"}{"k": "b"}',
    "null",
    "[]",
    '[{"k": "a"}]',
    '```json\n{"k": "a"}\n```',
    'Here it is:\n{"k": "a"}',
    '{"k": [[[[[[[[[[[1]]]]]]]]]]]}',
]


@pytest.mark.parametrize("kind", ["string", "number", "integer", "boolean", "array", "object", "null"])
def test_what_polars_proves_valid_python_finds_valid(kind: str) -> None:
    """The batch path skips Python on rows `json_proven` vouches for: it must never vouch for a row with a
    problem, or a batch and one record would disagree."""
    proven = (
        pl.DataFrame({"x": TRICKY_JSON})
        .with_columns(json_proven(pl.col("x"), {"k": kind}, 8).alias("p"))["p"]
        .to_list()
    )
    vouched = [text for text, ok in zip(TRICKY_JSON, proven, strict=True) if ok]
    assert [t for t in vouched if json_problem(t, {"k": kind}, 8) is not None] == []
    assert vouched or kind == "null"  # and it does vouch: the fast path is taken


def test_what_polars_proves_grounded_python_finds_grounded() -> None:
    """The batch path skips Python on rows `grounding_doubtful` leaves out: on the corpus (every kind, abnormal rows
    and re-formatted numbers included) none of them is one `ungrounded` flags; and it leaves out most normal rows."""
    corpus = pl.read_parquet(PROJECT_ROOT / "monitoring_pipeline_tests" / "fixtures" / "guard_corpus.parquet")
    text, context = pl.col("output_text"), pl.col("retrieved_context")
    doubtful = grounding_doubtful(text, context, text.str.contains(LOOKS_LIKE_JSON), pl.lit(True))
    proven = corpus.filter(~doubtful)
    flagged = [t for t, c in proven.select("output_text", "retrieved_context").iter_rows() if ungrounded(t, c, 0.5)]
    assert flagged == []
    assert proven.filter(pl.col("kind") == "normal").height > 0.5 * corpus.filter(pl.col("kind") == "normal").height


def test_pathological_json_is_a_verdict_in_milliseconds() -> None:
    deep = "[" * 10_000 + "]" * 10_000
    huge = '{"summary": "' + "a" * 10_000_000 + '"}'
    started = time.perf_counter()
    reasons = _reasons("json", [deep, huge], {"max_depth": 20, "max_bytes": 1_000_000})
    assert reasons == ["json_too_deep:10000", "json_too_large"]
    assert time.perf_counter() - started < 5  # generous: a hang or a recursion crash is what this guards against
    assert json_problem("[" * 100_000 + "]" * 100_000, {}, max_depth=20) == "json_too_deep:100000"  # no recursion
    assert json_problem("[" * 100_000, {}, max_depth=20) == "json_too_deep:100000"  # unparsable, still measured


def test_grounding() -> None:
    context = "Revenue grew 45% in 2025 [1]. See https://example.com/report"
    values = [
        "Revenue grew 45% in 2025 [1].",
        "Revenue grew 60% in 2019 [4].",
        "Nothing checkable here",
        "Partly: 45% but 77% too",
        "“a long quotation that is invented”",
    ]
    reasons = _reasons("grounding", values, {"context": "ctx", "min_score": 0.5}, {"ctx": [context] * 5})
    assert reasons == [None, "ungrounded:0.0", None, None, "ungrounded:0.0"]


def test_refusal() -> None:
    values = [
        "Here is the summary.",
        "I'm sorry, but I can't help with that.",
        "As an AI language model, I ...",
        "I cannot assist",
    ]
    assert _reasons("refusal", values) == [None, "refusal", "refusal", "refusal"]


def test_unknown_check_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown guard check 'jsn'; expected one of \["):
        check_for("jsn")


def test_split_reconciles_and_releases() -> None:
    frame = pl.DataFrame(
        {"prediction_id": ["a", "b", "c", "d"], "score": [0.5, 2.0, float("nan"), 0.1], "t": ["x", "y", "z", "<unk>"]}
    )
    rules = [
        GuardRule("score", 1, Severity.BLOCK, "numeric_range", "score", {"min": 0, "max": 1}),
        GuardRule("tokens", 2, Severity.WARN, "special_tokens", "t"),
    ]
    result = evaluate(frame, rules, released={"c"})
    assert result.validated["prediction_id"].to_list() == ["a", "c", "d"]
    assert result.quarantined["prediction_id"].to_list() == ["b"]
    assert result.quarantined["guard_reasons"].to_list() == [["score:above_max"]]
    assert result.validated.columns == [*frame.columns, "guard_score", "guard_tokens"]
    assert result.validated["guard_tokens"].to_list() == [0.0, 0.0, 1.0]  # warn failures stay visible
    verdicts = result.verdicts.sort("prediction_id")
    assert verdicts.select("prediction_id", "rule_id", "rule_version", "severity", "released").rows() == [
        ("b", "score", 1, "block", False),
        ("c", "score", 1, "block", True),
        ("d", "tokens", 2, "warn", False),
    ]
    assert result.validated.height + result.quarantined.height == frame.height
