#!/usr/bin/env bash
# The book's Getting started (docs/getting-started.md), step by step, in the
# testbed: a home network built out of network namespaces on this machine,
# with a real router daemon (miniupnpd) between two Raspberry Pis and "the
# internet".
#
#   this Pi        192.168.77.10  where this script runs (the cluster's control node)
#   the web Pi     192.168.77.4   the web server: $PFWD_TESTBED_WEB
#   the router     192.168.77.1   public address 5.5.5.7: $PFWD_TESTBED_GW
#   the internet   5.5.5.1        a host outside: $PFWD_TESTBED_WAN
#
# Run it all with `sudo scripts/getting-started`, or open a shell on this
# Pi with `sudo target/debug/pfwd-testbed run bash` and type the steps.
# The test command runs it (tests/gateway/book.rs): if a step of the book
# stops working, the tests fail.
set -euo pipefail

# ANCHOR: hosts
web_pi="ip netns exec $PFWD_TESTBED_WEB"      # run a command on the web Pi: $web_pi pfwd status
internet="ip netns exec $PFWD_TESTBED_WAN"    # ... on a host on the internet
# ANCHOR_END: hosts

work=$(mktemp -d)
export PFWD_STATE="$work/state"     # pfwd's records of what it mapped, here not in ~/.local
cd "$work"
cleanup() {
    kill $(jobs -p) 2>/dev/null || true   # the servers (each job is its program: no subshell)
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
step() { printf '\n== %s\n' "$*"; }

step "1. What does the router speak? (on this Pi)"
# ANCHOR: status
pfwd status
# ANCHOR_END: status

step "2. Forward port 80 to the web Pi, from this Pi"
# ANCHOR: map-to
pfwd map http --to 192.168.77.4 --once --lease 10m || echo "(pfwd exited with $?)"
# ANCHOR_END: map-to

step "3. The router said no: run pfwd on the web Pi itself, kept by pfwd run"
# ANCHOR: run
cat > pfwd.toml <<'TOML'
check = "30s"

[[forward]]
service = "http"
description = "web Pi"
TOML
$web_pi pfwd run --config pfwd.toml > run.log 2>&1 &
run_pid=$!
# ANCHOR_END: run
for _ in $(seq 100); do grep -q "forwarded" run.log && break; sleep 0.1; done
cat run.log

step "4. Is it really reachable? Ask a prober on the internet"
# ANCHOR: check
$internet pfwd probe-server --listen 5.5.5.1:8099 > prober.log 2>&1 &
sleep 0.5
$web_pi pfwd check http --via http://5.5.5.1:8099 || echo "(pfwd check exited with $?)"
# ANCHOR_END: check

step "5. Start the web server on the web Pi"
# ANCHOR: server
mkdir -p site && echo "hello from the web Pi" > site/index.html
$web_pi python3 -m http.server 80 --bind 192.168.77.4 --directory site > server.log 2>&1 &
# ANCHOR_END: server
for _ in $(seq 100); do $web_pi curl -s -o /dev/null http://192.168.77.4/ && break; sleep 0.1; done

step "6. A visitor from the internet"
# ANCHOR: visit
$internet curl --silent --show-error --max-time 5 http://5.5.5.7/
# ANCHOR_END: visit
page=$($internet curl --silent --max-time 5 http://5.5.5.7/)
if [ "$page" != "hello from the web Pi" ]; then
    echo "getting started FAILED: the internet got '$page', not the web Pi's page" >&2
    exit 1
fi

step "7. Stop pfwd run (as systemctl stop does): the forwarding goes"
# ANCHOR: stop
kill -TERM "$run_pid"
wait "$run_pid"     # pfwd removes its mappings and exits 0
$internet curl --silent --max-time 2 http://5.5.5.7/ || echo "nothing arrives any more"
# ANCHOR_END: stop
cat run.log
if $internet curl --silent --max-time 2 http://5.5.5.7/ >/dev/null; then
    echo "getting started FAILED: the page is still reachable after pfwd run stopped" >&2
    exit 1
fi
echo
echo "Getting started OK: bytes from the internet reached the web Pi, and stopped with pfwd."
