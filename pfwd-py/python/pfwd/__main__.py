"""``python -m pfwd``: the ``pfwd`` command."""

import sys

from ._cli import main

sys.exit(main())
