"""``python -m brightstar_gui``."""

import sys

from .app import main

sys.exit(main())
