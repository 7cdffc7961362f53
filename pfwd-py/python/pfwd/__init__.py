"""pfwd: make a server on your home network reachable from the internet.

    import pfwd

    with pfwd.forward(8080) as fwd:          # PCP, NAT-PMP or UPnP-IGD
        print("reachable at", fwd.mapping.external)
        serve_forever()                      # renewed while open, removed on exit

When the router cannot be asked, ``pfwd.ManualForwardingRequired`` carries
``.instructions``: how to do it by hand on this router. ``pfwd.check(8080,
via="http://PROBER:8099")`` says whether the port is really reachable from
the internet, and why not. ``pfwd.aio`` is the same for asyncio. The work
is done by the Rust library pfwd-core.
"""

from __future__ import annotations

import atexit

from . import _pfwd
from ._errors import (
    CancelledError,
    ClosedError,
    ConflictError,
    Error,
    GatewayCode,
    GatewayTimeoutError,
    Holder,
    InvalidRequestError,
    InvalidResponseError,
    ManualForwardingRequired,
    NetworkError,
    NoGatewayError,
    RefusedError,
    UnsupportedError,
    WouldDeadlockError,
    ProberError,
)
from ._check import CheckReport, Diagnosis
from ._events import (
    Checked,
    TakenOver,
    Closed,
    CloseReport,
    Event,
    ExternalAddressChanged,
    Failed,
    Lost,
    Mapped,
    Missed,
    Removed,
    Renewed,
    Restored,
    Warning,
)
from ._sync import Client, Forwarding, Request, check, forward, request
from ._types import (
    Discovery,
    ErrorKind,
    Family,
    GatewayMapping,
    Instructions,
    Mapping,
    Method,
    MethodStatus,
    Protocol,
)

__version__: str = _pfwd.__version__

__all__ = [
    "forward",
    "check",
    "request",
    "Forwarding",
    "Client",
    "Request",
    "Mapping",
    "GatewayMapping",
    "Instructions",
    "Discovery",
    "MethodStatus",
    "CheckReport",
    "Diagnosis",
    "Protocol",
    "Family",
    "Method",
    "ErrorKind",
    "Error",
    "NoGatewayError",
    "UnsupportedError",
    "RefusedError",
    "ConflictError",
    "GatewayTimeoutError",
    "InvalidRequestError",
    "InvalidResponseError",
    "NetworkError",
    "ManualForwardingRequired",
    "CancelledError",
    "ClosedError",
    "WouldDeadlockError",
    "ProberError",
    "GatewayCode",
    "Holder",
    "Event",
    "Mapped",
    "Renewed",
    "Lost",
    "Restored",
    "ExternalAddressChanged",
    "Failed",
    "Warning",
    "Removed",
    "Missed",
    "Checked",
    "TakenOver",
    "Closed",
    "CloseReport",
    "parse_port",
    "shutdown",
]


def parse_port(port_or_service: "int | str") -> "tuple[int, str | None, list[Protocol]]":
    """``"http"`` -> ``(80, "http", [Protocol.TCP])``: the port, the service
    and its protocols, as the core knows them."""
    from ._args import port_text

    port, service, protocols = _pfwd.parse_port(port_text(port_or_service, "port_or_service"))
    return port, service, [Protocol(p) for p in protocols]


def shutdown() -> int:
    """Remove every mapping every open ``Forwarding`` of this process holds
    (runs at exit); returns how many keepers were closed."""
    return _pfwd.shutdown()


atexit.register(_pfwd.shutdown)
