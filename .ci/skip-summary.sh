#!/usr/bin/env bash
# Counts the skips that the tests recorded (sessionkit_testkit::services; one line per skip:
# service<TAB>test<TAB>why) and prints the closing lines of scripts/test:
#
#   skipped: 0 tests (every service the tests use was up)
#
# or, per service that could not be brought up, how many tests skipped and why (the first
# reason given). A test that skipped twice counts once.
#
#   .ci/skip-summary.sh LOG [SERVICE=REASON ...]
#
# Each SERVICE=REASON names a service that the setup could not bring up, and why; it is
# printed even when no test needed it. Exit status 0; 3 when any test skipped.
set -euo pipefail
log=$1; shift
declare -A reason=()
for arg in "$@"; do reason["${arg%%=*}"]="${arg#*=}"; done

total=0
declare -A count=() why=()
if [ -s "$log" ]; then
  while IFS=$'\t' read -r service test cause; do
    count["$service"]=$(( ${count["$service"]:-0} + 1 ))
    total=$((total + 1))
    : "${why["$service"]:=$cause}"
  done < <(sort -t $'\t' -k1,2 -u "$log")
fi
for service in "${!reason[@]}"; do : "${count["$service"]:=0}"; done

if ((total == 0)) && ((${#reason[@]} == 0)); then
  echo "skipped: 0 tests (every service the tests use was up)"
  exit 0
fi
echo "skipped: $total test(s), for services that are not available on this machine:"
while IFS= read -r service; do
  [ -n "$service" ] || continue
  detail=${reason["$service"]:-${why["$service"]:-}}
  echo "  $service: ${count["$service"]} test(s) skipped${detail:+ — $detail}"
done < <(printf '%s\n' "${!count[@]}" | sort)
((total == 0)) && exit 0
exit 3
