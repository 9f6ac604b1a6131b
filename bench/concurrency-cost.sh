#!/usr/bin/env bash
# What concurrency control costs (a documented command, not part of CI): the visit counter
# served by `sk-server` (axum) on each store in the three modes, interleaved over ROUNDS
# rounds, returning visitors, 32 connections:
#
#   optimistic  compare-and-set saves with replay (the default)
#   lock        one request per session at a time (a lock on this node + a lease in the store)
#   blind       no control: every save overwrites (last writer wins), the baseline
#
# Prints a Markdown table: median req/s and server CPU µs per request of each mode, and each
# mode's throughput as a ratio of blind's in the same round (median over rounds).
#
#   bench/concurrency-cost.sh [ROUNDS] [DURATION]     # default 5 rounds of 5s (about 6 min)
#   STORES=memory,redis bench/concurrency-cost.sh 3 3s
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
DURATION=${2:-5s}
STORES=${STORES:-memory,sqlite,postgres,redis}
MODES=(blind optimistic lock)
PORT=18766
STATE=target/bench-state/concurrency
BIN=bench/target/release
PGBASE=postgres://postgres@127.0.0.1:5432
REDIS=${SESSIONKIT_BENCH_REDIS:-redis://127.0.0.1:6379}
REDIS_DB=9

if [[ -z ${SKIP_BUILD:-} ]]; then
  cargo build --release -q --manifest-path bench/Cargo.toml -p sessionkit-loadgen \
    -p sessionkit-bench-servers
fi
mkdir -p "$STATE"
raw=$STATE/raw.jsonl
: >"$raw"

fresh_store() {
  case $1 in
    sqlite) rm -f "$STATE"/bench.sqlite3* ;;
    postgres)
      psql -q -h 127.0.0.1 -U postgres -d postgres \
        -c "DROP DATABASE IF EXISTS sessionkit_concurrency" \
        -c "CREATE DATABASE sessionkit_concurrency" ;;
    redis) redis-cli -u "$REDIS/$REDIS_DB" flushdb >/dev/null ;;
  esac
}

run_one() { # round store mode
  local round=$1 store=$2 mode=$3
  fresh_store "$store"
  "$BIN/sk-server" --server "axum-$store" --concurrency "$mode" --listen "127.0.0.1:$PORT" \
    --sqlite-path "$STATE/bench.sqlite3" \
    --postgres-url "$PGBASE/sessionkit_concurrency" \
    --redis-url "$REDIS/$REDIS_DB" >"$STATE/server.log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
    sleep 0.1
  done
  local report
  report=$("$BIN/loadgen" --url "http://127.0.0.1:$PORT/" --connections 32 --warmup 2s \
    --duration "$DURATION" --mode returning --server-pid "$pid" 2>/dev/null) || true
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  printf '{"round":%d,"store":"%s","mode":"%s","report":%s}\n' \
    "$round" "$store" "$mode" "${report:-null}" >>"$raw"
  sleep 1
}

IFS=, read -r -a stores <<<"$STORES"
for round in $(seq "$ROUNDS"); do
  for store in "${stores[@]}"; do
    # Rotate the order of the modes from round to round.
    for i in 0 1 2; do
      run_one "$round" "$store" "${MODES[$(((i + round) % 3))]}"
    done
  done
done

python3 - "$raw" "$ROUNDS" "$DURATION" <<'EOF'
import json, statistics, sys
from collections import defaultdict
rows = [json.loads(l) for l in open(sys.argv[1])]
rps, cpu, errs, ratio = defaultdict(list), defaultdict(list), defaultdict(int), defaultdict(list)
by_round = {}
for r in rows:
    rep = r["report"]
    key = (r["store"], r["mode"])
    if rep is None:
        errs[key] += 1
        continue
    rps[key].append(rep["rps"])
    cpu[key].append(rep["server_cpu"]["us_per_request"])
    errs[key] += sum(rep["errors"].values())
    by_round[(r["round"], r["store"], r["mode"])] = rep["rps"]
for (rnd, store, mode), v in by_round.items():
    base = by_round.get((rnd, store, "blind"))
    if base:
        ratio[(store, mode)].append(v / base)
print(f"{sys.argv[2]} rounds of {sys.argv[3]}, returning visitors, 32 connections, axum, 2 workers.\n")
print("| store | mode | median req/s | min–max req/s | server CPU µs/req | ÷ blind (median, min–max) | errors |")
print("| --- | --- | --- | --- | --- | --- | --- |")
stores = list(dict.fromkeys(r["store"] for r in rows))
for s in stores:
    for m in ("blind", "optimistic", "lock"):
        k = (s, m)
        if not rps[k]:
            print(f"| {s} | {m} | failed | | | | {errs[k]} |")
            continue
        rt = ratio[k]
        rtxt = f"{statistics.median(rt):.2f} ({min(rt):.2f}–{max(rt):.2f})" if rt else "—"
        print(f"| {s} | `{m}` | {statistics.median(rps[k]):.0f} | {min(rps[k]):.0f}–{max(rps[k]):.0f} "
              f"| {statistics.median(cpu[k]):.0f} | {rtxt} | {errs[k]} |")
EOF
