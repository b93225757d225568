"""The PII detector: valid and near-miss values per kind, hard negatives from technical and business text, the
allow-list, character offsets, reasons that never leak the value, the Polars prefilter, speed and pathological input."""

import re
import time
from collections.abc import Callable

import polars as pl
import pytest

from monitoring_pipeline.core.guards.pii import CANDIDATE, Finding, find_pii, pii_reason


def _kinds(text: str) -> list[str]:
    return [f.kind for f in find_pii(text)]


EMAILS = [
    "ana@mailbox.org",
    '{"summary": "Contact:\\nana.lopez@mailbox.org"}',  # after a JSON escape
    "mail me: ana.lopez+ml@mail.example.co.uk.",
    "<first_last-99@sub.example-corp.io>",
    "mailto:ana@mailbox.org",
    "the form at https://example.com/contact?to=ana@mailbox.org",
    "ANA@MAILBOX.ORG",
]
NOT_EMAILS = [
    "user@localhost",
    "root@127.0.0.1",
    "pip install foo@1.2 and bar@2.0.0-rc.1",
    "npm i lodash@4.17.21 @types/node@20.11.5",
    "@pytest.fixture(scope='module')",
    "git clone git@github.com:dagster-io/dagster.git",
    "postgres://app:s3cret@db.example.com:5432/app",  # URL userinfo: credentials, not an address
    "https://ana@mailbox.org/repo",
    "logo@2x.png and icon@3x.webp",
    "ana@example.c",
    "ana@mailbox.org2",
    "ana@@example.org",
    '{"summary": "Example:\\n@dataclasses.dataclass\\nclass A:"}',  # an escape's letter, then a decorator
    'Address.email_address.like("%@aol.com")',  # a pattern's wildcard
]


@pytest.mark.parametrize("text", EMAILS)
def test_email_found(text: str) -> None:
    assert _kinds(text) == ["email"]


@pytest.mark.parametrize("text", NOT_EMAILS)
def test_email_not_found(text: str) -> None:
    assert find_pii(text) == []


CARDS = [
    "4556737586899855",  # Visa
    "4556 7375 8689 9855",
    "4556-7375-8689-9855",
    "5555558555554448",  # Mastercard
    "2223006122003225",  # Mastercard 2-series
    "3782 825463 10002",  # Amex 4-6-5
    "371449935398438",
    "6011003990139428",  # Discover
    "3530111333300000",  # JCB
    "3056 930902 5904",  # Diners 4-6-4
    "6200003000000009",  # UnionPay
    "6759649826438453",  # Maestro
    "6212345678901234569",  # UnionPay, 19 digits
]


def _one_digit_off(number: str) -> str:
    return number[:-1] + str((int(number[-1]) + 1) % 10)


@pytest.mark.parametrize("number", CARDS)
def test_card_luhn(number: str) -> None:
    assert _kinds(f"card: {number}, exp 12/29") == ["card"]
    assert find_pii(f"card: {_one_digit_off(number)}, exp 12/29") == []


@pytest.mark.parametrize(
    "text",
    [
        "7111111111111117",  # Luhn-valid, no known issuer
        "1234567812345670",  # Luhn-valid, starts with 1
        "4111111111119",  # Luhn-valid 13 digits: old Visa, and the length of an EAN-13
        "4556737586899855111",  # Luhn-valid 19 digits starting with 4: an int64 more often than a card
        "np.random.default_rng(6581432544381372042)",
        "45567375868998550",  # 17 digits for a Visa
        "04556737586899855",  # part of a longer run
        "4556737586899855111111",
        "4556 7375 8689 9855 1111",  # a fifth group: not one card
        "1234 4556 7375 8689 9855",
        "41111 1111 1111 1111",
        "4111 1111-1111 1111",  # mixed separators
        "x4556737586899855",
        "4556737586899855.50",
        "https://shop.example/orders/4556737586899855",
    ],
)
def test_card_rejected(text: str) -> None:
    assert find_pii(text) == []


IBANS = [
    "GB55 WEST 1234 5698 7654 33",
    "DE62 3704 0044 0532 0130 01",
    "FR84 2004 1010 0505 0001 3M02 607",
    "GB55WEST12345698765433",
    "CH56 0483 5012 3456 7800 9",
    "NO93 8601 1117 947",
    "AT61 1904 3002 3457 3201",
    "NL02 ABNA 0123 4567 89",
]


@pytest.mark.parametrize("iban", IBANS)
def test_iban_check_digits(iban: str) -> None:
    assert find_pii(f"Pay to {iban} by Friday.") == [Finding("iban", 7)]
    wrong = iban[:2] + f"{(int(iban[2:4]) + 1) % 100:02d}" + iban[4:]
    assert find_pii(f"Pay to {wrong} by Friday.") == []


@pytest.mark.parametrize(
    "text",
    [
        "gb82 west 1234 5698 7654 32",  # lowercase is not reported: IBANs are written in capitals
        "GB82 WEST 1234 5698 7654 3",  # too short for GB
        "GB55 WEST 1234 5698 7654 331",  # too long for GB
        "GB82  WEST 1234 5698 7654 32",  # double space
        "GB82 WES T1234 5698 7654 32",  # not in groups of four
        "XX82 WEST 1234 5698 7654 32",  # no such country
        "RF18 5390 0754 7034",  # an ISO 11649 creditor reference, not an IBAN
        "XGB55WEST12345698765433",
    ],
)
def test_iban_rejected(text: str) -> None:
    assert find_pii(text) == []


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("ssn 123-45-6789", True),
        ("id 001-01-0001", True),
        ("665-99-9999", True),
        ("SSN: 123 45 6789", True),  # spaces or no separator only next to the words SSN / social security
        ("Social Security number 123456789", True),
        ("123 45 6789", False),
        ("123456789", False),
        ("000-12-3456", False),
        ("666-12-3456", False),
        ("900-12-3456", False),
        ("999-12-3456", False),
        ("123-00-4567", False),
        ("123-45-0000", False),
        ("078-05-1120", False),  # advertised in wallets in 1938
        ("219-09-9999", False),
        ("1123-45-6789", False),
        ("123-45-67890", False),
        ("123-45-6789-1", False),
    ],
)
def test_us_ssn(text: str, found: bool) -> None:
    assert _kinds(text) == (["us_ssn"] if found else [])


PHONES = [
    "+1 415 867 5309",
    "+1-415-867-5309",
    "+1 (415) 867-5309",
    "+14155552671",
    "+44 20 7946 0958",
    "+44 (0)20 7946 0958",
    "+49 30 12345678",
    "+33 1 23 45 67 89",
    "+34 612 345 678",
    "(212) 867-5309",
    "212-867-5309",
    "212.867.5309",
    "1-415-867-5309",
    "020 7946 0958",
    "07700 900123",
    "030 12345678",
    "01 23 45 67 89",
    "03-1234-5678",
]


@pytest.mark.parametrize("phone", PHONES)
def test_phone_found(phone: str) -> None:
    assert find_pii(f"Call me at {phone}, thanks") == [Finding("phone", 11)]
    assert find_pii(f"Tel:{phone}") == [Finding("phone", 4)]


@pytest.mark.parametrize(
    "text",
    [
        "+1 to this",
        "+12345678",  # unspaced and too short for a full number
        "-2147483648  +2147483647  int32",
        "+1696585800123",  # +1 must be followed by a North American number
        "+1 123 456 7890",
        "+2000 61 114 12",  # a separated number starts with a country code of 1-3 digits
        "+1 234 567 890 123 456 7",  # 16 digits
        "+2 500 000 users, +1 250 000 000 revenue",  # counts grouped in thousands
        "+12.3456789",
        "+1 2 3 4 5 6 7 8",
        "+05:30",
        "x+14155552671",
        "123-867-5309",  # area code starting with 1
        "212-055-0123",  # exchange starting with 0
        "212-867-53094",
        "212-867.5309",
        "10.212.867.5309",
        "0123456789",  # no separators
        "020 7946 09",  # 9 digits
        "room 12 020 7946 0958",  # part of a longer run of digit groups
        "020 7946 0958 12",  # one group more
        "020 7946-0958",
        "Phys. Rev. E 78, 046110 2008",
    ],
)
def test_phone_rejected(text: str) -> None:
    assert find_pii(text) == []


HARD_NEGATIVES = [
    "Permission is hereby granted, free of charge, to any person obtaining a copy of this software and associated "
    'documentation files (the "Software"), to deal in the Software without restriction. Copyright (c) 2016-2026 ACME',
    'Licensed under the Apache License, Version 2.0 (the "License"); see http://www.apache.org/licenses/LICENSE-2.0',
    '@pytest.fixture(scope="module")\ndef frame() -> pl.DataFrame:\n    """Rows 1-200 of the 2026-10-06 log."""',
    "@dataclass(frozen=True)\nclass Finding:\n    kind: str\n    start: int",
    "pip install 'polars==1.30.0' 'dagster>=1.8.4,<2' && uv sync --locked",
    "docker pull python@sha256:3f1e5a2b9c0d4e6f8a7b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f",
    "image: registry.example.com/team/app:1.4.2@sha256:abc123",
    '{"id": 18446744073709551615, "count": 1234567, "version": "1.2.3.4", "created": "2026-10-06T10:30:00+02:00"}',
    '{"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "00f067aa0ba902b7", "parent": null}',
    "request 550e8400-e29b-41d4-a716-446655440000 failed after 3 retries",
    "commit 9fceb02d0ae598e95dc970b74767f19372d61af8 (HEAD -> main, tag: v2.10.0)",
    "sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "connect to 192.168.100.200:5432 and 10.0.0.1, fallback 2001:db8::8a2e:370:7334",
    "Total: $1,299.99 (was €1 499,00); shipping 4.95 USD; CHF 1'234'567.00",
    "ISBN 978-3-16-148410-0, ISBN-10 0-306-40615-2, ISBN 9783161484100",
    "Order #100234567 shipped; invoice INV-2026-000123; ticket JIRA-12345, PR #6789",
    "Upgrade from 1.2.3.4 to 10.20.30.40 (build 20261006.1), then 2.10.0.1234",
    "Backfill 2026-10-06 to 2026-10-31, window 10:30:00-11:45:00, 06.10.2026 10:30",
    "latency p50 100-200 ms, p99 1500-2500 ms, 0100-0200 and 0300-0400 UTC",
    "ts=1696585800 ts_ms=1696585800123 ns=1696585800123456789",
    "Python 3.11.4 (main, Jun  7 2023, 00:00:00) [GCC 12.2.0] on linux",
    "| step | rows | ms |\n|---|---|---|\n| 1 | 1000000 | 12.5 |\n| 2 | 2500000 | 30.1 |",
    "Throughput grew +2 500 000 requests/day (+12.5%), world population 8 045 311 447",
    "requires foo@1.2 and bar@2.0.0-rc.1; see lodash@4.17.21",
    "@media screen and (max-width: 600px) { .a { margin: 0 0 0 0; } } @import url(base.css);",
    "logo@2x.png, icon@3x.webp",
    "user@localhost and root@127.0.0.1",
    "y = W@x + b; z = a @ b.T",
    "lat 52.520008, lon 13.404954; pi = 3.14159265358979323846",
    "mask 0x7fffffffffffffff, magic 0xDEADBEEF, id 0x0123456789abcdef",
    "BIC DEUTDEFF500, reference RF18 5390 0754 7034, SWIFT NWBKGB2L",
    "SKU AB12-3456-7890, part 100-200-3000",
    "2026-10-06T10:30:00.123456+05:30 INFO worker-3 pid=12345 took 0.123s",
    "@@ -1,7 +1,9 @@ def main():",
    "2026-10-06 10:30:00,123 WARNING retry 2 of 5 (backoff 0.5s)",
    "SELECT * FROM orders WHERE id IN (1001, 1002, 1003) AND total > 99.95",
    "See RFC 5322 section 3.4.1, ISO 8601 and ISO 13616.",
    "Springfield, IL 62704-1234; London SW1A 1AA",
    "Call the function 3 times at 10:30, 11:45 and 13:00",
    "EAN 4006381333931, GTIN 00012345600012, UPC 036000291452",
    "user_id=9876543210123456 session=7f3e2a",
    "Q3 revenue 12,345,678.90; margin 23.4%; headcount 1 204",
    "^1.2.3 || >=2.0.0 <3.0.0",
    r"C:\Users\dev\AppData\Local\Temp\tmp_0123456789",
    "MAC 00:1A:2B:3C:4D:5E, serial SN-0042-7781",
    "shape (1, 3, 224, 224), dtype float32, 0 1 2 3 4 5 6 7 8 9",
    "+1 to this proposal; +100 -20 lines",
    "@alice please review, cc @bob-smith",
    "订单号 2026100612345 已发货",
    "at com.example.Foo.bar(Foo.java:123)",
    "GDP 25 462 700 000 000 USD; 1 000 000 000 rows",
]


def test_hard_negatives_have_no_finding() -> None:
    assert len(HARD_NEGATIVES) >= 40
    assert {text: find_pii(text) for text in HARD_NEGATIVES if find_pii(text)} == {}


def test_candidate_skips_most_ordinary_text() -> None:
    matched = pl.Series(HARD_NEGATIVES).str.contains(CANDIDATE)
    assert matched.sum() < len(HARD_NEGATIVES) / 2


def test_candidate_matches_every_text_with_a_finding() -> None:
    texts = [
        *EMAILS,
        *(f"card: {n}" for n in CARDS),
        *IBANS,
        *(f"Call me at {p}, thanks" for p in PHONES),
        *(f"Tel:{p}" for p in PHONES),
        "ssn 123-45-6789",
        "SSN: 123 45 6789",
        "Social Security number 123456789",
        "Grüße 🙂 mail me: ana@mailbox.org",
    ]
    assert all(find_pii(t) for t in texts)
    assert pl.Series(texts).str.contains(CANDIDATE).all()


def test_character_offsets_with_non_ascii_before() -> None:
    text = "Grüße 🙂 mail me: ana@mailbox.org, or call +44 20 7946 0958"
    assert find_pii(text) == [Finding("email", 17), Finding("phone", 42)]
    assert text[17:32] == "ana@mailbox.org"
    assert text[42:58] == "+44 20 7946 0958"


def test_findings_in_order_and_not_reported_twice() -> None:
    text = "iban DE62 3704 0044 0532 0130 01 card 4556-7375-8689-9855 ssn 123-45-6789 phone 212-867-5309 a@b.io"
    assert [f.kind for f in find_pii(text)] == ["iban", "card", "us_ssn", "phone", "email"]
    # A card is never a phone, even when only phones are asked for.
    assert find_pii("call 4556 7375 8689 9855", kinds=("phone",)) == []
    assert find_pii("mail ana@mailbox.org or 212-867-5309", kinds=("phone",)) == [Finding("phone", 24)]
    with pytest.raises(ValueError, match="unknown PII kinds"):
        find_pii("x", kinds=("passport",))


def test_allow_list() -> None:
    text = "Write to carla@acme.io or ana@mailbox.com; card 4556 7375 8689 9855; call +1 415 867 5309"
    assert [f.kind for f in find_pii(text)] == ["email", "email", "card", "phone"]
    allow = ["*@MAILBOX.com", "carla@acme.io", "4556737586899855", "+1 415 867 5309"]
    assert find_pii(text, allow=allow) == []
    assert find_pii(text, allow=["+14158675309", "4556-7375-8689-9855"]) == find_pii(text)[:3]
    assert find_pii("pay GB55 WEST 1234 5698 7654 33", allow=["gb55west*"]) == []
    assert find_pii("ana@mailbox.org", allow=["*@mailbox.com"]) == [Finding("email", 0)]


@pytest.mark.parametrize(
    "text",
    [
        "ana@example.com",
        "write to support@acme.io",
        "noreply@github.com",
        "bob@shop.test",
        "info@acme.de",
        'filter(Address.email == "foo@bar.com")',  # placeholders of code samples
        "John Doe <local_part@domain.com>",
        "login as test-user@gmail.com",
        "report it to debian-gcc@lists.debian.org or xdg-devel@freedesktop.org",  # mailing lists
        "key of my-sa@my-project.iam.gserviceaccount.com",  # a service account
    ],
)
def test_placeholders_lists_and_role_accounts_are_not_personal(text: str) -> None:
    assert find_pii(text) == []


def test_pii_reason() -> None:
    assert pii_reason([]) is None
    assert pii_reason([Finding("email", 12), Finding("card", 57)]) == "pii:email@12,card@57"
    five = [Finding("phone", i) for i in range(5)]
    assert pii_reason(five) == "pii:phone@0,phone@1,phone@2,+2"


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("mail me: anastasia.lopez@mailbox.org", "anastasia.lopez"),
        ("card 4556 7375 8689 9855", "4556737586899855"),
        ("ssn 123-45-6789", "123456789"),
        ("pay DE62 3704 0044 0532 0130 01", "DE62370400440532013001"),
        ("call +44 20 7946 0958", "442079460958"),
    ],
)
def test_reason_never_contains_the_value(text: str, secret: str) -> None:
    reason = pii_reason(find_pii(text))
    assert reason is not None
    assert secret not in reason and secret.lower() not in reason
    digits = re.sub(r"\D", "", secret)
    assert not any(digits[i : i + 4] in reason for i in range(len(digits) - 3))


@pytest.mark.parametrize(
    "text",
    [
        "a@" * 50_000,
        "1 " * 50_000,
        "+" + "1-" * 50_000,
        "a." * 50_000 + "@",
        "x@" + "a." * 50_000 + "1",
        "@a." * 30_000,
        "1" * 100_000,
        "0 1" * 30_000,
        "01 " * 30_000,
        "GB82 " * 20_000,
        "4111-" * 20_000,
        "(800) " * 20_000,
    ],
)
def test_no_catastrophic_backtracking(text: str) -> None:
    """A hang guard, not a speed test (speed: benchmarks/guard_benchmark.py): backtracking would take minutes."""
    assert _seconds(find_pii, text) < 5


def _seconds(detect: Callable[[str], object], text: str) -> float:
    began = time.perf_counter()
    detect(text)
    return time.perf_counter() - began
