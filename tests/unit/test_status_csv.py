"""The JAC-style status CSV, the status-feed cursor, page horizon and formats: pure functions, no I/O."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.jac.status import STATUS_COLUMNS, render_jac_status, status_row
from gateway.errors import InputError
from gateway.lifecycle import status_formats
from gateway.lifecycle.status_feed import (
    FeedPage,
    StatusEvent,
    decode_cursor,
    encode_cursor,
    parse_limit,
    settled_horizon,
)


def _event(event_id: int = 7, **change: object) -> StatusEvent:
    values: dict[str, object] = {
        "event_id": event_id,
        "at": datetime(2026, 7, 1, 13, 5, 9, 250_000, tzinfo=UTC),
        "trust_ods": "RBA",
        "rx_number": "HC-26-004711",
        "rx_version": 2,
        "short_form_id": "A1B2C3-RBA01-12345X",
        "kind": "delivery-failed",
        "status_code": "0002",
        "status_display": "With Dispenser",
        "delivery_state": "failed",
        "provider_ods": "VNFKT",
        "actor_ods": "VNFKT",
        "message_id": None,
        "detail": "delivery 2 of 6: failed (nobody in)",
    }
    values.update(change)
    return StatusEvent(**values)  # type: ignore[arg-type]


def _page(*events: StatusEvent) -> FeedPage:
    return FeedPage(trust_ods="RBA", events=events, next_cursor=encode_cursor(9), has_more=False)


def _parse(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))


def test_empty_page_is_the_header_alone_with_bom_and_crlf() -> None:
    body = render_jac_status(_page())
    assert body == b"\xef\xbb\xbf" + ",".join(STATUS_COLUMNS).encode() + b"\r\n"


def test_a_row_per_event_in_column_order() -> None:
    body = render_jac_status(_page(_event(7), _event(8, kind="acknowledged", delivery_state=None, message_id="m-1")))
    header, first, second = _parse(body)
    assert header == list(STATUS_COLUMNS)
    row = dict(zip(header, first, strict=True))
    assert row == {
        "EventId": "7",
        "EventTime": "01/07/2026 14:05:09",  # UK local time: BST in July
        "EventTimeUTC": "2026-07-01T13:05:09Z",
        "TrustODS": "RBA",
        "RxNumber": "HC-26-004711",
        "RxVersion": "2",
        "ShortFormId": "A1B2C3-RBA01-12345X",
        "Event": "delivery-failed",
        "StatusCode": "0002",
        "StatusText": "With Dispenser",
        "DeliveryState": "failed",
        "ProviderODS": "VNFKT",
        "ActorODS": "VNFKT",
        "MessageId": "",
        "Detail": "delivery 2 of 6: failed (nobody in)",
    }
    assert dict(zip(header, second, strict=True))["DeliveryState"] == ""
    assert dict(zip(header, second, strict=True))["MessageId"] == "m-1"


def test_winter_time_is_gmt() -> None:
    row = status_row(_event(at=datetime(2026, 12, 1, 9, 0, tzinfo=UTC)))
    assert row[1:3] == ["01/12/2026 09:00:00", "2026-12-01T09:00:00Z"]


def test_rfc4180_quoting_of_commas_quotes_and_line_breaks() -> None:
    detail = 'left "with neighbour", no. 12\r\nring twice'
    body = render_jac_status(_page(_event(detail=detail)))
    assert b'"left ""with neighbour"", no. 12\r\nring twice"\r\n' in body
    assert _parse(body)[1][-1] == detail


@pytest.mark.parametrize("text", ['=HYPERLINK("x")', "+1", "-2", "@SUM(A1)", "\tx", "\rx"])
def test_cells_a_spreadsheet_would_run_are_defused(text: str) -> None:
    assert _parse(render_jac_status(_page(_event(detail=text))))[1][-1] == "'" + text


@given(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")))
def test_any_detail_round_trips_through_the_csv_module(detail: str) -> None:
    [cell] = [row[-1] for row in _parse(render_jac_status(_page(_event(detail=detail))))[1:]]
    assert cell == ("'" + detail if detail.startswith(("=", "+", "-", "@", "\t", "\r")) else detail)


@given(st.integers(min_value=0, max_value=10**18 - 1))
def test_cursor_round_trip(event_id: int) -> None:
    cursor = encode_cursor(event_id)
    assert cursor.isascii() and "=" not in cursor
    assert decode_cursor(cursor) == event_id


@pytest.mark.parametrize("bad", ["%%%", "djE6LTE", "djE6MDE", "djI6MQ", "MTI", "djE6MTIzNDU2Nzg5MDEyMzQ1Njc4OQ", "ÿ"])
def test_bad_cursors_are_located(bad: str) -> None:
    with pytest.raises(InputError) as caught:
        decode_cursor(bad)
    [issue] = caught.value.issues
    assert (issue.code, issue.location.path, issue.value) == ("INVALID_CURSOR", "since", bad)


def test_no_cursor_is_the_beginning() -> None:
    assert decode_cursor(None) == decode_cursor("") == 0


def test_limit() -> None:
    assert (parse_limit(None), parse_limit("1"), parse_limit("1000")) == (200, 1, 1000)
    for bad in ("0", "1001", "-1", "1.5", "²", " 5"):
        with pytest.raises(InputError) as caught:
            parse_limit(bad)
        assert caught.value.issues[0].location.path == "limit"


NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
OLD = NOW - timedelta(minutes=5)
NEW = NOW - timedelta(seconds=1)
SETTLE = timedelta(seconds=60)


@pytest.mark.parametrize(
    ("after", "positions", "horizon"),
    [
        (4, [], 4),
        (4, [(5, NEW), (6, NEW)], 6),  # contiguous: all of it
        (4, [(5, NEW), (7, NEW), (8, NEW)], 5),  # 6 may still commit: stop before the hole
        (4, [(6, NEW)], 4),
        (4, [(5, OLD), (7, OLD), (9, NEW)], 7),  # 6 is long gone; 8 may still commit
        (0, [(3, OLD)], 3),
    ],
)
def test_horizon_stops_at_a_young_gap(after: int, positions: list[tuple[int, datetime]], horizon: int) -> None:
    assert settled_horizon(after, positions, now=NOW, settle=SETTLE) == horizon


def test_formats_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(status_formats, "FORMATS", dict(status_formats.FORMATS))
    assert status_formats.status_format(None).name == "json"
    assert status_formats.status_format(" CSV ").render is render_jac_status
    with pytest.raises(InputError) as caught:
        status_formats.status_format("pdf")
    issue = caught.value.issues[0]
    assert (issue.code, issue.location.path, issue.value) == ("FORMAT_NOT_AVAILABLE", "format", "pdf")
    assert issue.expected == "one of csv, hl7v2, json, xml"
    with pytest.raises(ValueError, match="status format name"):
        status_formats.register_status_format("X ML", "application/xml", render_jac_status)
    status_formats.register_status_format("xml", "application/xml", lambda page: b"<x/>")
    assert status_formats.status_format("xml").render(_page()) == b"<x/>"


def test_json_rendering_is_the_page() -> None:
    body = status_formats.render_json(_page(_event()))
    assert b'"event_id":7' in body and b'"status":{"code":"0002","display":"With Dispenser"}' in body
