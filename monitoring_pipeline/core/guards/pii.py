"""Personal data in free text, found precisely: e-mail addresses, phone numbers, payment cards, IBANs and US SSNs.
A finding is a value of one of those shapes standing on its own (not glued to more digits or letters) that also passes
its kind's own checks: Luhn and a known card prefix, the IBAN country length and mod-97, the SSN number ranges, the
digit count and layout of a phone. Dates, times, versions, IPs, ids, hashes, prices and ranges are not findings."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

PII_KINDS: tuple[str, ...] = ("email", "phone", "card", "iban", "us_ssn")

# A cheap prefilter in Rust `regex` syntax (Polars' `str.contains`): it matches every text `find_pii` reports on.
CANDIDATE: str = "|".join(
    (
        r"[0-9A-Za-z_%+-]@[0-9A-Za-z]",  # email
        r"(?:^|[^0-9A-Za-z_])[0-9](?:[ .-]?[0-9]){12}",  # card: 13+ digits, a single space, dot or dash between groups
        r"(?:^|[^0-9A-Za-z_])[A-Z]{2}[0-9]{2} ?[0-9A-Z]{4}",  # iban
        r"[0-9]{3}-[0-9]{2}-[0-9]{4}|(?i:ssn|social security|tax id|taxpayer)",  # us_ssn: dashed, or words near it
        r"\+[1-9][0-9]*[ .(-]{0,2}[0-9]",  # international phone
        r"(?:^|[^0-9A-Za-z_])[2-9][0-9]{2}[ .-][0-9]{4}(?:$|[^0-9A-Za-z_])",  # North American NXX-XXXX
        r"(?:(?i:phone|mobile|cell|tel|call|reach|whatsapp|número|celular|telefon)|手机|电话|携帯|전화)[^0-9]{0,60}[0-9]",
        r"(?:^|[^0-9A-Za-z_])0[1-9](?:[ -]?[0-9]){8}",  # national phone with a trunk 0, 10+ digits
    )
)


@dataclass(frozen=True)
class Finding:
    """One piece of personal data: its kind and the character offset where it starts (never the value)."""

    kind: str
    start: int


_Claim = tuple[int, int, bool]  # start, end, and whether the value there passes its kind's checks
_FLAGS = re.ASCII | re.VERBOSE

_EMAIL = re.compile(
    r"""(?:(?<![\w.%+\\-])|(?<=\\[nrtbf]))   # after an escape (\njohn@...), never on its letter (\n@decorator.x)
    [\w%+-]++ (?:\.[\w%+-]++)*+                       # local part, not the tail of a longer one
    @ (?:(?>[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)\.)+ (?P<tld>[A-Za-z]{2,63})
    (?![\w-]|\.[A-Za-z0-9]|:[\w/~])                    # the whole domain; not scp-style git@host:path""",
    _FLAGS,
)
# File extensions that follow `@` in asset names (logo@2x.png); none is a top-level domain.
_FILE_TLDS = frozenset(("png", "jpg", "jpeg", "gif", "svg", "webp", "pdf", "json", "yaml", "txt", "csv", "html", "js"))

# The digit patterns open with their first character and check what precedes it just after (`\d(?<![\w]\d)` is a
# lookbehind in front, restated): `re` can then skip straight to that character instead of trying every position.
_CARD = re.compile(
    r"""\d(?<![\w.,+/-]\d)(?<!\d{4}[ ]\d)
    (?: \d{12,18} | \d{3}(?P<s>[ .-])(?: \d{4}(?P=s)\d{4}(?P=s)\d{4} | \d{6}(?P=s)\d{4,5} ) )  # 4-4-4-4, 4-6-5, 4-6-4
    (?![\w]|[.,/-]\d|[ ]\d{4}(?!\d))""",
    _FLAGS,
)
# (lowest prefix, highest prefix, lengths) of Visa, Mastercard, Amex, JCB, Diners, then Maestro (50, 56-69), which
# also spans Discover (6011, 644-649, 65) and UnionPay (62). Lengths are those cards are issued in; 17-19 digits only
# for UnionPay, as an unspaced run that long is far more often an int64 (a seed, an id) than a card.
_IIN: tuple[tuple[str, str, tuple[int, ...]], ...] = (
    ("4", "4", (16,)),
    ("51", "55", (16,)),
    ("2221", "2720", (16,)),
    ("34", "34", (15,)),
    ("37", "37", (15,)),
    ("3528", "3589", (16,)),
    ("300", "305", (14, 16)),
    ("36", "36", (14, 16)),
    ("38", "38", (16,)),
    ("50", "50", (16,)),
    ("56", "69", (16,)),
    ("62", "62", (17, 18, 19)),
)

_IBAN_START = re.compile(r"[A-Z](?<!\w[A-Z])[A-Z]\d\d", re.ASCII)
_IBAN_CHARS = re.compile(r"[A-Z]{2}\d{2}[A-Z0-9]+", re.ASCII)
# ISO 13616 registry: country code -> IBAN length.
_IBAN_LENGTHS: dict[str, int] = {
    **dict.fromkeys(("NO",), 15),
    **dict.fromkeys(("BE",), 16),
    **dict.fromkeys(("DK", "FI", "FK", "FO", "GL", "NL", "SD"), 18),
    **dict.fromkeys(("MK", "SI"), 19),
    **dict.fromkeys(("AT", "BA", "EE", "KZ", "LT", "LU", "MN", "XK"), 20),
    **dict.fromkeys(("CH", "HR", "LI", "LV"), 21),
    **dict.fromkeys(("BG", "BH", "CR", "DE", "GB", "GE", "IE", "ME", "RS", "VA"), 22),
    **dict.fromkeys(("AE", "GI", "IL", "IQ", "OM", "SO", "TL"), 23),
    **dict.fromkeys(("AD", "CZ", "ES", "MD", "PK", "RO", "SA", "SE", "SK", "TN", "VG"), 24),
    **dict.fromkeys(("LY", "PT", "ST"), 25),
    **dict.fromkeys(("IS", "TR"), 26),
    **dict.fromkeys(("BI", "DJ", "FR", "GR", "IT", "MC", "MR", "SM"), 27),
    **dict.fromkeys(("AL", "AZ", "BY", "CY", "DO", "GT", "HN", "HU", "LB", "NI", "PL", "SV"), 28),
    **dict.fromkeys(("BR", "EG", "PS", "QA", "UA"), 29),
    **dict.fromkeys(("JO", "KW", "MU", "YE"), 30),
    **dict.fromkeys(("MT", "SC"), 31),
    **dict.fromkeys(("LC",), 32),
}

_SSN = re.compile(r"(\d(?<![\w.,+/-]\d)(?<!\d[ ]\d)\d\d)([ .-]?)(\d\d)\2(\d{4})(?![\w]|[.,:/-]\d|[ ]\d)", re.ASCII)
_SSN_WORDS = re.compile(r"\b(?:ssn|social[ ]security|tax[ ]id|taxpayer)", _FLAGS | re.IGNORECASE)
_SSN_ADVERTISED = frozenset({"078051120", "219099999"})
_SSN_VETO = re.compile(r"(?i)(?:case|ticket|order|part|invoice|ref(?:erence)?|model|sku|serial|no\.?|#)\W{0,3}$")
# A number an organisation publishes (a hotline, a switchboard, freephone) is not personal data.
_ORGANISATION_CUE = re.compile(
    r"(?i)(?:hotline|toll[- ]?free|freephone|switchboard|customer (?:service|support|care)|support (?:line|team|desk)"
    r"|help ?desk|call cent(?:er|re)|main (?:line|number)|headquarters|reception|front desk|office|branch|store|fax"
    r"|kundenservice|service[- ]client|servicio al cliente|atención al cliente|サポート|客服|客户服务)"
)
# A card or IBAN the text presents as a test or sample number (payment docs: "test card 4242 4242 4242 4242").
_TEST_CUE = re.compile(r"(?i)\b(?:test(?:ing)?(?: mode)?|sandbox|sample|dummy|placeholder)\b(?:\W+\w+){0,4}\W+$")
_ID_CUE = re.compile(
    r"(?i)(?:order|commande|pedido|bestellung|ticket|invoice|rechnung|factura|facture|contract|vertrag|policy|"
    r"account|case|claim|booking|reference|ref|tracking|serial|part|sku|nr|no|n°|#)\.?\W{0,3}$"
)
_PERSON_CUE = re.compile(r"(?i)(?:mobile|cell|personal|private|home|his|her|my) ")
_FREEPHONE = re.compile(r"\A\+?1?[ .(-]*8(?:00|33|44|55|66|77|88)\b|\A0(?:800|808|801)\b")  # toll-free, freephone
_ROLE_WORDS = frozenset(
    (
        "support", "info", "help", "contact", "sales", "hello", "team", "admin", "billing", "noreply", "no-reply",
        "donotreply", "postmaster", "webmaster", "abuse", "security", "privacy", "returns", "orders", "press", "media",
        "dpo", "legal", "hr", "jobs", "careers", "service", "services", "feedback", "partners", "office", "accounts",
        "invoices", "customer", "customers", "care", "kundenservice", "soporte", "contacto", "ventas", "newsletter",
        "claims", "claim", "bookings", "booking", "reservations", "appointments", "enquiries", "inquiries", "payments",
        "compliance", "fraud", "shipping", "reception", "refunds", "orders", "notifications", "alerts", "reply",
        "list", "lists", "devel", "dev", "users", "announce", "discuss", "maint", "maintainers", "bugs", "patches",
        "commits", "test", "user", "dummy", "sample", "demo",
    )
)  # fmt: skip

_INTERNATIONAL = re.compile(
    r"""\+(?<![\w+]\+) [1-9]\d*+                     # + and country code (or the whole number, unspaced)
    (?:[ .-]?\(\d{1,4}\)[ .-]?\d++)?+ (?:[ .-]\d++)*+  # an optional (0) or (area), then separated groups
    (?![\w]|[,:/]\d)""",
    _FLAGS,
)
_NANP_PARENS = re.compile(r"\((?<![\w+.,/-]\()[2-9][0-8]\d\)[ ]?[2-9]\d\d-\d{4}(?![\w]|[.,:/-]\d)", re.ASCII)
_NANP = re.compile(
    r"""\d(?<![\w+.,/-]\d) (?: (?<=1)[ .-][2-9] | (?<=[2-9]) )  # NXX or 1-NXX
    [0-8]\d(?P<s>[ .-])[2-9]\d\d(?P=s)\d{4} (?![\w]|[.,:/-]\d)""",
    _FLAGS,
)
_NATIONAL = re.compile(
    r"0(?<![\w+.,/-]0)(?<!\d[ ]0)[1-9]\d{0,3}(?P<s>[ -])\d{2,8}(?:(?P=s)\d{2,8}){0,3}(?![\w]|[.,:/-]\d|(?P=s)\d)",
    re.ASCII,
)
_DIGITS = re.compile(r"\d+", re.ASCII)
_NANP_DIGITS = re.compile(r"1[2-9][0-8]\d[2-9]\d{6}", re.ASCII)  # +1: area and exchange codes start at 2


def _emails(text: str) -> Iterator[_Claim]:
    if "@" not in text:
        return
    for match in _EMAIL.finditer(text):
        local = match[0].split("@", 1)[0].lower()
        role = any(part in _ROLE_WORDS for part in re.split(r"[._+-]", local)) or local in _ROLE_WORDS
        valid = (
            match["tld"].lower() not in _FILE_TLDS
            and re.search(r"[A-Za-z0-9]", local) is not None  # not a pattern's wildcard (`%@aol.com`)
            and not _in_url_userinfo(text, match.start())
            and not role
        )
        yield *match.span(), valid


def _in_url_userinfo(text: str, start: int) -> bool:
    """Whether `start` is in the `user:password@` part of a URL (credentials, not an address)."""
    head = text[max(0, start - 256) : start]
    scheme = head.rfind("://")
    return scheme >= 0 and not any(c in head[scheme + 3 :] for c in "/?# \t\r\n")


def _luhn(digits: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c) * (1 + i % 2)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _cards(text: str) -> Iterator[_Claim]:
    for match in _CARD.finditer(text):
        digits = match[0].replace(" ", "").replace("-", "")
        known = any(low <= digits[: len(low)] <= high and len(digits) in sizes for low, high, sizes in _IIN)
        yield *match.span(), known and _luhn(digits)


def _ibans(text: str) -> Iterator[_Claim]:
    """IBAN-shaped values (a known country's length, compact or in groups of four), valid when mod 97 is 1."""
    for match in _IBAN_START.finditer(text):
        start, length = match.start(), _IBAN_LENGTHS.get(match[0][:2])
        if length is None:
            continue
        for end in (start + length, start + length + (length - 1) // 4):
            value = text[start:end]
            compact = value.replace(" ", "")
            grouped = " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))
            if (
                value in (compact, grouped)
                and len(compact) == length
                and _IBAN_CHARS.fullmatch(compact)
                and not text[end : end + 1].isalnum()
            ):
                yield start, end, int("".join(str(int(c, 36)) for c in compact[4:] + compact[:4])) % 97 == 1
                break


def _ssns(text: str) -> Iterator[_Claim]:
    for match in _SSN.finditer(text):
        area, sep, group, serial = match.groups()
        before = text[max(0, match.start() - 40) : match.start()]
        cued = _SSN_WORDS.search(before)
        if (sep == "-" and (cued or not _SSN_VETO.search(before))) or cued:
            valid = (
                area not in ("000", "666")
                and area[0] != "9"
                and group != "00"
                and serial != "0000"
                and area + group + serial not in _SSN_ADVERTISED
            )
            yield *match.span(), valid


def _personal_phone(text: str, start: int, end: int) -> bool:
    """Not a toll-free number, nor one an organisation is named as publishing just before it (unless the text says
    it is someone's own), nor an order, ticket or contract number."""
    before = text[max(0, start - 48) : start]
    published = _ORGANISATION_CUE.search(before) and not _PERSON_CUE.search(before)
    return not published and not _FREEPHONE.search(text[start:end]) and not _ID_CUE.search(before)


def _phones(text: str) -> Iterator[_Claim]:
    for claim in _phone_shapes(text):
        yield claim[0], claim[1], claim[2] and _personal_phone(text, claim[0], claim[1])


_PHONE_CUE = re.compile(
    r"(?i)(?:\b(?:phone|mobile|cell|tel|telephone|call ?back|call|reach(?:ed)? (?:at|on)|whatsapp|número|celular"
    r"|telefon\w*)\b|(?:手机|电话|携帯|전화)[^\W\d]{0,3}?)[^\w+(]{0,12}(?:[a-z]{1,10}[^\w+(]{1,3}){0,3}?"
    r"(?P<number>\+?\(?\d[\d ().-]{8,18}\d)(?![\w]|[.,:/-]\d)"
)


def _phone_shapes(text: str) -> Iterator[_Claim]:
    for match in _PHONE_CUE.finditer(text):  # a number said to be a phone: any layout of 10-13 digits
        number = match["number"]
        if 10 <= sum(c.isdigit() for c in number) <= 13 and not re.fullmatch(r"\d+\.\d+", number):
            yield *match.span("number"), True
    for match in _INTERNATIONAL.finditer(text):
        value = match[0]
        groups = _DIGITS.findall(value.replace("(0)", ""))
        digits = sum(map(len, groups))
        rest = groups[1:]
        if (
            8 <= digits <= 15
            and (len(groups[0]) <= 3 if len(groups) > 1 else digits >= 11)  # a country code; +2147483647 is an int32
            and (groups[0][0] != "1" or _NANP_DIGITS.fullmatch("".join(groups)))
            and value.count(".") != 1  # +12.3456789 is a decimal
            and not (digits <= 10 and len(rest) > 1 and all(len(g) == 3 for g in rest))  # +2 500 000 is a count
            and sum(len(g) == 1 for g in rest) <= 1
        ):
            yield *match.span(), True
    for pattern in (_NANP_PARENS, _NANP):
        yield from ((*match.span(), True) for match in pattern.finditer(text))
    for match in _NATIONAL.finditer(text):
        if 10 <= sum(c.isdigit() for c in match[0]) <= 12:
            yield *match.span(), True


# In precedence order: where two claims overlap, the earlier kind keeps the characters. A value shaped like an IBAN,
# a card or an SSN keeps them even when its checks fail (a mistyped IBAN is not a phone number).
_DETECTORS: dict[str, Callable[[str], Iterator[_Claim]]] = {
    "iban": _ibans,
    "card": _cards,
    "us_ssn": _ssns,
    "email": _emails,
    "phone": _phones,
}


# Addresses of no person: the reserved example domains (RFC 2606); role accounts are `_ROLE_WORDS`. Always allowed.
NOT_PERSONAL = tuple(
    f"*@{domain}"
    for domain in (
        *("example.com", "example.org", "example.net", "*.example", "*.test", "*.invalid", "*.localhost"),
        # placeholders of documentation and code samples
        *("domain.com", "yourdomain.*", "mydomain.*", "your-domain.*", "company.com", "yourcompany.*"),
        *("foo.com", "bar.com", "foobar.com", "baz.com", "host.com", "email.tld", "domain.tld"),
        # mailing lists and machine identities
        *("lists.*", "*.lists.*", "googlegroups.com", "freelists.org", "*.gserviceaccount.com"),
    )
)


def _allowed(kind: str, value: str, allow: Collection[str]) -> bool:
    if kind == "email":
        allow = (*allow, *NOT_PERSONAL)
    values = {value.lower()}
    if kind != "email":
        values.add(re.sub(r"[ .()/-]", "", value).lower())
    return any(fnmatchcase(v, pattern.lower()) for pattern in allow for v in values)


def _test_number(text: str, kind: str, start: int) -> bool:
    return kind in ("card", "iban") and _TEST_CUE.search(text[max(0, start - 60) : start]) is not None


def known_kinds(kinds: Collection[str]) -> tuple[str, ...]:
    """`kinds`, checked against PII_KINDS."""
    unknown = sorted(set(kinds) - set(PII_KINDS))
    if unknown:
        raise ValueError(f"unknown PII kinds {unknown}; expected some of {list(PII_KINDS)}")
    return tuple(kinds)


def find_pii(text: str, kinds: Collection[str] = PII_KINDS, allow: Collection[str] = ()) -> list[Finding]:
    """Every validated finding of `kinds` in `text`, in order of position.

    `allow` holds case-insensitive globs of values that are not findings (`*@acme.io`), on top of `NOT_PERSONAL`;
    a digit kind's value is also compared with its separators removed. A card, IBAN or SSN is never reported again
    as a phone.
    """
    kinds = known_kinds(kinds)
    taken = bytearray(len(text))
    findings: list[Finding] = []
    for kind, detect in _DETECTORS.items():
        for start, end, valid in detect(text):
            if taken.find(1, start, end) != -1:
                continue
            taken[start:end] = b"\1" * (end - start)
            if (
                valid
                and kind in kinds
                and not _allowed(kind, text[start:end], allow)
                and not _test_number(text, kind, start)
            ):
                findings.append(Finding(kind, start))
    return sorted(findings, key=lambda f: f.start)


def pii_reason(findings: Sequence[Finding]) -> str | None:
    """'pii:email@12,card@57' (kind@offset, at most the first 3, then ',+N' for the rest) or None; never the value."""
    if not findings:
        return None
    shown = ",".join(f"{f.kind}@{f.start}" for f in findings[:3])
    return f"pii:{shown}" + (f",+{len(findings) - 3}" if len(findings) > 3 else "")
