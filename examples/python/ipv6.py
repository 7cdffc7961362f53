#!/usr/bin/env python3
"""Open a port of this machine to the internet over IPv6.

IPv6 has no NAT: this machine has a global address of its own, and the
router's firewall is what keeps the internet out. pfwd asks the router (by
PCP or UPnP IGDv2) to open a pinhole for this machine's address and port,
keeps it open while the script runs, and closes it on Ctrl-C or SIGTERM.

    python3 ipv6.py 8080          # or: PFWD_PORT=8080 python3 ipv6.py
    python3 ipv6.py 51820 udp     # WireGuard

Start the server itself on the port, listening on IPv6 (``[::]``).
"""

import os
import signal
import sys

import pfwd


def stop(signum: int, frame: object) -> None:
    raise SystemExit(0)  # leaves the with block, which closes the pinhole


def main() -> None:
    port = int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("PFWD_PORT", "8080"))
    protocol = sys.argv[2] if len(sys.argv) > 2 else "tcp"
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    with pfwd.forward(port, protocol=protocol, family="ipv6", description="ipv6.py") as fwd:
        print(f"open from the internet at {fwd.mapping.external} ({protocol})", flush=True)
        signal.pause()  # until Ctrl-C or SIGTERM; the pinhole is renewed meanwhile


if __name__ == "__main__":
    main()
