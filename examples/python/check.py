#!/usr/bin/env python3
"""Is the port really reachable from the internet? Have a prober outside try.

A router that says "forwarded" proves nothing: a second NAT at the
provider, a blocked port or a firewall all look fine from home. A prober
is a machine outside your network (a rented server, a friend's Pi) that
runs ``pfwd probe-server --listen 0.0.0.0:8099``; it connects to the
address your network has on the internet and sends a one-time token. When
the token comes back to this machine, the path is proven.

    python3 check.py 8080 http://203.0.113.5:8099
    python3 check.py ssh http://vps.example.net:8099
    PFWD_PROBER=http://203.0.113.5:8099 python3 check.py 8080

The forwarding is not made here: run keep.py (or ``pfwd run``) for it. A
server already listening on the port answers in pfwd's place: reachable,
but not proven to be this machine (stop it for a proof). Exit status: 0
when it is reachable (for a service of TCP and UDP: both), 1 otherwise.
"""

import argparse
import os
import signal
import sys

import pfwd


def stop(signum: int, frame: object) -> None:
    raise SystemExit(1)


def main() -> int:
    parser = argparse.ArgumentParser(description="Check a port from outside, with a prober.")
    parser.add_argument("port", help="a port number or a service name (ssh, http, minecraft, ...)")
    parser.add_argument("prober", nargs="?", default=os.environ.get("PFWD_PROBER"), help="http://HOST:PORT")
    args = parser.parse_args()
    if not args.prober:
        parser.error("give the prober's address (http://HOST:PORT), or set PFWD_PROBER")
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    try:
        reports = pfwd.check(args.port, via=args.prober)
    except pfwd.ProberError as e:
        sys.exit(f"the prober did not help: {e}")
    for report in reports:
        protocol, outside = report.facts["protocol"].upper(), report.facts["external_port"]
        proof = "proven" if report.verified else "not proven"
        print(f"{protocol} port {outside}: {report.diagnosis} ({proof})")
        print(f"  {report.explanation}")
    return 0 if all(r.reachable for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
