"""``python -m xroute.testing``: run the mock gateway (same as ``python -m xroute mock``)."""

import sys

from ._cli import main

sys.exit(main(prog="python -m xroute.testing"))
