"""Where a webhook may be sent (the target policy, against SSRF) and how it is sent there.

A subscription's URL is checked when it is created or changed, and again at every delivery after
its host name is resolved: every address the name resolves to must be allowed, and the connection
goes to one of the addresses checked (the Host header, TLS SNI and certificate check keep the
name), so a name that resolves elsewhere between check and connect (DNS rebinding) reaches nothing
new. Redirects are never followed. Default policy: https only, public unicast addresses only, ports
443 and 80, no credentials in the URL, no ``localhost`` names. An operator widens it for tests and
closed networks with ``OCOP_WEBHOOK_ALLOW_HTTP=1``, ``OCOP_WEBHOOK_ALLOWED_NETWORKS`` (CIDRs
allowed whatever they are, on any port) and ``OCOP_WEBHOOK_PORTS`` (``any``, or a list).

What is kept of a failed attempt is our own short reason ("HTTP 500 Internal Server Error",
"connection refused", "timeout", "refused by policy: private address"), never the receiver's
answer: the delivery log must not become a way to read what an internal address says."""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass, field
from functools import lru_cache
from http import HTTPStatus
from urllib.parse import urlsplit

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_PORTS = frozenset({443, 80})
CGNAT = ipaddress.ip_network("100.64.0.0/10")
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class TargetRefused(Exception):
    """The URL or an address it resolves to is outside the policy; the message says why, briefly."""


@dataclass(frozen=True)
class TargetPolicy:
    allow_http: bool = False
    allowed_networks: tuple[Network, ...] = ()
    ports: frozenset[int] | None = field(default=DEFAULT_PORTS)  # None: any port

    @classmethod
    def parse(cls, allow_http: str = "", networks: str = "", ports: str = "") -> TargetPolicy:
        """From the variables' text; ValueError naming the variable when one is wrong."""
        flag = allow_http.strip().lower()
        if flag not in ("", "0", "1", "true", "false", "yes", "no"):
            raise ValueError(f"OCOP_WEBHOOK_ALLOW_HTTP={allow_http!r}: use 1 or 0")
        try:
            nets = tuple(ipaddress.ip_network(n.strip(), strict=False) for n in networks.split(",") if n.strip())
        except ValueError as exc:
            raise ValueError(f"OCOP_WEBHOOK_ALLOWED_NETWORKS: {exc} (a comma-separated list of CIDRs)") from None
        ports = ports.strip().lower()
        if ports in ("any", "*"):
            allowed_ports = None
        elif not ports:
            allowed_ports = DEFAULT_PORTS
        else:
            try:
                allowed_ports = frozenset(int(p) for p in ports.split(",") if p.strip())
            except ValueError:
                raise ValueError(f"OCOP_WEBHOOK_PORTS={ports!r}: a comma-separated list of ports, or 'any'") from None
        return cls(allow_http=flag in ("1", "true", "yes"), allowed_networks=nets, ports=allowed_ports)

    def explicitly_allowed(self, ip: Address) -> bool:
        """In OCOP_WEBHOOK_ALLOWED_NETWORKS, itself or the IPv4 address its IPv6 form carries."""
        inner = _embedded_ipv4(ip) if ip.version == 6 else None
        return any(a.version == net.version and a in net for net in self.allowed_networks for a in (ip, inner) if a)


@lru_cache(maxsize=8)
def _parsed(allow_http: str, networks: str, ports: str) -> TargetPolicy:
    return TargetPolicy.parse(allow_http, networks, ports)


def policy_for(settings) -> TargetPolicy:
    """The settings' policy when a test put one in ``settings.extra["webhook_policy"]``, else the one
    ``OCOP_WEBHOOK_ALLOW_HTTP``, ``OCOP_WEBHOOK_ALLOWED_NETWORKS`` and ``OCOP_WEBHOOK_PORTS`` say
    (read into Settings at start)."""
    policy = settings.extra.get("webhook_policy")
    if policy is not None:
        return policy
    return _parsed(settings.webhook_allow_http, settings.webhook_allowed_networks, settings.webhook_ports)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form carries and leads to: IPv4-mapped, 6to4, NAT64."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def address_refusal(ip: Address, policy: TargetPolicy) -> str | None:
    """Why this address may not be a webhook's target, or None when it may."""
    if policy.explicitly_allowed(ip):
        return None
    if ip.version == 6 and (inner := _embedded_ipv4(ip)) is not None:
        return address_refusal(inner, policy)
    if ip.is_loopback:
        return "loopback address"
    if ip.is_unspecified:
        return "unspecified address"
    if ip.is_link_local:
        return "link-local address"
    if ip.is_multicast:
        return "multicast address"
    if ip.version == 4 and ip in CGNAT:
        return "shared (CGNAT) address"
    if ip.version == 6 and ip in ipaddress.ip_network("fc00::/7"):
        return "unique-local address"
    if ip.is_reserved:
        return "reserved address"
    if ip.is_private:
        return "private address"
    if not ip.is_global:
        return "reserved address"
    return None


def resolve_host(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(info[4][0] for info in infos))


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # as in the URL (the Host header, SNI and the certificate's name)
    port: int
    path: str  # with the query
    addresses: tuple[str, ...]  # every one checked; the connection goes to one of these


def check_url(url: str, policy: TargetPolicy, resolve=resolve_host) -> Target:
    """The target, each of its addresses allowed; TargetRefused saying why not. ``resolve(host,
    port)`` gives the addresses of a name (getaddrinfo by default; tests pass their own)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise TargetRefused("not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme != "https" and not (scheme == "http" and policy.allow_http):
        raise TargetRefused("only https URLs are allowed" if scheme in ("http", "https") else "not an http(s) URL")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("credentials in the URL are not allowed (the signature authenticates us)")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise TargetRefused("the URL has no host")
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")  # the name as DNS and the Host header carry it
        except UnicodeError:
            raise TargetRefused("not a valid host name") from None
    if host == "localhost" or host.endswith(".localhost") or host == "localhost.localdomain":
        raise TargetRefused("localhost names are not allowed")
    port = port if port is not None else (443 if scheme == "https" else 80)
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            addresses = resolve(host, port)
        except (OSError, UnicodeError):
            raise TargetRefused("the host name does not resolve") from None
        if not addresses:
            raise TargetRefused("the host name does not resolve")
    for text in addresses:
        ip = ipaddress.ip_address(text.split("%", 1)[0])
        reason = address_refusal(ip, policy)
        if (
            reason is None
            and policy.ports is not None
            and port not in policy.ports
            and not policy.explicitly_allowed(ip)
        ):
            reason = f"port {port} (allowed: {', '.join(map(str, sorted(policy.ports)))})"
        if reason is not None:
            raise TargetRefused(
                reason if literal is not None or reason.startswith("port") else f"the host name resolves to a {reason}"
            )
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(scheme, host, port, path, tuple(addresses))


# ---- sending ----------------------------------------------------------------------------------------
class SendFailed(Exception):
    """A failed attempt: our own short reason, the HTTP status if there was one, whether a retry
    can help, and the receiver's Retry-After."""

    def __init__(
        self, reason: str, status: int | None = None, permanent: bool = False, retry_after: float | None = None
    ):
        super().__init__(reason)
        self.status, self.permanent, self.retry_after = status, permanent, retry_after


def _connector(addresses: tuple[str, ...], port: int):
    """Stands in for socket.create_connection: connects to the checked addresses only, in turn."""

    def connect(_address, timeout=None, source_address=None):
        last: OSError | None = None
        for address in addresses:
            try:
                return socket.create_connection((address, port), timeout, source_address)
            except OSError as exc:
                last = exc
        raise last or OSError("no address")

    return connect


def _reason(exc: BaseException) -> tuple[str, bool]:
    """(our words for a transport failure, whether it is permanent)."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return "TLS certificate not valid for the host", False
    if isinstance(exc, ssl.SSLError):
        return "TLS handshake failed", False
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timeout", False
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused", False
    if isinstance(exc, ConnectionResetError | ConnectionAbortedError | BrokenPipeError):
        return "connection reset", False
    if isinstance(exc, http.client.HTTPException):
        return "not a valid HTTP answer", False
    return "connection failed", False


def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    timeout: float,
    policy: TargetPolicy,
    resolve=resolve_host,
    context: ssl.SSLContext | None = None,
) -> int:
    """POST ``body`` to ``url`` within the policy; the 2xx status, or SendFailed. A 3xx is a
    failure (redirects are not followed), as is a 4xx other than 408/429 (both permanent)."""
    try:
        target = check_url(url, policy, resolve)
    except TargetRefused as exc:
        raise SendFailed(f"refused by policy: {exc}", permanent=True) from None
    if target.scheme == "https":
        conn = http.client.HTTPSConnection(
            target.host, target.port, timeout=timeout, context=context or _default_context()
        )
    else:
        conn = http.client.HTTPConnection(target.host, target.port, timeout=timeout)
    conn._create_connection = _connector(target.addresses, target.port)
    try:
        conn.request(
            "POST",
            target.path,
            body=body,
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": "ocop-notifications/1",
                **headers,
            },
        )
        response = conn.getresponse()
        status = response.status
        retry_after = _retry_after(response.getheader("Retry-After"))
        response.read(1024)  # the answer is not ours to keep
    except (OSError, http.client.HTTPException, UnicodeError) as exc:
        reason, permanent = _reason(exc)
        raise SendFailed(reason, permanent=permanent) from None
    finally:
        conn.close()
    if 200 <= status < 300:
        return status
    try:
        words = f"HTTP {status} {HTTPStatus(status).phrase}"
    except ValueError:
        words = f"HTTP {status}"
    if 300 <= status < 400:
        raise SendFailed(f"{words} (redirects are not followed)", status=status, permanent=True)
    permanent = 400 <= status < 500 and status not in (408, 429)
    raise SendFailed(words, status=status, permanent=permanent, retry_after=retry_after)


@lru_cache(maxsize=1)
def _default_context() -> ssl.SSLContext:
    """The system's trusted CAs, certificate and host name checked (loaded once)."""
    return ssl.create_default_context()


def _retry_after(value: str | None) -> float | None:
    try:
        return min(max(float(value), 0.0), 3600.0) if value else None
    except ValueError:
        return None
