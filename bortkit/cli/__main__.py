"""`python -m bortkit.cli ...` runs the `bortkit` command."""

import sys

from bortkit.cli import main

sys.exit(main())
