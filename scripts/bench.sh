#!/usr/bin/env bash
# Runs every benchmark (issue #8's targets on kyc-core and the adapters, issue #13's under load)
# and prints the two results tables (markdown) on stdout.
#
#   scripts/bench.sh            # the tables go to stdout, progress to stderr
#   scripts/bench.sh > table.md # then paste them into BENCHMARKS.md
#   BENCH_QUICK=1 scripts/bench.sh   # a smoke run: one run of each, short rounds (minutes)
#
# Targets 1–3 are criterion benchmarks in crates/kyc-core/benches/. Each pair (kyc-core and its
# baseline) runs side by side in the same process; a target's ratio is computed from the two
# medians of one run. The whole suite runs BENCH_RUNS times (default 3) and the table shows the
# median ratio with the spread, because on a shared 2-core machine one run can be skewed by load.
# Target 6 counts the crates in `cargo tree -e normal` and times a clean release build.
# Target 4 runs kyc-bench's `get_session_rps`, target 5 its two upload programs.
#
# Environment:
#   BENCH_RUNS          runs of the criterion suite (default 3)
#   BENCH_MEASURE_SECS  criterion measurement time per benchmark (default 5)
#   BENCH_WARMUP_SECS   criterion warm-up time per benchmark (default 2)
#   BENCH_NICE          niceness (default 0; use 19 to let other work on the machine go first)
#   BENCH_SKIP_BUILD=1  skip the clean release build timing of target 6 (it takes minutes)
#   BENCH_QUICK=1       a smoke run: 1 run, 1 s per benchmark, 20,000 soak calls, short rounds
#   BENCH_SOAK_CALLS    calls per adapter in the soak (default 200000)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

QUICK="${BENCH_QUICK:-0}"
if [ "$QUICK" = 1 ]; then
    RUNS="${BENCH_RUNS:-1}" MEASURE="${BENCH_MEASURE_SECS:-1}" WARMUP="${BENCH_WARMUP_SECS:-1}"
    SOAK_CALLS="${BENCH_SOAK_CALLS:-20000}" BENCH_SKIP_BUILD=1
else
    RUNS="${BENCH_RUNS:-3}" MEASURE="${BENCH_MEASURE_SECS:-5}" WARMUP="${BENCH_WARMUP_SECS:-2}"
    SOAK_CALLS="${BENCH_SOAK_CALLS:-200000}"
fi
NICE="${BENCH_NICE:-0}"

log() { echo "== $*" >&2; }

metadata="$(cargo metadata --format-version 1 --no-deps)"
TARGET_DIR="$(sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p' <<<"$metadata")"
CRITERION="$TARGET_DIR/criterion"
has_package() { grep -q "\"name\":\"$1\",\"version\"" <<<"$metadata"; }

# Median point estimate, in nanoseconds, of one criterion benchmark's latest run.
median_ns() {
    local file="$CRITERION/$1/$2/new/estimates.json"
    [ -f "$file" ] || { echo "missing $file" >&2; exit 1; }
    sed -E 's/.*"median":\{"confidence_interval":\{[^}]*\},"point_estimate":([0-9.eE+-]+).*/\1/' "$file"
}

# Floating-point arithmetic: calc 'expression with $1, $2...' values...
calc() {
    local expr="$1"
    shift
    awk -v a="${1:-0}" -v b="${2:-0}" -v c="${3:-0}" "BEGIN { printf \"%.6g\", $expr }"
}

# The median, minimum and maximum of the numbers given, as "median (min–max)".
summary() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        if (NR == 1) printf "%.2f", m; else printf "%.2f (%.2f–%.2f)", m, v[1], v[NR] }'
}
median_of() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
    print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
met() { awk -v x="$1" -v t="$3" "BEGIN { exit !(x $2 t) }" && echo "met" || echo "**missed**"; }

# ---------------------------------------------------------------- targets 1–3 (criterion)

T1=() T2=() T3_RATIO=() T3_GBPS=() T3_FULL=() T1_NS=() T1_BASE=() T2_NS=() T2_BASE=()
T3_NS=() T3_HMAC_NS=() T3_VERIFY_NS=() T3_FULL_BASE_NS=()
for run in $(seq 1 "$RUNS"); do
    log "criterion run $run of $RUNS"
    nice -n "$NICE" cargo bench -p kyc-core --bench parse_get_session --bench build_create_session \
        --bench webhook_verify -- --warm-up-time "$WARMUP" --measurement-time "$MEASURE" >&2

    a=$(median_ns t1_get_session_parse kyc_core) b=$(median_ns t1_get_session_parse serde_json_value)
    T1+=("$(calc 'a / b' "$a" "$b")") T1_NS+=("$a") T1_BASE+=("$b")

    a=$(median_ns t2_create_session_build kyc_core)
    b=$(median_ns t2_create_session_build serde_json_to_vec)
    T2+=("$(calc 'a / b' "$a" "$b")") T2_NS+=("$a") T2_BASE+=("$b")

    v=$(median_ns t3_webhook_verify_64k verify_signature)
    h=$(median_ns t3_webhook_verify_64k bare_hmac_sha256)
    f=$(median_ns t3_webhook_verify_64k verify)
    fb=$(median_ns t3_webhook_verify_64k bare_hmac_then_json_value)
    # Throughput ratio = inverse time ratio; bytes per nanosecond = GB/s.
    T3_RATIO+=("$(calc 'b / a' "$v" "$h")") T3_GBPS+=("$(calc '65536 / a' "$v")")
    T3_FULL+=("$(calc 'b / a' "$f" "$fb")")
    T3_NS+=("$v") T3_HMAC_NS+=("$h") T3_VERIFY_NS+=("$f") T3_FULL_BASE_NS+=("$fb")
done

two() { awk -v x="$1" 'BEGIN { printf "%.2f", x }'; }
us() { two "$(calc 'a / 1000' "$(median_of "$@")")"; }
gbps() { two "$(calc '65536 / a' "$(median_of "$@")")"; }

OPENSSL="not installed"
if command -v openssl >/dev/null 2>&1; then
    log "openssl speed -hmac sha256 -bytes 65536"
    # "hmac(sha256)  1433661.33k": thousands of bytes per second.
    k=$(nice -n "$NICE" openssl speed -hmac sha256 -bytes 65536 -seconds 3 2>/dev/null |
        awk '/^hmac\(sha256\)/ { sub(/k$/, "", $NF); print $NF }')
    [ -n "$k" ] && OPENSSL="$(two "$(calc 'a / 1e6' "$k")") GB/s"
fi

# Instructions per call under callgrind: independent of the machine's load, so they back up the
# time ratios when other work disturbs them. Each count is (N calls − 0 calls) / N.
I1="—" I2="—" I3="—"
if command -v valgrind >/dev/null 2>&1; then
    log "callgrind instruction counts"
    exe=$(cargo bench -p kyc-core --bench instructions --no-run 2>&1 |
        sed -n 's/.*Executable benches\/instructions.rs (\(.*\))$/\1/p')
    count() {
        valgrind --tool=callgrind --callgrind-out-file=/dev/null "$exe" "$1" "$2" 2>&1 |
            sed -n 's/.*Collected : *//p'
    }
    per_call() { calc '(b - a) / c' "$(count "$1" 0)" "$(count "$1" "$2")" "$2"; }
    ratio_of() { two "$(calc 'a / b' "$(per_call "$1" "$3")" "$(per_call "$2" "$3")")"; }
    I1="$(ratio_of t1_get_session_parse/kyc_core t1_get_session_parse/serde_json_value 200)×"
    I2="$(ratio_of t2_create_session_build/kyc_core t2_create_session_build/serde_json_to_vec 200)×"
    # A throughput ratio: bare HMAC instructions over verify_signature instructions.
    I3="$(ratio_of t3_webhook_verify_64k/bare_hmac_sha256 t3_webhook_verify_64k/verify_signature 20)×"
fi

# ---------------------------------------------------------------- targets 4 and 5 (adapters)

# Target 4: kyc-bench's `get_session_rps` sends keep-alive get-session requests to a minimal
# loopback server, alternating rounds between kyc-ureq and hand-written ureq code (which decodes
# into a serde_json::Value); it prints each side's median round and the ratio. Run BENCH_RUNS
# times; the table shows the median ratio and the spread.
target4() {
    if ! has_package kyc-ureq; then
        echo "| 4. kyc-ureq get-session req/s vs hand-written ureq | ≥ 0.9× | — | — | — | pending: needs kyc-ureq |"
        return
    fi
    log "get_session_rps (kyc-ureq vs hand-written ureq)"
    nice -n "$NICE" cargo build --release --locked -q -p kyc-bench --bin get_session_rps >&2
    local ours=() theirs=() ratios=() out
    for run in $(seq 1 "$RUNS"); do
        out=$(nice -n "$NICE" "$TARGET_DIR/release/get_session_rps" 3000)
        echo "$out" >&2
        ours+=("$(sed -n 's/^kyc-ureq get_session: *\([0-9.]*\) req\/s.*/\1/p' <<<"$out")")
        theirs+=("$(sed -n 's/^hand-written ureq + Value: *\([0-9.]*\) req\/s.*/\1/p' <<<"$out")")
        ratios+=("$(sed -n 's/^ratio: \([0-9.]*\).*/\1/p' <<<"$out")")
    done
    local m
    m=$(median_of "${ratios[@]}")
    echo "| 4. kyc-ureq get-session req/s vs hand-written ureq (keep-alive, 1.5 KB body) | ≥ 0.9× | $(median_of "${ours[@]}") vs $(median_of "${theirs[@]}") req/s | $(summary "${ratios[@]}")× | — | $(met "$m" '>=' 0.9) |"
}

# Target 5: kyc-bench's upload program for each adapter streams a 50 MB file from disk to a loopback sink and
# prints how much the process's peak RSS (VmHWM) rose during that upload.
target5() {
    local row="| 5. peak RSS added by a 50 MB streamed upload (kyc-ureq; kyc-reqwest) | < 16 MB |"
    if ! has_package kyc-ureq || ! has_package kyc-reqwest; then
        echo "$row — | — | — | pending: needs kyc-ureq and kyc-reqwest |"
        return
    fi
    log "upload_rss (kyc-ureq) and upload_rss_reqwest (kyc-reqwest)"
    nice -n "$NICE" cargo build --release --locked -q -p kyc-bench --bin upload_rss --bin upload_rss_reqwest >&2
    local u r
    u=$("$TARGET_DIR/release/upload_rss" | sed -n 's/^peak RSS increase, streamed from a path: \([0-9]*\) KiB.*/\1/p')
    r=$("$TARGET_DIR/release/upload_rss_reqwest" | sed -n 's/^peak RSS increase, streamed from a path: \([0-9]*\) KiB.*/\1/p')
    local verdict=met
    { [ "$(met "$u" '<' 16384)" = met ] && [ "$(met "$r" '<' 16384)" = met ]; } || verdict="**missed**"
    echo "$row $(two "$(calc 'a / 1024' "$u")") MiB; $(two "$(calc 'a / 1024' "$r")") MiB | — | — | $verdict |"
}

# ---------------------------------------------------------------- target 6 (dependency weight)

target6() {
    local pkg="$1"
    if ! has_package "$pkg"; then
        echo "| 6. dependency weight of $pkg | report | — | — | — | pending: $pkg is not in the workspace yet |"
        return
    fi
    local crates
    crates=$(cargo tree -p "$pkg" -e normal --prefix none | sed 's/ (\*)$//' | sort -u | wc -l)
    local forbidden=""
    if [ "$pkg" = kyc-ureq ]; then
        forbidden=$(cargo tree -p "$pkg" -e normal --prefix none | awk '{ print $1 }' |
            grep -xE 'tokio|hyper|reqwest' | sort -u | tr '\n' ' ' || true)
    fi
    local build="not timed (BENCH_SKIP_BUILD=1)"
    if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
        log "clean release build of $pkg"
        local dir start end
        dir=$(mktemp -d)
        start=$(date +%s.%N)
        nice -n "$NICE" cargo build --release --locked -q -p "$pkg" --target-dir "$dir" >&2
        end=$(date +%s.%N)
        rm -rf "$dir"
        build="$(two "$(calc 'b - a' "$start" "$end")") s clean release build ($(nproc) cores)"
    fi
    local verdict="reported"
    [ -n "$forbidden" ] && verdict="**missed**: tree holds $forbidden"
    echo "| 6. dependency weight of $pkg | report$([ "$pkg" = kyc-ureq ] && echo '; no tokio, hyper, reqwest') | $crates crates in \`cargo tree -e normal\` (itself included); $build | — | — | $verdict |"
}

# ---------------------------------------------------------------- the table

r1=$(summary "${T1[@]}") r2=$(summary "${T2[@]}") r3=$(summary "${T3_RATIO[@]}")
g3=$(summary "${T3_GBPS[@]}") f3=$(summary "${T3_FULL[@]}")
m1=$(median_of "${T1[@]}") m2=$(median_of "${T2[@]}") m3=$(median_of "${T3_RATIO[@]}")
mg=$(median_of "${T3_GBPS[@]}")
t3_verdict="**missed**"
if [ "$(met "$m3" '>=' 0.9)" = met ] && [ "$(met "$mg" '>=' 1)" = met ]; then t3_verdict=met; fi

# Target 2 is judged by instructions (issue #13), the steady number here; by time without valgrind.
if [ "$I2" != "—" ]; then
    t2_verdict=$(met "${I2%×}" '<=' 1.25)
else
    t2_verdict="$(met "$m2" '<=' 1.25) (by time: valgrind not installed)"
fi

row4=$(target4)
row5=$(target5)
row6a=$(target6 kyc-core)
row6b=$(target6 kyc-ureq)

cat <<TABLE
| target | goal | measured (median of $RUNS runs) | time ratio: median (min–max) | instruction ratio | result |
|---|---|---|---|---|---|
| 1. parse a $(wc -c <crates/kyc-core/benches/data/get_session.json)-byte get-session response: kyc-core vs \`serde_json::Value\` | ≤ 1.0× | $(us "${T1_NS[@]}") µs vs $(us "${T1_BASE[@]}") µs | $r1× | $I1 | $(met "$m1" '<=' 1.0) |
| 2. build a create-session request vs \`serde_json::to_vec\` of its body | ≤ 1.25× by instructions (was ≤ 1.5×) | $(us "${T2_NS[@]}") µs vs $(us "${T2_BASE[@]}") µs | $r2× | $I2 | $t2_verdict |
| 3. \`verify_signature\`, 64 KiB body: throughput vs bare HMAC-SHA256 | ≥ 0.9× and ≥ 1 GB/s | $(gbps "${T3_NS[@]}") GB/s vs $(gbps "${T3_HMAC_NS[@]}") GB/s (openssl: $OPENSSL); per run: $g3 GB/s | $r3× | $I3 | $t3_verdict |
| 3b. \`verify\` (also parses the event), 64 KiB body, vs bare HMAC + \`serde_json::Value\` | for information | $(us "${T3_VERIFY_NS[@]}") µs vs $(us "${T3_FULL_BASE_NS[@]}") µs | $f3× | — | — |
$row4
$row5
$row6a
$row6b
TABLE

# ---------------------------------------------------------------- issue #13: under load

# The value of KEY on the RESULT lines a kyc-bench program printed (the last one wins).
field() { grep '^RESULT' <<<"$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | tail -n 1; }

load_build() {
    nice -n "$NICE" cargo build --release --locked -q -p kyc-bench -p kyc-cli >&2
}

# L1: kyc-reqwest vs hand-written reqwest, get-session req/s, one request at a time.
load1() {
    local per_round=3000 ratios=() ours=() theirs=() out
    [ "$QUICK" = 1 ] && per_round=500
    for run in $(seq 1 "$RUNS"); do
        log "get_session_rps_reqwest, run $run of $RUNS"
        out=$(nice -n "$NICE" "$TARGET_DIR/release/get_session_rps_reqwest" "$per_round")
        echo "$out" >&2
        ratios+=("$(field "$out" ratio)") ours+=("$(field "$out" ours)") theirs+=("$(field "$out" theirs)")
    done
    echo "| L1. kyc-reqwest get-session req/s vs hand-written reqwest (keep-alive, one at a time) | ≥ 0.9× | $(median_of "${ours[@]}") vs $(median_of "${theirs[@]}") req/s | $(summary "${ratios[@]}")× | $(met "$(median_of "${ratios[@]}")" '>=' 0.9) |"
}

# L2: one client shared by 16 threads (kyc-ureq) and by 256 tasks (kyc-reqwest).
load2() {
    local per_round=16384 b=() a=() bo=() bt=() ao=() at=() btok=() atok=() pool=() out
    [ "$QUICK" = 1 ] && per_round=4096
    for run in $(seq 1 "$RUNS"); do
        log "shared_clients, run $run of $RUNS"
        out=$(nice -n "$NICE" "$TARGET_DIR/release/shared_clients" "$per_round")
        echo "$out" >&2
        b+=("$(field "$out" blocking_ratio)") a+=("$(field "$out" async_ratio)")
        bo+=("$(field "$out" blocking_ours)") bt+=("$(field "$out" blocking_theirs)")
        ao+=("$(field "$out" async_ours)") at+=("$(field "$out" async_theirs)")
        btok+=("$(field "$out" blocking_tokens)") atok+=("$(field "$out" async_tokens)")
        pool+=("$(field "$out" default_pool)")
    done
    local tokens_ok_b=met tokens_ok_a=met t
    for t in "${btok[@]}"; do [ "$t" = 1 ] || tokens_ok_b="**missed**"; done
    for t in "${atok[@]}"; do [ "$t" = 1 ] || tokens_ok_a="**missed**"; done
    local vb va
    vb=$(met "$(median_of "${b[@]}")" '>=' 0.9) va=$(met "$(median_of "${a[@]}")" '>=' 0.9)
    [ "$tokens_ok_b" = met ] || vb="**missed** (token requests: ${btok[*]})"
    [ "$tokens_ok_a" = met ] || va="**missed** (token requests: ${atok[*]})"
    echo "| L2a. 16 threads sharing one kyc-ureq Client vs one ureq Agent with the same pool | ≥ 0.9×, 1 token request | $(median_of "${bo[@]}") vs $(median_of "${bt[@]}") req/s; token requests per run: ${btok[*]}; ureq's default pool: $(median_of "${pool[@]}") req/s | $(summary "${b[@]}")× | $vb |"
    echo "| L2b. 256 tasks sharing one kyc-reqwest Client vs one reqwest Client | ≥ 0.9×, 1 token request | $(median_of "${ao[@]}") vs $(median_of "${at[@]}") req/s; token requests per run: ${atok[*]} | $(summary "${a[@]}")× | $va |"
}

# L3: the soak, once per adapter (each in its own process).
load3() {
    local adapter out
    for adapter in ureq reqwest; do
        log "soak: $SOAK_CALLS calls through kyc-$adapter"
        out=$(nice -n "$NICE" "$TARGET_DIR/release/soak" "$SOAK_CALLS" "$adapter" || true)
        echo "$out" >&2
        local verdict=met grew doubled
        grew=$(field "$out" grew_kib) doubled=$(field "$out" doubled)
        [ -n "$grew" ] || { echo "| L3. soak, kyc-$adapter | — | the run failed (see stderr) | — | **missed** |"; continue; }
        [ "$doubled" = 0 ] || verdict="**missed**: a duplicate"
        [ "$(met "$grew" '<' 2048)" = met ] || verdict="**missed**: RSS grew $grew KiB"
        # A smoke run's first tenth (2,000 calls) is still warming up: its growth says nothing.
        [ "$QUICK" = 1 ] && [ "$doubled" = 0 ] && verdict="smoke run: not judged"
        echo "| L3. soak, kyc-$adapter: $SOAK_CALLS calls, 16 callers, 1 % faults | nothing doubled; peak RSS grows < 2 MiB after the first tenth | $(field "$out" rate) calls/s per tenth ($(field "$out" rate_min)–$(field "$out" rate_max)); $(field "$out" faults) faults met, $(field "$out" failed) calls failed, none applied twice; peak RSS $(two "$(calc 'a / 1024' "$(field "$out" early_kib)")") → $(two "$(calc 'a / 1024' "$(field "$out" late_kib)")") MiB (+$grew KiB) | — | $verdict |"
    done
}

# L4: `kyc session get` in a fresh process vs sh + curl + curl.
load4() {
    local rounds=41 out
    [ "$QUICK" = 1 ] && rounds=11
    log "cli_latency ($rounds rounds)"
    out=$(nice -n "$NICE" "$TARGET_DIR/release/cli_latency" "$TARGET_DIR/release/kyc" "$rounds")
    echo "$out" >&2
    echo "| L4. \`kyc session get\` (token + get, fresh process) vs \`sh\` + 2 \`curl\` | ≤ 2× | $(field "$out" kyc_ms) ms vs $(field "$out" curl_ms) ms (medians); binary $(field "$out" size_mib) MiB, $(field "$out" stripped_mib) MiB stripped | $(field "$out" ratio)× | $(met "$(field "$out" ratio)" '<=' 2) |"
}

# L6: kyc-mock's capacity next to a bare hyper server.
load6() {
    local seconds=3 out
    [ "$QUICK" = 1 ] && seconds=1
    log "mock_capacity"
    out=$(nice -n "$NICE" "$TARGET_DIR/release/mock_capacity" "$seconds")
    echo "$out" >&2
    echo "| L6. kyc-mock get-session req/s, 64 keep-alive connections, vs bare hyper with the same bytes | ≥ 0.6× (issue #27; was: report) | $(field "$out" mock) vs $(field "$out" bare) req/s | $(field "$out" ratio)× | $(met "$(field "$out" ratio)" '>=' 0.6) |"
}

# The tracker (issues #25 and #26): ingestion vs a bare insert, a tick's store work at 1k–1M
# sessions, the delay from a dropped webhook to its verdict; then on PostgreSQL (a throwaway
# server from scripts/postgres.sh unless KYC_TEST_POSTGRES names one): ingestion with 1 and 3
# replicas, a tick at 1k and 1M sessions with its plan, a dead replica's takeover time.
tracker() {
    local sessions=1000,100000,1000000 deliveries=5000 pg_sessions=1000000 started_pg=0
    [ "$QUICK" = 1 ] && sessions=1000,10000 deliveries=500 pg_sessions=10000
    if [ -z "${KYC_TEST_POSTGRES:-}" ]; then
        eval "$("$ROOT/scripts/postgres.sh" start)"
        export KYC_TEST_POSTGRES
        started_pg=1
    fi
    log "track ($sessions sessions; $pg_sessions on PostgreSQL)"
    nice -n "$NICE" cargo build --release --locked -q -p kyc-bench --bin track >&2
    nice -n "$NICE" "$TARGET_DIR/release/track" --sessions "$sessions" --deliveries "$deliveries" \
        --pg-sessions "$pg_sessions" | tail -n +3
    [ "$started_pg" = 1 ] && "$ROOT/scripts/postgres.sh" stop >&2
    return 0
}

load_build
rows=$(load1; load2; load3; load4; load6)
track_rows=$(tracker)
cat <<TABLE

Under load (issue #13), $RUNS run(s) where repeated:

| target | goal | measured | ratio: median (min–max) | result |
|---|---|---|---|---|
$rows

The tracker (issues #25 and #26), from the same run:

| figure | goal | measured | ratio |
|---|---|---|---|
$track_rows
TABLE
