#!/usr/bin/env bash
# Cleanup at scale (a documented command, not part of CI): 1,000,000 expired sessions in
# PostgreSQL removed by `sessionkit clear-expired` while a live load reads and writes other
# sessions. Prints the cleanup's time, the load's figures with and without the cleanup, and
# the query plan of one cleanup batch. Uses its own database, `sessionkit_cleanup`.
#
#   bench/cleanup-at-scale.sh [ROWS]        # default 1000000
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-1000000}
PGURL=${SESSIONKIT_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
BASE=${PGURL%/*}
DB=sessionkit_cleanup
URL="$BASE/$DB"
psql() { command psql -q -h 127.0.0.1 -U postgres "$@"; }

cargo build --release -q -p sessionkit-cli
cargo build --release -q --manifest-path bench/Cargo.toml -p sessionkit-loadgen
BIN=target/release
LOADGEN=bench/target/release/loadgen

psql -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
$BIN/sessionkit clear-expired --store "$URL" >/dev/null   # creates the schema

# The server first: `sessionkit serve` sweeps expired sessions when it starts and then every
# 5 minutes, so started after the insert it would clean them itself, during the baseline.
PORT=18765
$BIN/sessionkit serve --listen 127.0.0.1:$PORT --store "$URL" >target/cleanup-serve.log 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -sf http://127.0.0.1:$PORT/healthz >/dev/null && break; sleep 0.1; done
sleep 1   # its first sweep (of an empty table)

echo "inserting $ROWS expired sessions..."
started=$(date +%s.%N)
psql -d $DB -c "
  INSERT INTO sessionkit_session (session_key, data, version, expires_at, created_at, last_seen, user_id, retired)
  SELECT substr(md5(i::text) || md5((i+1)::text), 1, 32), '{\"count\":1}', 1,
         now() - interval '1 hour' - (i || ' milliseconds')::interval,
         now() - interval '15 days', now() - interval '1 hour', NULL, false
  FROM generate_series(1, $ROWS) AS i;
  ANALYZE sessionkit_session;"
echo "inserted in $(echo "$(date +%s.%N) - $started" | bc) s"

echo
echo "=== the plan of one cleanup batch"
psql -d $DB -c "EXPLAIN DELETE FROM sessionkit_session WHERE session_key = ANY(ARRAY(
  SELECT session_key FROM sessionkit_session WHERE expires_at <= now()
  ORDER BY expires_at LIMIT 1000 FOR UPDATE SKIP LOCKED))"


echo
echo "=== live load alone (returning visitors, 32 connections, 20 s)"
$LOADGEN --url http://127.0.0.1:$PORT/ --connections 32 --warmup 2s --duration 20s \
  --mode returning --server-pid $SERVER | tee target/cleanup-baseline.json

echo
echo "=== live load during the cleanup"
$LOADGEN --url http://127.0.0.1:$PORT/ --connections 32 --warmup 2s --duration 60s \
  --mode returning --server-pid $SERVER > target/cleanup-during.json &
LOAD=$!
sleep 4
started=$(date +%s.%N)
$BIN/sessionkit clear-expired --store "$URL"
took=$(echo "$(date +%s.%N) - $started" | bc)
echo "clear-expired took $took s"
wait $LOAD
cat target/cleanup-during.json
echo
psql -d $DB -tAc "SELECT count(*) AS left_over FROM sessionkit_session WHERE expires_at <= now()"
