import ipaddress

import pytest

from app.webhooks.ssrf import (
    UnsafeTargetError,
    check_ip,
    check_url,
    parse_allowed_networks,
    resolve_and_check,
)

LOOPBACK_ALLOWED = [ipaddress.ip_network("127.0.0.0/8")]


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:a9fe:a9fe]/",
        "http://2130706433/",
        "http://0x7f000001/",
        "http://0177.0.0.1/",
        "http://127.1/",
        "http://127.0.0.1./",
        "http://10.0.0.5/",
        "http://192.168.1.1/",
        "http://100.64.0.1/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "http://[::1]/",
        "http://[fe80::1]/",
        "http://[fc00::1]/",
        "http://[2002:7f00:1::]/",
        "http://[64:ff9b::a9fe:a9fe]/",
        "http://localhost/",
        "http://LOCALHOST:8080/",
        "http://api.localhost/",
        "file:///etc/passwd",
        "ftp://example.com/",
        "gopher://x/",
        "http:///nohost",
        "http://example.com:99999/",
        "http://[::1/",
        "http://999.1.1.1/",
        "http://%31%32%37.0.0.1/",
        "http://evil.com\\@example.com/",
    ],
)
def test_refused_without_allow_list(url: str) -> None:
    with pytest.raises(UnsafeTargetError):
        check_url(url, [])


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/hook",
        "http://93.184.216.34/x",
        "HTTPS://Example.COM:8443/hook?x=1",
        "http://[2606:2800:220:1:248:1893:25c8:1946]/",
    ],
)
def test_accepted_without_allow_list(url: str) -> None:
    check_url(url, [])


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080/x", "http://[::ffff:127.0.0.1]/", "http://localhost:9/"]
)
def test_accepted_when_loopback_allowed(url: str) -> None:
    check_url(url, LOOPBACK_ALLOWED)


@pytest.mark.parametrize("url", ["http://10.0.0.5/", "http://[::1]/", "http://169.254.169.254/"])
def test_other_ranges_still_refused_when_loopback_allowed(url: str) -> None:
    with pytest.raises(UnsafeTargetError):
        check_url(url, LOOPBACK_ALLOWED)


def test_intranet_network_can_be_allowed() -> None:
    allowed = parse_allowed_networks("10.20.0.0/16")
    check_url("http://10.20.3.4/hook", allowed)
    with pytest.raises(UnsafeTargetError):
        check_url("http://10.21.3.4/hook", allowed)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", []),
        ("  ", []),
        ("127.0.0.0/8", ["127.0.0.0/8"]),
        (" 10.20.0.0/16, ::1/128 ,", ["10.20.0.0/16", "::1/128"]),
        ("10.20.0.1/16", ["10.20.0.0/16"]),
    ],
)
def test_parse_allowed_networks(value: str, expected: list[str]) -> None:
    assert [str(n) for n in parse_allowed_networks(value)] == expected


def test_parse_allowed_networks_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="not-a-cidr"):
        parse_allowed_networks("10.0.0.0/8,not-a-cidr")


@pytest.mark.parametrize("ip", ["8.8.8.8", "2001:4860:4860::8888"])
def test_check_ip_accepts_public(ip: str) -> None:
    check_ip(ip, [])


@pytest.mark.parametrize(
    "ip", ["127.0.0.1", "::ffff:10.0.0.1", "100.127.255.255", "fec0::1", "ff02::1", "::"]
)
def test_check_ip_refuses_internal(ip: str) -> None:
    with pytest.raises(UnsafeTargetError):
        check_ip(ip, [])


def test_resolve_and_check_literal_ip() -> None:
    assert resolve_and_check("http://127.0.0.1:9/x", LOOPBACK_ALLOWED) == ("127.0.0.1", 9)
    assert resolve_and_check("https://0x7f000001/x", LOOPBACK_ALLOWED) == ("127.0.0.1", 443)
    with pytest.raises(UnsafeTargetError):
        resolve_and_check("http://127.0.0.1:9/x", [])


def test_resolve_and_check_checks_every_resolved_address() -> None:
    ip, port = resolve_and_check(
        "http://localhost:8080/", LOOPBACK_ALLOWED + [ipaddress.ip_network("::1/128")]
    )
    assert ipaddress.ip_address(ip).is_loopback
    assert port == 8080


def test_resolve_and_check_refuses_names_resolving_to_internal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import socket

    def fake_getaddrinfo(host, port, *args, **kwargs):
        assert host == "rebind.example"
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    with pytest.raises(UnsafeTargetError, match="169.254.169.254"):
        resolve_and_check("https://rebind.example/hook", [])
