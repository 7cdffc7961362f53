"""Helpers for the tests that run inside a testbed's LAN namespace
(tests/gateway/python.rs starts them): proof by bytes from the internet's
namespace, the router's list, programs in the router's namespace."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from typing import Iterator, List

import pytest

WAN = os.environ.get("PFWD_TESTBED_WAN")
GW = os.environ.get("PFWD_TESTBED_GW")
EXTERNAL_IP = "5.5.5.7"
LAN_HOST = "192.168.77.10"
# miniupnpd's description: upnpc goes straight to it instead of searching.
ROOT_DESC = "http://192.168.77.1:5000/rootDesc.xml"

if not WAN or not GW:
    pytest.skip(
        "these tests run inside a testbed: cargo test -p pfwd-testbed --test python_gateway",
        allow_module_level=True,
    )

_SEND = r"""
import socket, sys, time
proto, host, port, token = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4].encode()
if proto == "tcp":
    try:
        with socket.create_connection((host, port), timeout=2) as s:
            s.sendall(token)
    except OSError:
        pass
else:
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
    for _ in range(5):
        s.sendto(token, (host, port))
        time.sleep(0.02)
"""

LAN_HOST6 = "2001:db8:77::10"


def _arrives(protocol: str, host: str, port: int, internal_port: int) -> bool:
    """True when a token sent from the internet to host:port arrives at a
    listener on this host's internal_port (IPv6 when host is)."""
    token = secrets.token_hex(8)
    kind = socket.SOCK_STREAM if protocol == "tcp" else socket.SOCK_DGRAM
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    got: List[bytes] = []
    with socket.socket(family, kind) as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", internal_port))
        listener.settimeout(1.5)
        if protocol == "tcp":
            listener.listen(1)

        def receive() -> None:
            try:
                if protocol == "tcp":
                    conn, _ = listener.accept()
                    with conn:
                        conn.settimeout(2)
                        got.append(conn.recv(100))
                else:
                    got.append(listener.recv(100))
            except OSError:
                pass

        t = threading.Thread(target=receive)
        t.start()
        assert WAN is not None
        subprocess.run(
            ["ip", "netns", "exec", WAN, sys.executable, "-c", _SEND, protocol, host, str(port), token],
            check=True,
            timeout=10,
        )
        t.join(5)
    return any(token.encode() in g for g in got)


def reaches(protocol: str, external_port: int, internal_port: int) -> bool:
    """True when a token sent from the internet to 5.5.5.7:external_port
    arrives at a listener on this host's internal_port (as the Rust testbed's
    ``reaches``)."""
    return _arrives(protocol, EXTERNAL_IP, external_port, internal_port)


def reaches_v6(protocol: str, port: int) -> bool:
    """True when a token sent from the internet over IPv6 to this host's
    global address and port arrives (as the Rust testbed's ``reaches_v6``)."""
    return _arrives(protocol, LAN_HOST6, port, port)


def router_list() -> str:
    """The router's mappings as ``upnpc -l`` (another client) shows them:
    one line per mapping, empty when there are none."""
    out = subprocess.run(["upnpc", "-u", ROOT_DESC, "-l"], capture_output=True, text=True, timeout=30).stdout
    lines = [line for line in out.splitlines() if "->" in line and ("TCP" in line or "UDP" in line)]
    return "\n".join(line for line in lines if "protocol exPort" not in line)


def in_router(args: List[str]) -> "subprocess.Popen[str]":
    """Start a server of the test's own in the router's namespace; returns
    once it printed its first line (that it is ready)."""
    assert GW is not None
    p = subprocess.Popen(["ip", "netns", "exec", GW, *args], stdout=subprocess.PIPE, text=True)
    assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    return p


@pytest.fixture
def wait_empty() -> Iterator[None]:
    """After the test, the router's list must be empty."""
    yield
    deadline = time.monotonic() + 3
    while router_list() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert router_list() == ""
