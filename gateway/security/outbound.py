"""Where the gateway may send requests: provider endpoints, trust webhooks and client JWKS URLs are chosen by the
gateway's users, so a URL is allowed only when it is https and every address its host resolves to is public.

An operator may allow private ranges (`HGW_OUTBOUND_ALLOW_CIDRS`, e.g. a provider on the HSCN) and, for a simulator
on the same machine, plain http to loopback (`HGW_OUTBOUND_ALLOW_LOOPBACK`; always in demo mode). The check runs at
registration (`check_url`, a located InputError) and again on every connection (`guarded_transport.py`): the host is
resolved once, each address checked, and the connection made to that address, so a name that resolves to a public
address at registration and to 169.254.169.254 later (DNS rebinding) gets nowhere.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from gateway.errors import InputError, Issue, Location

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[str]]]
"""host, port → the addresses a connection would try, in order (getaddrinfo, or a fake in tests)."""


async def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the operating system resolves `host` to."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True, slots=True)
class StaticResolver:
    """The fake resolver (tests): `names` maps a host to its addresses, an IP literal resolves to itself, and any
    other name to `otherwise` (or does not resolve, when that is empty). Mutable lists let a test re-point a name."""

    names: dict[str, list[str]]
    otherwise: tuple[str, ...] = ()

    async def __call__(self, host: str, port: int) -> list[str]:
        if _literal(host) is not None:
            return [host.strip("[]")]
        found = self.names.get(host.lower(), list(self.otherwise))
        if not found:
            raise OSError(f"{host} does not resolve")
        return list(found)


@dataclass(frozen=True, slots=True)
class OutboundPolicy:
    allow_networks: tuple[IPNetwork, ...] = ()
    allow_loopback: bool = False
    """Plain http and loopback addresses (a simulator on the same machine, tests, `hgw demo`)."""

    @classmethod
    def from_settings(cls, cidrs: str | None, *, allow_loopback: bool, mode: str) -> OutboundPolicy:
        return cls(parse_cidrs(cidrs), allow_loopback=allow_loopback or mode == "demo")

    def address_problem(self, address: str) -> str | None:
        """Why a connection to `address` is refused, or None when it is allowed."""
        ip = _literal(address)
        if ip is None:
            return f"{address} is not an IP address"
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped  # ::ffff:10.0.0.1 is 10.0.0.1
        if any(ip in network for network in self.allow_networks):
            return None
        if ip.is_loopback:
            return None if self.allow_loopback else f"{ip} is a loopback address"
        if ip.is_multicast or not ip.is_global:
            return f"{ip} is not a public address (allow its range with HGW_OUTBOUND_ALLOW_CIDRS)"
        return None

    def scheme_problem(self, scheme: str, addresses: Iterable[str]) -> str | None:
        if scheme == "https":
            return None
        if scheme != "http":
            return "the scheme must be https"
        if self.allow_loopback and all(_is_loopback(a) for a in addresses):
            return None
        return "http is allowed only to a loopback address, in demo mode or with HGW_OUTBOUND_ALLOW_LOOPBACK"

    async def check(self, url: str, resolver: Resolver) -> str | None:
        """Why requests to `url` are refused, or None when they are allowed (every address it resolves to)."""
        try:
            parts = urlsplit(url)
            host, port = parts.hostname, parts.port
        except ValueError:
            return "not a URL"
        if not host:
            return "the URL has no host"
        try:
            addresses = await resolver(host, port or (443 if parts.scheme == "https" else 80))
        except (OSError, UnicodeError):
            return f"{host} does not resolve"
        if not addresses:
            return f"{host} does not resolve"
        for address in addresses:
            problem = self.address_problem(address)
            if problem is not None:
                return problem if host == address else f"{host} resolves to {problem}"
        return self.scheme_problem(parts.scheme, addresses)


async def check_url(
    policy: OutboundPolicy, resolver: Resolver, url: str, *, code: str, column: str | None, path: str
) -> None:
    """InputError located on `path` (and the CLI flag `column`) when the policy refuses `url`."""
    problem = await policy.check(url, resolver)
    if problem is not None:
        raise InputError(
            [
                Issue(
                    code=code,
                    message=f"requests may not be sent there: {problem}",
                    location=Location(column=column, path=path),
                    value=url[:200],
                    expected="an https URL whose host resolves to public addresses",
                )
            ]
        )


def parse_cidrs(text: str | None) -> tuple[IPNetwork, ...]:
    """`10.20.0.0/16, fd00::/8` → the networks; ValueError names a bad one."""
    networks = []
    for part in (text or "").split(","):
        if part.strip():
            networks.append(ipaddress.ip_network(part.strip(), strict=False))
    return tuple(networks)


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _is_loopback(address: str) -> bool:
    ip = _literal(address)
    return ip is not None and ip.is_loopback
