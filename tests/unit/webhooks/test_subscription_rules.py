"""What a subscription may say: where webhooks may go in each mode, formats, event kinds, and request bodies."""

from __future__ import annotations

import pytest

from gateway.errors import InputError
from gateway.webhooks.subscription_rules import check_events, check_format, check_url, parse_change


@pytest.mark.parametrize("mode", ["production", "demo", "test"])
def test_https_goes_anywhere(mode: str) -> None:
    assert check_url(" https://pharmacy.example.nhs.uk:8443/hgw?x=1 ", mode=mode) == (
        "https://pharmacy.example.nhs.uk:8443/hgw?x=1"
    )


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/x", "http://localhost/x", "http://[::1]:80/x", "http://127.9.9.9/"])
def test_http_only_to_loopback_and_never_in_production(url: str) -> None:
    assert check_url(url, mode="test") == url and check_url(url, mode="demo") == url
    with pytest.raises(InputError) as caught:
        check_url(url, mode="production")
    [issue] = caught.value.issues
    assert (issue.code, issue.location.path) == ("INVALID_WEBHOOK_URL", "url")
    assert issue.expected == "an https URL"


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://10.0.0.1/x", "loopback"),
        ("http://localhost.evil.example/x", "loopback"),
        ("ftp://127.0.0.1/x", "scheme must be https"),
        ("https:///nohost", "no host"),
        ("https://user:secret@host.example/x", "credentials"),
        ("https://host.example/x#part", "fragment"),
        ("https://host.example:99999/x", "not a URL"),
        ("https://host.example/" + "x" * 2000, "longer than"),
        ("", "no host"),
    ],
)
def test_unusable_urls_are_refused_with_the_reason(url: str, why: str) -> None:
    with pytest.raises(InputError) as caught:
        check_url(url, mode="test")
    [issue] = caught.value.issues
    assert issue.code == "INVALID_WEBHOOK_URL" and why in issue.message
    assert "secret" not in str(issue.value)  # credentials are never echoed


def test_formats_and_event_kinds() -> None:
    assert check_format("fhir") == "fhir" and check_format("json") == "json"
    with pytest.raises(InputError):
        check_format("xml")
    assert check_events(None) is None and check_events([]) is None
    assert check_events(["cancelled", "delivery-failed", "cancelled"]) == ["cancelled", "delivery-failed"]
    with pytest.raises(InputError) as caught:
        check_events(["cancelled", "DROP TABLE"])
    assert caught.value.issues[0].location.path == "events[1]"


def test_a_providers_formats_and_event_kinds() -> None:
    assert check_format("json", "provider") == "json"
    with pytest.raises(InputError) as caught:
        check_format("fhir", "provider")
    assert "sent as json" in caught.value.issues[0].message and caught.value.issues[0].expected == "json"
    assert check_events(None, "provider") is None
    assert check_events(["invoice-decided", "invoice-decided"], "provider") == ["invoice-decided"]
    for kinds, who, where in ((["invoice-decided", "cancelled"], "provider", "events[1]"),
                              (["cancelled", "invoice-decided"], "trust", "events[1]")):
        with pytest.raises(InputError) as caught:
            check_events(kinds, who)
        assert (caught.value.issues[0].code, caught.value.issues[0].location.path) == ("INVALID_VALUE", where)


@pytest.mark.parametrize(
    ("body", "code", "where"),
    [
        (b"[]", "INVALID_JSON", "body"),
        (b"\xff", "INVALID_JSON", "body"),
        (b'{"format": "json"}', "REQUIRED", "url"),
        (b'{"url": "https://x.example"}', "REQUIRED", "format"),
        (b'{"url": 5, "format": "json"}', "INVALID_WEBHOOK_URL", "url"),
        (b'{"url": "https://x.example", "format": "json", "active": "yes"}', "INVALID_VALUE", "active"),
        (b'{"url": "https://x.example", "format": "json", "events": "cancelled"}', "INVALID_VALUE", "events"),
        (b'{"url": "https://x.example", "format": "json", "secret": "s"}', "UNKNOWN_FIELD", "secret"),
        (b'{"url": "https://x.example", "format": "json", "provider_ods": 7}', "INVALID_VALUE", "provider_ods"),
    ],
)
def test_bad_request_bodies_are_located(body: bytes, code: str, where: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_change(body, creating=True)
    [issue] = caught.value.issues
    assert (issue.code, issue.location.path) == (code, where)


def test_a_change_sets_only_what_it_names() -> None:
    change = parse_change(b'{"active": false, "events": null}', creating=False)
    assert (change.url, change.format, change.active, change.events, change.clear_events) == (
        None, None, False, None, True
    )
    assert parse_change(b"{}", creating=False).clear_events is False
