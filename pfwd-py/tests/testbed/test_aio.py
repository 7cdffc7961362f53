"""pfwd.aio against miniupnpd with PCP, NAT-PMP and UPnP on."""

from __future__ import annotations

import asyncio
from typing import List

import pytest

import pfwd
import pfwd.aio
from conftest import reaches, router_list

pytestmark = pytest.mark.usefixtures("wait_empty")


async def test_async_with_forward_is_proven_by_bytes_and_removed() -> None:
    async with pfwd.aio.forward(8080, lease=600) as fwd:
        assert fwd.mapping.method is pfwd.Method.PCP
        assert await asyncio.to_thread(reaches, "tcp", fwd.mapping.external_port, 8080)
        events = fwd.events(timeout=3)
        first = await events.__anext__()
        assert isinstance(first, pfwd.Mapped)
    assert await asyncio.to_thread(router_list) == ""


async def test_cancelling_the_task_removes_the_mapping() -> None:
    mapped = asyncio.Event()

    async def serve() -> None:
        async with pfwd.aio.forward(8081, lease=600):
            mapped.set()
            await asyncio.sleep(60)

    task = asyncio.create_task(serve())
    await asyncio.wait_for(mapped.wait(), 10)
    assert "8081" in await asyncio.to_thread(router_list)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(router_list) == ""


async def test_the_async_client_parts() -> None:
    client = await pfwd.aio.Client.discover()
    assert client.discovery().answered[0] is pfwd.Method.PCP
    assert str(await client.external_address()) == "5.5.5.7"
    m = await client.map(8082, protocol="udp", lease=600)
    assert m.protocol is pfwd.Protocol.UDP
    assert (await client.renew(m)).external_port == m.external_port
    assert any(g.external_port == m.external_port for g in await client.list())
    assert await asyncio.to_thread(reaches, "udp", m.external_port, 8082)
    await client.unmap(m)
    assert "port 80" in str(await client.guide(80))


async def test_await_forward_keep_false_and_on_event() -> None:
    once = await pfwd.aio.forward(8083, lease=600, keep=False)
    await once.close()
    seen: List[pfwd.Event] = []
    async with pfwd.aio.forward(8084, lease=600, on_event=seen.append):
        for _ in range(60):
            if seen:
                break
            await asyncio.sleep(0.05)
    assert isinstance(seen[0], pfwd.Mapped)


async def test_the_loop_runs_while_calls_wait() -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.001)

    t = asyncio.create_task(ticker())
    client = await pfwd.aio.Client.discover()
    maps = await asyncio.gather(*(client.map(9200 + i, lease=600) for i in range(8)))
    for m in maps:
        await client.unmap(m)
    t.cancel()
    assert ticks > 0 and len({m.external_port for m in maps}) == 8
