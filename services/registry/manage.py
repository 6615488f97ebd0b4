"""Management commands of the registry service (see shared/manage.py)."""

import sys
from pathlib import Path

from shared.manage import main

if __name__ == "__main__":
    sys.exit(main("registry", Path(__file__).parent, sys.argv[1:]))
