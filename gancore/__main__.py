"""Entry point of `python -m gancore`."""

import sys

from gancore.cli import main

sys.exit(main())
