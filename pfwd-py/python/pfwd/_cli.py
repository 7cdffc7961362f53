"""The ``pfwd`` command installed by the wheel: the Rust command itself."""

from __future__ import annotations

import signal
import sys
from typing import List, Optional

from . import _pfwd


def main(argv: Optional[List[str]] = None) -> int:
    """Run ``pfwd`` (``pfwd_cli::run``) and exit with its code.

    Python's own SIGINT handler would turn Ctrl-C into a KeyboardInterrupt
    that nobody sees while Rust runs; the default handlers are restored so
    that the command's own (tokio) signal handling works as in the binary.
    """
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)
    code = _pfwd.run_cli(list(sys.argv if argv is None else argv))
    sys.stdout.flush()
    return code


if __name__ == "__main__":
    sys.exit(main())
