"""The blocking API: ``forward``, ``Forwarding`` and ``Client``.

Every call runs in the core with the GIL released; Ctrl-C stops a waiting
call within about 100 ms, and the core removes whatever the call made.
"""

from __future__ import annotations

import ipaddress
import json
import threading
from datetime import timedelta
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Union

from . import _pfwd
from ._args import (
    FamilyLike,
    HostLike,
    LeaseLike,
    PortLike,
    check_requests,
    gateway_text,
    methods_list,
    prober_text,
    requests,
    timeout_seconds,
)
from ._check import CheckReport
from ._errors import ClosedError
from ._events import CloseReport, Closed, Event, _event, _report_from_json
from ._types import Discovery, GatewayMapping, Instructions, Mapping, Method, Protocol

__all__ = ["forward", "check", "Forwarding", "Client", "Request", "request"]

Request = _pfwd.Request
Timeout = Optional[Union[int, float, timedelta]]
EventCallback = Callable[[Event], None]


def request(
    port_or_service: PortLike,
    *,
    to: Optional[HostLike] = None,
    protocol: Optional[Union[str, Protocol]] = None,
    external: Optional[PortLike] = None,
    exact: bool = False,
    lease: Optional[LeaseLike] = None,
    permanent: bool = False,
    description: Optional[str] = None,
    family: Optional[FamilyLike] = None,
) -> List[Request]:
    """The requests (one per protocol) for these arguments, checked, for
    ``Client.keep``; nothing is sent."""
    return requests(
        port_or_service,
        to=to,
        protocol=protocol,
        external=external,
        exact=exact,
        lease=lease,
        permanent=permanent,
        description=description,
        family=family,
    )


class Forwarding:
    """Mappings held open: renewed while open, removed by ``close()`` or on
    leaving the ``with`` block (also when it raises, or on Ctrl-C)."""

    def __init__(
        self,
        client: "Client",
        mappings: List[Mapping],
        keeper: Optional[_pfwd.Keeper],
        on_event: Optional[EventCallback] = None,
    ) -> None:
        self._client = client
        self._initial = mappings
        self._keeper = keeper
        self._report: Optional[CloseReport] = None
        self._closed = False
        self._lock = threading.Lock()
        self._thread: Optional[threading.Thread] = None
        if keeper is not None and on_event is not None:
            self._thread = threading.Thread(
                target=self._deliver, args=(keeper, on_event), name="pfwd-on-event", daemon=True
            )
            self._thread.start()

    @staticmethod
    def _deliver(keeper: _pfwd.Keeper, on_event: EventCallback) -> None:
        while True:
            try:
                text = keeper.next_event(1.0)
            except ClosedError:
                return
            if text is None:
                continue
            try:
                on_event(_event(text))
            except Exception:  # a callback's error must not stop the events
                import logging  # only here: `import pfwd` stays light

                logging.getLogger("pfwd").exception("pfwd: the on_event callback raised")

    @property
    def client(self) -> "Client":
        """The client that made the mappings."""
        return self._client

    @property
    def mappings(self) -> List[Mapping]:
        """The mappings held now (as renewed; the first ones when not kept)."""
        if self._keeper is None or self._closed:
            return list(self._initial)
        held = self._keeper.mappings()
        return [Mapping._from_core(m) for _, m in sorted(held)] or list(self._initial)

    @property
    def mapping(self) -> Mapping:
        """The first mapping (the only one for a single protocol)."""
        return self.mappings[0]

    def add(self, request: Request) -> int:
        """Keep one more request (from ``pfwd.request``); its index. Mapping
        starts at once; a ``Mapped`` or ``Failed`` event tells how it went."""
        if self._keeper is None:
            raise ValueError("this Forwarding was made with keep=False: it keeps nothing")
        return self._keeper.add(request)

    def remove(self, index: int, *, timeout: Timeout = None) -> Optional[Mapping]:
        """Stop keeping item ``index`` and delete its mapping (returned, if one was held)."""
        if self._keeper is None:
            raise ValueError("this Forwarding was made with keep=False: it keeps nothing")
        text = self._keeper.remove(index, timeout_seconds(timeout))
        return None if text is None else Mapping._from_core(text)

    def events(self, timeout: Timeout = None) -> Iterator[Event]:
        """The keeper's events as they come, ending after ``Closed``; with a
        ``timeout``, also when none came that long. Not with ``on_event``."""
        if self._keeper is None:
            return
        if self._thread is not None:
            raise RuntimeError("the events go to on_event; pass on_event=None to iterate them")
        wait = timeout_seconds(timeout)
        while True:
            try:
                text = self._keeper.next_event(wait if wait is not None else 3600.0)
            except ClosedError:
                return
            if text is None:
                if wait is not None:
                    return
                continue
            event = _event(text)
            yield event
            if isinstance(event, Closed):
                return

    def close(self, timeout: Timeout = None) -> Optional[CloseReport]:
        """Remove the mappings; what was deleted and what is left (a second
        call returns the same). A mapping made with ``keep=False`` is
        unmapped directly (the report is then ``None``)."""
        with self._lock:
            if self._closed:
                return self._report
            self._closed = True
            if self._keeper is not None:
                self._report = _report_from_json(self._keeper.close(timeout_seconds(timeout)))
            else:
                for m in self._initial:
                    self._client.unmap(m, timeout=timeout)
        if self._thread is not None:
            self._thread.join(timeout=5)
        return self._report

    def __enter__(self) -> "Forwarding":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<pfwd.Forwarding {state}: {', '.join(str(m) for m in self._initial)}>"


class Client:
    """A client for the router, from ``Client.discover()``; threads may share one."""

    def __init__(self, native: _pfwd.Client) -> None:
        self._native = native

    @classmethod
    def discover(
        cls,
        *,
        methods: Optional[Iterable[Union[str, Method]]] = None,
        gateway: Optional[HostLike] = None,
        timeout: Timeout = None,
    ) -> "Client":
        """Probe every method (or only ``methods``) at once."""
        _pfwd.install_logger()
        return cls(
            _pfwd.Client.discover(methods_list(methods), gateway_text(gateway), timeout_seconds(timeout))
        )

    def discovery(self) -> Discovery:
        """What each method answered; does not block."""
        return Discovery._from_json(self._native.discovery())

    def ipv6_status(self, *, timeout: Timeout = None) -> Dict[str, Any]:
        """What IPv6 offers this host, each method asked over IPv6 now:
        ``gateway`` (``local``: this host's global address, ``router``),
        ``unavailable`` (why there is no IPv6 to open pinholes on, else
        ``None``) and ``methods`` (PCP and UPnP, each with ``probe``)."""
        result: Dict[str, Any] = json.loads(self._native.ipv6_status(timeout_seconds(timeout)))
        return result

    def map(
        self,
        port_or_service: PortLike,
        *,
        to: Optional[HostLike] = None,
        protocol: Optional[Union[str, Protocol]] = None,
        external: Optional[PortLike] = None,
        exact: bool = False,
        lease: Optional[LeaseLike] = None,
        permanent: bool = False,
        description: Optional[str] = None,
        family: Optional[FamilyLike] = None,
        timeout: Timeout = None,
    ) -> Mapping:
        """Map one port with the best method; ``ManualForwardingRequired``
        with the guide when none can."""
        reqs = requests(
            port_or_service,
            to=to,
            protocol=protocol,
            external=external,
            exact=exact,
            lease=lease,
            permanent=permanent,
            description=description,
            family=family,
        )
        if len(reqs) != 1:
            raise ValueError(
                "map() makes one mapping and this is TCP and UDP: give protocol='tcp' or "
                "'udp', or use pfwd.forward() for both"
            )
        return Mapping._from_core(self._native.map(reqs[0], timeout_seconds(timeout)))

    def renew(self, mapping: Mapping, *, timeout: Timeout = None) -> Mapping:
        """Renew a mapping (same PCP nonce, same UPnP entry)."""
        return Mapping._from_core(self._native.renew(_mapping_json(mapping), timeout_seconds(timeout)))

    def unmap(self, mapping: Mapping, *, timeout: Timeout = None) -> None:
        """Delete a mapping by the method that made it."""
        self._native.unmap(_mapping_json(mapping), timeout_seconds(timeout))

    def list(self, *, timeout: Timeout = None) -> List[GatewayMapping]:
        """The router's mappings, every program's (UPnP only)."""
        return [GatewayMapping._from_dict(d) for d in json.loads(self._native.list(timeout_seconds(timeout)))]

    def external_address(self, *, timeout: Timeout = None) -> ipaddress.IPv4Address:
        """The router's internet address."""
        return ipaddress.IPv4Address(self._native.external_address(timeout_seconds(timeout)))

    def check(
        self,
        port_or_service: Union[PortLike, Mapping],
        *,
        to: Optional[HostLike] = None,
        protocol: Optional[Union[str, Protocol]] = None,
        external: Optional[PortLike] = None,
        via: Optional[str] = None,
        timeout: Timeout = None,
    ) -> List[CheckReport]:
        """Is it reachable from the internet? One report per protocol (a
        service may be TCP and UDP), in the order of ``pfwd.request``; see
        ``pfwd.check``. Asks this client's router."""
        reqs = check_requests(port_or_service, to=to, protocol=protocol, external=external)
        prober, wait = prober_text(via, "via"), timeout_seconds(timeout)
        return [CheckReport.from_json(self._native.check(r, prober, wait)) for r in reqs]

    def guide(
        self,
        port_or_service: PortLike,
        *,
        to: Optional[HostLike] = None,
        protocol: Optional[Union[str, Protocol]] = None,
        external: Optional[PortLike] = None,
        family: Optional[FamilyLike] = None,
        timeout: Timeout = None,
    ) -> Instructions:
        """How to forward this port by hand on this router (``family="ipv6"``:
        how to open it in the router's IPv6 firewall)."""
        reqs = requests(port_or_service, to=to, protocol=protocol, external=external, family=family)
        return Instructions(*self._native.guide(reqs, timeout_seconds(timeout)))

    def keep(
        self,
        items: Sequence[Union[Mapping, Request]],
        *,
        on_event: Optional[EventCallback] = None,
        check_interval: Timeout = None,
        check_via: Optional[str] = None,
    ) -> Forwarding:
        """Keep several mappings alive: granted ``Mapping``s are adopted,
        ``Request``s (from ``pfwd.request``) are made now. With
        ``check_via`` (a prober, ``http://HOST:PORT``), each is checked from
        outside once held and whenever restored: a ``Checked`` event."""
        prober = prober_text(check_via, "check_via")
        reqs: List[Optional[Request]] = []
        held: List[Optional[str]] = []
        for item in items:
            if isinstance(item, Mapping):
                reqs.append(None)
                held.append(item.to_json())
            elif isinstance(item, Request):
                reqs.append(item)
                held.append(None)
            else:
                raise TypeError(f"keep() takes Mapping or Request items, not {type(item).__name__}")
        keeper = self._native.keep(reqs, held, timeout_seconds(check_interval), prober)
        mappings = [i for i in items if isinstance(i, Mapping)]
        return Forwarding(self, mappings, keeper, on_event)


def _mapping_json(mapping: Mapping) -> str:
    if not isinstance(mapping, Mapping):
        raise TypeError(f"expected a pfwd.Mapping, not {type(mapping).__name__}")
    return mapping.to_json()


def forward(
    port_or_service: PortLike,
    *,
    to: Optional[HostLike] = None,
    protocol: Optional[Union[str, Protocol]] = None,
    external: Optional[PortLike] = None,
    exact: bool = False,
    lease: Optional[LeaseLike] = None,
    permanent: bool = False,
    description: Optional[str] = None,
    family: Optional[FamilyLike] = None,
    methods: Optional[Iterable[Union[str, Method]]] = None,
    gateway: Optional[HostLike] = None,
    keep: bool = True,
    timeout: Timeout = None,
    on_event: Optional[EventCallback] = None,
    check_via: Optional[str] = None,
) -> Forwarding:
    """Forward a port (or a service's ports) on the router to this host or ``to``.

    ``family="ipv6"`` (or an IPv6 ``to``) opens a pinhole in the router's
    IPv6 firewall for the host's own global address instead (by PCP or
    UPnP; the same port, nothing translated); the default is IPv4.
    Returns a ``Forwarding``: used as a context manager it keeps the mappings
    renewed while open and removes them on exit. With ``keep=False`` it maps
    once and returns (the mapping lasts its lease unless closed).
    With ``check_via`` (a prober, ``http://HOST:PORT``), the keeper checks
    each mapping from outside once held and whenever restored, and reports
    it as a ``Checked`` event.
    Raises ``ManualForwardingRequired`` (with ``.instructions``) when the
    router cannot be asked.
    """
    prober = prober_text(check_via, "check_via")
    if prober is not None and not keep:
        raise ValueError("check_via needs keep=True: the keeper runs the check; or use pfwd.check()")
    reqs = requests(
        port_or_service,
        to=to,
        protocol=protocol,
        external=external,
        exact=exact,
        lease=lease,
        permanent=permanent,
        description=description,
        family=family,
    )
    _pfwd.install_logger()
    native, made = _pfwd.Client.forward(reqs, methods_list(methods), gateway_text(gateway), timeout_seconds(timeout))
    client = Client(native)
    mappings = [Mapping._from_core(m) for m in made]
    if not keep:
        return Forwarding(client, mappings, None)
    try:
        keeper = native.keep(list(reqs), [m.to_json() for m in mappings], None, prober)
    except BaseException:
        for m in mappings:
            native.unmap(m.to_json(), None)
        raise
    return Forwarding(client, mappings, keeper, on_event)


def check(
    port_or_service: Union[PortLike, Mapping],
    *,
    to: Optional[HostLike] = None,
    protocol: Optional[Union[str, Protocol]] = None,
    external: Optional[PortLike] = None,
    via: Optional[str] = None,
    methods: Optional[Iterable[Union[str, Method]]] = None,
    gateway: Optional[HostLike] = None,
    timeout: Timeout = None,
) -> List[CheckReport]:
    """Is a port (or a service's ports, or a ``Mapping``) reachable from the internet?

    Returns one ``CheckReport`` per protocol (a service may be TCP and UDP),
    in the order of ``pfwd.request``. The core checks the LAN side and the
    router, then, with ``via`` (a prober, ``http://HOST:PORT``, that runs
    ``pfwd probe-server`` outside this network), has the prober probe the
    port with a one-time token. Without ``via`` the diagnosis is
    ``NOT_CHECKED``: pfwd never calls a port reachable without an outside
    probe. The router is found first (``methods``, ``gateway`` as for
    ``forward``), once for every protocol; a router that cannot be found
    does not stop the check.
    ``timeout`` is the most each check may take (15 s by default).

    Raises ``ProberError`` when the prober cannot be reached or refuses;
    ``TypeError``/``InvalidRequestError`` for bad arguments, before anything
    is sent.
    """
    reqs = check_requests(port_or_service, to=to, protocol=protocol, external=external)
    prober = prober_text(via, "via")
    meth, gw, wait = methods_list(methods), gateway_text(gateway), timeout_seconds(timeout)
    _pfwd.install_logger()
    return [CheckReport.from_json(t) for t in _pfwd.check(list(reqs), prober, meth, gw, wait)]
