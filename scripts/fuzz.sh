#!/usr/bin/env bash
# Runs kyc-core's fuzz targets (fuzz/fuzz_targets/*.rs), one after the other, each for a fixed time.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# SECONDS_PER_TARGET defaults to 600. TARGETs default to every target in fuzz/Cargo.toml.
# Corpora grow in fuzz/corpus/<target>/ (gitignored; kept between runs) and start from the seeds in
# fuzz/seeds/<target>/. A crash leaves its input in fuzz/artifacts/<target>/ and makes the script
# exit 1 after the remaining targets ran; reproduce it with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run <target> fuzz/artifacts/<target>/<file>
# then turn it into a test in crates/kyc-core/tests/regressions.rs.
#
# Environment:
#   FUZZ_TARGET_DIR  cargo target dir for the instrumented build (default fuzz/target)
#   FUZZ_SANITIZER   address (default; falls back to none if it cannot build) or none
#   FUZZ_NICE        niceness of the build and the fuzzers (default 19: other work goes first)
#
# Only a stable toolchain is needed: RUSTC_BOOTSTRAP=1 lets cargo-fuzz use the nightly-only flags
# (-Zsanitizer, sanitizer coverage) it needs. cargo-fuzz is installed from crates.io if missing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

SECONDS_PER_TARGET="${1:-600}"
shift || true
if ! [[ "$SECONDS_PER_TARGET" =~ ^[0-9]+$ ]] || [ "$SECONDS_PER_TARGET" -eq 0 ]; then
    echo "usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]" >&2
    exit 2
fi

export RUSTC_BOOTSTRAP=1
# One build job (libFuzzer runs one process, one worker, unless told otherwise): the fuzzers run
# beside other work on a small machine.
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-1}"
TARGET_DIR="${FUZZ_TARGET_DIR:-$ROOT/fuzz/target}"
SANITIZER="${FUZZ_SANITIZER:-address}"
NICE="${FUZZ_NICE:-19}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz from crates.io" >&2
    nice -n "$NICE" cargo install cargo-fuzz --locked
fi

if [ "$#" -gt 0 ]; then
    TARGETS=("$@")
else
    mapfile -t TARGETS < <(cargo fuzz list --fuzz-dir "$ROOT/fuzz")
fi

build() {
    nice -n "$NICE" cargo fuzz build --fuzz-dir "$ROOT/fuzz" --target-dir "$TARGET_DIR" \
        --sanitizer "$SANITIZER" "$@"
}

echo "== building ${TARGETS[*]} (sanitizer: $SANITIZER)" >&2
if ! build "${TARGETS[@]:0:1}"; then
    if [ "$SANITIZER" != none ]; then
        echo "== the $SANITIZER build failed; falling back to no sanitizer" >&2
        SANITIZER=none
        build "${TARGETS[@]:0:1}"
    else
        exit 1
    fi
fi

LOG_DIR="$ROOT/fuzz/logs"
mkdir -p "$LOG_DIR"
SUMMARY=()
FAILED=0
for target in "${TARGETS[@]}"; do
    corpus="$ROOT/fuzz/corpus/$target"
    seeds="$ROOT/fuzz/seeds/$target"
    artifacts="$ROOT/fuzz/artifacts/$target"
    mkdir -p "$corpus" "$artifacts"
    dirs=("$corpus")
    [ -d "$seeds" ] && dirs+=("$seeds")
    extra=()
    [ -f "$ROOT/fuzz/dicts/$target.dict" ] && extra+=("-dict=$ROOT/fuzz/dicts/$target.dict")
    log="$LOG_DIR/$target.log"
    echo "== $target for ${SECONDS_PER_TARGET}s (log: ${log#"$ROOT"/})" >&2
    start=$(date +%s)
    status=0
    nice -n "$NICE" cargo fuzz run --fuzz-dir "$ROOT/fuzz" --target-dir "$TARGET_DIR" \
        --sanitizer "$SANITIZER" "$target" "${dirs[@]}" -- \
        -max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 \
        -artifact_prefix="$artifacts/" "${extra[@]}" >"$log" 2>&1 || status=$?
    wall=$(($(date +%s) - start))
    # libFuzzer's own time ("Done N runs in S second(s)"); the wall time also counts the build.
    elapsed=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)
    # libFuzzer's own count: the final stats line, or the "#N DONE" line.
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    [ -n "$execs" ] || execs=$(sed -n 's/^#\([0-9]*\)[[:space:]]*DONE.*/\1/p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    units=$(find "$corpus" -type f | wc -l)
    if [ "$status" -eq 0 ]; then
        result="no crash"
    else
        result="FAILED (exit $status, see ${log#"$ROOT"/} and ${artifacts#"$ROOT"/}/)"
        FAILED=1
        tail -n 40 "$log" >&2
    fi
    line="| $target | ${elapsed:-?} s (${wall} s with the build) | ${execs:-?} | ${rate:-?}/s | $units | $result |"
    echo "$line" >&2
    SUMMARY+=("$line")
done

echo
echo "Fuzzing run of $(date -u +%Y-%m-%d), sanitizer: $SANITIZER, ${SECONDS_PER_TARGET} s per target"
echo
echo "| target | fuzzing time | executions | rate | corpus files | result |"
echo "|---|---|---|---|---|---|"
printf '%s\n' "${SUMMARY[@]}"
exit "$FAILED"
