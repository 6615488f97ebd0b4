"""Management commands of the events service (see shared/manage.py)."""

import sys
from pathlib import Path

from shared.manage import main

if __name__ == "__main__":
    sys.exit(main("events", Path(__file__).parent, sys.argv[1:]))
