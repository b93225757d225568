"""Grounding: the checkable claims of an output, and the share of them its context supports.

Claims are URLs, `[n]` citations, quotations of 12+ characters (typographic, guillemets or straight quotes) and
numbers of two or more digits, with a decimal part or a percent sign. A quotation or a URL the context does not
hold is a misquote or an invented source: one is enough to fail. A citation marker the context holds verifies
nothing about the statement, so it only counts when it is missing. In a JSON output only string values carry
claims, and not those under metadata keys (ids, counts, lengths, versions, scores, timestamps: what the model
computed about its answer, not what it states). Matching forgives form, not content: text is compared after
Unicode NFKC, case folding, one kind of quote, apostrophe and dash, and collapsed whitespace; a number matches
any number of the same value in the context (`1,000` = `1000`, `15%` = `15 percent`, `3.50` = `3.5`).
"""

from __future__ import annotations

import re
import unicodedata

from monitoring_pipeline.core.guards.json_shape import LOOKS_LIKE_JSON, json_strings

MAX_CHARS = 100_000  # longer outputs are not judged for grounding (the length and json size rules are for them)
# A text without one of these has nothing to judge (both regex engines read them alike): URLs, citations, numbers,
# quotation marks; in a JSON output a quotation is an escaped quote (or \\u-escaped typographic ones).
HINT = r"https?://|\[\d|\d\d|\d[.,%]|“|«"
TEXT_HINT = HINT + r'|"'
JSON_HINT = HINT + r'|\\"|\\u'
CITATION = re.compile(r"\[\d+\]")
QUOTATION = r"“[^”]{12,}”|«[^»]{12,}»|\"[^\"\n]{12,}\""
# thousands grouped by commas (1,000), not a run of comma-separated values (88,2130,14.5)
GROUPED = r"(?<!\d)(?<!\d,)\d{1,3}(?:,\d{3})+(?!\d|,\d)(?:\.\d+)?"
PLAIN = r"\d+(?:\.\d+)?"
CLAIMS = re.compile(rf"https?://[^\s\"'<>)\]]+|\[\d+\]|{QUOTATION}|{GROUPED}%?|\d+\.\d+%?|\d{{2,}}%?|\d%")
METADATA_KEY = re.compile(
    r"(?i)(?:^|[_\-\s])(?:ids?|uuid|key|hash|count|num|number_of|n|length|len|size|total|index|idx|rank|version|"
    r"confidence|score|scores|probability|prob|tokens?|words?|chars?|characters|latency|duration|ms|seconds|"
    r"timestamp|created|updated|date|time|at)(?:$|[_\-\s])|(?:Id|Ids|Count|Length|Size|Version|Score|At)$"
)
FORMS = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "«": '"', "»": '"', "–": "-", "—": "-"})


def normal_form(text: str) -> str:
    """NFKC, case-folded, one kind of quote and dash, whitespace collapsed to single spaces."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().translate(FORMS).split())


def claim_texts(text: str) -> list[str]:
    """The parts of an output that carry claims: a JSON output's string values outside metadata keys, else the
    whole text."""
    strings = json_strings(text, METADATA_KEY)
    return [text] if strings is None else strings


def claims(text: str) -> list[str]:
    return [claim for part in claim_texts(text) for claim in CLAIMS.findall(part)]


def context_numbers(context: str) -> set[float]:
    """Every number of the context, read both ways where commas could group thousands or separate values
    (a CSV row `88,2130,14.5`)."""
    return {_value(number) for pattern in (GROUPED, PLAIN) for number in re.findall(pattern, context)}


def _value(number: str) -> float:
    return float(number.rstrip("%").replace(",", ""))


def _supported(claim: str, context: str, numbers: set[float]) -> bool:
    if claim[0].isdigit():
        return _value(claim) in numbers
    return normal_form(claim.strip('“”«»"')).rstrip(".,;:!?") in context


def ungrounded(text: str, context: str | None, min_score: float) -> str | None:
    """`ungrounded:<share of the claims supported>` when the share is below `min_score` or a quotation or URL is
    unsupported; None without a context to judge by, without claims, or over `MAX_CHARS`."""
    if len(text) > MAX_CHARS or not context or not context.strip():
        return None
    if not re.search(JSON_HINT if re.match(LOOKS_LIKE_JSON, text) else TEXT_HINT, text):
        return None
    found = claims(text)
    if not found:
        return None
    normal = normal_form(context)
    numbers = context_numbers(normal) if any(claim[0].isdigit() for claim in found) else set()
    judged = [(claim, _supported(claim, normal, numbers)) for claim in found]
    counted = [ok for claim, ok in judged if not (ok and CITATION.fullmatch(claim))]
    score = sum(counted) / len(counted) if counted else 1.0
    invented = any(not ok and _decisive(claim) for claim, ok in judged)
    return f"ungrounded:{round(score, 2)}" if score < min_score or invented else None


def _decisive(claim: str) -> bool:
    """A quotation or a URL: a statement of where the words come from, wrong when the context lacks it."""
    return not claim[0].isdigit() and not CITATION.fullmatch(claim)
