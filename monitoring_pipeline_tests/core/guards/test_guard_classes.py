"""The false-positive and false-negative classes of issue 17, each on both paths (a batch through Polars and one
record through `check_record`): grounding of JSON outputs and re-spaced quotations, repetition beyond word
trigrams, refusal paraphrases, JSON rules on outputs that are only sometimes JSON, PII, non-string outputs."""

import json

import polars as pl
import pytest

from monitoring_pipeline import check_record
from monitoring_pipeline.core.guards import repetition
from monitoring_pipeline.core.guards.evaluate import evaluate
from monitoring_pipeline.core.guards.rules import GuardRule, Severity, check_for
from monitoring_pipeline.io.config_file import PROJECT_ROOT


def _both(check: str, texts: list, params: dict | None = None, contexts: list | None = None) -> list[str | None]:
    """The reason of each text on the batch path, checked equal to the one-record path."""
    rule = GuardRule("r", 1, Severity.BLOCK, check, "text", params or {})
    contexts = contexts or [None] * len(texts)
    frame = pl.DataFrame({"prediction_id": [str(i) for i in range(len(texts))], "text": texts, "context": contexts})
    verdicts = dict(evaluate(frame, [rule]).verdicts.select("prediction_id", "reason").iter_rows())
    batch = [verdicts.get(str(i)) for i in range(len(texts))]
    single = [
        next((v.reason for v in check_record({"text": t, "context": c}, [rule])), None)
        for t, c in zip(texts, contexts, strict=True)
    ]
    assert batch == single
    return batch


CONTEXT = (
    "Ticket 4821: the customer was charged twice for order 1,250 in March.\n"
    "Agent note: “Refunds take 5 to 7\n   business days once approved.” See https://help.example.com/refunds.\n"
    "Revenue grew 15 percent to $3.50 per unit [1]."
)


def test_grounding_reads_claims_from_json_strings_and_not_from_metadata() -> None:
    normal = [
        '{"summary": "Charged twice for order 1250 in March.", "word_count": 152, "ticket_id": "T-9921", '
        '"confidence": 0.93, "num_sources": 3, "created_at": "2026-10-06T12:00:00Z"}',
        '{"summary": "Refunds: \\"Refunds take 5 to 7 business days once approved.\\"", "meta": {"char_length": 77}}',
    ]
    invented = ['{"summary": "Charged 4 times for order 9,999 in 2019, per https://help.example.com/fees."}']
    reasons = _both("grounding", normal + invented, {"context": "context"}, [CONTEXT] * 3)
    assert reasons[:2] == [None, None]
    assert reasons[2] is not None and reasons[2].startswith("ungrounded:")


def test_grounding_forgives_line_breaks_spacing_case_quotes_unicode_and_number_formats() -> None:
    outputs = [
        "The agent wrote “refunds take 5 to 7 business days once approved.”",  # re-flowed, case at the start
        'The agent wrote "Refunds take 5 to 7 business days once approved".',  # straight quotes
        "Revenue grew 15% to $3.5 per unit [1]; order 1250.",  # 15 percent, 3.50, 1,250
        "Ｒｅｖｅｎｕｅ grew 15％ [1].",  # full-width forms (NFKC)
    ]
    assert _both("grounding", outputs, {"context": "context"}, [CONTEXT] * 4) == [None] * 4


def test_grounding_fails_an_invented_quotation_or_source_and_changed_numbers() -> None:
    outputs = [
        "The agent wrote “refunds are instant for premium customers.” See https://help.example.com/refunds.",
        "Details at https://help.example.com/refund-policy-2027 [1].",
        "Revenue grew 45% to $9.80 per unit [1], order 7,777.",
    ]
    assert all(
        r and r.startswith("ungrounded:") for r in _both("grounding", outputs, {"context": "context"}, [CONTEXT] * 3)
    )
    assert _both("grounding", outputs, {"context": "context"}, [None, "", "   "]) == [None] * 3  # nothing to judge by


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("The answer is " + "a" * 40, "repeated_run:40x1"),
        ("Well" + "…" * 25, "repeated_run:25x1"),
        ("Great" + "!" * 30, "repeated_run:30x1"),
        ("It is specific" + "." * 60, "repeated_run:60x1"),
        ("thethethethethethethethethe end", "repeated_run:9x3"),
        ("这是一个测试" + "的" * 30, "repeated_run:30x1"),
        ("line" + "<br>" * 12, "repeated_run:12x4"),
        ("Here is the summary. " + "I will help you with that request. " * 8, "repetition:0.93"),
        ("Log:\n" + "Error: connection refused\n" * 12, "repetition:0.97"),
        ("Steps:\n" + "".join(f"{n}. Refunded\n" for n in range(1, 20)), "repetition:0.95"),
    ],
)
def test_repetition_catches_character_runs_stutters_and_loops(text: str, reason: str) -> None:
    assert _both("repetition", [text]) == [reason]


def test_the_vectorised_bound_lets_through_every_character_loop() -> None:
    """`may_char_loop` (NumPy over the batch) must hold every text `char_loop` (Python) finds a loop in: units of
    1-32 characters of 1-4 UTF-8 bytes, at the shortest run that counts, beside other stretches of every length."""
    corpus = pl.read_parquet(PROJECT_ROOT / "monitoring_pipeline_tests" / "fixtures" / "guard_corpus.parquet")
    alphabet = ["a", "é", "的", "😀", "<", "1", "."]
    texts = corpus["output_text"].drop_nulls().to_list()
    for min_run in (3, 5, 20, 40):
        for width in (1, 2, 3, 7, 16, 32):
            unit = "".join(alphabet[(width + i) % len(alphabet)] for i in range(width))
            copies = max(min_run if width == 1 else repetition.MIN_COPIES, -(-min_run // width))
            texts.append("x" * (min_run + width) + " lead " + unit * copies + " tail " + "y" * min_run)
            texts.append(json.dumps({"s": "lead " + unit * copies}))  # each character a \\u escape of 6 bytes
    for min_run in (3, 5, 20, 40):
        found = [repetition.char_loop(t, min_run) is not None for t in texts]
        bound = repetition.may_char_loop(pl.Series(texts), min_run).to_list()
        assert sum(found) > 40
        assert [t for t, f, b in zip(texts, found, bound, strict=True) if f and not b] == []


def test_the_word_loop_bound_lets_through_every_word_loop() -> None:
    """`may_loop` (and its Polars form) must hold every text `word_loop` finds a loop in, whatever stands between
    the words: counters, punctuation, every kind of whitespace, empty lines."""
    corpus = pl.read_parquet(PROJECT_ROOT / "monitoring_pipeline_tests" / "fixtures" / "guard_corpus.parquet")
    texts = corpus["output_text"].drop_nulls().to_list()
    gaps = [" ", "\n", "\t", "\u00a0", "\u2003", "\x1c", "  ", "\n\n"]
    for width in (1, 2, 5, 30):
        unit = [f"w{i}rd" for i in range(width)]
        for k, gap in enumerate(gaps):
            loop = "".join(f"{n}.{gap}{gap.join(unit)}{gap}— " if k % 2 else f"{gap.join(unit)}{gap}" for n in range(8))
            texts.append("Intro of several distinct words before it starts:" + gap + loop + " and some more after it.")
    for max_share, min_words in ((0.3, 12), (0.5, 12), (0.2, 4)):
        found = [repetition.word_loop(t, max_share, min_words) is not None for t in texts]
        bound = pl.select(repetition.may_loop_expr(pl.lit(pl.Series(texts)), max_share, min_words)).to_series()
        assert sum(found) > 20
        assert bound.to_list() == [repetition.may_loop(t, max_share, min_words) for t in texts]
        assert [t for t, f, b in zip(texts, found, bound, strict=True) if f and not b] == []


def test_the_word_loop_bound_leaves_a_text_said_twice_to_the_vectorised_path() -> None:
    """A summary its points restate passes the distinct-word bounds, not the copies one: Python never reads it."""
    summary = "The community guide covers development, support, implementation and the history of the project."
    text = f'{{"summary": "{summary}", "points": ["{summary}", "It ships documentation and a changelog."]}}'
    assert not repetition.may_loop(text, 0.3, 12)
    assert not pl.select(repetition.may_loop_expr(pl.lit(pl.Series([text])), 0.3, 12)).item()
    assert repetition.may_loop(f"Intro. {summary} {summary} {summary} {summary}", 0.3, 12)


TECHNICAL = [
    "Title\n" + "=" * 60 + "\n\nSome text here about things that matter.",
    "Notes\n-----\n\n" + "^" * 109 + "\n",
    "| a | b | c |\n|---|:---:|---|\n| 1 | 2 | 3 |\n| 4 | 5 | 6 |\n",
    "=======  =========================\n mode    k\n=======  =========================\n",
    "\n".join(f"- Return the number of {w} in the buffer." for w in ["items", "bytes", "lines", "words", "pages"]),
    "UUIDs look like '12345678-1234-1234-1234-123456789abc' when printed.",
    "sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "It is very very very important that you read this entire paragraph carefully before continuing on.",
    'THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED'
    " TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT.",
    "x = 1\ny = 2\nz = 3\nx = 1\ny = 2\nw = 4\n",
]


def test_repetition_leaves_technical_texts_that_repeat_legitimately() -> None:
    assert _both("repetition", TECHNICAL) == [None] * len(TECHNICAL)


def test_a_json_output_is_judged_as_it_shows() -> None:
    """Escapes read (`\\u2500` is one `─`), each string value on its own lines, the structure on its own."""
    table = str(pl.DataFrame({"region": ["north", "central"], "share": [0.61, 0.39]}))  # box drawing, as printed
    normal = [
        json.dumps({"summary": "Shares by region:\n" + table}),  # ensure_ascii: `\\u2500` five times is no loop
        json.dumps({"summary": "Setup\n" + "~" * 63, "word_count": 3}),  # an underline, then the JSON goes on
        "<!-- " + "." * 66 + " -->\n<p>Release notes</p>",  # an HTML banner
        "Netmask: IPv6Address('ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0')",
    ]
    looping = [
        json.dumps({"summary": "这是" + "的" * 30}),  # escaped, still 30 characters
        '{"summary": "ok ' + "la" * 40,  # cut off mid-loop: not JSON any more
        '{"summary": "ok", "scores":[' + "0," * 30 + "0]}",  # a loop in the structure
    ]
    reasons = _both("repetition", normal + looping)
    assert reasons == [None] * 4 + ["repeated_run:30x1", "repeated_run:40x2", "repeated_run:30x2"]


def test_grounding_leaves_names_and_metadata_blocks_alone() -> None:
    outputs = [
        json.dumps({"summary": "Charged twice for order 1250 in March.", "meta": {"model": "m-2.3", "tokens": 60}}),
        json.dumps({"summary": "Charged twice for order 1250.", "model": "gpt-4.1", "format": "v2.17"}),
        "Drafted by gpt-4.1 from the COVID-19 queue: charged twice for order 1,250.",
    ]
    assert _both("grounding", outputs, {"context": "context"}, [CONTEXT] * 3) == [None] * 3
    invented = [
        "Drafted by gpt-4.1: charged twice for order 4,250.",  # a figure still counts next to a name
        "Revenue grew 5% in March.",  # a lone digit with % is a claim too
        "The parcel weighs 12 kg.",  # the context's 12．5 reads 12.5 once normalised
    ]
    contexts = [CONTEXT, "Revenue grew in March.", "The parcel weighs 12\uff0e5 kg."]
    reasons = _both("grounding", invented, {"context": "context"}, contexts)
    assert all(reason and reason.startswith("ungrounded:") for reason in reasons), reasons


def test_a_replacement_character_written_about_in_code_is_content() -> None:
    texts = [
        "Lossy decoding replaces them with `\ufffd`.",
        "Invalid bytes become the replacement character ``\ufffd``.",  # reStructuredText
        "```\nb'caf\\xe9' -> caf\ufffd\n```",
        "Caf\ufffd au lait",
    ]
    assert _both("text_characters", texts) == [None, None, None, "replacement_character"]


REFUSALS = [
    "I apologize, but I am unable to fulfill this request.",
    "Unfortunately, I can't answer questions about this topic.",
    "I'm sorry, but I cannot help with that.",
    "As an AI language model, I do not have opinions.",
    "Thanks for the document. As an AI, I am not able to access external files.",
    "Sorry, I can’t assist with that request.",
    "I won't be able to help with this.",
    "That's not something I can help with.",
    "I'm afraid that's beyond what I can do.",
    "This request falls outside of what I'm able to help with.",
    "I'm sorry, but that request goes against my guidelines.",
    '{"summary": "I\'m not able to provide a summary of this content.", "confidence": 0.0}',
    '{"summary": "\\u7533\\u3057\\u8a33\\u3042\\u308a\\u307e\\u305b\\u3093\\u304c\\u3001\\u304a\\u5fdc\\u3048'
    '\\u3067\\u304d\\u307e\\u305b\\u3093\\u3002"}',
    "Es tut mir leid, aber dabei kann ich nicht helfen.",
    "Lo siento, pero no puedo ayudar con eso.",
]
NOT_REFUSALS = [
    "The value cannot be None.",
    "Raises ValueError if the file cannot be opened.",
    "The customer wrote: \"I'm sorry, but I can't log in to my account since Monday.\"",
    "The user reports they are unable to reset their password.",
    "This function cannot help with circular imports; use importlib instead.",
    "A comment says: This should be fixed, but it's so rare that I won't bother to handle it.",
    "We cannot provide refunds after 30 days, per the policy.",
    "Summary of the call. " * 20 + "Finally the agent said: I cannot help with that, sorry.",  # quoted, deep
]


def test_refusal_catches_paraphrases_and_not_content_that_mentions_cannot() -> None:
    assert _both("refusal", REFUSALS) == ["refusal"] * len(REFUSALS)
    assert _both("refusal", NOT_REFUSALS) == [None] * len(NOT_REFUSALS)


def test_json_rules_on_outputs_that_are_sometimes_json() -> None:
    texts = [
        "A plain-text answer with (parentheses) and [a link](https://example.com).",
        "[1] See the docs.",
        "```python\nprint({'a': 1})\n```",
        '{"summary": "ok"}',
        '```json\n{"summary": "fenced"}\n```',
        '{"summary": "cut off',
        "[" * 12 + "]" * 12,
    ]
    reasons = _both("json", texts)  # the default: only outputs that open as JSON are checked
    assert reasons == [None, None, None, None, None, "json_invalid", "json_too_deep:12"]
    assert _both("json", texts[:1], {"when": "always"}) == ["json_invalid"]


def test_nesting_depth_is_checked_on_any_output() -> None:
    deep = '{"a": ' * 11 + "1" + "}" * 11
    texts = [
        f"Here is the config: {deep} as requested.",
        deep,
        "(a (b (c))) and [[1, 2], [3]]",
        '{"s": "[[[[[[[[[[[["}',
    ]
    assert _both("nesting_depth", texts) == ["too_deep:11", "too_deep:11", None, None]


def test_pii_names_kind_and_position_never_the_value() -> None:
    texts = [
        "Write to ana.silva@mailbox.org",
        "Card 4556 7375 8689 9855 on file",
        "Card 4111 1111 1111 1112 on file",  # fails the Luhn check
        "IBAN DE62 3704 0044 0532 0130 01",
        "SSN 123-45-6789",
        "ISBN 978-3-16-148410-0, version 1.2.3.4, 2026-10-06 10:30",
    ]
    reasons = _both("pii", texts)
    assert reasons == ["pii:email@9", "pii:card@5", None, "pii:iban@5", "pii:us_ssn@4", None]
    assert _both("pii", texts[:2], {"kinds": ["card"], "allow": ["4556737586899855"]}) == [None, None]


def test_a_pii_rule_with_an_unknown_kind_or_parameter_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown PII kinds"):
        check_for("pii").build(GuardRule("p", 1, Severity.BLOCK, "pii", "text", {"kinds": ["passport"]}))
    with pytest.raises(ValueError, match="takes no parameter 'max_shar'"):
        check_for("repetition").build(GuardRule("p", 1, Severity.BLOCK, "repetition", "text", {"max_shar": 0.3}))


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (42, {"json": "json_not_object"}),
        (b"caf\xc3\xa9 \xff", {"chars": "replacement_character", "json": "json_invalid"}),
        ({"summary": "fine"}, {}),
        ({"summary": 3}, {"json": "json_wrong_type:summary"}),
        (["a", "b"], {"json": "json_not_object"}),
        (3.5, {"json": "json_not_object"}),
        (True, {"json": "json_not_object"}),
    ],
)
def test_check_record_on_a_non_string_output_gives_verdicts(output: object, expected: dict) -> None:
    rules = [
        GuardRule(name, 1, Severity.BLOCK, check, column, params)
        for name, check, column, params in [
            ("present", "required", "text", {}),
            ("chars", "text_characters", "text", {}),
            ("loops", "repetition", "text", {}),
            ("json", "json", "text", {"required": {"summary": "string"}, "when": "always"}),
            ("depth", "nesting_depth", "text", {}),
            ("grounded", "grounding", "text", {"context": "context"}),
            ("refusal", "refusal", "text", {}),
            ("pii", "pii", "text", {}),
            ("score", "numeric_range", "score", {"min": 0, "max": 1}),
        ]
    ]
    found = {
        v.rule_id: v.reason for v in check_record({"text": output, "context": "42 or 3.5", "score": "high"}, rules)
    }
    assert found == {**expected, "score": "not_a_number"}


def test_a_large_batch_of_non_string_outputs_agrees_with_one_record_at_a_time() -> None:
    from monitoring_pipeline import check_records

    rules = [
        GuardRule("json", 1, Severity.BLOCK, "json", "text", {"required": {"summary": "string"}, "when": "always"}),
        GuardRule("chars", 1, Severity.BLOCK, "text_characters", "text"),
        GuardRule("score", 1, Severity.BLOCK, "numeric_range", "score", {"min": 0, "max": 1}),
    ]
    outputs = [42, b"caf\xc3\xa9 \xff", {"summary": "fine"}, {"summary": 3}, ["a"], None, "plain", 3.5]
    records = [{"text": outputs[i % len(outputs)], "score": 0.5} for i in range(80)]
    assert check_records(records, rules) == [check_record(record, rules) for record in records]


@pytest.mark.parametrize(
    ("check", "text", "context", "reason"),
    [  # an independent red team's set: each a normal output the first version of these rules flagged
        ("grounding", "Three orders, about $602 combined, are overdue.", "Orders of $199, $204 and $201.", None),
        ("grounding", "Revenue grew nearly 40% to roughly 1.2 million users.", "up 38.6% to 1,187,000 users", None),
        (
            "grounding",
            "See **https://docs.acme.io/cli/install/** or http://docs.acme.io/cli/install",
            "at https://docs.acme.io/cli/install",
            None,
        ),
        ("grounding", "详情见：https://ir.acme.cn/q2。", "公告 https://ir.acme.cn/q2", None),
        (
            "grounding",
            'Sizes: 27" / 32". Prices start at $349 and the "Vista Pro" is new.',
            "Vista Pro 27 32 349",
            None,
        ),
        (
            "grounding",
            "“caused by an expired TLS certificate … which we failed to renew”",
            "It was caused by an expired TLS certificate on the gateway, which we failed to renew.",
            None,
        ),
        (
            "grounding",
            "| Hour | 00 | 01 | 02 | 03 | 04 | 05 |\n|---|---|---|---|---|---|---|\n| Errors | 0 | 0 | 0 | 0 | 0 | 0 |",
            "all 24 hours reported 0 errors",
            None,
        ),
        ("refusal", "The customer wrote: “I can't access my dashboard since Monday.”", None, None),
        ("refusal", 'Priya: "I can\'t share the vendor quote until legal approves."', None, None),
        ("refusal", "I can't help but notice the spike on Monday.", None, None),
        ("refusal", "Sorry, I won't be summarizing this conversation.", None, "refusal"),
        ("refusal", "申し訳ありませんが、この内容を要約することはできません。", None, "refusal"),
        ("refusal", "Извините, но я не могу помочь с этим запросом.", None, "refusal"),
        ("special_tokens", "BERT inputs start with `[CLS]` and end with `[SEP]`.", None, None),
        ("special_tokens", "Sale: now <s>$399</s> $349.", None, None),
        ("special_tokens", "Done.<|eot_id|>", None, "special_token:<|eot_id|>"),
        ("repetition", "# ==================== Config ====================", None, None),
        ("repetition", "Name: ______________________________", None, None),
        ("repetition", "Account 0x0000000000000000000000000000000000000000 was burned.", None, None),
        (
            "repetition",
            "Log:\n```\n" + "[ERROR] pool: connection to db-1.internal:5432 refused\n" * 3 + "```\nRestart fixed it.",
            None,
            None,
        ),
        ("repetition", "Refunded\n" * 40, None, "repetition:1.0"),
        ("repetition", "该问题已经转交给二线支持团队处理，预计明天回复客户。" * 12, None, "repeated_run:12x26"),
        ("pii", "Our hotline +44 20 7946 0330 is open 9-5; press@acme.io for journalists.", None, None),
        ("pii", "Call us toll-free at 1-800-867-5309.", None, None),
        ("pii", "In test mode, 4242 4242 4242 4242 succeeds.", None, None),
        ("pii", "Dana's mobile: 415 867 5309. Refund issued.", None, "pii:phone@15"),
        ("pii", "王先生的手机号是13812345678，请回电。", None, "pii:phone@8"),
        ("pii", "case 512-44-1093 was reopened", None, None),
        ("text_characters", "Refund to \u202e13902-VNI\u202c today", None, "bidi_control"),
        ("text_characters", "مرحبا \u2068name\u2069 بالعالم", None, None),
        ("required", "\u200b\ufeff", None, "whitespace_only"),
        # a second red team, a production-like set
        ("grounding", "Celtics win by 13.", "Final: Lakers 111, Celtics 124.", None),
        ("grounding", "Weight is down 1.2 kg since March.", "Weight 70.2 kg in March, 69.0 kg today.", None),
        (
            "grounding",
            "Fees rise from €4.95 to €6.50 above a €1,000 balance.",
            "de 4,95 € à 6,50 € au-delà de 1 000 €",
            None,
        ),
        (
            "grounding",
            '{"summary": "Type 2 diabetes; review in 3 months.", "icd10": ["E11.9", "I10"]}',
            "diabetes",
            None,
        ),
        ("grounding", "The refund of $117.37 was issued.", "Refund amount: $119.97.", "ungrounded:0.0"),
        (
            "grounding",
            "Refund $119.97 issued on 2024-03-05 for order 6592106.",
            "Order 6592086: $119.97, 5 March",
            "ungrounded:0.5",
        ),
        ("grounding", "A full week abroad earns $665 in per diem.", "The per diem is $95 a day abroad.", None),
        ("grounding", "Kontoführung ab 28.03.2025: 3,90 €/Monat.", "ab dem 28. März 2025 3,90 € pro Monat", None),
        ("grounding", "約26,000円を返金予定。", "返金額は25,960円です。", None),
        ("pii", "Questions go to claims@harbormutual.com.", None, None),
        ("pii", "Votre commande 089-1604633 est partie.", None, None),
        (
            "refusal",
            "The provided context does not contain enough information for me to generate a summary.",
            None,
            "refusal",
        ),
        ("repetition", "El reembolso se procesará tras la devolución" + "." * 46, None, "repeated_run:46x1"),
        ("json", 'Sure, here is the JSON:\n{"summary": "x",\n}', None, "json_invalid"),
        (
            "json",
            '**Fluxgate 3.9.3**\n\nNew setting:\n\n```json\n{ "retry_backoff_ms": 250  // delay }\n```\n',
            None,
            None,
        ),
        ("required", '{"summary": "", "ticket_id": "T-1", "confidence": 0.0}', None, "empty_content"),
        ("required", "```\n```", None, "empty_content"),
        ("required", '{"summary": "ok", "notes": ""}', None, None),
        (
            "repetition",
            "".join(f"{i}. Follow up with the customer about the refund.\n" for i in range(1, 30)),
            None,
            "repetition:1.0",
        ),
        (
            "repetition",
            " ".join(f"The refund of ticket {i} has been issued." for i in range(40)),
            None,
            "repetition:1.0",
        ),
        (
            "repetition",
            "| Hour | " + " | ".join(f"{h:02d}" for h in range(24)) + " |\n| Errors | " + " | ".join("0" * 24) + " |",
            None,
            None,
        ),
        ("json", 'Here is the summary:\n```JSON\n{"summary": "x", }\n```', None, "json_invalid"),
    ],
)
def test_an_independent_red_teams_cases(check: str, text: str, context: str | None, reason: str | None) -> None:
    params = {"context": "context"} if check == "grounding" else {}
    assert _both(check, [text], params, [context]) == [reason]


def test_a_special_token_the_context_also_holds_is_content() -> None:
    texts = ["Llama 3 chat prompts now stop at <|eot_id|>.", "Done.<|eot_id|>", "Done.<|im_end|>"]
    contexts = ["Prompts now stop at `<|eot_id|>` instead of </s>.", "Summarize the release.", "stop at <|eot_id|>"]
    reasons = _both("special_tokens", texts, {"context": "context"}, contexts)
    assert reasons == [None, "special_token:<|eot_id|>", "special_token:<|im_end|>"]


MISREAD = ["café au lait", "don’t stop", "25 °C in Zürich", "Привет, мир", "中文文本", "Ελληνικά γράμματα"]
TEXT_NOT_MOJIBAKE = ["CAFÉ…", "Il a été…»", "SÃO PAULO", "Åsa’s “quote” — ok", "° ± ² µ", "ÉTÉ…»", "Ñ»", "naïve"]


def test_utf8_read_as_windows_1252_is_mojibake_and_accented_text_is_not() -> None:
    misread = [t.encode("utf-8").decode("cp1252", errors="replace").replace("\ufffd", "") for t in MISREAD]
    rule = GuardRule("chars", 1, Severity.BLOCK, "text_characters", "output_text")
    frame = pl.DataFrame({"prediction_id": [str(i) for i in range(14)], "output_text": misread + TEXT_NOT_MOJIBAKE})
    reasons = frame.select(check_for("text_characters").build(rule).alias("r"))["r"].to_list()
    assert reasons == ["mojibake"] * len(MISREAD) + [None] * len(TEXT_NOT_MOJIBAKE)
    assert [[v.reason for v in check_record({"output_text": t}, [rule])] for t in misread] == [["mojibake"]] * len(
        MISREAD
    )
