#!/usr/bin/env bash
# Fuzz ocislim's parsers with cargo-fuzz (libFuzzer + AddressSanitizer).
#
#   scripts/fuzz.sh                  # every target, 10 minutes each (a local session)
#   scripts/fuzz.sh --ci             # every target, 60 s each; fails on any crash (CI)
#   scripts/fuzz.sh --time 3600 archive tar_scan    # chosen targets, chosen time
#
# Targets (fuzz/fuzz_targets/):
#   tar_scan       the in-place tar header scanner (source::tar_scan::scan)
#   tar_stream     the streaming tar reader of compressed/piped input (source::stream::scan)
#   archive        the whole read side: open (tar, gzip/zstd spool), graph, ls, verify, filter plan
#   index          OCI index / Docker manifest list documents (index.json, index blobs)
#   manifest       image manifests
#   manifest_json  Docker's manifest.json (and that its paths never leave the archive)
#   config         image configs (the platform they declare)
#   platform       --platform selectors: parse, normalise, print, match
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`) and a C++ compiler (libFuzzer is built from
# source). cargo-fuzz passes nightly-only flags (-Zsanitizer=address, ...): on a stable
# toolchain this script sets RUSTC_BOOTSTRAP=1 to allow them; with a nightly toolchain
# installed, `cargo +nightly fuzz run TARGET` works the same.
#
# Seeds are in fuzz/seeds/ (small generated archives and the JSON documents in them; the
# uncompressed fixtures of testdata/ are added at run time). What libFuzzer finds goes to
# fuzz/corpus/TARGET (kept between runs, not committed). A crash, a panic, a timeout (an
# input taking over 10 s) or an out-of-memory (over 2 GB) stops that target and is saved in
# fuzz/artifacts/TARGET/; reproduce it with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run TARGET fuzz/artifacts/TARGET/crash-...
# and shrink it with `cargo fuzz tmin TARGET fuzz/artifacts/TARGET/crash-...`.
#
# Cost (2-core machine): the build takes about 7 minutes from scratch (1 minute when only
# ocislim changed), then TIME seconds per target: --ci is about 8 x 60 s + build, 9 to 15 min.
set -euo pipefail

cd "$(dirname "$0")/.."

ALL_TARGETS=(tar_scan tar_stream archive index manifest manifest_json config platform)
time_per_target=600
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --ci) time_per_target=60 ;;
        --time) time_per_target="$2"; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
        *) targets+=("$1") ;;
    esac
    shift
done
[ ${#targets[@]} -gt 0 ] || targets=("${ALL_TARGETS[@]}")

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: cargo-fuzz is not installed: cargo install cargo-fuzz" >&2
    exit 2
fi
if ! rustc --version | grep -q nightly; then
    export RUSTC_BOOTSTRAP=1
fi

seeds_for() {
    case "$1" in
        tar_scan|tar_stream|archive) echo fuzz/seeds/archives ;;
        *) echo "fuzz/seeds/$1" ;;
    esac
}

start=$(date +%s)
echo "== building fuzz targets"
for t in "${targets[@]}"; do
    cargo fuzz build "$t" 2>&1 | tail -n 1 || { echo "fuzz.sh: build of $t failed" >&2; exit 1; }
done
echo "== built in $(( $(date +%s) - start )) s"
mkdir -p fuzz/artifacts/logs

failed=()
for t in "${targets[@]}"; do
    corpus="fuzz/corpus/$t"
    mkdir -p "$corpus"
    extra=()
    max_len=()
    if [ "$t" = tar_scan ] || [ "$t" = tar_stream ] || [ "$t" = archive ]; then
        max_len=(-max_len=131072)
        # The real-tool fixtures (uncompressed, small) as extra seeds.
        fixtures="fuzz/corpus/.fixtures"
        mkdir -p "$fixtures"
        for f in testdata/*.tar; do
            [ "$(stat -c %s "$f")" -le 131072 ] && cp -f "$f" "$fixtures/"
        done
        extra=("$fixtures")
    fi
    log="fuzz/artifacts/logs/$t.log"
    echo "== $t: ${time_per_target} s"
    t0=$(date +%s)
    if cargo fuzz run "$t" "$corpus" "$(seeds_for "$t")" "${extra[@]}" -- \
        -max_total_time="$time_per_target" -timeout=10 -rss_limit_mb=2048 \
        "${max_len[@]}" -print_final_stats=1 >"$log" 2>&1; then
        echo "   ok: $(grep -m1 -o 'Done [0-9]* runs in [0-9]* second(s)' "$log" || echo done)" \
            "($(( $(date +%s) - t0 )) s)"
    else
        echo "   FAILED ($(( $(date +%s) - t0 )) s): see $log and fuzz/artifacts/$t/" >&2
        grep -E "^(==[0-9]+==ERROR|SUMMARY|.*panicked at)" "$log" | head -n 5 >&2 || true
        failed+=("$t")
    fi
done

echo "== total $(( $(date +%s) - start )) s"
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz.sh: findings in: ${failed[*]}" >&2
    exit 1
fi
echo "fuzz.sh: no findings"
