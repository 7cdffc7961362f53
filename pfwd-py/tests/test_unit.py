"""Tests that send nothing: types, argument checks, JSON and pickle, stubs."""

from __future__ import annotations

import ipaddress
import json
import pickle
import subprocess
import sys
from datetime import timedelta, timezone
from pathlib import Path
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
        ({"to": 5}, TypeError, "IP address"),
        ({"lease": "soon"}, ValueError, "lease"),
        ({"lease": 0}, ValueError, "at least 1 second"),
        ({"lease": 60, "permanent": True}, ValueError, "one or the other"),
        ({"external": 0}, ValueError, "port 0"),
        ({"methods": ["smoke"]}, ValueError, "unknown method"),
        ({"timeout": "soon"}, TypeError, "timeout"),
        ({"family": 6}, TypeError, "family must be"),
        ({"family": "ipv5"}, ValueError, "ipv4"),
        ({"family": "ipv6", "external": 9090}, ValueError, "nothing is translated"),
        ({"family": "ipv6", "to": "192.168.1.4"}, ValueError, "is an IPv4 address"),
        ({"to": "fd12::10"}, ValueError, "unique local"),
    ],
)
def test_bad_arguments(kwargs: Dict[str, Any], error: type, says: str) -> None:
    with pytest.raises(error, match=says):
        pfwd.forward(8080, **kwargs)


def test_families_are_the_cores() -> None:
    [v4] = pfwd.request(8080)
    assert v4.family == "ipv4"
    [v6] = pfwd.request(8080, family=pfwd.Family.IPV6)
    assert (v6.family, v6.external_port, v6.internal_ip) == ("ipv6", 8080, None)
    [host] = pfwd.request(8080, to=ipaddress.IPv6Address("2001:db8::4"))
    assert (host.family, host.internal_ip) == ("ipv6", "2001:db8::4")
    pinhole = pfwd.Mapping.from_json(
        json.dumps(
            {
                "method": "upnp",
                "protocol": "tcp",
                "external": "[2001:db8::4]:8080",
                "internal": "[2001:db8::4]:8080",
                "gateway": "2001:db8::1",
                "lease_seconds": 600,
                "granted_at": 1795000000,
                "pinhole_id": 7,
            }
        )
    )
    assert pinhole.family is pfwd.Family.IPV6
    assert pinhole.external == "[2001:db8::4]:8080"
    assert pinhole.to_dict()["pinhole_id"] == 7
    assert pfwd.Mapping.from_json(pinhole.to_json()) == pinhole


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


# A check's report as the core writes it (CheckReport::to_json): through a
# prober, verified.
CHECK_JSON = json.dumps(
    {
        "reachable": True,
        "verified": True,
        "observed_address": "5.5.5.7",
        "router_address": "5.5.5.7",
        "diagnosis": "reachable",
        "explanation": "Reachable: the prober at http://5.5.5.1:8099 reached 5.5.5.7:8080 and the one-time "
        "token came back through the mapping to 192.168.77.10:8080.",
        "facts": {
            "protocol": "tcp",
            "host": "192.168.77.10",
            "port": 8080,
            "external_port": 8080,
            "host_is_local": True,
            "lan": {"state": "held_by_pfwd"},
            "router": {"state": "listed", "external_port": 8080, "description": "pfwd http-alt"},
            "router_address": "5.5.5.7",
            "via": "http://5.5.5.1:8099",
            "probe": {
                "observed_address": "5.5.5.7",
                "protocol": "tcp",
                "port": 8080,
                "outcome": "accepted",
                "token_returned": True,
                "elapsed_ms": 3,
            },
            "token_seen": True,
        },
        "took_ms": 12,
    },
    separators=(",", ":"),
)


def test_diagnoses_have_the_core_names() -> None:
    assert [d.value for d in pfwd.Diagnosis] == [
        "reachable",
        "reachable_unverified",
        "not_forwarded",
        "nothing_listening",
        "reached_something_else",
        "double_nat",
        "blocked_upstream",
        "inconclusive",
        "not_checked",
    ]
    assert str(pfwd.Diagnosis.DOUBLE_NAT) == "double_nat"


def test_a_check_report_from_the_core_json() -> None:
    r = pfwd.CheckReport.from_json(CHECK_JSON)
    assert r.reachable and r.verified and r.diagnosis is pfwd.Diagnosis.REACHABLE
    assert r.observed_address == ipaddress.IPv4Address("5.5.5.7")
    assert r.router_address == ipaddress.IPv4Address("5.5.5.7")
    assert r.facts["lan"] == {"state": "held_by_pfwd"} and r.facts["probe"]["outcome"] == "accepted"
    assert r.took_ms == 12 and str(r) == r.explanation and r.explanation.startswith("Reachable:")
    assert r.to_json() == CHECK_JSON and r.to_dict() == json.loads(CHECK_JSON)
    assert pickle.loads(pickle.dumps(r)) == r and hash(r) == hash(pfwd.CheckReport.from_json(CHECK_JSON))
    with pytest.raises(AttributeError):
        r.reachable = False  # type: ignore[misc]
    # No truth value of its own: test .reachable or .verified.
    assert "__bool__" not in vars(pfwd.CheckReport)


def test_a_report_without_a_prober_and_an_ipv6_address() -> None:
    d = json.loads(CHECK_JSON)
    d.update(reachable=False, verified=False, observed_address=None, router_address=None, diagnosis="not_checked")
    r = pfwd.CheckReport.from_json(json.dumps(d))
    assert (r.reachable, r.observed_address, r.router_address) == (False, None, None)
    assert r.diagnosis is pfwd.Diagnosis.NOT_CHECKED
    d["observed_address"] = "2001:db8::7"
    assert pfwd.CheckReport.from_json(json.dumps(d)).observed_address == ipaddress.IPv6Address("2001:db8::7")


def test_a_checked_event() -> None:
    from pfwd._events import _event

    e = _event(json.dumps({"kind": "checked", "index": 1, "report": json.loads(CHECK_JSON)}))
    assert isinstance(e, pfwd.Checked) and e.index == 1
    assert e.report == pfwd.CheckReport.from_json(CHECK_JSON)
    assert json.loads(e.report.to_json()) == json.loads(CHECK_JSON)


def test_a_taken_over_event() -> None:
    from pfwd._events import _event

    e = _event(json.dumps({"kind": "taken_over", "index": 0, "mapping": json.loads(CORE_JSON), "by": 4242}))
    assert isinstance(e, pfwd.TakenOver) and (e.index, e.by) == (0, 4242)
    assert e.mapping.external_port == 8080


def test_the_request_that_checks_a_mapping() -> None:
    from pfwd._args import check_requests

    (r,) = check_requests(pfwd.Mapping.from_json(CORE_JSON))
    assert (r.protocol, r.internal_ip, r.internal_port) == ("tcp", "192.168.77.10", 8080)
    assert (r.external_port, r.exact) == (8080, True)


# Every case fails while the arguments are read, before discovery or a
# probe: these tests send nothing.
BAD_CHECKS = [
    ({"via": "https://5.5.5.1:8099"}, pfwd.InvalidRequestError, "via: .*plain HTTP"),
    ({"via": "http://5.5.5.1:0"}, ValueError, "1 to 65535"),
    ({"via": "http://5.5.5.1:8099/v1/probe"}, ValueError, "no path"),
    ({"via": "http://user:pw@5.5.5.1"}, ValueError, "no user name"),
    ({"via": 8099}, TypeError, "via must be a prober address"),
    ({"via": "http://5.5.5.1", "timeout": -1}, ValueError, "timeout must be a positive"),
    ({"timeout": "soon"}, TypeError, "timeout"),
    ({"methods": ["smoke"]}, ValueError, "unknown method"),
    ({"gateway": 5}, TypeError, "gateway"),
    ({"gateway": "router"}, ValueError, "not an IPv4 address"),
    ({"protocol": "sctp"}, ValueError, "protocol"),
    ({"to": 5}, TypeError, "IP address"),
]


@pytest.mark.parametrize(("kwargs", "error", "says"), BAD_CHECKS)
def test_bad_check_arguments(kwargs: Dict[str, Any], error: type, says: str) -> None:
    with pytest.raises(error, match=says):
        pfwd.check(8080, **kwargs)


@pytest.mark.parametrize(("kwargs", "error", "says"), BAD_CHECKS)
async def test_bad_check_arguments_async(kwargs: Dict[str, Any], error: type, says: str) -> None:
    with pytest.raises(error, match=says):
        await pfwd.aio.check(8080, **kwargs)


def test_bad_check_targets() -> None:
    with pytest.raises(TypeError, match="port number"):
        pfwd.check(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="a Mapping says what to check"):
        pfwd.check(pfwd.Mapping.from_json(CORE_JSON), protocol="udp", via="http://5.5.5.1:8099")


@pytest.mark.parametrize(
    ("check_via", "error", "says"),
    [
        ("https://5.5.5.1:8099", ValueError, "check_via: .*plain HTTP"),
        ("http://5.5.5.1:99999", ValueError, "1 to 65535"),
        (["http://5.5.5.1"], TypeError, "check_via must be a prober address"),
    ],
)
def test_a_bad_check_via_fails_before_forwarding(check_via: object, error: type, says: str) -> None:
    with pytest.raises(error, match=says):
        pfwd.forward(8080, check_via=check_via)  # type: ignore[arg-type]
    with pytest.raises(error, match=says):
        pfwd.aio.forward(8080, check_via=check_via)  # type: ignore[arg-type]


def test_check_via_needs_a_keeper() -> None:
    with pytest.raises(ValueError, match="keep=True"):
        pfwd.forward(8080, keep=False, check_via="http://5.5.5.1:8099")
    with pytest.raises(ValueError, match="keep=True"):
        pfwd.aio.forward(8080, keep=False, check_via="http://5.5.5.1:8099")


def test_prober_addresses_read_as_the_core_reads_them() -> None:
    from pfwd import _pfwd

    assert _pfwd.parse_prober("5.5.5.1", "via") == "http://5.5.5.1:8099"
    assert _pfwd.parse_prober("HTTP://[2001:db8::1]:80/", "via") == "http://[2001:db8::1]:80"


# ---- the Python API reference (docs/python-api.md) ------------------------

API_DOC = Path(__file__).resolve().parents[2] / "scripts" / "python-api-doc"


def _api_doc(*args: str) -> "subprocess.CompletedProcess[str]":
    return subprocess.run([sys.executable, str(API_DOC), *args], capture_output=True, text=True, timeout=120)


def test_the_python_api_reference_is_current() -> None:
    """docs/python-api.md is what scripts/python-api-doc makes of this
    package; when not, the message says how to regenerate it."""
    checked = _api_doc("--check")
    assert checked.returncode == 0, checked.stderr


def test_the_python_api_reference_names_everything(tmp_path: Path) -> None:
    made = _api_doc("--output", "-")
    assert made.returncode == 0, made.stderr
    text = made.stdout
    assert text.startswith("# Python API reference\n")
    for name in [*pfwd.__all__, *(f"aio.{n}" for n in pfwd.aio.__all__)]:
        assert f"`{name}`" in text or f"`pfwd.{name}`" in text, name
    assert _api_doc("--output", "-").stdout == text  # the same every time
    stale = tmp_path / "python-api.md"
    stale.write_text(text.replace("Python API reference", "Python API", 1), encoding="utf-8")
    checked = _api_doc("--check", "--output", str(stale))
    assert checked.returncode == 1
    assert "is stale" in checked.stderr and "scripts/python-api-doc" in checked.stderr
