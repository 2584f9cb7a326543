"""``python -m rosenblatt.cli``."""

import sys

from .main import main

sys.exit(main())
