#!/usr/bin/env bash
# A local Redis Cluster for the tests of sessionkit-redis: 6 nodes (3 primaries, 3 replicas)
# on 127.0.0.1 ports 7000-7005, started from this machine's redis-server, in-memory only.
#
#   .ci/redis-cluster.sh start   # start (or repair) the cluster; prints the seeds
#   .ci/redis-cluster.sh stop    # shut every node down and remove the data directory
#   .ci/redis-cluster.sh status  # print CLUSTER INFO of the first node
#
# `start` is idempotent: a cluster that is already up is left alone; a node that is down
# (say, stopped by the failover test) is restarted from its nodes.conf and rejoins — a
# former primary comes back as a replica of the node that replaced it. The last line of
# its output is the value for SESSIONKIT_TEST_REDIS_CLUSTER:
#
#   export SESSIONKIT_TEST_REDIS_CLUSTER=$(.ci/redis-cluster.sh start | tail -n1)
#
# The failover test kills only nodes whose data directory lies under $DIR, so it never
# touches a cluster this script did not start.
set -euo pipefail

DIR=${SESSIONKIT_REDIS_CLUSTER_DIR:-/tmp/sessionkit-redis-cluster}
HOST=127.0.0.1
PORTS=(7000 7001 7002 7003 7004 7005)
SEEDS="$HOST:7000,$HOST:7001,$HOST:7002"
# Small, so that the failover test is short: a primary is declared failed after 1.5 s.
NODE_TIMEOUT=1500

cli() { local port=$1; shift; redis-cli -h "$HOST" -p "$port" "$@"; }
up() { [ "$(cli "$1" ping 2>/dev/null)" = "PONG" ]; }
info_field() { cli "$1" cluster info 2>/dev/null | tr -d '\r' | sed -n "s/^$2://p"; }
state_ok() { [ "$(info_field "$1" cluster_state)" = "ok" ]; }

log() { echo "redis-cluster: $*" >&2; }

# Waits (bounded) until every node answers, sees 6 nodes and reports cluster_state:ok,
# and every replica's link to its primary is up.
wait_ok() {
  local deadline=$((SECONDS + ${1:-30}))
  while ((SECONDS < deadline)); do
    local ok=1
    for p in "${PORTS[@]}"; do
      if ! up "$p" || ! state_ok "$p" || [ "$(info_field "$p" cluster_known_nodes)" != "6" ]; then
        ok=0; break
      fi
      local role
      role=$(cli "$p" info replication 2>/dev/null | tr -d '\r' | sed -n 's/^role://p')
      if [ "$role" = "slave" ] &&
        [ "$(cli "$p" info replication | tr -d '\r' | sed -n 's/^master_link_status://p')" != "up" ]; then
        ok=0; break
      fi
    done
    if ((ok)); then return 0; fi
    sleep 0.2
  done
  log "the cluster did not reach cluster_state:ok in time"
  for p in "${PORTS[@]}"; do
    log "node $p: $(cli "$p" cluster info 2>&1 | tr -d '\r' | grep -E 'state|known' | tr '\n' ' ')"
  done
  return 1
}

start_node() {
  local port=$1
  mkdir -p "$DIR/$port"
  redis-server \
    --port "$port" --bind "$HOST" \
    --cluster-enabled yes --cluster-config-file nodes.conf \
    --cluster-node-timeout "$NODE_TIMEOUT" \
    --dir "$DIR/$port" --save "" --appendonly no \
    --daemonize yes --pidfile "$DIR/$port/redis.pid" --logfile "$DIR/$port/redis.log"
}

wait_up() {
  local port=$1 deadline=$((SECONDS + 10))
  until up "$port"; do
    if ((SECONDS >= deadline)); then log "node $port did not start"; return 1; fi
    sleep 0.05
  done
}

stop_all() {
  for p in "${PORTS[@]}"; do
    if up "$p"; then cli "$p" shutdown nosave >/dev/null 2>&1 || true; fi
  done
  # Anything left (a hung node of ours): kill it by the pid it wrote into our directory.
  for p in "${PORTS[@]}"; do
    local deadline=$((SECONDS + 5))
    while up "$p" && ((SECONDS < deadline)); do sleep 0.05; done
    if up "$p" && [ -f "$DIR/$p/redis.pid" ]; then
      kill -9 "$(cat "$DIR/$p/redis.pid")" 2>/dev/null || true
    fi
  done
  rm -rf "$DIR"
}

# Refuses to go on if a port of ours is taken by a Redis this script did not start.
check_ours() {
  for p in "${PORTS[@]}"; do
    if up "$p" && [ "$(cli "$p" config get dir 2>/dev/null | sed -n 2p)" != "$DIR/$p" ]; then
      log "port $p is taken by a Redis this script did not start; refusing to touch it"
      exit 1
    fi
  done
}

create_fresh() {
  stop_all
  mkdir -p "$DIR"
  for p in "${PORTS[@]}"; do start_node "$p"; done
  for p in "${PORTS[@]}"; do wait_up "$p"; done
  local nodes=()
  for p in "${PORTS[@]}"; do nodes+=("$HOST:$p"); done
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes >"$DIR/create.log" 2>&1 ||
    { cat "$DIR/create.log" >&2; exit 1; }
  wait_ok 60
  log "created"
}

start() {
  command -v redis-server >/dev/null || { log "redis-server is not installed"; exit 1; }
  local running=0
  for p in "${PORTS[@]}"; do
    if up "$p"; then running=$((running + 1)); fi
  done
  check_ours

  if ((running == 6)) && wait_ok 10 2>/dev/null; then
    log "already running"
  elif ((running > 0)) && [ "$(cluster_size_from_conf)" = "6" ]; then
    # Some nodes down (the failover test stops one): restart them from their nodes.conf;
    # a former primary rejoins as a replica of the node that replaced it.
    for p in "${PORTS[@]}"; do
      if ! up "$p"; then log "restarting node $p"; start_node "$p"; fi
    done
    for p in "${PORTS[@]}"; do wait_up "$p"; done
    if ! wait_ok 60; then
      log "repair failed; creating a new cluster"
      create_fresh
    fi
  else
    # Nothing running (a new machine, or nodes killed with their data: everything is
    # in memory anyway), or no cluster formed: start from scratch.
    create_fresh
  fi
  echo "$SEEDS"
}

# How many nodes the first node's nodes.conf knows (6 once the cluster was created).
cluster_size_from_conf() {
  grep -c -E '^[0-9a-f]{40} ' "$DIR/${PORTS[0]}/nodes.conf" 2>/dev/null || echo 0
}

case "${1:-}" in
  start) start ;;
  stop) stop_all; log "stopped" ;;
  status) cli "${PORTS[0]}" cluster info ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
