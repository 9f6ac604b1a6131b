#!/usr/bin/env bash
# User-space instructions per returning visit, server by server, counted by valgrind's
# callgrind: nearly the same count on every run of the same binary (random keys and seeds
# move it by a few instructions), however busy the machine is, so it shows a change of a
# per cent that the loads' round-to-round spread hides. It counts the server process only
# (not the kernel, not Redis or PostgreSQL), with one worker thread, for one browser's
# sequential visits over one keep-alive connection (a Python client: one session, a
# desktop User-Agent, the cookie kept). Each server runs twice, with N and 3N visits; the
# difference over 2N removes the start-up and the first, session-creating visit.
#
#   bench/instructions.sh                                  # axum-none axum-memory tower-memory
#   bench/instructions.sh axum-cookie actix-cookie actix-session-cookie
#   VISITS=500 bench/instructions.sh axum-redis tower-redis   # N (default 1000)
#   BIN_DIR=/tmp/base/bench/target/release bench/instructions.sh axum-memory
#                                  # an earlier build's sk-server (peer-server is always
#                                  # bench/peers/target/release's)
#
# Builds nothing: run bench/run.sh (or its cargo build lines) first. Needs valgrind and
# python3, and the stores' servers as bench/run.sh does. Any failure (a server that does not
# start or dies, a visit that is not a 200, no count from valgrind) stops the script with a
# message and a non-zero status: it never prints a figure it did not measure.
set -euo pipefail
cd "$(dirname "$0")/.."
visits=${VISITS:-1000}
bin_dir=${BIN_DIR:-bench/target/release}
servers=("$@")
[[ ${#servers[@]} -gt 0 ]] || servers=(axum-none axum-memory tower-memory)
work=$(mktemp -d)
pid=
trap '[[ -n $pid ]] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT

# A port nobody listens on (the kernel's choice), for the next server.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# One session's sequential visits: the first response's cookie is sent back on each
# later visit, and replaced whenever a response sets a new one. Exits non-zero if the
# server (SERVER_PID) dies or never answers, or a visit is not a 200.
cat >"$work/visits.py" <<'PY'
import http.client, os, sys, time
port, n, server = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
headers = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"}
deadline = time.monotonic() + 120
while True:
    try:
        os.kill(server, 0)
    except OSError:
        sys.exit("the server exited before answering (its log is above)")
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port)
        conn.request("GET", "/", headers=headers)
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit(f"no server on port {port} after 120 s")
        time.sleep(0.2)
for i in range(n + 1):
    if i:
        conn.request("GET", "/", headers=headers)
    resp = conn.getresponse()
    body = resp.read()
    if resp.status != 200:
        sys.exit(f"visit {i}: HTTP {resp.status} {body[:200]!r}")
    cookie = resp.getheader("set-cookie")
    if cookie:
        headers["Cookie"] = cookie.split(";")[0]
PY

# Runs SERVER under callgrind for N visits; sets `counted` to the run's instructions.
count() {
  local server=$1 n=$2 bin port
  case $server in
    tower-* | actix-session-*) bin=bench/peers/target/release/peer-server ;;
    *) bin=$bin_dir/sk-server ;;
  esac
  port=$(free_port)
  valgrind --tool=callgrind --callgrind-out-file=/dev/null \
    "$bin" --server "$server" --listen "127.0.0.1:$port" --workers 1 >"$work/log" 2>&1 &
  pid=$!
  if ! python3 "$work/visits.py" "$port" "$n" "$pid"; then
    cat "$work/log" >&2
    exit 1
  fi
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  pid=
  counted=$(awk '/Collected :/ {gsub(",", "", $4); print $4}' "$work/log" | tail -1)
  if [[ ! $counted =~ ^[0-9]+$ ]]; then
    echo "$server: no instruction count from valgrind:" >&2
    cat "$work/log" >&2
    exit 1
  fi
}

for server in "${servers[@]}"; do
  count "$server" "$visits"
  small=$counted
  count "$server" $((3 * visits))
  large=$counted
  awk -v s="$server" -v a="$small" -v b="$large" -v n="$((2 * visits))" \
    'BEGIN {printf "%-24s %8.0f instructions per visit\n", s, (b - a) / n}'
done
