#!/usr/bin/env bash
# The one command of the sessionkit benchmarks. Builds the harness in release (the
# bench workspace's crates, then the peer workspace bench/peers, one after the other), then
# runs `bench-run`, which writes its section of docs/BENCHMARKS.md. The harness is a
# workspace of its own (bench/Cargo.toml); its binaries land in bench/target/release.
#
#   bench/run.sh                       # loads: every server x mode, 5 rounds (about 40 min)
#   bench/run.sh --rounds 1 --duration 3s --warmup 1s --label "Smoke run"   # a few minutes
#   bench/run.sh loads --only axum-redis,tower-redis --modes returning
#   bench/run.sh memory                # memory per session at 1,000,000 sessions
#   bench/run.sh scale                 # 1,000 vs 1,000,000 live sessions per store
#   bench/run.sh compare --baseline-bin-dir DIR   # this build against an earlier one
#   SKIP_BUILD=1 bench/run.sh ...      # reuse the binaries already built
#
# Every option: bench/target/release/bench-run <loads|memory|scale> --help. Needs PostgreSQL and
# Redis on 127.0.0.1 (see bench/README.md); sends traffic to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."

# The command as typed, for the report (arguments with spaces or quotes are single-quoted).
recorded=bench/run.sh
for arg in "$@"; do
  if [[ $arg =~ ^[A-Za-z0-9_./:=,@%+-]+$ ]]; then
    recorded+=" $arg"
  else
    recorded+=" '${arg//\'/\'\\\'\'}'"
  fi
done
sub=loads
if [[ $# -gt 0 && $1 != -* ]]; then
  sub=$1
  shift
fi
case $sub in
  loads | memory | scale | compare) ;;
  *)
    echo "usage: bench/run.sh [loads|memory|scale|compare] [options] (see bench/README.md)" >&2
    exit 2
    ;;
esac

target=bench/target
if [[ -z ${SKIP_BUILD:-} ]]; then
  cargo build --release --manifest-path bench/Cargo.toml -p sessionkit-loadgen -p sessionkit-bench-servers \
    -p sessionkit-bench-runner
  if [[ $sub != scale && $sub != compare ]]; then
    cargo build --release --manifest-path bench/peers/Cargo.toml --target-dir bench/peers/target
  fi
fi
exec "$target/release/bench-run" "$sub" \
  --bin-dir "$target/release" \
  --peer-bin-dir bench/peers/target/release \
  --command "$recorded" \
  "$@"
