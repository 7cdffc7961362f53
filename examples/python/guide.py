#!/usr/bin/env python3
"""Can the router forward this port? If it says no, print how to do it by hand.

Run it once when setting up a server. pfwd asks the router to forward the
port; when it may, the script says so and takes the forwarding back (use
forward.py or keep.py to hold it). When no method may (UPnP and NAT-PMP
switched off, a refused port, a router that forwards only to the machine
that asks), pfwd raises ``pfwd.ManualForwardingRequired``, whose
``.instructions`` are the steps for this router: printed here as text, and
written as Markdown with ``--markdown FILE``.

    python3 guide.py 8080
    python3 guide.py 32400 --to 192.168.1.20 --markdown plex-guide.md

Exit status: 0 when the router forwards the port, 3 when it must be done
by hand (as the C example), 1 on other errors.
"""

import argparse
import signal
import sys

import pfwd


def stop(signum: int, frame: object) -> None:
    raise SystemExit(1)  # pfwd removes whatever the interrupted call made


def main() -> int:
    parser = argparse.ArgumentParser(description="Ask the router, or print the manual guide.")
    parser.add_argument("port", help="a port number or a service name (ssh, http, minecraft, ...)")
    parser.add_argument("--to", help="the server's LAN address (default: this machine)")
    parser.add_argument("--markdown", metavar="FILE", help="also write the guide as Markdown to FILE")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    try:
        fwd = pfwd.forward(args.port, to=args.to, keep=False, description="guide.py")
    except pfwd.ManualForwardingRequired as e:
        print(e.instructions)
        if args.markdown:
            with open(args.markdown, "w", encoding="utf-8") as f:
                f.write(e.instructions.markdown)
        return 3
    with fwd:  # leaving it takes the forwarding back
        for mapping in fwd.mappings:
            print(f"the router forwards it: {mapping}")
    print("taken back: run forward.py or keep.py to hold it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
