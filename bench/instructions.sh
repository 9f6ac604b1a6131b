#!/usr/bin/env bash
# User-space instructions per returning visit, server by server, counted by valgrind's
# callgrind: the same count on every run of the same binary, however busy the machine is,
# so it shows a change of a few per cent that the loads' round-to-round spread hides. It
# counts the server process only (not the kernel, not Redis or PostgreSQL), with one
# worker thread, for one browser's sequential visits over one keep-alive connection (a
# Python client: one session, a desktop User-Agent, the cookie kept). Each server runs
# twice, with N and 3N visits; the difference over 2N removes the start-up.
#
#   bench/instructions.sh                                  # axum-none axum-memory tower-memory
#   bench/instructions.sh axum-cookie actix-cookie actix-session-cookie
#   VISITS=500 bench/instructions.sh axum-redis tower-redis   # N (default 1000)
#   BIN_DIR=/tmp/base/bench/target/release bench/instructions.sh axum-memory   # an earlier build
#
# Needs the release binaries (bench/run.sh builds them; SKIP_BUILD is implied here),
# valgrind and python3; the stores' servers as for bench/run.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
visits=${VISITS:-1000}
bin_dir=${BIN_DIR:-bench/target/release}
servers=("$@")
[[ ${#servers[@]} -gt 0 ]] || servers=(axum-none axum-memory tower-memory)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# One session's sequential visits: the first response's cookie is sent back on each
# later visit, and replaced whenever a response sets a new one.
cat >"$work/visits.py" <<'PY'
import http.client, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
headers = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"}
for _ in range(600):
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port)
        conn.request("GET", "/", headers=headers)
        break
    except OSError:
        time.sleep(0.1)
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

count() { # server visits -> instructions of the whole run
  local server=$1 n=$2 bin port pid
  case $server in
    tower-* | actix-session-*) bin=bench/peers/target/release/peer-server ;;
    *) bin=$bin_dir/sk-server ;;
  esac
  port=$((19000 + RANDOM % 1000))
  valgrind --tool=callgrind --callgrind-out-file=/dev/null \
    "$bin" --server "$server" --listen "127.0.0.1:$port" --workers 1 >"$work/log" 2>&1 &
  pid=$!
  python3 "$work/visits.py" "$port" "$n"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  awk '/Collected :/ {gsub(",", "", $4); print $4}' "$work/log" | tail -1
}

for server in "${servers[@]}"; do
  small=$(count "$server" "$visits")
  large=$(count "$server" $((3 * visits)))
  awk -v s="$server" -v a="$small" -v b="$large" -v n="$((2 * visits))" \
    'BEGIN {printf "%-24s %8.0f instructions per visit\n", s, (b - a) / n}'
done
