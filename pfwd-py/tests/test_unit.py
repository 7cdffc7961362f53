"""Tests that send nothing: types, argument checks, JSON and pickle, stubs."""

from __future__ import annotations

import ipaddress
import json
import pickle
from datetime import timedelta, timezone
from typing import Any, Dict

import pytest

import pfwd
import pfwd.aio

# A mapping as the core writes it (PCP, with its nonce).
CORE_JSON = json.dumps(
    {
        "version": 1,
        "method": "pcp",
        "protocol": "tcp",
        "external": "5.5.5.7:8080",
        "internal": "192.168.77.10:8080",
        "gateway": "192.168.77.1",
        "lease_seconds": 600,
        "description": "pfwd http-alt",
        "granted_at": 1795000000,
        "expires_at": 1795000600,
        "pcp_nonce": "5317a19511af39bafc458194",
        "epoch": 7,
    }
)


def test_enums_have_the_core_names_and_numbers() -> None:
    assert pfwd.Protocol("tcp") is pfwd.Protocol.TCP and pfwd.Protocol.UDP.value == "udp"
    assert [m.value for m in pfwd.Method] == ["pcp", "natpmp", "upnp", "manual"]
    assert [k.value for k in pfwd.ErrorKind] == list(range(1, 14))
    assert int(pfwd.ErrorKind.TIMEOUT) == 5 and int(pfwd.ErrorKind.WOULD_DEADLOCK) == 12


def test_every_kind_has_its_exception_class() -> None:
    classes = [
        pfwd.NoGatewayError,
        pfwd.UnsupportedError,
        pfwd.RefusedError,
        pfwd.ConflictError,
        pfwd.GatewayTimeoutError,
        pfwd.InvalidRequestError,
        pfwd.InvalidResponseError,
        pfwd.NetworkError,
        pfwd.ManualForwardingRequired,
        pfwd.CancelledError,
        pfwd.ClosedError,
        pfwd.WouldDeadlockError,
        pfwd.ProberError,
    ]
    assert [c.kind.value for c in classes] == list(range(1, 14))
    assert all(issubclass(c, pfwd.Error) for c in classes)
    assert issubclass(pfwd.GatewayTimeoutError, TimeoutError)
    assert issubclass(pfwd.InvalidRequestError, ValueError)
    assert issubclass(pfwd.NetworkError, OSError)


def test_a_mapping_from_the_core_json() -> None:
    m = pfwd.Mapping.from_json(CORE_JSON)
    assert m.method is pfwd.Method.PCP and m.protocol is pfwd.Protocol.TCP
    assert m.external_address == ipaddress.IPv4Address("5.5.5.7") and m.external_port == 8080
    assert m.internal == "192.168.77.10:8080"
    assert m.lease == timedelta(seconds=600) and not m.permanent
    assert m.granted_at.tzinfo is timezone.utc
    assert m.expires_at is not None and m.expires_at - m.granted_at == timedelta(seconds=600)
    assert json.loads(m.to_json())["pcp_nonce"] == "5317a19511af39bafc458194"
    assert pickle.loads(pickle.dumps(m)) == m
    assert pfwd.Mapping.from_json(m.to_json()) == m
    with pytest.raises(AttributeError):
        m.external_port = 1  # type: ignore[misc]
    assert "TCP 5.5.5.7:8080 -> 192.168.77.10:8080 via pcp" in str(m)


def test_a_bad_mapping_json_is_an_invalid_request() -> None:
    with pytest.raises(pfwd.InvalidRequestError, match="not a pfwd mapping"):
        pfwd.Mapping.from_json('{"method": "pcp"}')


@pytest.mark.parametrize(
    ("port", "error", "says"),
    [
        (0, ValueError, "port 0"),
        (70000, ValueError, "out of range"),
        ("nosuchservice", ValueError, "unknown service"),
        (None, TypeError, "port number"),
        (1.5, TypeError, "not float"),
        (True, TypeError, "not bool"),
    ],
)
def test_bad_ports_fail_before_anything_is_sent(port: object, error: type, says: str) -> None:
    with pytest.raises(error, match=says):
        pfwd.forward(port)  # type: ignore[arg-type]
    with pytest.raises(error, match=says):
        pfwd.aio.forward(port)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "error", "says"),
    [
        ({"protocol": "sctp"}, ValueError, "protocol"),
        ({"to": "not a host name at all"}, ValueError, "to"),
        ({"to": 5}, TypeError, "IPv4"),
        ({"lease": "soon"}, ValueError, "lease"),
        ({"lease": 0}, ValueError, "at least 1 second"),
        ({"lease": 60, "permanent": True}, ValueError, "one or the other"),
        ({"external": 0}, ValueError, "port 0"),
        ({"methods": ["smoke"]}, ValueError, "unknown method"),
        ({"timeout": "soon"}, TypeError, "timeout"),
    ],
)
def test_bad_arguments(kwargs: Dict[str, Any], error: type, says: str) -> None:
    with pytest.raises(error, match=says):
        pfwd.forward(8080, **kwargs)


def test_requests_follow_the_service() -> None:
    tcp_udp = pfwd.request("minecraft", protocol="both")
    assert [r.protocol for r in tcp_udp] == ["tcp", "udp"]
    (wg,) = pfwd.request("wireguard")
    assert (wg.protocol, wg.internal_port, wg.external_port) == ("udp", 51820, 51820)
    (web,) = pfwd.request("http", to="192.168.1.4:8080", external=8000, exact=True)
    assert (web.internal_ip, web.internal_port, web.external_port, web.exact) == ("192.168.1.4", 8080, 8000, True)
    assert web.description == "pfwd http"
    assert pfwd.parse_port("ssh") == (22, "ssh", [pfwd.Protocol.TCP])


def test_instructions_render_three_ways() -> None:
    i = pfwd.Instructions("text guide", "# md", '{"rules": []}')
    assert str(i) == "text guide" and i.markdown == "# md" and i.to_dict() == {"rules": []}
    assert str(pickle.loads(pickle.dumps(i))) == "text guide"


def test_events_are_frozen_dataclasses() -> None:
    m = pfwd.Mapping.from_json(CORE_JSON)
    e = pfwd.Mapped(0, m)
    with pytest.raises(AttributeError):
        e.index = 1  # type: ignore[misc]
