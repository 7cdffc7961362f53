"""The examples in examples/python/ (the book's "From Python" chapter
includes them), run as a user runs them: ``python3 EXAMPLE ARGS`` on the
LAN host of a dual-stack testbed with a prober on the internet's side
(tests/gateway/python.rs). Each is proven by what it does: bytes from the
internet's namespace reach this host while it holds the mapping and stop
after it exits, a refusing router gets the guide printed, the check is
proven through the mapping.

An example without a test here fails ``test_every_example_is_tested``."""

from __future__ import annotations

import ast
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional

import pytest

import pfwd
from conftest import EXTERNAL_IP, LAN_HOST6, ROOT_DESC, WAN, reaches, reaches_v6, router_list

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "python"
PROBER = os.environ.get("PFWD_TESTBED_PROBER", "")
# Another host on the LAN: the testbed's router (secure mode, as real
# routers) forwards only to the host that asks, so it refuses this one.
OTHER_HOST = "192.168.77.20"
EXT = re.escape(EXTERNAL_IP)

pytestmark = pytest.mark.usefixtures("wait_empty")

# example file name -> the tests that run it (the @covers decorator).
COVERED: Dict[str, List[str]] = {}

Test = Callable[..., None]


def covers(example: str) -> Callable[[Test], Test]:
    """Mark a test as running ``example``."""

    def mark(test: Test) -> Test:
        COVERED.setdefault(example, []).append(test.__name__)
        return test

    return mark


class Example:
    """An example running in its own process; its output (stdout and
    stderr) is read line by line as it comes."""

    def __init__(self, name: str, args: List[str], env: Dict[str, str]) -> None:
        self.name = name
        self.proc = subprocess.Popen(
            [sys.executable, str(EXAMPLES / name), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        self.lines: List[str] = []
        self._queue: "queue.Queue[Optional[str]]" = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, pattern: str, timeout: float = 15) -> "re.Match[str]":
        """The first line printed so far or within ``timeout`` that matches ``pattern``."""
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for line in self.lines[seen:]:
                found = re.search(pattern, line)
                if found:
                    return found
            seen = len(self.lines)
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{self.name} printed no {pattern!r} in {timeout} s:\n{self.output}")
            try:
                got = self._queue.get(timeout=left)
            except queue.Empty:
                continue
            if got is None:
                self.proc.wait()
                raise AssertionError(
                    f"{self.name} exited ({self.proc.returncode}) without printing {pattern!r}:\n{self.output}"
                )
            self.lines.append(got)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> int:
        """Send ``sig`` and wait for the exit; its status."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout=timeout)
        self._reader.join(5)
        while True:
            try:
                rest = self._queue.get_nowait()
            except queue.Empty:
                break
            if rest is not None:
                self.lines.append(rest)
        return code


@pytest.fixture
def env(tmp_path: Path) -> Dict[str, str]:
    """The examples' environment: pfwd's state in the test's own directory."""
    state = tmp_path / "state"
    state.mkdir()
    return dict(os.environ, PFWD_STATE=str(state))


@pytest.fixture
def start(wait_empty: None, env: Dict[str, str]) -> Iterator[Callable[..., Example]]:
    """Start an example; any still running at the end get SIGTERM (and
    must exit cleanly) before ``wait_empty`` looks at the router."""
    running: List[Example] = []

    def run(name: str, *args: str) -> Example:
        example = Example(name, list(args), env)
        running.append(example)
        return example

    yield run
    for example in running:
        try:
            example.stop(signal.SIGTERM)
        except subprocess.TimeoutExpired:
            example.proc.kill()
            example.proc.wait()
            raise


def arrives(check: Callable[..., bool], *args: object) -> bool:
    """``reaches(...)`` or ``reaches_v6(...)`` for an assertion that the
    bytes arrive: up to three tries, as one waits 1.5 s for the sender in
    the internet's namespace, which a loaded machine's Python start can
    outlast. (That they do not arrive is asserted with one try.)"""
    return any(check(*args) for _ in range(3))


def run_once(name: str, *args: str, env: Dict[str, str], timeout: float = 60) -> "subprocess.CompletedProcess[str]":
    """Run an example that exits by itself; stdout and stderr as text."""
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


_GET = r"""
import socket, sys
with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5) as s:
    s.sendall(b"GET / HTTP/1.0\r\nHost: home\r\n\r\n")
    s.settimeout(5)
    answer = b""
    while True:
        data = s.recv(4096)
        if not data:
            break
        answer += data
sys.stdout.write(answer.decode())
"""


def get_from_the_internet(port: int) -> str:
    """An HTTP GET of / at the router's internet address and ``port``, from the internet's namespace."""
    assert WAN is not None
    out = subprocess.run(
        ["ip", "netns", "exec", WAN, sys.executable, "-c", _GET, EXTERNAL_IP, str(port)],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


@covers("forward.py")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_forward_serves_its_page_to_the_internet_until_stopped(
    sig: signal.Signals, start: Callable[..., Example]
) -> None:
    port = 8180 if sig == signal.SIGINT else 8181
    fwd = start("forward.py", str(port))
    external = int(fwd.wait_for(rf"serving at http://{EXT}:(\d+)/").group(1))
    answer = get_from_the_internet(external)
    assert answer.startswith("HTTP/1.0 200") and "Hello from a home server" in answer, answer
    assert str(external) in router_list()
    assert fwd.stop(sig) == 0, fwd.output
    assert "Traceback" not in fwd.output
    assert router_list() == ""
    assert not reaches("tcp", external, port)


@covers("forward.py")
def test_forward_takes_its_port_from_the_environment(start: Callable[..., Example], env: Dict[str, str]) -> None:
    env["PFWD_PORT"] = "8182"
    fwd = start("forward.py")
    external = int(fwd.wait_for(rf"serving at http://{EXT}:(\d+)/").group(1))
    assert "Hello from a home server" in get_from_the_internet(external)
    assert fwd.stop() == 0, fwd.output


@covers("keep.py")
def test_keep_makes_a_lost_mapping_again_and_removes_all_on_sigterm(start: Callable[..., Example]) -> None:
    keep = start("keep.py", "8190", "wireguard", "--check-every", "1")
    tcp = int(keep.wait_for(rf"mapped TCP {EXT}:(\d+) -> 192\.168\.77\.10:8190").group(1))
    udp = int(keep.wait_for(rf"mapped UDP {EXT}:(\d+) -> 192\.168\.77\.10:51820").group(1))
    assert arrives(reaches, "tcp", tcp, 8190)
    assert arrives(reaches, "udp", udp, 51820)
    # Another program deletes the TCP mapping on the router (as a router
    # restart would lose it): the keeper notices and makes it again.
    for attempt in range(3):
        subprocess.run(["upnpc", "-u", ROOT_DESC, "-d", str(tcp), "TCP"], check=True, capture_output=True, timeout=30)
        try:
            keep.wait_for(rf"lost {EXT}:{tcp} ", timeout=5)
            break
        except AssertionError:
            # Deleted between the check's look and its PCP refresh (one
            # round trip, each check): the refresh made it again unseen.
            # Deleting it once more meets the next look.
            if attempt == 2 or not arrives(reaches, "tcp", tcp, 8190):
                raise
    again = int(keep.wait_for(rf"restored TCP {EXT}:(\d+) -> 192\.168\.77\.10:8190").group(1))
    assert arrives(reaches, "tcp", again, 8190)
    assert keep.stop(signal.SIGTERM) == 0, keep.output
    assert "removed 2 mapping(s)" in keep.output
    assert "still on the router" not in keep.output and "Traceback" not in keep.output
    assert router_list() == ""
    assert not reaches("tcp", again, 8190)
    assert not reaches("udp", udp, 51820)


@covers("keep.py")
def test_keep_checks_every_argument_before_asking(env: Dict[str, str]) -> None:
    bad = run_once("keep.py", "8191", "nosuchservice", env=env)
    assert bad.returncode != 0 and "nosuchservice" in bad.stderr
    assert router_list() == ""


@covers("guide.py")
def test_guide_says_yes_when_the_router_forwards(env: Dict[str, str]) -> None:
    yes = run_once("guide.py", "8200", env=env)
    assert yes.returncode == 0, yes.stdout + yes.stderr
    assert f"the router forwards it: TCP {EXTERNAL_IP}:8200 -> 192.168.77.10:8200" in yes.stdout
    assert router_list() == ""


@covers("guide.py")
def test_guide_prints_the_steps_when_the_router_refuses(env: Dict[str, str], tmp_path: Path) -> None:
    markdown = tmp_path / "guide.md"
    no = run_once("guide.py", "8201", "--to", OTHER_HOST, "--markdown", str(markdown), env=env)
    assert no.returncode == 3, no.stdout + no.stderr
    assert f"Forward: TCP port 8201 -> {OTHER_HOST}:8201" in no.stdout
    assert "Why pfwd could not do it" in no.stdout and "Steps (your router)" in no.stdout
    assert f"{OTHER_HOST}:8201" in markdown.read_text(encoding="utf-8")
    assert router_list() == ""


@covers("check.py")
def test_check_is_proven_through_the_mapping(env: Dict[str, str]) -> None:
    assert PROBER, "the examples' testbed has a prober (tests/gateway/python.rs)"
    before = run_once("check.py", "8210", PROBER, env=env)
    assert before.returncode == 1, before.stdout + before.stderr
    assert "TCP port 8210: not_forwarded (not proven)" in before.stdout
    with pfwd.forward(8210, lease=600):
        # The prober from the environment, as a service file would set it.
        after = run_once("check.py", "8210", env=dict(env, PFWD_PROBER=PROBER))
    assert after.returncode == 0, after.stdout + after.stderr
    assert "TCP port 8210: reachable (proven)" in after.stdout
    assert "Traceback" not in after.stderr


@covers("check.py")
def test_check_without_a_prober_is_told(env: Dict[str, str]) -> None:
    env.pop("PFWD_PROBER", None)
    told = run_once("check.py", "8211", env=env)
    assert told.returncode == 2 and "PFWD_PROBER" in told.stderr
    gone = PROBER.rsplit(":", 1)[0] + ":8100" if PROBER else "http://5.5.5.1:8100"
    dead = run_once("check.py", "8211", gone, env=env)
    assert dead.returncode == 1 and "the prober did not help" in dead.stderr, dead.stderr


@covers("ipv6.py")
def test_ipv6_opens_a_pinhole_while_it_runs(start: Callable[..., Example]) -> None:
    assert not reaches_v6("tcp", 8220)
    six = start("ipv6.py", "8220")
    six.wait_for(rf"open from the internet at \[{re.escape(LAN_HOST6)}\]:8220 \(tcp\)")
    assert arrives(reaches_v6, "tcp", 8220)
    assert six.stop(signal.SIGINT) == 0, six.output
    assert "Traceback" not in six.output
    assert not reaches_v6("tcp", 8220)


@covers("ipv6.py")
def test_ipv6_udp(start: Callable[..., Example]) -> None:
    six = start("ipv6.py", "51820", "udp")
    six.wait_for(r"open from the internet at .*:51820 \(udp\)")
    assert arrives(reaches_v6, "udp", 51820)
    assert six.stop(signal.SIGTERM) == 0, six.output
    assert not reaches_v6("udp", 51820)


def test_every_example_is_tested_and_says_how_to_run_it() -> None:
    examples = sorted(p.name for p in EXAMPLES.glob("*.py"))
    assert examples, f"no examples in {EXAMPLES}"
    untested = [name for name in examples if name not in COVERED]
    assert not untested, f"examples without a test in {Path(__file__).name} (@covers): {untested}"
    assert sorted(COVERED) == examples, f"tests of examples that are gone: {sorted(set(COVERED) - set(examples))}"
    for name in examples:
        doc = ast.get_docstring(ast.parse((EXAMPLES / name).read_text(encoding="utf-8")))
        assert doc and f"python3 {name}" in doc, f"{name}'s docstring does not say how to run it"


def test_the_examples_type_check() -> None:
    """mypy --strict against the package's types: an API change that an
    example does not follow fails here too."""
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir=/dev/null", *sorted(map(str, EXAMPLES.glob("*.py")))],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
