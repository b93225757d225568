"""The one-record path gives exactly the reasons of the vectorised path, on tricky inputs for every check."""

import polars as pl
import pytest

from monitoring_pipeline.core.guards.evaluate import evaluate
from monitoring_pipeline.core.guards.rules import CHECKS, GuardRule, Severity
from monitoring_pipeline.core.guards.scalar import SCALAR_CHECKS, check_one

TEXTS = [
    '{"summary": "fine", "n": 1}',
    "",
    "   ",
    None,
    "emoji 🙂🚀 and שלום עולם مرحبا and 中文",
    "leak <|endoftext|> and </s>",
    "nul\x00 byte",
    "\x1b[31mred",
    "bell\x07",
    "bad \ufffd",
    " ".join(["I will help you."] * 25),
    "Revenue grew 45% in 2025 [1] per https://example.com/r and “a long invented quotation”",
    "I'm sorry, but I can't help with that.",
    "[" * 3000 + "]" * 3000,
    '{"summary": 3}',
    '{"summary": "ok", "n": true}',
    '{"a": [[[[[[[[[[1]]]]]]]]]]}',
    "x" * 5000,
    "a, b, c, d, e, f, g",
    "Well" + "…" * 30,
    "thethethethethethethethethe end",
    "Contact ana.silva@mailbox.org or +44 20 7946 0958; card 4556 7375 8689 9855",
    "IBAN GB55 WEST 1234 5698 7654 33 and SSN 123-45-6789",
    'Config: {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": {"j": {"k": {"l": 1}}}}}}}}}}}} done',
    '```json\n{"summary": "fenced"}\n```',
    "Unfortunately, I can't answer questions about this topic.",
    "The report says “revenue grew\n by 45% in 2025” [1]",
    "\u200b\ufeff",
    "Refund to account \u202e13902-VNI\u202c today",
    "C1 \x9b31m escape",
    "BERT uses `[CLS]` and `[SEP]`; the price was <s>$399</s> $349.",
    "```python\nprint('<|endoftext|>')\n```\nleaked <|eot_id|>",
    'The customer wrote: "I can\'t access my dashboard since Monday."',
    'Sorry, I can\'t help with that.\n\nHere is the summary in JSON:\n```JSON\n{"summary": "x", }\n```',
    "Name: ______________________________ and # ==================== Config ====================",
    "该问题已经转交给二线支持团队处理，预计明天回复客户。" * 12,
    "Refunded\n" * 40,
    "Call our hotline +44 20 7946 0330 or Dana's mobile +44 7700 900 123; test card 4242 4242 4242 4242.",
]
RULES = [
    GuardRule("required", 1, Severity.BLOCK, "required", "text"),
    GuardRule("range", 1, Severity.BLOCK, "numeric_range", "score", {"min": 0, "max": 1}),
    GuardRule("vocab", 1, Severity.WARN, "vocabulary", "label", {"values": ["a", "b"]}),
    GuardRule("chars", 1, Severity.BLOCK, "text_characters", "text"),
    GuardRule("tokens", 1, Severity.BLOCK, "special_tokens", "text"),
    GuardRule("repeat", 1, Severity.BLOCK, "repetition", "text", {"max_share": 0.5, "min_words": 12}),
    GuardRule("length", 1, Severity.WARN, "length", "text", {"min_chars": 1, "max_chars": 4000, "max_tokens": 10}),
    GuardRule(
        "json",
        1,
        Severity.BLOCK,
        "json",
        "text",
        {"max_depth": 8, "max_bytes": 4000, "required": {"summary": "string"}, "when": "always"},
    ),
    GuardRule("grounded", 1, Severity.WARN, "grounding", "text", {"context": "context", "min_score": 0.5}),
    GuardRule("refusal", 1, Severity.WARN, "refusal", "text"),
    GuardRule("json_like", 1, Severity.BLOCK, "json", "text", {"max_depth": 8}),
    GuardRule("depth", 1, Severity.BLOCK, "nesting_depth", "text", {"max_depth": 10}),
    GuardRule("pii", 1, Severity.BLOCK, "pii", "text"),
    GuardRule("pii_some", 1, Severity.WARN, "pii", "text", {"kinds": ["card", "iban"], "allow": ["4556737586899855"]}),
]


@pytest.fixture
def records() -> list[dict]:
    scores = [0.5, 1.5, float("nan"), None, float("inf"), -1.0]
    labels = ["a", "b", "c", None]
    return [
        {
            "prediction_id": f"p{i}",
            "text": text,
            "score": scores[i % len(scores)],
            "label": labels[i % len(labels)],
            "context": "Revenue grew 45% in 2025 [1]. The report says “Revenue grew by 45% in 2025”.",
        }
        for i, text in enumerate(TEXTS)
    ]


def test_scalar_and_vectorised_checks_agree(records: list[dict]) -> None:
    frame = pl.DataFrame(
        records,
        schema={
            "prediction_id": pl.String,
            "text": pl.String,
            "score": pl.Float64,
            "label": pl.String,
            "context": pl.String,
        },
    )
    vectorised = {
        (row["prediction_id"], row["rule_id"]): row["reason"]
        for row in evaluate(frame, RULES).verdicts.iter_rows(named=True)
    }
    scalar = {
        (record["prediction_id"], rule.id): reason for record in records for rule, reason in check_one(record, RULES)
    }
    assert scalar == vectorised
    assert len(vectorised) > 30  # the fixtures exercise failures of every kind
    assert {rule_id for _, rule_id in vectorised} == {rule.id for rule in RULES}


def test_one_record_with_a_lone_surrogate_is_a_verdict_not_a_crash() -> None:
    record = {"prediction_id": "p", "text": "half \ud800 a pair", "score": 0.5, "label": "a", "context": ""}
    reasons = dict((rule.id, reason) for rule, reason in check_one(record, RULES))
    assert reasons["chars"] == "unencodable_text"


def test_a_large_batch_goes_through_the_vectorised_path_with_the_same_result(records: list[dict]) -> None:
    from monitoring_pipeline import check_record, check_records
    from monitoring_pipeline.guard import SMALL_BATCH

    batch = (records * 4)[: SMALL_BATCH + 10]
    assert check_records(batch, RULES) == [check_record(record, RULES) for record in batch]


def test_both_forms_list_the_same_checks_and_the_parity_rules_cover_them() -> None:
    assert set(SCALAR_CHECKS) == set(CHECKS)
    assert {rule.check for rule in RULES} == set(CHECKS)
