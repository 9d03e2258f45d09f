"""``python -m crossbound`` runs the command line."""

import sys

from crossbound.cli import main

sys.exit(main())
