"""``pfwd.check`` against miniupnpd, with the prober (``pfwd probe-server``'s
core) in the internet's namespace: tests/gateway/python.rs starts it and
names it in ``PFWD_TESTBED_PROBER``."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from typing import List

import pytest

import pfwd
import pfwd.aio
from conftest import router_list

PROBER = os.environ.get("PFWD_TESTBED_PROBER", "")
DEAD = PROBER.rsplit(":", 1)[0] + ":8100" if PROBER else ""

pytestmark = [
    pytest.mark.usefixtures("wait_empty"),
    pytest.mark.skipif(not PROBER, reason="no prober: run through tests/gateway/python.rs"),
]


def test_not_forwarded_then_verified_through_the_mapping() -> None:
    [before] = pfwd.check(8080, via=PROBER)
    assert before.diagnosis is pfwd.Diagnosis.NOT_FORWARDED
    assert not before.reachable and not before.verified
    assert "pfwd map 8080" in before.explanation
    with pfwd.forward(8080, lease=600) as fwd:
        started = time.monotonic()
        [report] = pfwd.check(8080, via=PROBER)
        took = time.monotonic() - started
        assert report.diagnosis is pfwd.Diagnosis.REACHABLE, report.explanation
        assert report.reachable and report.verified
        assert str(report.observed_address) == "5.5.5.7"
        assert str(report.router_address) == "5.5.5.7"
        assert report.facts["lan"]["state"] == "held_by_pfwd"
        assert report.facts["probe"]["token_returned"] is True
        assert report.to_dict()["diagnosis"] == "reachable"
        print(f"pfwd.check took {took * 1000:.0f} ms")
        # The client's own check of the mapping it made: its exact outside port.
        [again] = fwd.client.check(fwd.mapping, via=PROBER)
        assert again.verified and again.facts["external_port"] == fwd.mapping.external_port


def test_the_real_server_makes_it_unverified() -> None:
    with pfwd.forward(8081, lease=600):
        stop = threading.Event()
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("0.0.0.0", 8081))
        server.listen(8)
        server.settimeout(0.1)

        def answer() -> None:
            while not stop.is_set():
                try:
                    conn, _ = server.accept()
                except OSError:
                    continue
                with conn:
                    conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")

        t = threading.Thread(target=answer)
        t.start()
        try:
            [report] = pfwd.check(8081, via=PROBER)
        finally:
            stop.set()
            t.join()
            server.close()
        assert report.diagnosis is pfwd.Diagnosis.REACHABLE_UNVERIFIED
        assert report.reachable and not report.verified
        assert "SSH-2.0" in report.explanation


def test_udp_and_a_keeper_that_checks() -> None:
    events: List[pfwd.Event] = []
    with pfwd.forward("wireguard", lease=600, check_via=PROBER, on_event=events.append):
        deadline = time.monotonic() + 15
        while not any(isinstance(e, pfwd.Checked) for e in events) and time.monotonic() < deadline:
            time.sleep(0.05)
        checked = [e for e in events if isinstance(e, pfwd.Checked)]
        assert checked, events
        assert checked[0].report.diagnosis is pfwd.Diagnosis.REACHABLE
        assert checked[0].report.facts["protocol"] == "udp"
        [report] = pfwd.check("wireguard", via=PROBER)
        assert report.verified


def test_without_a_prober_and_with_one_that_is_not_there() -> None:
    [report] = pfwd.check(8082)
    assert report.diagnosis is pfwd.Diagnosis.NOT_CHECKED
    assert not report.reachable and report.observed_address is None
    assert "pfwd probe-server" in report.explanation
    with pytest.raises(pfwd.ProberError) as e:
        pfwd.check(8082, via=DEAD)
    assert "could not be reached" in str(e.value)
    assert router_list() == ""


def test_asyncio() -> None:
    async def main() -> pfwd.CheckReport:
        async with pfwd.aio.forward(8083, lease=600):
            [report] = await pfwd.aio.check(8083, via=PROBER)
            return report

    report = asyncio.run(main())
    assert report.diagnosis is pfwd.Diagnosis.REACHABLE
