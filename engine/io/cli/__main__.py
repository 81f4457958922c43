"""`python -m engine.io.cli` (as when the CLI was one module)."""

import sys

from . import main

sys.exit(main())
