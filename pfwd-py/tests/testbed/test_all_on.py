"""The blocking API against miniupnpd with PCP, NAT-PMP and UPnP on."""

from __future__ import annotations

import json
import logging
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import List

import pytest

import pfwd
from conftest import reaches, router_list

BIN = Path(sys.executable).parent

pytestmark = pytest.mark.usefixtures("wait_empty")


def test_forward_is_proven_by_bytes_and_removed_on_exit() -> None:
    with pfwd.forward(8080, lease=600) as fwd:
        m = fwd.mapping
        assert m.method is pfwd.Method.PCP
        assert m.protocol is pfwd.Protocol.TCP
        assert str(m.external_address) == "5.5.5.7" and m.internal_port == 8080
        assert m.granted_at.tzinfo is not None and m.lease is not None
        assert reaches("tcp", m.external_port, 8080)
        assert "8080" in router_list()
    assert router_list() == ""
    assert not reaches("tcp", 8080, 8080)


def test_a_service_name_and_udp() -> None:
    with pfwd.forward("wireguard", lease=600) as fwd:
        assert [m.protocol for m in fwd.mappings] == [pfwd.Protocol.UDP]
        assert fwd.mapping.internal_port == 51820
        assert reaches("udp", fwd.mapping.external_port, 51820)


def test_removed_when_the_block_raises() -> None:
    with pytest.raises(RuntimeError, match="boom"):
        with pfwd.forward(8081, lease=600) as fwd:
            assert "8081" in router_list()
            raise RuntimeError("boom")
    assert fwd.close() is not None
    assert router_list() == ""


# Each child first takes Python's own Ctrl-C handler: a child of a
# non-interactive shell's background job inherits SIGINT ignored, and
# Python then installs none.
_HOLD = """
import signal, sys, time, pfwd
signal.signal(signal.SIGINT, signal.default_int_handler)
with pfwd.forward(8082, lease=600):
    print("mapped", flush=True)
    time.sleep(60)
"""


def test_keyboard_interrupt_in_the_block_removes_the_mapping() -> None:
    child = subprocess.Popen([sys.executable, "-c", _HOLD], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "mapped"
    assert "8082" in router_list()
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=10)
    assert "KeyboardInterrupt" in err
    assert router_list() == ""


def test_keep_false_maps_once_and_a_pickled_mapping_unmaps_later() -> None:
    fwd = pfwd.forward(8083, lease=600, keep=False)
    m = fwd.mapping
    assert reaches("tcp", m.external_port, 8083)
    # What is needed to delete it later (the PCP nonce) survives pickle and JSON.
    again = pickle.loads(pickle.dumps(m))
    assert again == m and pfwd.Mapping.from_json(m.to_json()) == m
    assert "pcp_nonce" in json.loads(m.to_json())
    client = pfwd.Client.discover()
    client.unmap(again)
    assert router_list() == ""


def test_the_client_parts() -> None:
    client = pfwd.Client.discover()
    d = client.discovery()
    assert d.answered and d.answered[0] is pfwd.Method.PCP
    assert str(client.external_address()) == "5.5.5.7"
    m = client.map("ssh", to="192.168.77.10:2222", external=2222, lease=600)
    assert (m.external_port, m.internal_port) == (2222, 2222) or m.external_port != 0
    renewed = client.renew(m)
    assert renewed.external_port == m.external_port
    listed = client.list()
    assert any(g.external_port == m.external_port for g in listed)
    assert reaches("tcp", m.external_port, 2222)
    client.unmap(m)
    guide = client.guide(80)
    assert "TCP port 80" in str(guide) and guide.markdown and guide.to_dict()


def test_threads_share_one_client() -> None:
    client = pfwd.Client.discover()
    made: List[pfwd.Mapping] = []
    errors: List[BaseException] = []

    def work(port: int) -> None:
        try:
            made.append(client.map(port, lease=600))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=work, args=(9001 + i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(made) == 4
    for m in made:
        assert reaches("tcp", m.external_port, m.internal_port)
    for m in made:
        client.unmap(m)


def test_several_kept_and_events() -> None:
    client = pfwd.Client.discover()
    items = pfwd.request(9100, lease=600) + pfwd.request(9101, protocol="udp", lease=600)
    fwd = client.keep(items)
    events = fwd.events(timeout=3)
    first = [next(events), next(events)]
    assert all(isinstance(e, pfwd.Mapped) for e in first)
    assert len(fwd.mappings) == 2
    report = fwd.close()
    assert report is not None and report.clean and len(report.deleted) == 2
    rest = list(fwd.events(timeout=1))
    assert any(isinstance(e, pfwd.Closed) for e in rest)


def test_on_event_is_called() -> None:
    seen: List[pfwd.Event] = []
    with pfwd.forward(8084, lease=600, on_event=seen.append):
        deadline = time.monotonic() + 3
        while not seen and time.monotonic() < deadline:
            time.sleep(0.05)
    assert isinstance(seen[0], pfwd.Mapped)


def test_the_core_log_reaches_logging(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="pfwd"):
        pfwd.forward(8085, lease=600, keep=False).close()
    assert any(r.name == "pfwd" for r in caplog.records)


def test_errors_from_real_situations() -> None:
    client = pfwd.Client.discover()
    held = client.map(8086, lease=600)
    try:
        # The outside port is taken by another mapping: conflict.
        with pytest.raises(pfwd.ConflictError) as conflict:
            client.map(8086, to="192.168.77.10:9090", exact=True, lease=600)
        assert conflict.value.kind is pfwd.ErrorKind.CONFLICT
        assert conflict.value.to_dict()["kind"] == "conflict"
    finally:
        client.unmap(held)
    # A server outside the LAN: refused before anything is sent.
    with pytest.raises(pfwd.InvalidRequestError) as invalid:
        client.map(80, to="10.9.9.9")
    assert isinstance(invalid.value, ValueError)
    # A rule made by hand cannot be removed by pfwd.
    made = client.map(8088, lease=600)
    client.unmap(made)
    manual = made.to_dict()
    manual["method"] = "manual"
    manual.pop("pcp_nonce", None)
    with pytest.raises(pfwd.UnsupportedError):
        client.unmap(pfwd.Mapping.from_json(json.dumps(manual)))
    # A closed keeper.
    fwd = client.keep(pfwd.request(8089, lease=600))
    fwd.close()
    with pytest.raises(pfwd.ClosedError):
        fwd.add(pfwd.request(8090, lease=600)[0])


def test_the_pfwd_command_is_the_rust_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PFWD_STATE", str(tmp_path))
    pfwd_cmd = str(BIN / "pfwd")
    once = subprocess.run([pfwd_cmd, "map", "8091", "--once", "--lease", "60", "--json"], capture_output=True, text=True, timeout=30)
    assert once.returncode == 0, once.stderr
    assert reaches("tcp", 8091, 8091)
    gone = subprocess.run([pfwd_cmd, "unmap", "8091"], capture_output=True, text=True, timeout=30)
    assert gone.returncode == 0, gone.stderr
    bad = subprocess.run([pfwd_cmd, "map", "0"], capture_output=True, text=True, timeout=30)
    assert bad.returncode != 0 and "port 0" in bad.stderr
    for sig in (signal.SIGTERM, signal.SIGINT):
        child = subprocess.Popen([pfwd_cmd, "map", "8092", "--lease", "600"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 10
        while "8092" not in router_list() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert reaches("tcp", 8092, 8092)
        child.send_signal(sig)
        out, err = child.communicate(timeout=10)
        assert child.returncode == 0, (sig, child.returncode, out, err)
        assert "removed" in out + err
        assert router_list() == ""


def test_the_command_answers_as_the_rust_binary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rust = os.environ.get("PFWD_RUST_COMMAND", "")
    if not os.path.exists(rust):
        pytest.skip("the Rust command is not built (cargo build -p pfwd-cli)")
    monkeypatch.setenv("PFWD_STATE", str(tmp_path))
    for args in (["map", "0"], ["map", "nosuchservice"], ["--version"], ["frobnicate"], ["guide", "ssh", "--json"]):
        ours = subprocess.run([str(BIN / "pfwd"), *args], capture_output=True, text=True, timeout=30)
        theirs = subprocess.run([rust, *args], capture_output=True, text=True, timeout=30)
        assert (ours.returncode, ours.stdout, ours.stderr) == (theirs.returncode, theirs.stdout, theirs.stderr), args
