"""IPv6 pinholes from Python on the dual-stack router: family="ipv6"
opens a pinhole for this host's own global address, proved with bytes
from the internet over IPv6; the mapping says its family; closing closes
it; the guide is the IPv6 firewall's; wrong values and types are told."""

from __future__ import annotations

import pytest

import pfwd
from conftest import LAN_HOST6, reaches_v6


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
