"""Guard rules: each declared rule becomes one vectorised Polars expression that yields a reason (a short string
that never copies the output itself) when a row fails it, and null when it passes.

Checks (the `check` of a rule) and their parameters:

| check | parameters (defaults) | reasons |
|---|---|---|
| required | - | null, empty, whitespace_only, empty_content |
| numeric_range | min, max | null, not_a_number, nan, infinite, below_min, above_max |
| vocabulary | values | not_in_vocabulary |
| text_characters | - | nul_byte, ansi_escape, control_character, replacement_character, bidi_control, mojibake |
|                 |   | (and, on one record, unencodable_text: lone surrogates a Python str can hold, a Polars  |
|                 |   | column not)                                                                             |
| special_tokens | tokens, context (column) | special_token:<token> |
| repetition | max_share (0.3), min_words (12), min_run (20) | repetition:<share>, repeated_run:<copies>x<unit> |
| length | min_chars, max_chars, max_tokens | too_short, too_long_chars, too_long_tokens |
| json | max_depth (10), max_bytes (100000), required ({key: type}), | json_too_large, json_too_deep:<depth>, |
|      | when ("json_like": outputs that open as JSON; "always":    | json_invalid, json_not_object,          |
|      | every output must be JSON)                                   | json_missing_key:<k>, json_wrong_type:<k> |
| nesting_depth | max_depth (10) | too_deep:<depth> (brackets outside string literals, on any output) |
| grounding | context (column), min_score (0.5) | ungrounded:<score> |
| refusal | patterns, within_chars (300) | refusal |
| pii | kinds (all of PII_KINDS), allow (globs) | pii:<kind>@<offset>,... (never the value) |

Measures no Polars expression computes (loops, parsing, claims, checksums) run in Python, on the rows a cheap
vectorised bound selects; the same functions serve `scalar.py`, so one record and a batch agree.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from typing import Any

import polars as pl

from monitoring_pipeline.core.guards import grounding, pii, repetition
from monitoring_pipeline.core.guards.json_shape import (
    JSON_TYPES,
    LOOKS_LIKE_JSON,
    json_problem,
    json_strings,
    text_depth,
)
from monitoring_pipeline.core.text import STRING_LITERAL, TOKEN_PATTERN


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

    def read(self) -> tuple[str, ...]:
        """The columns the rule reads: its own, and a context column when it names one."""
        return (self.column, *([self.params["context"]] if "context" in self.params else []))


@dataclass(frozen=True)
class Check:
    name: str
    expression: Callable[[GuardRule], pl.Expr]
    description: str
    params: tuple[str, ...] = ()

    def build(self, rule: GuardRule) -> pl.Expr:
        """The rule's expression; an unknown parameter is refused, naming the ones this check takes."""
        unknown = sorted(set(rule.params) - set(self.params))
        if unknown:
            raise ValueError(
                f"check {self.name} takes no parameter {unknown[0]!r}; its parameters: {list(self.params)}"
            )
        return self.expression(rule)


def _reason(*cases: tuple[pl.Expr, str | pl.Expr]) -> pl.Expr:
    """The reason of the first failing case, else null."""
    expr = pl.when(cases[0][0]).then(_lit(cases[0][1]))
    for condition, reason in cases[1:]:
        expr = expr.when(condition).then(_lit(reason))
    return expr.otherwise(pl.lit(None, pl.String))


def _lit(reason: str | pl.Expr) -> pl.Expr:
    return pl.lit(reason) if isinstance(reason, str) else reason


BLANK = "[\\s\u200b\u200c\u200d\u2060\ufeff]"  # whitespace, zero-width characters and a byte-order mark


EMPTY_VALUE = r":\s*\"\"|^\s*```"  # a JSON output with an empty string value, a text opening with a fence


def _required(rule: GuardRule) -> pl.Expr:
    value = pl.col(rule.column)
    text = value.cast(pl.String)
    return _reason(
        (value.is_null(), "null"),
        (text.str.len_chars() == 0, "empty"),
        (~text.str.contains(BLANK.replace("[", "[^", 1)), "whitespace_only"),  # no character that is not blank
        (in_python([text], _may_be_hollow(text), empty_content).is_not_null(), "empty_content"),
    )


def _may_be_hollow(text: pl.Expr) -> pl.Expr:
    """A superset of the texts `EMPTY_VALUE` matches, by literal search (a regex would scan every text)."""
    return text.str.contains('""', literal=True) | text.str.contains(r"^\s*```")


def empty_content(text: str) -> str | None:
    """`hollow` on a text with an empty value or a fence (`EMPTY_VALUE`), the one-record path's gate too."""
    return hollow(text) if compiled(EMPTY_VALUE).search(text) else None


def hollow(text: str) -> str | None:
    """ "empty_content" for an output with a shape but nothing in it: only an empty code fence, or JSON whose every
    string outside metadata keys is blank (`{"summary": ""}`)."""
    if re.fullmatch(r"\s*```\w*\s*```\s*", text):
        return "empty_content"
    strings = json_strings(text, grounding.METADATA_KEY)
    return "empty_content" if strings is not None and not any(s.strip() for s in strings) else None


def _numeric_range(rule: GuardRule) -> pl.Expr:
    given = pl.col(rule.column)
    value = given.cast(pl.Float64, strict=False)
    low, high = rule.params.get("min"), rule.params.get("max")
    cases = [
        (given.is_null(), "null"),
        (value.is_null(), "not_a_number"),
        (value.is_nan(), "nan"),
        (value.is_infinite(), "infinite"),
    ]
    if low is not None:
        cases.append((value < low, "below_min"))
    if high is not None:
        cases.append((value > high, "above_max"))
    return _reason(*cases)


def _vocabulary(rule: GuardRule) -> pl.Expr:
    value = pl.col(rule.column).cast(pl.String)
    allowed = pl.Series([str(v) for v in rule.params["values"]], dtype=pl.String)
    return _reason((value.is_not_null() & ~value.is_in(allowed.implode()), "not_in_vocabulary"))


CONTROL = "[\x01-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f-\x9f]"  # C0 (not tab, newline, CR, ESC), DEL and C1
BIDI = "[\u202d\u202e]"  # bidirectional overrides: text that displays other than it reads (not embeddings or isolates)
# A UTF-8 continuation byte (0x80-0xBF) as Latin-1 or Windows-1252 shows it
CONTINUATION = (
    "[\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013\u2014\u2018-\u201a"
    "\u201c-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]"
)
# UTF-8 read as Windows-1252 or Latin-1 ("cafÃ©", "donâ€™t", "Â°C", Cyrillic or CJK as Ð¿Ñ€ or ä¸­æ–‡): a
# lead byte's letter before continuation bytes. Â and Ã open Latin-1 letters and symbols and â€ punctuation; other
# leads count twice in a row, so "CAFÉ…" or "été…»" (a letter before punctuation) is text, not mojibake.
MOJIBAKE = (
    f"[\u00c2\u00c3]{CONTINUATION}|\u00e2\u20ac|\u00e2\u201a\u00ac|(?:[\u00c4-\u00df]{CONTINUATION}){{2}}"
    f"|(?:[\u00e0-\u00ef]{CONTINUATION}{{2}}){{2}}"
)


# Every character a text_characters reason needs: C0 but tab and line breaks, DEL, C1, U+FFFD, the overrides and the
# lead characters of mojibake. One scan for it; the reasons are worked out only on the texts that have one.
SUSPECT_CHARACTER = "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffd\u202d\u202e\u00c2-\u00ef]"


def _text_characters(rule: GuardRule) -> pl.Expr:
    def batch(texts: pl.Series) -> pl.Series:
        rows = texts.str.contains(SUSPECT_CHARACTER).fill_null(False).arg_true()
        found = pl.select(_character_reason(pl.lit(texts.gather(rows)))).to_series()
        return pl.Series([None] * texts.len(), dtype=pl.String).scatter(rows, found)

    return pl.col(rule.column).map_batches(batch, pl.String)


def _character_reason(text: pl.Expr) -> pl.Expr:
    return _reason(
        (text.str.contains("\x00", literal=True), "nul_byte"),
        (text.str.contains("\x1b", literal=True), "ansi_escape"),
        (text.str.contains(CONTROL), "control_character"),
        (in_python([text], text.str.contains("\ufffd", literal=True), replaced).is_not_null(), "replacement_character"),
        (text.str.contains(BIDI), "bidi_control"),
        (text.str.contains(MOJIBAKE), "mojibake"),
    )


DEFAULT_SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|eot_id|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|begin_of_text|>",
    "<|assistant|>",
    "<|user|>",
    "<|system|>",
    "<|end|>",
    "<start_of_turn>",
    "<end_of_turn>",
    "[INST]",
    "[/INST]",
    "<<SYS>>",
    "<</SYS>>",
    "<unk>",
    "<s>",
    "</s>",
    "<bos>",
    "<eos>",
    "<pad>",
    "[PAD]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
)
# Where a token is content, not a leak: code (a fence, `inline` or ``inline``) and an HTML strikethrough <s>…</s>.
MENTIONED = r"(?s)```.*?```|``[^\n]*?``|`[^`\n]*`|<s>[^<]{0,200}</s>"


def replaced(text: str) -> str | None:
    """ "replacement_character" for a U+FFFD outside code: in `�` or a fence it is written about, not a decoding
    failure."""
    return "replacement_character" if "\ufffd" in compiled(MENTIONED).sub("", text) else None


def _special_tokens(rule: GuardRule) -> pl.Expr:
    """A leaked token; with a `context` column, a token the context also holds is content ("stop at <|eot_id|>"
    in release notes that say so)."""
    tokens = list(rule.params.get("tokens", DEFAULT_SPECIAL_TOKENS))
    text = pl.col(rule.column).str.replace_all(MENTIONED, "")
    if "context" in rule.params:
        context = pl.col(rule.params["context"])
        return in_python([text, context], text.str.contains_any(tokens), lambda t, c: leaked_token(t, tokens, c))
    pattern = "|".join(re.escape(t) for t in tokens)
    return _reason((text.str.contains_any(tokens), pl.format("special_token:{}", text.str.extract(f"({pattern})"))))


def leaked_token(shown: str, tokens: list[str], context: str | None) -> str | None:
    """`special_token:<token>` for the first token of `shown` (the text outside code) the context does not hold."""
    for match in compiled("|".join(re.escape(t) for t in tokens)).finditer(shown):
        if not context or match.group() not in context:
            return f"special_token:{match.group()}"
    return None


def in_python(columns: list[pl.Expr], candidate: pl.Expr, reason: Callable[..., str | None]) -> pl.Expr:
    """`reason(*values)` on the rows `candidate` (a cheap vectorised bound) selects, null elsewhere. Polars
    evaluates both branches of a when/then, so a measure only Python computes runs this way on the few rows that
    need it."""
    names = [f"v{i}" for i in range(len(columns))]
    row = pl.struct(
        candidate.fill_null(False).alias("candidate"), *(c.alias(n) for c, n in zip(columns, names, strict=True))
    )

    def batch(rows: pl.Series) -> pl.Series:
        frame = rows.struct.unnest()
        hit = frame["candidate"].arg_true()
        values = pl.Series([reason(*values) for values in frame[hit].select(names).iter_rows()], dtype=pl.String)
        return pl.Series([None] * rows.len(), dtype=pl.String).scatter(hit, values)

    return row.map_batches(batch, pl.String)


def _repetition(rule: GuardRule) -> pl.Expr:
    """A unit of characters or words repeated back to back (see `repetition`): character loops measured in Python
    on the texts with a long unbroken stretch, word loops on the texts passing the word-loop bound."""
    max_share = float(rule.params.get("max_share", 0.3))
    min_words = int(rule.params.get("min_words", 12))
    min_run = int(rule.params.get("min_run", 20))
    text = pl.col(rule.column)
    chars = in_python(
        [text],
        text.map_batches(lambda texts: repetition.may_char_loop(texts, min_run), pl.Boolean),
        lambda t: repetition.char_loop(t, min_run),
    )
    words = in_python(
        [text],
        repetition.may_loop_expr(text, max_share, min_words),
        lambda t: repetition.word_loop(t, max_share, min_words),
    )
    return pl.coalesce(chars, words)


def _length(rule: GuardRule) -> pl.Expr:
    text = pl.col(rule.column)
    cases = []
    if "min_chars" in rule.params:
        cases.append((text.str.len_chars() < rule.params["min_chars"], "too_short"))
    if "max_chars" in rule.params:
        cases.append((text.str.len_chars() > rule.params["max_chars"], "too_long_chars"))
    if "max_tokens" in rule.params:
        limit = int(rule.params["max_tokens"])

        def tokens(texts: pl.Series) -> pl.Series:  # a token is at least one character: count only longer texts
            longer = (texts.str.len_chars() > limit).fill_null(False)
            counts = pl.zeros(texts.len(), pl.UInt32, eager=True)
            return counts.scatter(longer.arg_true(), texts.filter(longer).str.count_matches(TOKEN_PATTERN))

        cases.append((text.map_batches(tokens, pl.UInt32) > limit, "too_long_tokens"))
    return _reason(*cases) if cases else pl.lit(None, pl.String)


JSON_MODES = ("json_like", "always")


def json_settings(rule: GuardRule) -> tuple[int, int, dict[str, str], str]:
    """max_depth, max_bytes, required and when of a json rule, checked."""
    required = dict(rule.params.get("required", {}))
    unknown = sorted(set(required.values()) - set(JSON_TYPES))
    if unknown:
        raise ValueError(f"unknown JSON types {unknown}; expected one of {sorted(JSON_TYPES)}")
    when = str(rule.params.get("when", "json_like"))
    if when not in JSON_MODES:
        raise ValueError(f"when: expected one of {list(JSON_MODES)}, got {when!r}")
    return int(rule.params.get("max_depth", 10)), int(rule.params.get("max_bytes", 100_000)), required, when


# How a top-level value of each JSON type opens in Polars' compact serialisation (`"key":<value>`); an integer
# is digits up to the next key or the end (orjson reads 1.0 and 1e5 as floats)
SERIALISED_OPENING = {
    "string": '"',
    "number": r"-?\d",
    "integer": r"-?\d+[,}]",
    "boolean": "(?:true|false)",
    "array": r"\[",
    "object": r"\{",
}
SIMPLE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def json_proven(text: pl.Expr, required: Mapping[str, str], max_depth: int) -> pl.Expr:
    """Rows Polars proves free of every JSON problem, so Python parses only the rest: the whole text parses
    (Polars' parser refuses what orjson refuses), it opens no more brackets than `max_depth` allows, and each
    required key is at the top level, written once, with a value of its type. Anything it cannot prove (a fence,
    a preamble, many brackets, a key written twice or named with a dot) goes to Python, which decides. Measured on
    the batch at once, so the text is parsed once (an expression would parse it again for each use)."""
    if any(kind not in SERIALISED_OPENING or not SIMPLE_KEY.fullmatch(key) for key, kind in required.items()):
        return pl.lit(False)

    def batch(texts: pl.Series) -> pl.Series:
        compact = texts.str.json_path_match("$")
        proven = compact.is_not_null() & (texts.str.count_matches(r"[\[{]") <= max_depth)
        for key, kind in required.items():
            written = re.escape(f'"{key}":')
            proven &= (
                compact.str.starts_with("{")
                & texts.str.json_path_match(f"$.{key}").is_not_null()
                & (compact.str.count_matches(written) == 1)
                & compact.str.contains(written + SERIALISED_OPENING[kind])
            )
        return proven

    return text.map_batches(batch, pl.Boolean)


def _json(rule: GuardRule) -> pl.Expr:
    max_depth, max_bytes, required, when = json_settings(rule)
    text = pl.col(rule.column)
    checked = text.str.contains(LOOKS_LIKE_JSON) if when == "json_like" else pl.lit(True)
    too_large = text.str.len_bytes() > max_bytes
    doubtful = checked & ~too_large & ~json_proven(text, required, max_depth)
    parsed = in_python([text], doubtful, lambda t: json_problem(t, required, max_depth))
    # `parsed` is read once: Polars would run the Python twice for two reads (no common subexpression across UDFs)
    if when == "json_like":
        return pl.when(checked & too_large).then(pl.lit("json_too_large")).otherwise(parsed)
    return pl.when(text.is_null()).then(pl.lit("null")).when(too_large).then(pl.lit("json_too_large")).otherwise(parsed)


def _nesting_depth(rule: GuardRule) -> pl.Expr:
    """Bracket depth outside string literals, on any output: JSON, JSON inside text, or text."""
    max_depth = int(rule.params.get("max_depth", 10))
    text = pl.col(rule.column)
    deep = text.str.count_matches(r"[\[{]") > max_depth  # a depth needs as many opening brackets
    return in_python([text], deep, lambda t: f"too_deep:{d}" if (d := text_depth(t)) > max_depth else None)


def _grounding(rule: GuardRule) -> pl.Expr:
    """Share of the output's checkable claims its context supports (see `grounding`); below `min_score` the
    output is ungrounded. Rows without a context, or without anything claim-like, are not judged."""
    min_score = float(rule.params.get("min_score", 0.5))
    text, context = pl.col(rule.column), pl.col(rule.params["context"])
    json_like, json_hint = text.str.contains(LOOKS_LIKE_JSON), text.str.contains(grounding.JSON_HINT)
    hint = pl.when(json_like).then(json_hint).otherwise(text.str.contains(grounding.TEXT_HINT))
    candidate = hint & (text.str.len_chars() <= grounding.MAX_CHARS) & context.str.contains(r"\S")
    doubtful = grounding_doubtful(text, context, json_like, candidate)
    return in_python([text, context], doubtful, lambda t, c: grounding.ungrounded(t, c, min_score))


def grounding_doubtful(text: pl.Expr, context: pl.Expr, json_like: pl.Expr, candidate: pl.Expr) -> pl.Expr:
    """The candidate rows Polars cannot prove grounded, for Python to judge. Proven: nothing but numbers can be a
    claim (no URL, citation, quotation or scaled figure), and every number but a lone digit — in a JSON output's
    string literals outside metadata keys, dates left out — is written the same way as a whole number of the context
    (so `ungrounded` finds its value there), in a context whose numbers Unicode normalisation leaves as written. A
    number written otherwise (`1250` for `1,250`) is not proven."""

    def batch(rows: pl.Series) -> pl.Series:
        frame = rows.struct.unnest()
        hit = frame["candidate"].fill_null(False).arg_true()
        text, json_like = pl.col("text"), pl.col("json_like")
        literals = text.str.replace_all(grounding.METADATA_PAIR, " ").str.extract_all(STRING_LITERAL).list.join(" ")
        parsed = json_like & text.str.json_path_match("$").is_not_null()
        unprovable = (
            pl.when(json_like)
            .then(text.str.contains(grounding.UNPROVABLE_JSON))
            .otherwise(text.str.contains(grounding.UNPROVABLE_TEXT))
        )
        judged = frame[hit].select(  # the proof costs a pass over text and context: only where Python would read
            pl.when(parsed).then(literals).otherwise(text).str.replace_all(grounding.DATE_OR_TIME, " ").alias("read"),
            (unprovable | pl.col("context").str.contains(grounding.UNSTABLE_NUMBERS)).fill_null(True).alias("doubt"),
            "context",
        )
        numbers = _numbers(judged["read"]).filter(~pl.col("n").str.contains(r"^\d$"))
        given = _numbers(judged["context"]).with_columns(_value_of()).unique()
        missing = numbers.with_columns(_value_of()).join(given, on=["row", "n"], how="anti")["row"].unique()
        doubtful = judged["doubt"].scatter(missing, True) if missing.len() else judged["doubt"]
        return pl.zeros(rows.len(), pl.Boolean, eager=True).scatter(hit, doubtful)

    row = pl.struct(
        candidate.alias("candidate"), text.alias("text"), context.alias("context"), json_like.alias("json_like")
    )
    return row.map_batches(batch, pl.Boolean)


def _numbers(texts: pl.Series) -> pl.DataFrame:
    """(row, n): every number of each text as written (a run of digits and the separators between them, a `%`).
    A claim inside such a run has a value the context's numbers hold when the same run stands in the context."""
    found = pl.DataFrame({"row": pl.int_range(texts.len(), eager=True), "n": texts.str.extract_all(grounding.DIGITS)})
    return found.explode("n").drop_nulls("n")


def _value_of() -> pl.Expr:
    """A number as compared: `15%` is the context's `15` (a lone digit with `%` is a claim, so `%` comes off after)."""
    return pl.col("n").str.strip_suffix("%")


APOSTROPHE = "['’]"
CANNOT = (
    rf"(?:cannot|can{APOSTROPHE}?t|can not|won{APOSTROPHE}t(?: be able to)?|will not(?: be able to)?|"
    rf"(?:am|{APOSTROPHE}m) (?:unable|not able|not allowed|not permitted|not in a position|not going to be able) to|"
    r"must decline to)"
)
ASKED = (
    r"(?:help(?:\s+(?:you|with|on|here|there|further)\b|[.!,]|$)|assist|comply|provide|answer|fulfil+|complete|"
    r"do (?:that|this)|respond|discuss|share|generate|create|support|process|summar\w*|continue|engage|give|offer|"
    r"perform|write|produce|accommodate|grant|carry out|go into|talk about|look into|disclose|reveal|access|"
    r"interpret|view|open|read|browse)"
)
ADVERB = r"(?:really |directly |currently |personally |actually |fully |simply |legally |safely |be )?"
DEFAULT_REFUSALS = (
    rf"\bI\s*{CANNOT}\s+{ADVERB}{ASKED}",  # "I'm sorry, but I cannot help", "Unfortunately, I'm unable to provide"
    r"(?:\A|[.!?]\s)\W*as an AI(?: language model| model| assistant| system)?,?\s+I\b",  # "As an AI model, I ..."
    rf"\b(?:that|this)(?:{APOSTROPHE}s| is) (?:not something I|beyond what I)\b",
    rf"\boutside (?:of )?(?:what I(?:{APOSTROPHE}m| am) able|my (?:scope|capabilities|guidelines))",
    r"\b(?:against|violates?) (?:my|our|the) (?:content |usage )?(?:guidelines|polic(?:y|ies)|programming|principles)",
    r"\bI must (?:respectfully )?(?:decline|refuse)\b",
    rf"\bI(?:{APOSTROPHE}m| am) not comfortable\b",
    rf"\bI (?:don{APOSTROPHE}t|do not) have (?:enough|sufficient) (?:information|context|details) to\b",
    r"\bno (?:summary|answer|response) (?:will|can) be (?:provided|given)",
    r"\b(?:not|n't) (?:contain|have|include|provide|give) (?:enough|sufficient) (?:information|context|details?)\b"
    r"[^.!?\n]{0,40}\bto (?:generate|provide|write|produce|create|give|make)\b",
    # German, Spanish, Portuguese, French, Italian, Japanese, Chinese, Korean, Russian
    r"\b(?:ich kann|kann ich)\b[^.!?\n]{0,40}\bnicht (?:helfen|weiterhelfen|behilflich|zusammenfassen|bearbeiten|"
    r"beantworten|erstellen|bereitstellen)",
    r"\bno puedo (?:ayudar\w*|resumir|proporcionar|responder|cumplir|procesar|generar)",
    r"\bnão posso (?:ajudar|fornecer|responder|resumir)",
    r"\bje ne (?:peux|suis) pas (?:vous )?(?:aider|répondre|fournir|résumer|traiter|en mesure)",
    r"\bnon posso (?:aiutare|fornire|rispondere|riassumere)",
    r"(?:お応え|お手伝い|対応|お答え|回答|要約|作成|提供)(?:すること|いたしかねます|は)?(?:は)?できません",
    r"我(?:无法|不能)(?:帮助|提供|回答|协助|满足|总结|概括|处理|完成)",
    r"(?:도와|요약해|제공해)\s?(?:드릴|줄) 수 없",
    r"не могу (?:помочь|предоставить|ответить|резюмировать|обработать)",
)
# What someone else said, quoted: a customer's "I can't access my account" is content, not a refusal. In a JSON
# output's raw text only escaped (and typographic) quotation marks open a quotation.
QUOTED = r"“[^”]*”|\"[^\"\n]*\"|«[^»]*»|„[^“”]*[“”]|「[^」]*」|『[^』]*』"
QUOTED_IN_JSON = r"“[^”]*”|\\\"[^\"]*\\\"|«[^»]*»|„[^“”]*[“”]|「[^」]*」|『[^』]*』"
ESCAPED = r"\\u[0-9a-fA-F]{4}"


def refusal_pattern(rule: GuardRule) -> str:
    return "(?i)" + "|".join(f"(?:{p})" for p in rule.params.get("patterns", DEFAULT_REFUSALS))


def _refusal(rule: GuardRule) -> pl.Expr:
    """A refusal near the start of the output (`within_chars`), outside quotations: where refusals stand, and not
    someone quoted. A JSON output with \\u escapes is read as its decoded string values."""
    pattern, within = refusal_pattern(rule), int(rule.params.get("within_chars", 300))
    text = pl.col(rule.column)
    json_like = text.str.contains(LOOKS_LIKE_JSON)
    escaped = json_like & text.str.contains(ESCAPED)
    opening = text.str.slice(0, within)
    unquoted = (
        pl.when(json_like)
        .then(opening.str.replace_all(QUOTED_IN_JSON, ""))
        .otherwise(opening.str.replace_all(QUOTED, ""))
    )
    plain = unquoted.str.contains(pattern) & ~escaped
    decoded = in_python([text], escaped, lambda t: refused(t, pattern, within))
    return _reason((plain | decoded.is_not_null(), "refusal"))


def refused(text: str, pattern: str, within: int) -> str | None:
    """ "refusal" when `pattern` is found in the opening `within` characters of the text outside quotations (of a
    JSON output with \\u escapes, of its string values joined)."""
    strings = json_strings(text) if compiled(ESCAPED).search(text) else None
    if strings is not None:
        opening = compiled(QUOTED).sub("", " ".join(strings)[:within])
    else:
        quoted = QUOTED_IN_JSON if compiled(LOOKS_LIKE_JSON).search(text) else QUOTED
        opening = compiled(quoted).sub("", text[:within])
    return "refusal" if compiled(pattern).search(opening) else None


@cache
def compiled(pattern: str) -> re.Pattern[str]:
    """A regex compiled once (both guard paths run the same patterns over many records)."""
    return re.compile(pattern)


def pii_settings(rule: GuardRule) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """kinds and allow of a pii rule, checked."""
    return pii.known_kinds(rule.params.get("kinds", pii.PII_KINDS)), tuple(str(a) for a in rule.params.get("allow", ()))


def _pii(rule: GuardRule) -> pl.Expr:
    """Personal data (see `pii`): validated findings, named by kind and character offset, never by value."""
    kinds, allow = pii_settings(rule)
    text = pl.col(rule.column)
    return in_python([text], text.str.contains(pii.CANDIDATE), lambda t: pii.pii_reason(pii.find_pii(t, kinds, allow)))


CHECKS: dict[str, Check] = {
    c.name: c
    for c in (
        Check("required", _required, "value present, not empty, not whitespace-only"),
        Check("numeric_range", _numeric_range, "a finite number within [min, max]", ("min", "max")),
        Check("vocabulary", _vocabulary, "one of the declared values", ("values",)),
        Check("text_characters", _text_characters, "no NUL, ANSI escapes, control or replacement characters"),
        Check("special_tokens", _special_tokens, "no leaked special tokens", ("tokens", "context")),
        Check(
            "repetition",
            _repetition,
            "no unit of characters or words looping back to back",
            ("max_share", "min_words", "min_run"),
        ),
        Check(
            "length",
            _length,
            "length in characters and approximate tokens within limits",
            ("min_chars", "max_chars", "max_tokens"),
        ),
        Check(
            "json",
            _json,
            "parses within size and depth limits; required keys with their types",
            ("max_depth", "max_bytes", "required", "when"),
        ),
        Check("nesting_depth", _nesting_depth, "bracket nesting within max_depth, on any output", ("max_depth",)),
        Check("grounding", _grounding, "claims in the output occur in the provided context", ("context", "min_score")),
        Check("refusal", _refusal, "no refusal where an answer was due", ("patterns", "within_chars")),
        Check("pii", _pii, "no personal data (e-mail, phone, card, IBAN, US SSN)", ("kinds", "allow")),
    )
}


def check_for(name: str) -> Check:
    try:
        return CHECKS[name]
    except KeyError:
        raise ValueError(f"unknown guard check {name!r}; expected one of {sorted(CHECKS)}") from None
