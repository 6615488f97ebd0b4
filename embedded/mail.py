"""Read the embedded mailbox: ``python -m embedded.mail`` lists, ``python -m embedded.mail ID`` shows one."""

from __future__ import annotations

import sys

from shared.config import data_dir

from .mailsink import Mailbox


def main(argv: list[str]) -> int:
    box = Mailbox(data_dir() / "mailbox.sqlite")
    if not argv:
        for mail_id, at, rcpt, subject in box.list():
            print(f"{mail_id:5}  {at[:19]}  {rcpt:40}  {subject}")
        return 0
    msg = box.get(int(argv[0]))
    if msg is None:
        print(f"no mail {argv[0]}", file=sys.stderr)
        return 1
    print(f"From: {msg['From']}\nTo: {msg['To']}\nSubject: {msg['Subject']}\n")
    print(msg.get_body(preferencelist=("plain",)).get_content())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
