"""The address a request comes from, for per-address rate limits (the console sign-in, the token endpoint).

The peer of the TCP connection, unless that peer is one of the operator's reverse proxies (`HGW_TRUSTED_PROXIES`,
comma-separated addresses or CIDR ranges): then the right-most `X-Forwarded-For` entry that is not itself a trusted
proxy, which is the one the nearest untrusted party could not have written. Anyone else's X-Forwarded-For is
ignored, so a client cannot pick a fresh address for every request. The servers the gateway starts leave proxy
headers to this (uvicorn's `proxy_headers` is off), since uvicorn would otherwise trust them from any local peer.
"""

from __future__ import annotations

import functools
import ipaddress

from starlette.requests import Request

from gateway.security.outbound import IPNetwork, parse_cidrs


@functools.lru_cache(maxsize=8)
def trusted_networks(setting: str | None) -> tuple[IPNetwork, ...]:
    return parse_cidrs(setting)


def client_address(peer: str | None, forwarded_for: str | None, trusted: tuple[IPNetwork, ...]) -> str:
    """The client's address (see the module docstring); "unknown" without a peer."""
    if not peer:
        return "unknown"
    if not _within(peer, trusted):
        return peer
    hops = [hop.strip() for hop in (forwarded_for or "").split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _within(hop, trusted):
            return hop if _address(hop) is not None else peer  # garbage from behind the proxy: the proxy's own
    return peer


def request_address(request: Request, trusted_setting: str | None) -> str:
    peer = request.client.host if request.client else None
    return client_address(peer, request.headers.get("x-forwarded-for"), trusted_networks(trusted_setting))


def _within(host: str, networks: tuple[IPNetwork, ...]) -> bool:
    address = _address(host)
    return address is not None and any(address in network for network in networks)


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None
