#!/usr/bin/env python3
"""Keep ports forwarded for servers that run on their own, and say what happens.

A long-running keeper, for a systemd service or a tmux window: it forwards
each port or service to this machine (or to ``--to``), renews the leases,
asks the router every ``--check-every`` seconds whether it still holds
them, and makes them again when the router lost them (it restarted, or
someone deleted them). Every event is printed with the time. Ctrl-C or
SIGTERM removes what it made.

    python3 keep.py ssh 8080 wireguard        # port numbers or service names
    python3 keep.py minecraft --check-every 60
    PFWD_CHECK_EVERY=10 python3 keep.py 25565

A port the router refuses is retried (a ``Failed`` event says why and when).
"""

import argparse
import os
import signal
import time

import pfwd


def say(text: str) -> None:
    print(time.strftime("%H:%M:%S"), text, flush=True)


def describe(event: pfwd.Event) -> str:
    if isinstance(event, pfwd.Mapped):
        return f"mapped {event.mapping}"
    if isinstance(event, pfwd.Renewed):
        return f"renewed {event.mapping}"
    if isinstance(event, pfwd.Lost):
        return f"lost {event.mapping.external} ({event.reason}); making it again"
    if isinstance(event, pfwd.Restored):
        return f"restored {event.mapping}"
    if isinstance(event, pfwd.ExternalAddressChanged):
        return f"the internet address changed from {event.old} to {event.new}"
    if isinstance(event, pfwd.Failed):
        return f"failed: {event.error}; trying again in {event.retry_in}"
    if isinstance(event, pfwd.Warning):
        return f"warning: {event.message}"
    return str(event)


def stop(signum: int, frame: object) -> None:
    raise SystemExit(0)  # ends the loop below; the finally block removes the mappings


def main() -> None:
    parser = argparse.ArgumentParser(description="Keep ports forwarded on the router.")
    parser.add_argument("ports", nargs="+", help="port numbers or service names (ssh, http, minecraft, ...)")
    parser.add_argument("--to", help="the server's LAN address (default: this machine)")
    parser.add_argument(
        "--check-every",
        type=float,
        default=float(os.environ.get("PFWD_CHECK_EVERY", "30")),
        help="seconds between asking the router whether it still holds the mappings (default 30)",
    )
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    # Check every argument before asking the router anything.
    requests = [r for port in args.ports for r in pfwd.request(port, to=args.to, description="keep.py")]
    client = pfwd.Client.discover()
    fwd = client.keep(requests, check_interval=args.check_every)
    try:
        for event in fwd.events():
            say(describe(event))
    finally:
        report = fwd.close()
        if report is not None:
            say(f"removed {len(report.deleted)} mapping(s)")
            for _, mapping, error in report.left:
                say(f"still on the router: {mapping.external} ({error})")


if __name__ == "__main__":
    main()
