"""A router that runs no port-mapping daemon, or a faulty or silent one of
the test's own (started in the router's namespace)."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

import pfwd
import pfwd.aio
from conftest import in_router

FAKES = Path(__file__).parent / "fakes.py"


@pytest.fixture
def silent() -> Iterator[None]:
    """A router that takes PCP and NAT-PMP requests and never answers."""
    p = in_router([sys.executable, str(FAKES), "silent"])
    yield
    p.kill()
    p.wait()


@pytest.fixture
def faulty() -> Iterator[None]:
    """A NAT-PMP router that answers its address and garbles every mapping answer."""
    p = in_router([sys.executable, str(FAKES), "faulty"])
    yield
    p.kill()
    p.wait()


def test_the_guide_comes_quickly() -> None:
    start = time.monotonic()
    with pytest.raises(pfwd.ManualForwardingRequired) as manual:
        pfwd.forward(8080)
    assert time.monotonic() - start < 2
    assert "8080" in str(manual.value.instructions)


def test_no_gateway() -> None:
    client = pfwd.Client.discover()
    with pytest.raises(pfwd.NoGatewayError):
        client.external_address()


def test_a_network_error() -> None:
    # The subnet's broadcast address as the gateway: the system refuses to
    # send there (EACCES) before anything leaves.
    with pytest.raises(pfwd.NetworkError) as network:
        pfwd.forward(8080, gateway="192.168.77.255", methods=["natpmp"])
    assert isinstance(network.value, OSError) and network.value.errno == 13


def test_an_answer_pfwd_cannot_understand(faulty: None) -> None:
    client = pfwd.Client.discover(methods=["natpmp"])
    record = {
        "method": "natpmp",
        "protocol": "tcp",
        "external": "5.5.5.7:8080",
        "internal": "192.168.77.10:8080",
        "gateway": "192.168.77.1",
        "lease_seconds": 600,
        "granted_at": 1795000000,
    }
    with pytest.raises(pfwd.InvalidResponseError):
        client.unmap(pfwd.Mapping.from_json(json.dumps(record)))


def test_the_calls_deadline(silent: None) -> None:
    start = time.monotonic()
    with pytest.raises(pfwd.GatewayTimeoutError) as late:
        pfwd.forward(8080, methods=["pcp"], timeout=0.5)
    assert isinstance(late.value, TimeoutError)
    assert time.monotonic() - start < 1.5


# Python's own Ctrl-C handler, also where SIGINT was inherited ignored.
_WAIT = """
import signal, time, pfwd
signal.signal(signal.SIGINT, signal.default_int_handler)
print("calling", flush=True)
try:
    pfwd.forward(8080, methods=["pcp"], timeout=30)
except KeyboardInterrupt:
    print("interrupted", time.monotonic(), flush=True)
    raise
"""


def test_ctrl_c_interrupts_a_waiting_call(silent: None) -> None:
    child = subprocess.Popen([sys.executable, "-c", _WAIT], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "calling"
    time.sleep(0.5)
    sent = time.monotonic()
    child.send_signal(signal.SIGINT)
    line = child.stdout.readline().split()
    _, err = child.communicate(timeout=10)
    assert line and line[0] == "interrupted", err
    assert float(line[1]) - sent < 0.3, "Ctrl-C took more than 300 ms"
    assert child.returncode != 0


async def test_the_loop_runs_while_a_call_waits(silent: None) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    t = asyncio.create_task(ticker())
    with pytest.raises(pfwd.GatewayTimeoutError):
        await pfwd.aio.forward(8080, methods=["pcp"], timeout=0.5)
    t.cancel()
    assert ticks >= 20


async def test_cancelling_an_async_call(silent: None) -> None:
    task = asyncio.create_task(pfwd.aio.Client.discover(methods=["pcp"], timeout=10))
    await asyncio.sleep(0.2)
    task.cancel()
    start = time.monotonic()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - start < 0.5
