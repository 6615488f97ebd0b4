"""The fuzz test's platform, in a process of its own (``python tests/integration/fuzz_host.py``):
the embedded Host on the data dir, databases and broker URL its environment names (see
``test_fuzz.py``), with no way out to the network.

Whatever a fuzzer makes it do (a webhook to a public address, an email to any domain), nothing
leaves this machine: host names other than ``localhost`` do not resolve, and sockets connect to
loopback addresses only (the SMTP and SMS sinks, RabbitMQ, PostgreSQL); anything else is refused
as a closed port would. It prints its URLs as one JSON line, then runs until its standard input
closes."""

from __future__ import annotations

import ipaddress
import json
import socket
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def _loopback(host) -> bool | None:
    """True/False for an address, None for a name."""
    name = host.decode() if isinstance(host, bytes) else str(host)
    try:
        return ipaddress.ip_address(name.split("%", 1)[0]).is_loopback
    except ValueError:
        return None


def no_outbound() -> None:
    real_getaddrinfo = socket.getaddrinfo
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def getaddrinfo(host, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else host
        if name is not None and _loopback(name) is None and name.lower() != "localhost":
            raise socket.gaierror(socket.EAI_NONAME, "no name resolution on the fuzz platform")
        return real_getaddrinfo(host, *args, **kwargs)

    def allowed(sock, address) -> bool:
        return sock.family not in (socket.AF_INET, socket.AF_INET6) or _loopback(address[0]) is True

    def connect(sock, address):
        if not allowed(sock, address):
            raise ConnectionRefusedError(111, "no outbound connections from the fuzz platform")
        return real_connect(sock, address)

    def connect_ex(sock, address):
        return real_connect_ex(sock, address) if allowed(sock, address) else 111

    socket.getaddrinfo = getaddrinfo
    socket.socket.connect = connect
    socket.socket.connect_ex = connect_ex


def main() -> None:
    no_outbound()
    from embedded.host import Host

    host = Host().start(demo=False)
    print(json.dumps(host.urls()), flush=True)
    try:
        sys.stdin.read()  # until the test closes our input (or dies)
    finally:
        host.shutdown()


if __name__ == "__main__":
    main()
