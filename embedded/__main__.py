"""``python -m embedded``: the whole platform in one process, with demo data and a mail sink."""

from __future__ import annotations

import argparse
import signal
import sys

from shared import config, signing
from shared.auth import issue_token


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m embedded", description=__doc__)
    parser.add_argument("--no-demo", action="store_true", help="start without loading demo data")
    args = parser.parse_args(argv)
    from .host import Host

    host = Host().start(demo=not args.no_demo)
    secret = signing.private_key(host.runtimes["registry"].settings)  # the registry issues tokens
    urls = host.urls()
    print("\nOCOP trade-promotion platform, embedded default: one process, embedded broker, SQLite.")
    print(f"  console (one origin): {urls['console']}/   (all three services by path: /registry, /events,")
    print("                        /notifications, answer links /r/...; docs/console.md)")
    print(f"  mailbox, SMS (dev)  : {urls['console']}/dev/   (or: python -m embedded.mail)")
    for name in config.SERVICES:
        print(f"  {name:20}: {urls[name]}   OpenAPI {urls[name]}/openapi.json")
    print(f"  SMTP sink           : 127.0.0.1:{host.runtimes['notifications'].settings.smtp_port}")
    if host.smsbox is not None:
        print(
            f"  SMS sink (gateway)  : {host.runtimes['notifications'].settings.sms_gateway_url}"
            "   (or: python -m embedded.sms)"
        )
    print(f"  data                : {config.data_dir()}")
    if getattr(host, "accounts", None):
        print(f"  console accounts (sign in at {urls['console']}/registry/console/sign-in):")
        for role, email, password, scope in host.accounts:
            print(f"    {role:17} {email:28} {password}   {scope}")
    print("  tokens for 12 hours (Authorization: Bearer ...; more: python -m shared.auth ROLE):")
    for role in ("registry_officer", "trade_officer"):
        print(f"    {role:17} {issue_token(secret, role, f'demo-{role}')}")
    print("  Try: publish a demo fair, then open the mailbox:")
    print(f"    curl -s {urls['events']}/fairs/<id>/publish -X POST -H 'Authorization: Bearer <trade_officer token>'")
    print("  Ctrl+C stops.\n", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: host.stop.set())
    try:
        host.stop.wait()
    except KeyboardInterrupt:
        pass
    host.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
