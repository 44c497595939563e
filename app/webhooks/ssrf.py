"""SSRF guard for webhook targets.

Checked twice: at registration (``check_url``, plus ``resolve_and_check`` for
names) and at delivery, where the worker connects to the address that
``resolve_and_check`` returned so that a DNS answer changed in between
(rebinding) cannot slip past.
"""

import ipaddress
import re
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_SCHEMES = {"http": 80, "https": 443}
_SHARED_ADDRESS_SPACE = ipaddress.IPv4Network("100.64.0.0/10")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_LOOPBACKS = (ipaddress.IPv4Address("127.0.0.1"), ipaddress.IPv6Address("::1"))
_LEGACY_IPV4 = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}")
_BAD_CHARS = re.compile(r"[\x00-\x20\x7f\\]")


class UnsafeTargetError(ValueError):
    """The webhook target is not allowed; the message says why, for a 422 or a delivery log."""


class UnresolvableTargetError(UnsafeTargetError):
    """The target's host name did not resolve (may be temporary at delivery time)."""


def parse_allowed_networks(value: str) -> list[IPNetwork]:
    """Parse ``RECTIFY_WEBHOOK_ALLOWED_NETWORKS`` (comma-separated CIDRs); blank means none."""
    networks: list[IPNetwork] = []
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError as exc:
            raise ValueError(f"invalid network in allowed networks: {part!r}") from exc
    return networks


def _is_allowed(ip: IPAddress, allowed: Iterable[IPNetwork]) -> bool:
    return any(ip in net for net in allowed)


def _forbidden_reason(ip: IPAddress) -> str | None:
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_multicast:
        return "multicast"
    if ip.is_private:
        return "private"
    if ip.is_reserved:
        return "reserved"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED_ADDRESS_SPACE:
        return "shared address space"
    if isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local:
        return "site-local"
    return None


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    found: list[ipaddress.IPv4Address] = []
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip.teredo is not None:
        found.extend(ip.teredo)
    if ip in _NAT64:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def check_ip(ip: str | IPAddress, allowed: Iterable[IPNetwork]) -> None:
    """Refuse loopback, link-local, private, reserved, multicast, unspecified and
    100.64.0.0/10 addresses unless they lie in one of ``allowed``.

    An IPv4-mapped IPv6 address is judged as its IPv4 address; 6to4, Teredo and
    NAT64 addresses must pass both as themselves and for the IPv4 they embed.
    """
    allowed = list(allowed)
    addr = ipaddress.ip_address(ip) if isinstance(ip, str) else ip
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    candidates: list[IPAddress] = [addr]
    if isinstance(addr, ipaddress.IPv6Address):
        candidates.extend(_embedded_ipv4(addr))
    for candidate in candidates:
        if _is_allowed(candidate, allowed):
            continue
        reason = _forbidden_reason(candidate)
        if reason is not None:
            raise UnsafeTargetError(
                f"webhook target address {candidate} is {reason} and not in the allowed networks"
            )


def _literal_ip(host: str) -> IPAddress | None:
    """The address a literal host denotes, including legacy IPv4 spellings
    (``2130706433``, ``0x7f000001``, ``0177.0.0.1``, ``127.1``) that resolvers accept."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _LEGACY_IPV4.fullmatch(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError as exc:
            raise UnsafeTargetError(f"webhook target host {host!r} is not a valid address") from exc
    return None


def _target(url: str, allowed: list[IPNetwork]) -> tuple[str, int, IPAddress | None]:
    if _BAD_CHARS.search(url):
        raise UnsafeTargetError("webhook URL contains whitespace, control characters or '\\'")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeTargetError(f"webhook URL is malformed: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        raise UnsafeTargetError("webhook URL must use http or https")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UnsafeTargetError("webhook URL has no host")
    port = port if port is not None else _SCHEMES[scheme]
    ip = _literal_ip(host)
    if ip is not None:
        check_ip(ip, allowed)
        return str(ip), port, ip
    if "%" in host:
        raise UnsafeTargetError("webhook URL host must not be percent-encoded")
    if (host == "localhost" or host.endswith(".localhost")) and not any(
        _is_allowed(lo, allowed) for lo in _LOOPBACKS
    ):
        raise UnsafeTargetError("webhook target localhost is not in the allowed networks")
    return host, port, None


def check_url(url: str, allowed: list[IPNetwork]) -> None:
    """Check scheme, host and any literal address of ``url`` without resolving names.

    Raises ``UnsafeTargetError``.
    """
    _target(url, allowed)


def resolve_and_check(url: str, allowed: list[IPNetwork]) -> tuple[str, int]:
    """Resolve ``url``'s host and return ``(ip, port)`` of the first address to connect to.

    Every resolved address must pass ``check_ip``, so a name that answers with
    one public and one private address is refused. Raises ``UnsafeTargetError``
    (``UnresolvableTargetError`` when the name does not resolve).
    """
    host, port, ip = _target(url, allowed)
    if ip is not None:
        return host, port
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnresolvableTargetError(f"webhook target host {host!r} does not resolve") from exc
    addresses = [str(info[4][0]) for info in infos if info[0] in (socket.AF_INET, socket.AF_INET6)]
    if not addresses:
        raise UnresolvableTargetError(f"webhook target host {host!r} has no IP address")
    for address in addresses:
        check_ip(address.split("%", 1)[0], allowed)
    return addresses[0], port
