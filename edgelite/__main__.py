"""``python -m edgelite`` runs the command line."""

import sys

from edgelite.cli import main

sys.exit(main())
