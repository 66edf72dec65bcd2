"""``python -m bench``: every benchmark of issue #8 (see bench/run.py)."""

import sys

from bench.run import main

sys.exit(main())
