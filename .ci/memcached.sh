#!/usr/bin/env bash
# Two memcached servers for the tests of the memcached store, on 127.0.0.1:11211 and
# 127.0.0.1:11212 (in memory, 64 MiB each), from Debian's `memcached` package (installed
# when missing).
#
#   .ci/memcached.sh start   # start the servers that are not answering (idempotent)
#   .ci/memcached.sh stop    # stop the servers this script started
#
# The tests read SESSIONKIT_TEST_MEMCACHED_URL (default memcached://127.0.0.1:11211) and
# SESSIONKIT_TEST_MEMCACHED_URL_2 (default memcached://127.0.0.1:11212).
set -euo pipefail

HOST=127.0.0.1
PORTS=(11211 11212)
DIR=${SESSIONKIT_MEMCACHED_DIR:-/tmp/sessionkit-memcached}

log() { echo "memcached: $*" >&2; }

# Whether a memcached answers `version` on the port (bash's /dev/tcp; no client needed).
answers() {
  local port=$1 reply
  reply=$(timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$port && printf 'version\r\n' >&3 && head -c 8 <&3" 2>/dev/null) || return 1
  [ "$reply" = "VERSION " ]
}

install() {
  command -v memcached >/dev/null && return 0
  log "installing Debian's memcached"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends memcached >/dev/null
  # The package's own service (if the init system started one) is not ours to keep:
  # the ports are managed here.
  if [ -f /etc/init.d/memcached ]; then /etc/init.d/memcached stop >/dev/null 2>&1 || true; fi
}

start() {
  install
  mkdir -p "$DIR"
  for p in "${PORTS[@]}"; do
    if answers "$p"; then log "$HOST:$p up"; continue; fi
    memcached -d $( [ "$(id -u)" = 0 ] && echo "-u root") -l "$HOST" -p "$p" -U 0 -m 64 -P "$DIR/$p.pid"
    local deadline=$((SECONDS + 10))
    until answers "$p"; do
      if ((SECONDS >= deadline)); then log "$HOST:$p did not start"; exit 1; fi
      sleep 0.05
    done
    log "$HOST:$p started"
  done
}

stop() {
  for p in "${PORTS[@]}"; do
    if [ -f "$DIR/$p.pid" ]; then kill "$(cat "$DIR/$p.pid")" 2>/dev/null || true; rm -f "$DIR/$p.pid"; fi
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop; log "stopped" ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
