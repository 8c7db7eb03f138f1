"""The algorithms a hostile input could make slow are linear: counted, never timed.

Masking walks a trie once per position of the text (at most the longest value deep), whatever the number of values;
an ACK numbers its ERR segments by bisection and lists at most MAX_ERR_SEGMENTS of them; a message of too many
segments is refused unread; the new-patient KPIs are one pass over narrow rows.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from adapters.hl7v2 import Hl7v2Adapter
from adapters.hl7v2.ack import MAX_ERR_SEGMENTS, _Places, render_ack
from adapters.hl7v2.parser import MAX_SEGMENTS_PER_MESSAGE
from gateway.domain.identifiers import is_valid_nhs_number
from gateway.security import masking
from gateway.security.masking import MASK, mask_text
from gateway.store.kpis import FirstDelivery, HeldPrescription, first_deliveries
from tests.paths import DATA

ORDER = (DATA / "hl7v2" / "valid_order" / "input.hl7").read_bytes().rstrip(b"\r\n")


def regex_mask(text: str, values: set[str]) -> str:
    """The former definition: one alternation of every value, longest first (quadratic, kept as the reference)."""
    ordered = sorted(values, key=len, reverse=True)
    if ordered:
        text = re.compile("|".join(re.escape(v) for v in ordered), re.IGNORECASE).sub(MASK, text)
    nhs = masking._NHS_LIKE
    return nhs.sub(lambda m: MASK if is_valid_nhs_number("".join(m.groups())) else m.group(0), text)


@given(st.sets(st.text("abAB c1-é", min_size=1, max_size=6), max_size=8), st.text("abAB c1-é|^", max_size=60))
def test_mask_text_masks_exactly_what_the_regex_alternation_did(values: set[str], text: str) -> None:
    assert mask_text(text, values) == regex_mask(text, values)


class CountingNode(dict[str, "CountingNode"]):
    """A trie node that counts the lookups made in it (shared counter)."""

    lookups = [0]

    def get(self, key: str, default: None = None) -> CountingNode | None:  # type: ignore[override]
        CountingNode.lookups[0] += 1
        return super().get(key, default)


def counted(trie: dict[str, object]) -> CountingNode:
    node = CountingNode()
    for key, child in trie.items():
        node[key] = counted(child)  # type: ignore[arg-type]
    return node


def lookups(text: str, values: list[str]) -> int:
    CountingNode.lookups[0] = 0
    "".join(masking._masked(text, counted(masking._trie(values))))  # type: ignore[arg-type]
    return CountingNode.lookups[0]


def test_masking_work_is_bounded_by_the_text_not_the_number_of_values() -> None:
    text = "PID|||9434765919^^^NHS||ROWLEY^ANNA||19610307|F|||14 Tremona Road^^SO16 6YD\r" * 200
    few = [f"Patient{i}x" for i in range(10)] + ["Rowley", "Tremona Road"]
    many = [f"Patient{i}x" for i in range(20_000)] + ["Rowley", "Tremona Road"]
    longest = max(len(v) for v in many)
    assert lookups(text, many) <= len(text) * (longest + 1)
    assert lookups(text, many) <= 2 * lookups(text, few)  # 2,000 times the values, about the same work


def test_a_message_of_too_many_segments_is_refused_unread_and_answered_briefly() -> None:
    payload = ORDER + b"\r" + b"\r".join(b"NTE|1||note %d" % i for i in range(MAX_SEGMENTS_PER_MESSAGE * 20)) + b"\r"
    result = Hl7v2Adapter().parse(payload)
    (parsed,) = result.prescriptions
    assert [i.code for i in parsed.issues] == ["TOO_MANY_SEGMENTS"] and parsed.prescription is None
    ack = render_ack(result).decode()
    assert "MSA|AR|MSG00001" in ack and ack.count("\rERR|") == 1 and len(ack) < 2_000


def test_an_ack_lists_at_most_max_err_segments_and_counts_the_rest() -> None:
    notes = b"\r".join(b"NTE|1||late note %d" % i for i in range(MAX_SEGMENTS_PER_MESSAGE - 20))
    result = Hl7v2Adapter().parse(ORDER + b"\r" + notes + b"\r")  # every NTE after ZHC is out of place
    issues = result.prescriptions[0].issues
    assert len(issues) > 5 * MAX_ERR_SEGMENTS
    ack = render_ack(result).decode()
    assert ack.count("\rERR|") == MAX_ERR_SEGMENTS + 1
    assert f"{len(issues) - MAX_ERR_SEGMENTS} more issues are not listed" in ack


@given(
    st.lists(st.sampled_from(["MSH", "PID", "ORC", "RXE", "RXR", "NTE"]), min_size=1, max_size=30),
    st.sampled_from(["MSH", "PID", "ORC", "NTE", "ZZZ"]),
    st.integers(-2, 35) | st.none(),
)
def test_err_sequence_numbers_are_the_counted_ones(ids: list[str], segment: str, line: int | None) -> None:
    segment_ids = tuple(ids)
    if line is None or not 0 < line <= len(segment_ids):
        expected = "1" if segment in segment_ids else ""
    else:
        count = segment_ids[:line].count(segment)
        expected = str(count if segment_ids[line - 1] == segment else count + 1)
    assert _Places(segment_ids).sequence(segment, line) == expected


T0 = datetime(2026, 11, 1, tzinfo=UTC)
instants = st.integers(0, 40).map(lambda d: T0 + timedelta(days=d))
held_rows = st.builds(
    HeldPrescription,
    nhs_index=st.sampled_from(["p1", "p2", "p3"]),
    provider_ods=st.sampled_from(["VNFKT", "VNCEL"]),
    trust_ods=st.sampled_from(["RBA", "RHM"]),
    created_at=instants,
    acknowledged=st.booleans(),
    ended_at=instants | st.none(),
    first_delivered_at=instants | st.none(),
)


def reference(
    held: list[HeldPrescription], start: datetime, before: datetime, waiting: bool
) -> Counter[tuple[object, ...]]:
    """The SQL's definition, pair by pair, written the slow and obvious way."""
    found: Counter[tuple[object, ...]] = Counter()
    for key in {(h.nhs_index, h.provider_ods) for h in held}:
        pair = [h for h in held if (h.nhs_index, h.provider_ods) == key]
        eligible = [h.created_at for h in pair if h.acknowledged or h.ended_at is None]
        if not eligible:
            continue
        started = min(eligible)
        delivered = [h.first_delivered_at for h in pair if h.first_delivered_at is not None]
        first = min(delivered) if delivered else None
        if waiting:
            still_open = any(h.created_at < before and not (h.ended_at and h.ended_at < before) for h in pair)
            if not (started < before and (first is None or first >= before) and still_open):
                continue
        elif first is None or first < start or first >= before:
            continue
        trust = min(h.trust_ods for h in pair if h.created_at == started)
        found[(key[1], trust, started, first)] += 1
    return found


@given(st.lists(held_rows, max_size=25), instants, st.integers(1, 30), st.booleans())
def test_first_deliveries_in_one_pass_match_the_definition(
    held: list[HeldPrescription], start: datetime, days: int, waiting: bool
) -> None:
    before = start + timedelta(days=days)
    got = first_deliveries(
        held, trust_ods=None, delivered_from=None if waiting else start, delivered_before=before, waiting_only=waiting
    )
    assert all(isinstance(f, FirstDelivery) for f in got)
    assert Counter((f.provider_ods, f.trust_ods, f.started_at, f.first_delivered_at) for f in got) == reference(
        held, start, before, waiting
    )
