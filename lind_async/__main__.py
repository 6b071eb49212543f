"""``python -m lind_async``."""

import sys

from lind_async.cli import main

sys.exit(main())
