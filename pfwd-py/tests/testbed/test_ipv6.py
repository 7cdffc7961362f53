"""IPv6 pinholes from Python on the dual-stack router: family="ipv6"
opens a pinhole for this host's own global address, proved with bytes
from the internet over IPv6; the mapping says its family; closing closes
it; the guide is the IPv6 firewall's; wrong values and types are told."""

from __future__ import annotations

import secrets
import socket
import subprocess
import sys
import threading
from typing import List

import pytest

import pfwd
from conftest import WAN

LAN_HOST6 = "2001:db8:77::10"

_SEND6 = r"""
import socket, sys, time
proto, host, port, token = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4].encode()
if proto == "tcp":
    try:
        with socket.create_connection((host, port), timeout=2) as s:
            s.sendall(token)
    except OSError:
        pass
else:
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    for _ in range(5):
        s.sendto(token, (host, port))
        time.sleep(0.02)
"""


def reaches_v6(protocol: str, port: int) -> bool:
    """True when a token sent from the internet to [LAN_HOST6]:port over
    IPv6 arrives at a listener on this host."""
    token = secrets.token_hex(8)
    kind = socket.SOCK_STREAM if protocol == "tcp" else socket.SOCK_DGRAM
    got: List[bytes] = []
    with socket.socket(socket.AF_INET6, kind) as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("::", port))
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
            ["ip", "netns", "exec", WAN, sys.executable, "-c", _SEND6, protocol, LAN_HOST6, str(port), token],
            check=True,
            timeout=10,
        )
        t.join(5)
    return any(token.encode() in g for g in got)


def test_forward_opens_a_pinhole_and_closes_it() -> None:
    assert not reaches_v6("tcp", 8080)
    with pfwd.forward(8080, family="ipv6", lease=600) as fwd:
        [m] = fwd.mappings
        assert m.family is pfwd.Family.IPV6
        assert str(m.external_address) == LAN_HOST6
        assert m.external == f"[{LAN_HOST6}]:8080"
        assert m.method is pfwd.Method.PCP
        assert reaches_v6("tcp", 8080)
        assert pfwd.Mapping.from_json(m.to_json()) == m
    assert not reaches_v6("tcp", 8080)


def test_a_client_maps_by_family_and_tells_what_ipv6_offers() -> None:
    client = pfwd.Client.discover()
    status = client.ipv6_status()
    assert status["gateway"]["local"] == LAN_HOST6
    answered = [s["method"] for s in status["methods"] if s["probe"]["state"] == "answered"]
    assert answered == ["pcp", "upnp"]
    m = client.map(51820, protocol="udp", family=pfwd.Family.IPV6, lease=600)
    assert m.family is pfwd.Family.IPV6
    assert reaches_v6("udp", 51820)
    client.unmap(m)
    assert not reaches_v6("udp", 51820)
    guide = client.guide(443, family="ipv6")
    assert "IPv6 firewall" in str(guide)
    assert f"[{LAN_HOST6}]:443" in str(guide)


def test_wrong_families_are_told() -> None:
    with pytest.raises(TypeError, match="family must be"):
        pfwd.request(80, family=6)  # type: ignore[arg-type]
    with pytest.raises(pfwd.InvalidRequestError, match="ipv4"):
        pfwd.request(80, family="ipv5")
    with pytest.raises(pfwd.InvalidRequestError, match="nothing is translated"):
        pfwd.request(80, family="ipv6", external=8080)
    with pytest.raises(pfwd.InvalidRequestError, match="is an IPv4 address"):
        pfwd.request(80, to="192.168.77.10", family="ipv6")
    [r] = pfwd.request(80, to=LAN_HOST6)
    assert r.family == "ipv6"
