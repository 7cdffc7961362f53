#!/usr/bin/env python3
"""Serve a small web page and make it reachable from the internet.

pfwd asks the router to forward the port to this machine (by PCP, NAT-PMP
or UPnP-IGD, whichever it answers), renews the lease while the page is
served, and removes the forwarding when the script stops: on Ctrl-C, on
SIGTERM (``systemctl stop``), or when something fails.

    python3 forward.py            # port 8080
    python3 forward.py 8000       # or: PFWD_PORT=8000 python3 forward.py

Then open the printed address from outside your network (a phone on
mobile data). When the router cannot be asked, pfwd raises
``pfwd.ManualForwardingRequired``: see guide.py.
"""

import http.server
import os
import signal
import sys

import pfwd


class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"Hello from a home server, forwarded by pfwd.\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def stop(signum: int, frame: object) -> None:
    raise SystemExit(0)  # leaves the with block, which removes the forwarding


def main() -> None:
    port = int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("PFWD_PORT", "8080"))
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    server = http.server.ThreadingHTTPServer(("", port), Hello)
    with server, pfwd.forward(port, description="forward.py") as fwd:
        print(f"serving at http://{fwd.mapping.external}/ (Ctrl-C to stop)", flush=True)
        server.serve_forever()


if __name__ == "__main__":
    main()
