"""SSRF guard for outgoing webhook requests: public http(s) targets only, checked at every use.

A target is checked when it is registered and again immediately before each delivery: the
host is resolved, every address must pass, and the request then connects to the checked
address itself (the URL's host is kept for `Host`, SNI and certificate checks), so a DNS
answer that changes between the check and the connection (rebinding) cannot redirect it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

import aiohttp
from yarl import URL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Cloud instance metadata endpoints: refused even when a broader allowed network covers them;
# only an allow_hosts entry naming the exact address lets one through.
METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean, ...
        "169.254.170.2",  # AWS ECS task metadata
        "169.254.169.123",  # AWS time sync
        "fd00:ec2::254",  # AWS IPv6
        "fd00:ec2::23",
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud
    )
)
MAX_URL = 2048


class Refused(ValueError):
    """A target URL the guard does not allow (the message says why, in one line)."""


@dataclass(frozen=True, slots=True)
class Target:
    """A checked target: the URL to request (host replaced by `address`) and the original host."""

    url: URL
    address: str
    host: str
    port: int

    def request_url(self) -> URL:
        """The URL that connects to the checked address."""
        return self.url.with_host(self.address)

    def host_header(self) -> str:
        default = 443 if self.url.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"

    def post(
        self, session: aiohttp.ClientSession, body: bytes, headers: Mapping[str, str], timeout: float
    ) -> AbstractAsyncContextManager[aiohttp.ClientResponse]:
        """POST `body` to the checked address itself, never following a redirect.

        The URL's own host goes in `Host` and, over https, in SNI and the certificate check.
        """
        return session.post(
            self.request_url(),
            data=body,
            headers={"Host": self.host_header(), **headers},
            allow_redirects=False,
            server_hostname=self.host if self.url.scheme == "https" else None,
            timeout=aiohttp.ClientTimeout(total=timeout),
        )


def parse_allow(entries: Iterable[str]) -> tuple[IPNetwork, ...]:
    """Parse settings.webhooks.allow_hosts (addresses or CIDR networks); ValueError names a bad one."""
    out = []
    for entry in entries:
        try:
            out.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ValueError(f"webhooks.allow_hosts: {entry!r} is not an address or network") from None
    return tuple(out)


def _unwrap(ip: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 one embeds (mapped, compatible, 6to4, NAT64), so none bypasses the check."""
    if isinstance(ip, ipaddress.IPv4Address):
        return ip
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    packed = ip.packed
    if packed[:12] == bytes(12) and int(ip) > 1:  # deprecated IPv4-compatible ::a.b.c.d
        return ipaddress.IPv4Address(packed[12:])
    if ip in ipaddress.ip_network("64:ff9b::/96"):  # NAT64 well-known prefix
        return ipaddress.IPv4Address(packed[12:])
    return ip


def blocked_reason(ip: IPAddress, allow: Sequence[IPNetwork] = ()) -> str | None:
    """Why `ip` may not be a webhook target, e.g. "a loopback address" (None: it may)."""
    real = _unwrap(ip)
    if real in METADATA or ip in METADATA:
        exact = any(n.num_addresses == 1 and (real in n or ip in n) for n in allow)
        return None if exact else "a cloud metadata address"
    if any(real in n or ip in n for n in allow):
        return None
    for attr, what in (
        ("is_loopback", "a loopback address"),
        ("is_unspecified", "an unspecified address"),
        ("is_link_local", "a link-local address"),
        ("is_multicast", "a multicast address"),
        ("is_reserved", "a reserved address"),
        ("is_private", "a private address"),
    ):
        if getattr(real, attr):
            return what
    if not real.is_global:  # e.g. 100.64.0.0/10 shared address space
        return "not a public address"
    return None


def check_url(url: str) -> URL:
    """Syntactic checks: an absolute http(s) URL with a host, no credentials, no fragment."""
    if not isinstance(url, str) or not url:
        raise Refused("must be an absolute http:// or https:// URL")
    if len(url) > MAX_URL:
        raise Refused(f"longer than {MAX_URL} characters")
    try:
        parsed = URL(url)
    except (ValueError, TypeError):
        raise Refused("is not a valid URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise Refused("must be an absolute http:// or https:// URL")
    if parsed.user is not None or parsed.password is not None:
        raise Refused("must not contain credentials")
    if parsed.fragment:
        raise Refused("must not contain a fragment")
    return parsed


async def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Refused(f"host {host!r} does not resolve ({exc})") from None
    out: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if ip not in out:
            out.append(ip)
    if not out:
        raise Refused(f"host {host!r} does not resolve")
    return out


async def check_target(url: str, allow: Sequence[IPNetwork] = ()) -> Target:
    """Resolve and check every address of `url`'s host; the Target connects to the first one."""
    parsed = check_url(url)
    host = parsed.host or ""
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    addresses = await _resolve(host, port)
    for ip in addresses:
        reason = blocked_reason(ip, allow)
        if reason is not None:
            shown = str(ip) if _unwrap(ip) == ip else f"{ip} (IPv4 {_unwrap(ip)})"
            what = f"{shown} is {reason}"
            if str(ip) != host:
                what = f"host {host!r} resolves to {shown}, {reason}"
            raise Refused(f"{what}; webhooks must target public addresses")
    return Target(parsed, str(addresses[0]), host, port)
