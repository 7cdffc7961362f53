"""pfwd for asyncio: the same shape as the blocking API, with awaitables.

Each call runs on pfwd's own runtime and never blocks the event loop;
cancelling the task cancels the call, and the core removes whatever it made.

    async with await pfwd.aio.forward(8080) as fwd:
        print(fwd.mapping.external)
        async for event in fwd.events():
            print(event)
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
from typing import AsyncIterator, Awaitable, Callable, Generator, Iterable, List, Optional, Sequence, Union

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
from ._sync import Request, Timeout, _mapping_json
from ._types import Discovery, GatewayMapping, Instructions, Mapping, Method, Protocol

__all__ = ["forward", "check", "Forwarding", "Client"]

EventCallback = Callable[[Event], Union[None, Awaitable[None]]]


class Forwarding:
    """Mappings held open (``async with``): renewed while open, removed on exit."""

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
        self._task: Optional["asyncio.Task[None]"] = None
        if keeper is not None and on_event is not None:
            self._task = asyncio.get_running_loop().create_task(self._deliver(on_event))

    async def _deliver(self, on_event: EventCallback) -> None:
        async for event in self._events(None):
            result = on_event(event)
            if asyncio.iscoroutine(result):
                await result

    @property
    def client(self) -> "Client":
        """The client that made the mappings."""
        return self._client

    @property
    def mappings(self) -> List[Mapping]:
        """The mappings held now."""
        if self._keeper is None or self._closed:
            return list(self._initial)
        return [Mapping._from_core(m) for _, m in sorted(self._keeper.mappings())] or list(self._initial)

    @property
    def mapping(self) -> Mapping:
        """The first mapping."""
        return self.mappings[0]

    async def _events(self, timeout: Optional[float]) -> AsyncIterator[Event]:
        if self._keeper is None:
            return
        while True:
            try:
                text = await _pfwd.AsyncClient.next_event(self._keeper, timeout if timeout is not None else 1.0)
            except ClosedError:
                return
            if text is None:
                if timeout is not None:
                    return
                continue
            event = _event(text)
            yield event
            if isinstance(event, Closed):
                return

    def events(self, timeout: Timeout = None) -> AsyncIterator[Event]:
        """The keeper's events as an async iterator, ending after ``Closed``
        (or when none came within ``timeout``). Not with ``on_event``."""
        if self._task is not None:
            raise RuntimeError("the events go to on_event; pass on_event=None to iterate them")
        return self._events(timeout_seconds(timeout))

    async def close(self, timeout: Timeout = None) -> Optional[CloseReport]:
        """Remove the mappings; the report (``None`` for ``keep=False``)."""
        if self._closed:
            return self._report
        self._closed = True
        if self._keeper is not None:
            text = await _pfwd.AsyncClient.close_keeper(self._keeper, timeout_seconds(timeout))
            self._report = _report_from_json(text)
        else:
            for m in self._initial:
                await self._client.unmap(m, timeout=timeout)
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        return self._report

    async def __aenter__(self) -> "Forwarding":
        return self

    async def __aexit__(self, *exc: object) -> None:
        # Cleanup must finish even when the task is being cancelled.
        await asyncio.shield(self.close())


class Client:
    """A client whose calls are awaitables; from ``await Client.discover()``."""

    def __init__(self, native: _pfwd.AsyncClient) -> None:
        self._native = native

    @classmethod
    async def discover(
        cls,
        *,
        methods: Optional[Iterable[Union[str, Method]]] = None,
        gateway: Optional[HostLike] = None,
        timeout: Timeout = None,
    ) -> "Client":
        """Probe every method at once."""
        _pfwd.install_logger()
        native = await _pfwd.AsyncClient.discover(methods_list(methods), gateway_text(gateway), timeout_seconds(timeout))
        return cls(native)

    def discovery(self) -> Discovery:
        """What each method answered."""
        return Discovery._from_json(self._native.discovery())

    async def map(
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
        """Map one port with the best method."""
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
            raise ValueError("map() makes one mapping: give protocol='tcp' or 'udp', or use forward()")
        return Mapping._from_core(await self._native.map(reqs[0], timeout_seconds(timeout)))

    async def renew(self, mapping: Mapping, *, timeout: Timeout = None) -> Mapping:
        """Renew a mapping."""
        return Mapping._from_core(await self._native.renew(_mapping_json(mapping), timeout_seconds(timeout)))

    async def unmap(self, mapping: Mapping, *, timeout: Timeout = None) -> None:
        """Delete a mapping."""
        await self._native.unmap(_mapping_json(mapping), timeout_seconds(timeout))

    async def list(self, *, timeout: Timeout = None) -> List[GatewayMapping]:
        """The router's mappings (UPnP only)."""
        text = await self._native.list(timeout_seconds(timeout))
        return [GatewayMapping._from_dict(d) for d in json.loads(text)]

    async def external_address(self, *, timeout: Timeout = None) -> ipaddress.IPv4Address:
        """The router's internet address."""
        return ipaddress.IPv4Address(await self._native.external_address(timeout_seconds(timeout)))

    async def check(
        self,
        port_or_service: Union[PortLike, Mapping],
        *,
        to: Optional[HostLike] = None,
        protocol: Optional[Union[str, Protocol]] = None,
        external: Optional[PortLike] = None,
        via: Optional[str] = None,
        timeout: Timeout = None,
    ) -> List[CheckReport]:
        """Is it reachable from the internet? One report per protocol; see
        ``pfwd.check``. Asks this client's router."""
        reqs = check_requests(port_or_service, to=to, protocol=protocol, external=external)
        prober, wait = prober_text(via, "via"), timeout_seconds(timeout)
        return [CheckReport.from_json(await self._native.check(r, prober, wait)) for r in reqs]

    async def guide(
        self,
        port_or_service: PortLike,
        *,
        to: Optional[HostLike] = None,
        protocol: Optional[Union[str, Protocol]] = None,
        external: Optional[PortLike] = None,
        family: Optional[FamilyLike] = None,
        timeout: Timeout = None,
    ) -> Instructions:
        """How to forward this port by hand (``family="ipv6"``: how to open
        it in the router's IPv6 firewall)."""
        reqs = requests(port_or_service, to=to, protocol=protocol, external=external, family=family)
        return Instructions(*await self._native.guide(reqs, timeout_seconds(timeout)))

    def keep(
        self,
        items: Sequence[Union[Mapping, Request]],
        *,
        on_event: Optional[EventCallback] = None,
        check_interval: Timeout = None,
        check_via: Optional[str] = None,
    ) -> Forwarding:
        """Keep several mappings alive (starting does not wait); with
        ``check_via``, each is checked from outside once held (``Checked``)."""
        prober = prober_text(check_via, "check_via")
        reqs: List[Optional[Request]] = []
        held: List[Optional[str]] = []
        for item in items:
            if isinstance(item, Mapping):
                reqs.append(None)
                held.append(item.to_json())
            else:
                reqs.append(item)
                held.append(None)
        keeper = self._native.keep(reqs, held, timeout_seconds(check_interval), prober)
        return Forwarding(self, [i for i in items if isinstance(i, Mapping)], keeper, on_event)


class _Forward:
    """``forward()``'s result: awaitable (``await forward(...)``) and an async
    context manager (``async with forward(...) as fwd``)."""

    def __init__(self, make: Callable[[], Awaitable[Forwarding]]) -> None:
        self._make = make
        self._made: Optional[Forwarding] = None

    def __await__(self) -> Generator[object, None, Forwarding]:
        return self._make().__await__()

    async def __aenter__(self) -> Forwarding:
        self._made = await self._make()
        return self._made

    async def __aexit__(self, *exc: object) -> None:
        if self._made is not None:
            await self._made.__aexit__(*exc)


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
) -> _Forward:
    """``pfwd.forward`` for asyncio: ``async with pfwd.aio.forward(8080) as fwd``
    or ``fwd = await pfwd.aio.forward(8080, keep=False)``. Arguments are
    checked at once (``TypeError``/``ValueError``), before anything is sent."""
    prober = prober_text(check_via, "check_via")
    if prober is not None and not keep:
        raise ValueError("check_via needs keep=True: the keeper runs the check; or use pfwd.aio.check()")
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
    meth, gw, wait = methods_list(methods), gateway_text(gateway), timeout_seconds(timeout)

    async def make() -> Forwarding:
        _pfwd.install_logger()
        native, made = await _pfwd.AsyncClient.forward(reqs, meth, gw, wait)
        client = Client(native)
        mappings = [Mapping._from_core(m) for m in made]
        if not keep:
            return Forwarding(client, mappings, None)
        try:
            keeper = native.keep(list(reqs), [m.to_json() for m in mappings], None, prober)
        except BaseException:
            for m in mappings:
                await native.unmap(m.to_json(), None)
            raise
        return Forwarding(client, mappings, keeper, on_event)

    return _Forward(make)


async def check(
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
    """``pfwd.check`` for asyncio: one ``CheckReport`` per protocol.
    Cancelling the task cancels the check."""
    reqs = check_requests(port_or_service, to=to, protocol=protocol, external=external)
    prober = prober_text(via, "via")
    meth, gw, wait = methods_list(methods), gateway_text(gateway), timeout_seconds(timeout)
    _pfwd.install_logger()
    texts = await _pfwd.check_async(list(reqs), prober, meth, gw, wait)
    return [CheckReport.from_json(t) for t in texts]
