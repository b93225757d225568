"""Grounding: the checkable claims of an output, and the share of them its context supports.

Claims are URLs, `[n]` citations, quotations of 12+ characters (typographic, guillemets, „…“, 「…」 or straight
quotes that open and close a phrase) and numbers of two or more digits, with a decimal part or a percent sign. In
a JSON output only string values carry claims, and not those under metadata keys (ids, counts, lengths, versions,
scores, timestamps, the model, format or language, a `meta` or `usage` block: what the model computed about its
answer, not what it states). Digits glued or hyphened to letters (`E11.9`, `COVID-19`, `gpt-4.1`) are names.

Matching forgives form, not content. Text is compared after Unicode NFKC, case folding, one kind of apostrophe and
dash, no quote marks and collapsed whitespace. A quotation may leave words out (`…`, `...`, `[…]`): each part must
be there, in order. A URL matches without its scheme, `www.` or a trailing slash. A number matches any number of
the same value in the context (`1,000` = `1000`, `15%` = `15 percent`, `3.50` = `3.5`, `1.2 million` = `1,200,000`);
a hedged one ("about", "roughly", "nearly", "over", "~") or one with a scale word matches within 5% (years never);
one the words around call a total or a change ("$600 combined", "down 1.2 kg", "won by 13") may be the sum of two
or three context numbers or the difference of two.

Dates and times are not number claims. A quotation that is neither there nor close (four in five of its longer words
in the context), a URL that is not there, or a figure stated exactly (three or more digits, not hedged) that no
context number gives — not even times or divided by a small count ("$95 a day" -> "$665 a week") — is a misquote,
an invented source or an invented figure: one is enough to fail. A citation marker the context holds verifies
nothing about the statement, so it only counts when it is missing.
"""

from __future__ import annotations

import itertools
import re
import unicodedata

from monitoring_pipeline.core.guards.json_shape import LOOKS_LIKE_JSON, json_strings

MAX_CHARS = 100_000  # longer outputs are not judged for grounding (the length and json size rules are for them)
# A text without one of these has nothing to judge (both regex engines read them alike): URLs, citations, numbers,
# quotation marks; in a JSON output a quotation is an escaped quote (or \\u-escaped typographic ones).
HINT = r"https?://|\[\d|\d\d|\d[.,%]|“|«|„|「|『"
TEXT_HINT = HINT + r'|"'
JSON_HINT = HINT + r'|\\"|\\u'
CITATION = re.compile(r"\[\d+\]")
# What the batch path proves in Polars (Rust regex), so Python reads only the rest: an output whose claims can only
# be numbers (no URL, citation, quotation or scaled figure), each of a plain shape and standing in the context.
UNPROVABLE = r"https?://|\[\d|[“”«»„「」『』]|\d\s?(?:thousand|million|billion|trillion|bn|[kKmMbB])\b"
UNPROVABLE_TEXT = UNPROVABLE + r'|"'
UNPROVABLE_JSON = UNPROVABLE + r'|\\"|\\u'
DIGITS = r"\d+(?:[.,]\d+)*%?"  # a number as written, separators and all
# A context whose numbers NFKC may rewrite (10² -> 102, 12．5 -> 12.5, １２ -> 12): Python reads it normalised
UNSTABLE_NUMBERS = r"[0-9][^\x00-\x7f]|[^\x00-\x7f][0-9]|[\d&&[^0-9]]"
URL = r"https?://[^\s\"'<>)\]`*（）「」『』【】。、，]+"
QUOTATION = (
    r"“[^”]{12,}”|«[^»]{12,}»|„[^“”]{12,}[“”]|「[^」]{12,}」|『[^』]{12,}』"
    r"|(?<![\w\"])\"(?=\S)[^\"\n]{12,}(?<=\S)\"(?![\w\"])"  # straight quotes around a phrase, not 27" / 32"
)
# thousands grouped by commas (1,000), not a run of comma-separated values (88,2130,14.5)
# Patterns that need what precedes a number open with its first digit and look behind it from there (`\d(?<!\d\d)`
# is `(?<!\d)\d`): Python's `re` can then skip to the next digit instead of trying every position.
GROUPED = r"\d(?<!\d\d)(?<!\d,\d)\d{0,2}(?:,\d{3})+(?!\d|,\d)(?:\.\d+)?"
PLAIN = r"\d+(?:\.\d+)?"
PLAIN_NUMBER = re.compile(PLAIN)
EUROPEAN = r"\d(?<![\d.,]\d)\d{0,2}(?:(?:[ .]\d{3})*,\d+(?![\d,])|(?: \d{3})+(?![\d,]))"  # 4,95  1 000
SCALE = r"(?:\s?(?:thousand|million|billion|trillion|bn|[kKmMbB])\b)?"
# not a code's or a name's digits: E11.9, I10, COVID-19, m-2.3, gpt_4.1
NUMBER_CLAIM = rf"(?<![A-Za-z\d.])(?<![A-Za-z][-_])(?:{GROUPED}|\d+\.\d+|\d{{2,}}|\d(?=%)){SCALE}%?"
CLAIMS = re.compile(rf"{URL}|\[\d+\]|{QUOTATION}|{NUMBER_CLAIM}")
CONTEXT_NUMBER = re.compile(rf"(?:{GROUPED}|{PLAIN}){SCALE}")
HEDGE = re.compile(
    r"(?i)(?:about|around|roughly|approximately|approx\.?|nearly|almost|over|more than|less than|under|some|"
    r"close to|circa|ca\.|~|≈|>|<|etwa|rund|ungefähr|über|mehr als|environ|près de|plus de|aproximadamente|"
    r"cerca de|alrededor de|más de|mais de|quasi|oltre|約|约|大约|およそ)\s*[$€£¥]?\s*$"
)
DATE_OR_TIME = (  # 2024-03-05[T10:30:00Z], 28.03.2025, 5/3/24, 10:30[:00]
    r"\b\d{4}-\d{1,2}-\d{1,2}(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
    r"|\b\d{1,2}[./]\d{1,2}[./]\d{2,4}\b|\b\d{1,2}:\d{2}(?::\d{2})?\b"
)
TOTAL = re.compile(r"(?i)\b(?:combined|in total|total(?:ling|s)?|together|altogether|in all|sum of|add(?:s|ing)? up)\b")
CHANGE = re.compile(
    r"(?i)\b(?:by|down|up|more|less|fewer|higher|lower|difference|gap|margin|increased?|decreased?|dropped|rose|fell"
    r"|gained|lost|shorter|longer)\b"
)
SCALES = {"thousand": 1e3, "k": 1e3, "million": 1e6, "m": 1e6, "billion": 1e9, "bn": 1e9, "b": 1e9, "trillion": 1e12}
METADATA_WORDS = (
    r"ids?|uuid|hash|count|num|number_of|length|len|size|total|index|idx|rank|version|confidence|score|scores|"
    r"probability|prob|tokens?|words?|chars?|characters|latency|duration|ms|seconds|timestamp|created|updated|date|"
    r"time|at|meta|metadata|usage|stats|model|engine|provider|format|encoding|lang|language|locale|mime"
)
METADATA_CAMEL = r"Id|Ids|Count|Length|Size|Version|Score|At|Meta|Metadata|Model"
METADATA_KEY = re.compile(
    rf"(?i:^(?:key|n)$|(?:^|[_\-\s])(?:{METADATA_WORDS})(?:$|[_\-\s]))|[a-z](?:{METADATA_CAMEL})$"
)
# A JSON string value under a metadata key, as written (Rust regex): the batch path's proof leaves it out as Python
# does. A value nested deeper under one (`"meta": {"x": "..."}`) stays in: then it must be proven too, or Python reads.
_KEY = r'[^"\\]*'
METADATA_PAIR = (
    rf'"(?:(?i:key|n)|(?i:(?:{_KEY}[_\-\s])?(?:{METADATA_WORDS})(?:[_\-\s]{_KEY})?)|{_KEY}[a-z](?:{METADATA_CAMEL}))"'
    r'\s*:\s*"(?:[^"\\]|\\.)*"'
)
FORMS = {"’": "'", "‘": "'", "–": "-", "—": "-", **dict.fromkeys('"“”«»„「」『』', " ")}
ELISION = re.compile(r"\[?(?:…|\.\.\.)\]?")
LONG_WORD = re.compile(r"\w{4,}")
HEDGE_WINDOW = 64  # characters before a number where its hedge stands (read there, not in everything before it)
TOLERANCE = 0.05
MULTIPLES = range(2, 13)  # a context number times or divided by a small count is a derived figure
DERIVED = 60  # context numbers up to which a total or a change is tried against their sums and differences
COUNTING_RUN = 5  # consecutive integers that make a count-along, not claims


def normal_form(text: str) -> str:
    """NFKC, case-folded, one kind of apostrophe and dash, no quote marks, whitespace collapsed to single spaces."""
    text = unicodedata.normalize("NFKC", text).casefold()
    for char, form in FORMS.items():  # str.translate with a table costs more than a scan per character
        if char in text:
            text = text.replace(char, form)
    return " ".join(text.split())


def claim_texts(text: str) -> list[str]:
    """The parts of an output that carry claims: a JSON output's string values outside metadata keys, else the
    whole text."""
    strings = json_strings(text, METADATA_KEY)
    return [text] if strings is None else strings


Claim = tuple[str, bool, str]  # the claim, whether hedged, and what the words around it say it is: "total", "change"


Found = tuple[str, str, int, int]  # a claim, the part of the output it stands in, and where


def _found(text: str) -> list[Found]:
    """Each claim of the output, where it stands (`_read` says what the words around it make of it)."""
    found = []
    for part in claim_texts(text):
        part = re.sub(DATE_OR_TIME, lambda m: " " * len(m.group()), part)  # a date re-formatted is not a new number
        found.extend((match.group(), part, *match.span()) for match in CLAIMS.finditer(part))
    return found


def _read(found: Found) -> Claim:
    """The claim, whether it is a number hedged by the words before it, and whether the words around it make it a
    total or a change ("$600 combined", "down 1.2 kg", "won by 13"); a URL, citation or quotation is neither."""
    claim, part, start, end = found
    if not claim[0].isdigit():
        return claim, False, ""
    around = part[max(0, start - 40) : start] + " " + part[end : end + 25]
    relation = "total" if TOTAL.search(around) else "change" if CHANGE.search(around) else ""
    return claim, HEDGE.search(part, max(0, start - HEDGE_WINDOW), start) is not None, relation


def _value(number: str) -> float:
    """The value of a number claim (`1,200`, `3.5%`, `1.2 million`)."""
    if number.isdigit() or PLAIN_NUMBER.fullmatch(number):
        return float(number)
    digits = re.match(r"[\d,.]+", number).group().rstrip(".,").replace(",", "")
    scale = re.search(r"[a-z]+$", number.rstrip("%").lower())
    return float(digits) * SCALES.get(scale.group() if scale else "", 1.0)


def context_numbers(context: str) -> list[float]:
    """Every number of the context, read every way it could be meant: commas grouping thousands or separating
    values (a CSV row `88,2130,14.5`), a decimal comma (`4,95 €`), thousands grouped by spaces or dots (`1 000`,
    `1.234,56`)."""
    found = {_value(match.group()) for match in CONTEXT_NUMBER.finditer(context)} | set(_plain(context))
    for match in re.finditer(EUROPEAN, context):
        found.add(float(re.sub(r"[ .]", "", match.group()).replace(",", ".")))
    return sorted(found)


def _plain(context: str) -> list[float]:
    return [float(number) for number in re.findall(PLAIN, context)]


def _url_form(text: str) -> str:
    """A URL, or a context, without schemes and `www.`."""
    return re.sub(r"https?://(?:www\.)?", "", text)


def _number_supported(claim: str, hedged: bool, relation: str, numbers: list[float]) -> bool:
    value = _value(claim)
    if value in numbers:
        return True
    year = re.fullmatch(r"\d{4}", claim) is not None
    loose = (hedged or re.search(r"[a-z]$", claim.rstrip("%")) is not None) and not year
    if loose and any(abs(number - value) <= TOLERANCE * abs(value) for number in numbers):
        return True
    if len(numbers) > DERIVED or year:
        return False
    precision = TOLERANCE * abs(value) if hedged else 0.5 * 10 ** -_decimals(claim)
    if any(abs(n * k - value) <= precision or abs(n / k - value) <= precision for n in numbers for k in MULTIPLES):
        return True  # a per-unit figure or a total of a few units ("$95 a day" -> "$665 a week"; "per arm")
    if not relation:
        return False
    if relation == "total":  # the sum of two or three numbers (within 5% when hedged, else as rounded)
        derived = (sum(c) for k in (2, 3) for c in itertools.combinations(numbers, k))
    else:  # a change: the difference of two numbers
        derived = (abs(a - b) for a, b in itertools.combinations(numbers, 2))
    return any(abs(number - value) <= precision for number in derived)


def _decimals(number: str) -> int:
    fraction = re.search(r"\.(\d+)", number)
    return len(fraction.group(1)) if fraction else 0


def _counting(found: list[str]) -> set[str]:
    """Integers of the output that count along (a table's 00, 01, 02, ... hours): labels, not statements."""
    integers = sorted({int(claim) for claim in found if claim.isdigit() and len(claim) <= 3})
    runs, run = set(), [integers[0]] if integers else []
    for integer in integers[1:]:
        run = [*run, integer] if integer == run[-1] + 1 else [integer]
        if len(run) >= COUNTING_RUN:
            runs.update(run)
    return {claim for claim in found if claim.isdigit() and len(claim) <= 3 and int(claim) in runs}


def _quotation_supported(quote: str, context: str) -> bool:
    """Every part of the quotation (split where words were left out) in the context, in order; or four in five of
    its longer words there (a quotation re-cased, re-punctuated or lightly edited, not invented)."""
    at = 0
    for part in filter(None, (p.strip() for p in ELISION.split(normal_form(quote)))):
        at = context.find(part, at)
        if at < 0:
            break
        at += len(part)
    else:
        return True
    words = LONG_WORD.findall(normal_form(quote))
    present = set(LONG_WORD.findall(context))
    return bool(words) and sum(word in present for word in words) >= 0.8 * len(words)


def _supported(claim: Claim, context: str, linked: str, numbers: list[float]) -> bool:
    """Whether the context (`linked`: in its URL form) supports the claim."""
    claim, hedged, relation = claim
    if claim[0].isdigit():
        return _number_supported(claim, hedged, relation, numbers)
    if claim.startswith("http"):
        return _url_form(normal_form(claim)).rstrip("/.,;:!?") in linked
    if CITATION.fullmatch(claim):
        return claim in context
    return _quotation_supported(claim, context)


def ungrounded(text: str, context: str | None, min_score: float) -> str | None:
    """`ungrounded:<share of the claims supported>` when the share is below `min_score` or a quotation or URL is
    unsupported; None without a context to judge by, without claims, or over `MAX_CHARS`."""
    if len(text) > MAX_CHARS or not context or not context.strip():
        return None
    if not re.search(JSON_HINT if re.search(LOOKS_LIKE_JSON, text) else TEXT_HINT, text):
        return None
    matches = _found(text)
    labels = _counting([claim for claim, *_ in matches])
    matches = [found for found in matches if found[0] not in labels]
    if not matches:
        return None
    normal = normal_form(context)
    verbatim = {claim for claim, *_ in matches if claim[0].isdigit() and _standing_in(claim, normal)}
    # a number written as in the context is supported: what the words around it say is read only for the others
    found = [(found[0], False, "") if found[0] in verbatim else _read(found) for found in matches]
    numbers = context_numbers(normal) if any(c[0].isdigit() and c not in verbatim for c, _, _ in found) else []
    linked = _url_form(normal) if any(claim.startswith("http") for claim, _, _ in found) else ""
    judged = [(claim, claim[0] in verbatim or _supported(claim, normal, linked, numbers)) for claim in found]
    counted = [ok for (claim, _, _), ok in judged if not (ok and CITATION.fullmatch(claim))]
    score = sum(counted) / len(counted) if counted else 1.0
    invented = any(not ok and _decisive(claim) for claim, ok in judged)
    return f"ungrounded:{round(score, 2)}" if score < min_score or invented else None


def _standing_in(number: str, context: str) -> bool:
    """The number written the same way in the context as a number of its own (not inside 2012, 1,250 or 1.25.3), so
    the context's numbers need not be read to support it."""
    at = context.find(number)
    while at >= 0:
        before, after = context[at - 1 : at] if at else " ", context[at + len(number) : at + len(number) + 2]
        if not (before.isdigit() or before in ".,") and not (after[:1].isdigit() or re.match(r"[.,]\d", after)):
            return True
        at = context.find(number, at + 1)
    return False


def _decisive(claim: Claim) -> bool:
    """Wrong when the context lacks it, whatever else is right: a quotation or a URL (where the words come from), or
    a figure stated exactly (three or more digits, not hedged, not scaled) that no context number gives."""
    text, hedged, _ = claim
    if CITATION.fullmatch(text):
        return False
    if not text[0].isdigit():
        return True
    return not hedged and not re.search(r"[a-z]$", text.rstrip("%")) and len(re.sub(r"\D", "", text)) >= 3
