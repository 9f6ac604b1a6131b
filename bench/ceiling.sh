#!/usr/bin/env bash
# What the no-session ceiling costs over the framework's floor: `sk-server --server
# FW-hello` (fixed body, no cookie) against `FW-none` (the ceiling: parses a `count` cookie,
# sets one), both loaded by wrk (-t1 -c32, keep-alive, no cookie sent), interleaved rounds;
# prints req/s and the server's CPU per request from /proc/PID/stat.
#
#   bench/ceiling.sh [axum|actix] [rounds] [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
fw=${1:-axum}
rounds=${2:-3}
secs=${3:-5}
bin=bench/target/release/sk-server
tick=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
for r in $(seq 1 "$rounds"); do
  for kind in hello none; do
    port=$((18000 + RANDOM % 1000))
    "$bin" --server "$fw-$kind" --listen "127.0.0.1:$port" --workers 2 >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
    wrk -t1 -c32 -d1s "http://127.0.0.1:$port/" >/dev/null
    before=$(cpu "$pid")
    out=$(wrk -t1 -c32 -d"${secs}s" "http://127.0.0.1:$port/")
    after=$(cpu "$pid")
    kill "$pid"; wait "$pid" 2>/dev/null || true
    reqs=$(awk '/requests in/ {print $1}' <<<"$out")
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    us=$(awk -v t="$((after - before))" -v n="$reqs" -v hz="$tick" 'BEGIN {printf "%.2f", t / hz * 1e6 / n}')
    echo "round $r $fw-$kind: $rps req/s, server CPU $us µs/req"
  done
done
