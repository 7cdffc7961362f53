"""Side by side, in one run, inside a testbed's LAN namespace (started by
scripts/bench-python through `pfwd-testbed run`): the same TCP mapping made
by a whole process with

- pfwd (Python): ``pfwd.forward(port, keep=False)``,
- pfwd (Rust):   ``pfwd map PORT --once``,
- miniupnpc (Python, from PyPI): ``discover()``, ``selectigd()``, ``addportmapping()``,

alternating, RUNS times each; prints the medians. Also the cost of
``import pfwd``. Each run maps its own port, deleted (untimed) before the next run.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Dict, List

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 20
PY = sys.executable
PFWD = sys.argv[2] if len(sys.argv) > 2 else "pfwd"

PFWD_PY = "import pfwd, sys; pfwd.forward(int(sys.argv[1]), lease=600, keep=False)"
MINIUPNPC = (
    "import miniupnpc, sys; p = int(sys.argv[1]); u = miniupnpc.UPnP(); u.discover(); u.selectigd(); "
    "assert u.addportmapping(p, 'TCP', u.lanaddr, p, 'bench', '')"
)

if "PFWD_TESTBED_WAN" not in os.environ:
    sys.exit("run me through scripts/bench-python: I map ports, so only inside a testbed")


# miniupnpd's description, for removing each run's mapping (untimed).
ROOT_DESC = "http://192.168.77.1:5000/rootDesc.xml"


def timed(cmd: List[str], env: Dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    took = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{cmd} failed ({done.returncode}) after {took * 1000:.0f} ms: {done.stderr}")
    return took * 1000


def remove(port: int) -> None:
    """Delete a run's mapping (not timed), so that every run meets the same router."""
    subprocess.run(["upnpc", "-u", ROOT_DESC, "-d", str(port), "TCP"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> None:
    env = dict(os.environ, PFWD_STATE=tempfile.mkdtemp(prefix="pfwd-bench-"))
    cases = {
        "pfwd.forward(keep=False) [Python]": lambda p: [PY, "-c", PFWD_PY, str(p)],
        "pfwd map --once [Rust command]": lambda p: [PFWD, "map", str(p), "--once", "--lease", "10m", "-q"],
        "miniupnpc discover/selectigd/addportmapping [Python]": lambda p: [PY, "-c", MINIUPNPC, str(p)],
    }
    times: Dict[str, List[float]] = {name: [] for name in cases}
    port = 20000
    for _ in range(RUNS):
        for name, cmd in cases.items():
            port += 1
            times[name].append(timed(cmd(port), env))
            remove(port)
    imports = {
        "python -c pass": [timed([PY, "-c", "pass"], env) for _ in range(RUNS)],
        "python -c 'import pfwd'": [timed([PY, "-c", "import pfwd"], env) for _ in range(RUNS)],
    }
    print(f"{RUNS} runs each, alternating, whole processes on the testbed's LAN host (miniupnpd, all methods on); medians")
    print(f"{'case':<56} {'median':>9} {'min':>9} {'max':>9}")
    for name, t in list(times.items()) + list(imports.items()):
        print(f"{name:<56} {statistics.median(t):>7.1f}ms {min(t):>7.1f}ms {max(t):>7.1f}ms")
    py = statistics.median(times["pfwd.forward(keep=False) [Python]"])
    mini = statistics.median(times["miniupnpc discover/selectigd/addportmapping [Python]"])
    rust = statistics.median(times["pfwd map --once [Rust command]"])
    imp = statistics.median(imports["python -c 'import pfwd'"]) - statistics.median(imports["python -c pass"])
    print(f"import pfwd costs {imp:.1f} ms over a bare interpreter")
    print(f"pfwd (Python) / miniupnpc = {py / mini:.3f}; pfwd (Python) / pfwd (Rust) = {py / rust:.2f}")
    if py >= mini:
        sys.exit("FAIL: pfwd from Python is not faster than miniupnpc")


if __name__ == "__main__":
    main()
