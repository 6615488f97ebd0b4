"""Read the embedded SMS sink: ``python -m embedded.sms`` lists the text messages the platform sent."""

from __future__ import annotations

import sys

from shared.config import data_dir

from .smssink import SmsBox


def main(argv: list[str]) -> int:
    box = SmsBox(data_dir() / "sms.sqlite")
    for sms_id, at, recipient, text, segments, encoding in reversed(box.list(int(argv[0]) if argv else 200)):
        print(f"{sms_id:5}  {at[:19]}  {recipient:14}  [{segments} {encoding}]  {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
