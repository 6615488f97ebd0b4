"""The webhook target policy (SSRF): which URLs and addresses a webhook may go to, with a resolver
of the test's own (no network)."""

from __future__ import annotations

import ipaddress

import pytest

from services.notifications.webhook_targets import TargetPolicy, TargetRefused, address_refusal, check_url, policy_for

DEFAULT = TargetPolicy()


def resolver(table: dict[str, list[str]]):
    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise OSError("no such name")
        return table[host]

    return resolve


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("100.64.0.1", "CGNAT"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("192.0.2.1", "private"),
        ("fd00::1", "unique-local"),
        ("fc00::1", "unique-local"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:169.254.169.254", "link-local"),
        ("2002:7f00:1::", "loopback"),
        ("64:ff9b::a00:1", "private"),
        ("::127.0.0.1", "reserved"),
    ],
)
def test_non_public_addresses_are_refused(address, reason):
    assert reason in (address_refusal(ipaddress.ip_address(address), DEFAULT) or "")


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "::ffff:93.184.216.34"])
def test_public_addresses_are_allowed(address):
    assert address_refusal(ipaddress.ip_address(address), DEFAULT) is None


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.example.vn/x", "only https"),
        ("ftp://hooks.example.vn/x", "not an http(s) URL"),
        ("https://user:pw@hooks.example.vn/x", "credentials"),
        ("https://user@hooks.example.vn/x", "credentials"),
        ("https://localhost/x", "localhost"),
        ("https://api.localhost./x", "localhost"),
        ("https://127.0.0.1/x", "loopback"),
        ("https://[::1]/x", "loopback"),
        ("https://[::ffff:7f00:1]/x", "loopback"),
        ("https://[fd12:3456::1]/x", "unique-local"),
        ("https://169.254.169.254/latest/meta-data", "link-local"),
        ("https://hooks.example.vn:8443/x", "port 8443"),
        ("https://hooks.example.vn:99999/x", "not a valid URL"),
        ("https://nowhere.example.vn/x", "does not resolve"),
        ("https://internal.example.vn/x", "resolves to a private address"),
        ("https://mixed.example.vn/x", "resolves to a loopback address"),  # every address must be allowed
        ("https://2130706433/x", "resolves to a loopback address"),  # 127.0.0.1 as one number, as getaddrinfo reads it
    ],
)
def test_urls_outside_the_default_policy_are_refused(url, reason):
    resolve = resolver(
        {
            "hooks.example.vn": ["93.184.216.34"],
            "internal.example.vn": ["10.0.0.5"],
            "mixed.example.vn": ["93.184.216.34", "127.0.0.1"],
            "2130706433": ["127.0.0.1"],
        }
    )
    with pytest.raises(TargetRefused) as refused:
        check_url(url, DEFAULT, resolve)
    assert reason in str(refused.value)
    assert "10.0.0.5" not in str(refused.value)  # the reason says what kind of address, not which


def test_an_allowed_url_keeps_its_name_and_the_addresses_checked():
    target = check_url(
        "https://Hooks.Example.VN/ocop/in?k=1#frag",
        DEFAULT,
        resolver({"hooks.example.vn": ["93.184.216.34", "2606:4700::1111"]}),
    )
    assert (target.scheme, target.host, target.port, target.path) == ("https", "hooks.example.vn", 443, "/ocop/in?k=1")
    assert target.addresses == ("93.184.216.34", "2606:4700::1111")


def test_a_name_in_vietnamese_is_checked_and_sent_as_dns_has_it():
    resolve = resolver({"xn--cng-qmz.xn--bntre-o61b.vn": ["93.184.216.34"]})
    target = check_url("https://cổng.bếntre.vn/hook", DEFAULT, resolve)
    assert target.host == "xn--cng-qmz.xn--bntre-o61b.vn"
    with pytest.raises(TargetRefused, match="not a valid host name"):
        check_url("https://" + "a" * 70 + "ổ.vn/hook", DEFAULT, resolver({}))


def test_the_policy_is_widened_only_as_configured():
    local = TargetPolicy.parse(allow_http="1", networks="127.0.0.0/8, 10.1.0.0/16")
    assert check_url("http://127.0.0.1:8099/hook", local).addresses == ("127.0.0.1",)  # any port on an allowed network
    assert check_url("http://[::ffff:127.0.0.1]:8099/hook", local).port == 8099
    check_url("http://10.1.200.3:9000/x", local)
    with pytest.raises(TargetRefused, match="private address"):
        check_url("http://10.2.0.1/x", local)
    with pytest.raises(TargetRefused, match="localhost"):
        check_url("http://localhost:8099/x", local)  # names: still not localhost
    anyport = TargetPolicy.parse(ports="any")
    check_url("https://93.184.216.34:8443/x", anyport)
    assert TargetPolicy.parse(ports="443,8443").ports == frozenset({443, 8443})
    assert TargetPolicy.parse() == DEFAULT and not DEFAULT.allow_http and DEFAULT.ports == frozenset({80, 443})


@pytest.mark.parametrize(
    ("kwargs", "variable"),
    [
        ({"allow_http": "maybe"}, "OCOP_WEBHOOK_ALLOW_HTTP"),
        ({"networks": "10.0.0.0/33"}, "OCOP_WEBHOOK_ALLOWED_NETWORKS"),
        ({"ports": "https"}, "OCOP_WEBHOOK_PORTS"),
    ],
)
def test_a_wrong_setting_names_its_variable(kwargs, variable):
    with pytest.raises(ValueError, match=variable):
        TargetPolicy.parse(**kwargs)


def test_the_environment_sets_the_policy(monkeypatch):
    """Read into Settings at start (shared/config.py), parsed by policy_for."""
    from shared.config import load

    monkeypatch.setenv("OCOP_WEBHOOK_ALLOW_HTTP", "1")
    monkeypatch.setenv("OCOP_WEBHOOK_ALLOWED_NETWORKS", "127.0.0.0/8")
    policy = policy_for(load("notifications"))
    assert policy.allow_http and policy.allowed_networks == (ipaddress.ip_network("127.0.0.0/8"),)
    monkeypatch.delenv("OCOP_WEBHOOK_ALLOW_HTTP")
    monkeypatch.delenv("OCOP_WEBHOOK_ALLOWED_NETWORKS")
    assert policy_for(load("notifications")) == DEFAULT
