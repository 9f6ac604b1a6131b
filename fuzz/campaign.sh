#!/usr/bin/env bash
# The fuzzing campaign: every target (or those named) for SECONDS seconds each (default
# 600), one after another, one process each, on the stable toolchain.
#
#   fuzz/campaign.sh                      # all six targets, 10 minutes each
#   SECONDS_PER_TARGET=60 fuzz/campaign.sh zlib pickle
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). cargo-fuzz passes nightly-only flags
# (-Zsanitizer=address, ...) to rustc; RUSTC_BOOTSTRAP=1 lets the stable compiler accept
# them. New inputs go to fuzz/target/corpus-work/<target> (not committed); the committed
# seeds in fuzz/corpus/<target> are read only. Crashes land in fuzz/artifacts/<target>/.
# SESSIONKIT_FUZZ_SKIP_KNOWN=1 (set here) steers clear of bugs already reported, so the
# run looks for new ones (see fuzz/src/checks.rs). A summary line per target goes to
# fuzz/target/campaign-summary.txt; libFuzzer's output to fuzz/target/logs/<target>.log.
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${SECONDS_PER_TARGET:-600}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(cookie_header signed_value python_json pickle zlib encrypted_cookie)
fi
export RUSTC_BOOTSTRAP=1 SESSIONKIT_FUZZ_SKIP_KNOWN=1
cargo fuzz build --fuzz-dir fuzz || exit 1
mkdir -p fuzz/target/logs
for t in "${targets[@]}"; do
  mkdir -p "fuzz/target/corpus-work/$t"
  start=$(date +%s)
  cargo fuzz run --fuzz-dir fuzz "$t" "fuzz/target/corpus-work/$t" "fuzz/corpus/$t" -- \
    -max_total_time="$secs" -print_final_stats=1 -rss_limit_mb=2048 \
    >"fuzz/target/logs/$t.log" 2>&1
  rc=$?
  end=$(date +%s)
  execs=$(grep -a 'stat::number_of_executed_units' "fuzz/target/logs/$t.log" | awk '{print $2}')
  cov=$(grep -a -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE)' "fuzz/target/logs/$t.log" | tail -1 | grep -o 'cov: [0-9]*')
  line="$t: exit $rc, $((end - start)) s, ${execs:-?} executions, ${cov:-cov: ?}, corpus $(ls "fuzz/target/corpus-work/$t" | wc -l) new files, artifacts: $(ls fuzz/artifacts/$t 2>/dev/null | tr '\n' ' ')"
  echo "$(date -u +%FT%TZ) $line" | tee -a fuzz/target/campaign-summary.txt
done
