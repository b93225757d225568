"""The audit hash chain: any edit, deletion, reordering or insertion fails verification at the entry touched."""

import itertools
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from monitoring_pipeline.core.audit import GENESIS, Anchor, entries_from_frame, entries_to_frame, next_entry, verify

NOW = datetime(2026, 10, 12, 2, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture
def chain() -> list:
    entries, head = [], None
    for i in range(5):
        head = next_entry(head, ts_utc=NOW, actor="cli:ana", action="materialize", subject=f"s{i}", payload={"rows": i})
        entries.append(head)
    return entries


def test_a_fresh_chain_verifies_and_links_from_genesis(chain: list) -> None:
    assert chain[0].prev_hash == GENESIS and chain[0].seq == 0
    assert all(b.prev_hash == a.entry_hash for a, b in itertools.pairwise(chain))
    assert verify(chain).ok and verify(chain).entries == 5


def test_the_chain_survives_a_round_trip_through_a_frame(chain: list) -> None:
    assert entries_from_frame(entries_to_frame(chain)) == chain


@pytest.mark.parametrize(
    ("tamper", "bad_seq", "problem"),
    [
        (lambda c: [*c[:2], replace(c[2], payload='{"rows":999}'), *c[3:]], 2, "entry_hash does not match"),
        (lambda c: [*c[:2], *c[3:]], 2, "entry 2 is missing"),
        (lambda c: [*c[:3], replace(c[2], subject="forged"), *c[3:]], 3, "duplicated sequence number"),
        (lambda c: [c[0], replace(c[2], seq=1), replace(c[1], seq=2), *c[3:]], 1, "prev_hash does not link"),
    ],
    ids=["edited", "deleted", "inserted", "reordered"],
)
def test_tampering_is_caught_at_the_first_entry_touched(chain: list, tamper, bad_seq: int, problem: str) -> None:
    result = verify(tamper(chain))
    assert not result.ok and result.first_bad_seq == bad_seq and problem in result.problem


def test_a_rehashed_edit_still_breaks_the_next_link(chain: list) -> None:
    forged = next_entry(chain[1], ts_utc=NOW, actor="cli:mallory", action="materialize", subject="s2", payload={})
    result = verify([*chain[:2], forged, *chain[3:]])
    assert not result.ok and result.first_bad_seq == 3 and "prev_hash" in result.problem


def test_truncation_is_caught_through_an_exported_head(chain: list) -> None:
    anchor = Anchor(chain[-1].seq, chain[-1].entry_hash)
    assert verify(chain, anchor).ok
    cut = verify(chain[:3], anchor)
    assert not cut.ok and cut.first_bad_seq == 3 and "truncated" in cut.problem
    rewritten = [*chain[:4], replace(chain[4], payload="{}")]
    rewritten[4] = next_entry(chain[3], ts_utc=NOW, actor="cli:mallory", action="materialize", subject="s4", payload={})
    forged = verify(rewritten, anchor)
    assert not forged.ok and forged.first_bad_seq == 4 and "exported head" in forged.problem


def test_a_signed_head_cannot_be_forged_without_the_key(chain: list) -> None:
    anchor = Anchor(chain[-1].seq, chain[-1].entry_hash).signed(b"k1")
    assert anchor.signature_ok(b"k1")
    assert not replace(anchor, seq=2, entry_hash=chain[2].entry_hash).signature_ok(b"k1")
    assert not anchor.signature_ok(b"other key")
