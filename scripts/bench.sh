#!/usr/bin/env bash
# Benchmarks of issue 6: ocislim against cat, cp, skopeo and the hand-written tar -x + tar -c
# pipeline, side by side in one run, in interleaved rounds (scripts/ab.py). Writes docs/bench.md (medians, ratios and
# targets) and docs/bench.png (time against archive size) and prints the table.
#
#   scripts/bench.sh            full run (~1.6 GB archive, 16 GiB sparse archive, 0.5 GB of real
#                               files when buildah is installed; ~12 minutes)
#   scripts/bench.sh --quick    smoke test: small archives, 1-2 runs each (under a minute once
#                               built); writes $BENCH_DIR/quick/bench.md and bench.png, not docs/
#
# Options: --quick, --out-dir DIR (where bench.md/bench.png go), --no-skopeo, --runs N,
#          --clean (delete $BENCH_DIR when done; generated inputs are otherwise kept and reused,
#          keyed by a hash of the generators, so a rerun skips generation).
# Environment: BENCH_DIR (default /tmp/ocislim-bench): every big file goes there, never into the
#          repository. The ocislim spool of compressed input goes to $BENCH_DIR/tmp (TMPDIR).
#
# Everything generated is deterministic: examples/gen-bench.rs (xorshift layer bytes) for the
# real archives, and an embedded Python writer for the sparse 16 GiB archive whose blobs are
# zeros ending in a 32-byte unique tail (correct sha256 digests, hashed once per blob size,
# sharing the zero prefix state), written with seeks so it takes a few MB of disk.
#
# Memory: peak RSS is the kernel's ru_maxrss of the process (what `/usr/bin/time -f %M` prints,
# the VmHWM high-water mark: anonymous + file-backed resident pages); peak RssAnon is the largest
# RssAnon read from /proc/PID/status, sampled every 2 ms while it runs (a lower bound of the
# true peak, and never above the peak RSS).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/ocislim-bench}
QUICK=0
SKOPEO=1
CLEAN=0
OUT_DIR=""
RUNS=""
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) QUICK=1 ;;
        --no-skopeo) SKOPEO=0 ;;
        --clean) CLEAN=1 ;;
        --out-dir) OUT_DIR=$2; shift ;;
        --runs) RUNS=$2; shift ;;
        -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
        *) echo "bench.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

if [ "$QUICK" = 1 ]; then
    SIZES=(1000000 2000000)          # own-layer bytes; the archive is ~25x that
    RUNS=${RUNS:-2}
    WARMUP=0
    SPARSE_LAYER=$((16 << 20))       # sparse archive: 8 x 3 x 16 MiB + 16 MiB
    SPARSE_SHARED=$((16 << 20))
    OUT_DIR=${OUT_DIR:-$BENCH_DIR/quick}
else
    SIZES=(8000000 16000000 32000000 64000000)   # ~0.2, 0.4, 0.8, 1.6 GB archives
    RUNS=${RUNS:-5}
    WARMUP=1
    SPARSE_LAYER=$((640 << 20))      # 8 x 3 x 640 MiB + 1 GiB = 16 GiB
    SPARSE_SHARED=$((1 << 30))
    OUT_DIR=${OUT_DIR:-$ROOT/docs}
fi
NPLAT=8
NLAYERS=3
KEEP2=linux/amd64,linux/arm64
KEEP1=linux/arm64/v8

log() { printf '\n== [%ss] %s\n' "$SECONDS" "$*" >&2; }

# Before each run: dirty pages written back, then (as root) the page cache dropped, so that no
# run pays for reclaiming the previous runs' pages (with 20 GB of cached inputs and outputs, the
# kernel's reclaim in the writer's context doubled some runs); the inputs are then read back in,
# and so are the programs timed (set below, once OCISLIM is known: a cold start of a binary reads
# megabytes of it from disk, which `cat`'s 44 KB never pays).

# --- tools ----------------------------------------------------------------------------------
need_apt=()
command -v gnuplot >/dev/null || need_apt+=(gnuplot-nox)
command -v zstd >/dev/null || need_apt+=(zstd)
command -v pigz >/dev/null || need_apt+=(pigz)
command -v python3 >/dev/null || need_apt+=(python3)
command -v strip >/dev/null || need_apt+=(binutils)
if [ "$SKOPEO" = 1 ] && ! command -v skopeo >/dev/null; then need_apt+=(skopeo); fi
if [ ${#need_apt[@]} -gt 0 ]; then
    log "installing ${need_apt[*]}"
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO=sudo; fi
    { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}"; } >&2 \
        || echo "bench.sh: could not install ${need_apt[*]}; continuing with what is there" >&2
fi
if [ "$SKOPEO" = 1 ] && ! command -v skopeo >/dev/null; then
    echo "bench.sh: skopeo not installed: skipping the skopeo comparison" >&2
    SKOPEO=0
fi
if [ "$SKOPEO" = 1 ] && [ ! -e /etc/containers/policy.json ] && [ ! -e "$HOME/.config/containers/policy.json" ]; then
    SKOPEO_FLAGS=(--insecure-policy)
else
    SKOPEO_FLAGS=()
fi

# --- build ----------------------------------------------------------------------------------
log "building release"
(cd "$ROOT" && cargo build --release --quiet --bin ocislim --example gen-bench)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
GEN=$TARGET_DIR/release/examples/gen-bench

mkdir -p "$BENCH_DIR"/{in,work,res,tmp,tools} "$OUT_DIR"
# The binary as shipped: scripts/package.sh strips it (the release profile keeps line tables
# for perf, which triple what a cold start reads).
OCISLIM=$BENCH_DIR/tools/ocislim
strip -o "$OCISLIM" "$TARGET_DIR/release/ocislim"
PROGRAMS="$OCISLIM $({ command -v cat cp tar pigz gzip zstd skopeo || true; } | tr '\n' ' ')"
DROP="sync; { echo 1 > /proc/sys/vm/drop_caches; } 2>/dev/null; cat $PROGRAMS > /dev/null"
IN=$BENCH_DIR/in
WORK=$BENCH_DIR/work
RES=$BENCH_DIR/res
TOOLS=$BENCH_DIR/tools
export TMPDIR=$BENCH_DIR/tmp
rm -rf "${WORK:?}"/* "${RES:?}"/* "${TMPDIR:?}"/*
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
if awk -v l="${LOAD_START%% *}" -v n="$(nproc)" 'BEGIN{exit !(l > 0.5 * n)}'; then
    echo "bench.sh: warning: load average is $LOAD_START on $(nproc) cores: other work will skew the timings" >&2
fi
# A virtual machine whose kernel reports free memory to the hypervisor (virtio-balloon free page
# reporting) gets every freed 2 MiB block taken back by the host within seconds, and the next
# write into such a page faults in the host: after the page cache drop before each run, a run's
# new pages (its output's page cache) are fast or slow by how long ago, and in what order, the
# previous runs freed memory. Measured (docs/performance.md, "The bench machine"): `merge` 2.1 s
# against `cat merged` 0.68 s interleaved with reporting on, 0.79 s against 0.74 s with it off.
# So a root run turns reporting off for its duration (an order above the largest free block),
# touches the free memory once so the host backs it again, and restores the setting on exit.
REPORTING=/sys/module/page_reporting/parameters/page_reporting_order
REPORTING_WAS=""
if [ -w "$REPORTING" ]; then
    REPORTING_WAS=$(cat "$REPORTING")
    echo 11 >"$REPORTING"
    log "free page reporting off for the run (was order $REPORTING_WAS); touching free memory once"
    python3 - <<'PY'
import ctypes, mmap
free = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemFree:")) << 10
n = max(free - (2 << 30), 0) & ~0xFFF
if n:
    m = mmap.mmap(-1, n, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    ctypes.memset(ctypes.addressof(ctypes.c_char.from_buffer(m)), 1, n)
PY
fi
cleanup() {
    rm -rf "${WORK:?}" "${TMPDIR:?}"
    if [ -n "$REPORTING_WAS" ]; then echo "$REPORTING_WAS" >"$REPORTING"; fi
    if [ "$CLEAN" = 1 ]; then rm -rf "${BENCH_DIR:?}"; fi
}
trap cleanup EXIT

# Inputs are keyed by the generators' sources, so a changed generator regenerates them.
KEY=$(cat "$ROOT/examples/gen-bench.rs" "$ROOT"/testgen/src/*.rs | sha256sum | cut -c1-10)

# --- helper programs (written here so the script stays one file) ----------------------------
cat >"$TOOLS/sparse.py" <<'PY'
"""Write a sparse OCI archive: PLATFORMS platforms x LAYERS own layers of LAYER bytes plus a
shared layer of SHARED bytes, attestations, with zero-filled blobs (each ending in a unique
32-byte tail) whose content is skipped with seeks. Digests are real sha256s."""
import hashlib, io, json, sys, tarfile

out, nplat, nlayers, layer, shared = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
PLATS = ["linux/amd64", "linux/arm64/v8", "linux/arm/v7", "linux/s390x",
         "linux/ppc64le", "linux/386", "linux/riscv64", "linux/arm/v6"][:nplat]
TAIL = 32
zero_state = {}

def zero_prefix(size):
    if size not in zero_state:
        h = hashlib.sha256()
        chunk = bytes(1 << 20)
        left = size - TAIL
        while left > 0:
            n = min(left, len(chunk))
            h.update(chunk[:n] if n < len(chunk) else chunk)
            left -= n
        zero_state[size] = h
    return zero_state[size].copy()

blobs = []          # (digest hex, bytes or (size, tail)) in write order
seen = set()

def add_bytes(b):
    d = hashlib.sha256(b).hexdigest()
    if d not in seen:
        seen.add(d); blobs.append((d, b))
    return "sha256:" + d, len(b)

def add_sparse(size, name):
    tail = hashlib.sha256(name.encode()).digest()
    h = zero_prefix(size); h.update(tail)
    d = h.hexdigest()
    if d not in seen:
        seen.add(d); blobs.append((d, (size, tail)))
    return "sha256:" + d, size

def js(v):
    return json.dumps(v, separators=(",", ":")).encode()

LAYER_MT = "application/vnd.oci.image.layer.v1.tar"
shared_d = add_sparse(shared, "shared") if shared > 0 else None
entries = []
for i, p in enumerate(PLATS):
    parts = p.split("/")
    plat = {"architecture": parts[1], "os": parts[0]}
    if len(parts) > 2:
        plat["variant"] = parts[2]
    layers = [add_sparse(layer, f"{p}/{j}") for j in range(nlayers)]
    if shared_d:
        layers.append(shared_d)
    cfg = dict(plat, config={"Cmd": ["/bin/sh"]}, rootfs={"type": "layers", "diff_ids": [d for d, _ in layers]})
    cd, cs = add_bytes(js(cfg))
    man = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
           "layers": [{"mediaType": LAYER_MT, "digest": d, "size": s} for d, s in layers]}
    md, ms = add_bytes(js(man))
    entries.append({"mediaType": man["mediaType"], "digest": md, "size": ms, "platform": plat})
    al, als = add_bytes(js({"_type": "https://in-toto.io/Statement/v0.1", "subject": [{"digest": {"sha256": md[7:]}}]}))
    acd, acs = add_bytes(js({"architecture": "unknown", "os": "unknown", "config": {}, "rootfs": {"type": "layers", "diff_ids": [al]}}))
    am = {"schemaVersion": 2, "mediaType": man["mediaType"],
          "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": acd, "size": acs},
          "layers": [{"mediaType": "application/vnd.in-toto+json", "digest": al, "size": als,
                      "annotations": {"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"}}]}
    amd, ams = add_bytes(js(am))
    entries.append({"mediaType": man["mediaType"], "digest": amd, "size": ams,
                    "annotations": {"vnd.docker.reference.digest": md, "vnd.docker.reference.type": "attestation-manifest"},
                    "platform": {"architecture": "unknown", "os": "unknown"}})
idx = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries}
idd, ids = add_bytes(js(idx))
top = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
       "manifests": [{"mediaType": idx["mediaType"], "digest": idd, "size": ids,
                      "annotations": {"io.containerd.image.name": "example.com/bench:sparse",
                                      "org.opencontainers.image.ref.name": "sparse"}}]}

def header(name, size):
    ti = tarfile.TarInfo(name)
    ti.size, ti.mode, ti.mtime = size, 0o644, 0
    return ti.tobuf(format=tarfile.USTAR_FORMAT)

with open(out, "wb") as f:
    f.truncate(0)
    def put(name, data):
        f.write(header(name, len(data))); f.write(data); f.write(bytes(-len(data) % 512))
    put("oci-layout", b'{"imageLayoutVersion": "1.0.0"}')
    put("index.json", js(top))
    for d, b in blobs:
        name = "blobs/sha256/" + d
        if isinstance(b, bytes):
            put(name, b)
        else:
            size, tail = b
            f.write(header(name, size))
            f.seek(size - TAIL, io.SEEK_CUR)
            f.write(tail)
            pad = -size % 512
            if pad:
                f.seek(pad, io.SEEK_CUR)
    f.seek(1024, io.SEEK_CUR)
    f.truncate(f.tell())
PY

cat >"$TOOLS/peakmem.py" <<'PY'
"""Run a command; print 'ru_maxrss_kib rssanon_peak_kib seconds' (ru_maxrss is what
/usr/bin/time -f %M reports; RssAnon is sampled from /proc/PID/status every 2 ms)."""
import os, subprocess, sys, time
t0 = time.monotonic()
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
peak = 0
while True:
    try:
        with open(f"/proc/{p.pid}/status") as s:
            for line in s:
                if line.startswith("RssAnon:"):
                    peak = max(peak, int(line.split()[1]))
                    break
    except OSError:
        pass
    pid, status, ru = os.wait4(p.pid, os.WNOHANG)
    if pid:
        break
    time.sleep(0.002)
if status != 0:
    sys.exit(f"peakmem: command failed ({status}): {' '.join(sys.argv[1:])}")
print(ru.ru_maxrss, peak, round(time.monotonic() - t0, 3))
PY

# --- inputs ---------------------------------------------------------------------------------
gen_archive() { # layer_bytes -> path
    local l=$1 f="$IN/bench-$NPLAT-$NLAYERS-$1-$KEY.tar"
    if [ ! -s "$f" ]; then
        log "generating $(basename "$f")"
        "$GEN" "$f.part" "$NPLAT" "$NLAYERS" "$l" "$l" --attest && mv "$f.part" "$f"
    fi
    echo "$f"
}

# Time a group of commands side by side: `hf NAME [--runs N] [--warmup W] [-N] [--prepare CMD]...
# -n LABEL COMMAND...` (hyperfine's flags) runs scripts/ab.py, which runs the group in rounds,
# every command once per round after its own --prepare, so that whatever the machine does over
# the minutes a group takes (other VMs on the host, the hypervisor reclaiming freed guest memory:
# see docs/performance.md, "The bench machine") falls on every command of the group alike, where
# hyperfine's consecutive runs of one command, then the next, let it fall on one. Times go to
# $RES/NAME.json in hyperfine's format.
hf() {
    local json=$RES/$1.json; shift
    local ab=(--export-json "$json")
    local named=()
    while [ $# -gt 0 ]; do
        case "$1" in
            --runs) ab+=(-n "$2"); shift 2 ;;
            --warmup|--prepare) ab+=("$1" "$2"); shift 2 ;;
            -N) ab+=(-N); shift ;;
            -n) named+=("$2=$3"); shift 3 ;;
            *) echo "bench.sh: hf: unknown argument $1" >&2; exit 2 ;;
        esac
    done
    python3 "$ROOT/scripts/ab.py" "${ab[@]}" "${named[@]}" >&2
}

# --- (a)(b)(c)(g): filter vs cat/cp/skopeo/tar at each size ---------------------------------
SIZE_LIST=()
for L in "${SIZES[@]}"; do
    A=$(gen_archive "$L")
    SZ=$(stat -c %s "$A")
    KEPT=$IN/kept-$L-$KEY.tar
    [ -s "$KEPT" ] || "$OCISLIM" filter "$A" -o "$KEPT" --platform "$KEEP2" -q
    SIZE_LIST+=("$L:$SZ:$(stat -c %s "$KEPT")")
    OUT=$WORK/out.tar COPY=$WORK/copy.tar XD=$WORK/x SK=$WORK/skopeo.tar
    # Inputs are read right before each run: this VM's DAMON reclaim evicts idle page cache
    # within seconds, and a cold read would time the disk, not the tools.
    PREP="rm -rf $OUT $COPY $XD $SK; $DROP; cat $A $KEPT > /dev/null"
    cmds=(
        -n "ocislim filter 2p" "$OCISLIM filter $A -o $OUT --platform $KEEP2 -q"
        -n "ocislim filter 2p --no-verify" "$OCISLIM filter $A -o $OUT --platform $KEEP2 -q --no-verify"
        -n "ocislim filter 2p, report" "$OCISLIM filter $A -o $OUT --platform $KEEP2 2>/dev/null"
        -n "cat kept" "cat $KEPT > $COPY"
        -n "cp kept" "cp $KEPT $COPY"
        -n "cat kept + fsync" "cat $KEPT > $COPY && sync $COPY"
        -n "tar -x + tar -c" "mkdir $XD && tar -xf $A -C $XD && tar -cf $OUT -C $XD ."
        -n "ocislim filter 1p" "$OCISLIM filter $A -o $OUT --platform $KEEP1 -q"
    )
    if [ "$SKOPEO" = 1 ]; then
        cmds+=(-n "skopeo copy 1p" "skopeo ${SKOPEO_FLAGS[*]} copy -q --override-arch arm64 --override-variant v8 oci-archive:$A oci-archive:$SK")
    fi
    log "filter vs others, archive $SZ bytes (kept $(stat -c %s "$KEPT"))"
    hf "size-$L" --runs "$RUNS" --warmup "$WARMUP" --prepare "$PREP" "${cmds[@]}"
    rm -rf "$OUT" "$COPY" "$XD" "$SK"
    # (f) peak memory of filter at this size
    cat "$A" >/dev/null
    python3 "$TOOLS/peakmem.py" "$OCISLIM" filter "$A" -o "$OUT" --platform "$KEEP2" -q >"$RES/mem-$L.txt"
    rm -f "$OUT"
done
BIG=$(gen_archive "${SIZES[-1]}")
BIGL=${SIZES[-1]}

# --- (d) ls on a 16 GiB sparse archive -------------------------------------------------------
SPARSE=$IN/sparse-$NPLAT-$NLAYERS-$SPARSE_LAYER-$SPARSE_SHARED-$(sha256sum <"$TOOLS/sparse.py" | cut -c1-10).tar
if [ ! -s "$SPARSE" ]; then
    log "generating sparse $(basename "$SPARSE")"
    python3 "$TOOLS/sparse.py" "$SPARSE.part" "$NPLAT" "$NLAYERS" "$SPARSE_LAYER" "$SPARSE_SHARED"
    mv "$SPARSE.part" "$SPARSE"
fi
echo "$(stat -c %s "$SPARSE") $(du -k "$SPARSE" | cut -f1)" >"$RES/sparse-size.txt"
log "ls: $(stat -c %s "$SPARSE") bytes apparent, $(du -h "$SPARSE" | cut -f1) on disk"
"$OCISLIM" ls "$SPARSE" >/dev/null
cat "$BIG" >/dev/null
hf ls --runs $((RUNS * 4)) --warmup 3 -N \
    -n "ocislim ls sparse" "$OCISLIM ls $SPARSE" \
    -n "ocislim ls big" "$OCISLIM ls $BIG"
python3 "$TOOLS/peakmem.py" "$OCISLIM" ls "$SPARSE" >"$RES/mem-ls.txt"

# --- (e) compressed input ---------------------------------------------------------------------
GZ=$IN/$(basename "$BIG" .tar).tar.gz
ZST=$IN/$(basename "$BIG" .tar).tar.zst
[ -s "$GZ" ] || { log "pigz -1 $(basename "$BIG")"; pigz -1 -n -c <"$BIG" >"$GZ.part" && mv "$GZ.part" "$GZ"; }
[ -s "$ZST" ] || { log "zstd -3 $(basename "$BIG")"; zstd -q -T0 -3 -c <"$BIG" >"$ZST.part" && mv "$ZST.part" "$ZST"; }
log "compressed input"
hf compressed --runs "$RUNS" --warmup "$WARMUP" \
    --prepare "$DROP; cat $GZ > /dev/null" --prepare "$DROP; cat $GZ > /dev/null" \
    --prepare "$DROP; cat $ZST > /dev/null" --prepare "$DROP; cat $ZST > /dev/null" \
    --prepare "$DROP; cat $GZ > /dev/null" \
    -n "ocislim ls .tar.gz" "$OCISLIM ls $GZ" \
    -n "gzip -dc" "gzip -dc $GZ > /dev/null" \
    -n "ocislim ls .tar.zst" "$OCISLIM ls $ZST" \
    -n "zstd -dc" "zstd -dc $ZST > /dev/null" \
    -n "pigz -dc" "pigz -dc $GZ > /dev/null"
# filter of the compressed archive to a plain tar, against decompressing it to a file
log "filter of compressed input"
FPREP="rm -f $WORK/out.tar $WORK/copy.tar; $DROP"
hf compressed-filter --runs "$RUNS" --warmup "$WARMUP" \
    --prepare "$FPREP; cat $GZ > /dev/null" --prepare "$FPREP; cat $GZ > /dev/null" \
    --prepare "$FPREP; cat $ZST > /dev/null" --prepare "$FPREP; cat $ZST > /dev/null" \
    -n "ocislim filter .tar.gz" "$OCISLIM filter $GZ -o $WORK/out.tar --platform $KEEP2 -q" \
    -n "pigz -dc > file" "pigz -dc $GZ > $WORK/copy.tar" \
    -n "ocislim filter .tar.zst" "$OCISLIM filter $ZST -o $WORK/out.tar --platform $KEEP2 -q" \
    -n "zstd -dc > file" "zstd -dc $ZST > $WORK/copy.tar"
# compressed output, against the compressors on the kept bytes
log "compressed output"
KEPTBIG=$IN/kept-$BIGL-$KEY.tar
OPREP="rm -f $WORK/out.tar.gz $WORK/out.tar.zst $WORK/copy.gz $WORK/copy.zst; $DROP"
hf compressed-out --runs "$RUNS" --warmup "$WARMUP" \
    --prepare "$OPREP; cat $BIG > /dev/null" --prepare "$OPREP; cat $KEPTBIG > /dev/null" \
    --prepare "$OPREP; cat $BIG > /dev/null" --prepare "$OPREP; cat $KEPTBIG > /dev/null" \
    -n "ocislim filter -> .tar.gz" "$OCISLIM filter $BIG -o $WORK/out.tar.gz --platform $KEEP2 -q" \
    -n "pigz -6 kept" "pigz -6 -c $KEPTBIG > $WORK/copy.gz" \
    -n "ocislim filter -> .tar.zst" "$OCISLIM filter $BIG -o $WORK/out.tar.zst --platform $KEEP2 -q" \
    -n "zstd -T0 -3 kept" "zstd -q -T0 -3 -c $KEPTBIG > $WORK/copy.zst"
rm -f "$WORK"/out.tar* "$WORK"/copy.*
python3 "$TOOLS/peakmem.py" "$OCISLIM" ls "$GZ" >"$RES/mem-gz.txt"
python3 "$TOOLS/peakmem.py" "$OCISLIM" filter "$GZ" -o "$WORK/out.tar" --platform "$KEEP2" -q >"$RES/mem-gzfilter.txt"
rm -f "$WORK/out.tar"

# --- (h) the verbs that read or write several archives -----------------------------------------
# merge of the eight one-platform archives (against cat of the merged output), split into eight
# (against cat of the eight outputs), delta of the two kept platforms against a base holding one
# of them and the shared layer (against filter of the same selection), apply of that delta
# (against cat of its output).
PARTS=$IN/parts-$BIGL-$KEY
if [ ! -d "$PARTS" ]; then
    log "splitting $(basename "$BIG") into one archive per platform"
    mkdir -p "$PARTS.part" && "$OCISLIM" split "$BIG" -o "$PARTS.part/{platform}.tar" -q && mv "$PARTS.part" "$PARTS"
fi
BASE=$PARTS/linux-amd64.tar
MERGED=$WORK/merged.tar SPLIT=$WORK/split DELTA=$WORK/delta.tar APPLIED=$WORK/applied.tar
"$OCISLIM" merge "$PARTS"/*.tar -o "$MERGED" -q
mkdir -p "$SPLIT.ref" && "$OCISLIM" split "$BIG" -o "$SPLIT.ref/{platform}.tar" -q
"$OCISLIM" delta "$BIG" --base "$BASE" --platform "$KEEP2" -o "$DELTA.ref" -q
"$OCISLIM" apply "$DELTA.ref" --base "$BASE" -o "$APPLIED.ref" -q
log "merge, split, delta, apply"
hf verbs --runs "$RUNS" --warmup "$WARMUP" \
    --prepare "rm -rf $WORK/copy $MERGED.out; $DROP; cat $PARTS/*.tar $MERGED > /dev/null" \
    --prepare "rm -rf $WORK/copy; $DROP; cat $MERGED > /dev/null" \
    --prepare "rm -rf $SPLIT; mkdir $SPLIT; $DROP; cat $BIG $SPLIT.ref/*.tar > /dev/null" \
    --prepare "rm -rf $WORK/copy; mkdir $WORK/copy; $DROP; cat $SPLIT.ref/*.tar > /dev/null" \
    --prepare "rm -f $DELTA; $DROP; cat $BIG $BASE > /dev/null" \
    --prepare "rm -rf $WORK/copy; $DROP; cat $BIG > /dev/null" \
    --prepare "rm -f $APPLIED; $DROP; cat $DELTA.ref $BASE > /dev/null" \
    --prepare "rm -rf $WORK/copy; $DROP; cat $APPLIED.ref > /dev/null" \
    -n "ocislim merge 8" "$OCISLIM merge $PARTS/*.tar -o $MERGED.out -q" \
    -n "cat merged" "cat $MERGED > $WORK/copy" \
    -n "ocislim split 8" "$OCISLIM split $BIG -o '$SPLIT/{platform}.tar' -q" \
    -n "cat 8 parts" "for f in $SPLIT.ref/*.tar; do cat \$f > $WORK/copy/\$(basename \$f); done" \
    -n "ocislim delta" "$OCISLIM delta $BIG --base $BASE --platform $KEEP2 -o $DELTA -q" \
    -n "ocislim filter 2p (delta's)" "$OCISLIM filter $BIG --platform $KEEP2 -o $WORK/copy -q" \
    -n "ocislim apply" "$OCISLIM apply $DELTA.ref --base $BASE -o $APPLIED -q" \
    -n "cat applied" "cat $APPLIED.ref > $WORK/copy"
rm -rf "$MERGED" "$MERGED.out" "$SPLIT" "$SPLIT.ref" "$DELTA" "$DELTA.ref" "$APPLIED" "$APPLIED.ref" "$WORK/copy"

# --- (i) ls --unpacked: every layer decompressed, against zstd -dc of the layers on every core ---
if [ "$SKOPEO" = 1 ]; then
    ZL=$IN/zstd-layers-$BIGL-$KEY.tar
    if [ ! -s "$ZL" ]; then
        log "recompressing the layers of $(basename "$BIG") with zstd (skopeo)"
        skopeo "${SKOPEO_FLAGS[@]}" copy -q --all --dest-compress-format zstd "oci-archive:$BIG" "oci-archive:$ZL.part"
        mv "$ZL.part" "$ZL"
    fi
    LAYERS=$WORK/layers
    mkdir -p "$LAYERS" && tar -xf "$ZL" -C "$LAYERS" blobs
    find "$LAYERS/blobs" -type f -size +1M >"$WORK/layer-list"
    log "ls --unpacked of $(basename "$ZL") ($(wc -l <"$WORK/layer-list") zstd layers)"
    hf unpacked --runs "$RUNS" --warmup "$WARMUP" \
        --prepare "$DROP; cat $ZL > /dev/null" --prepare "$DROP; cat $(tr '\n' ' ' <"$WORK/layer-list") > /dev/null" \
        -n "ocislim ls --unpacked" "$OCISLIM ls $ZL --unpacked" \
        -n "zstd -dc layers" "xargs -P $(nproc) -n 1 sh -c 'zstd -q -dc \"\$0\" > /dev/null' < $WORK/layer-list"
    rm -rf "$LAYERS" "$WORK/layer-list"
fi

# --- (j) many images: ls, verify and filter of 1,500 images x 8 platforms with attestations -------
MANY=$IN/many-1500-$KEY.tar
if [ ! -s "$MANY" ]; then
    log "generating $(basename "$MANY")"
    "$GEN" "$MANY.part" 8 3 1000 1000 --attest --images 1500 && mv "$MANY.part" "$MANY"
fi
tar -tf "$MANY" | wc -l >"$RES/many-members.txt"
log "many images: $(cat "$RES/many-members.txt") members"
hf many --runs "$RUNS" --warmup "$WARMUP" \
    --prepare "$DROP; cat $MANY > /dev/null" --prepare "$DROP; cat $MANY > /dev/null" \
    --prepare "rm -f $WORK/out.tar; $DROP; cat $MANY > /dev/null" \
    -n "ocislim ls many" "$OCISLIM ls $MANY" \
    -n "ocislim verify many" "$OCISLIM verify $MANY" \
    -n "ocislim filter many 1p" "$OCISLIM filter $MANY --platform linux/amd64 -o $WORK/out.tar -q"
python3 "$TOOLS/peakmem.py" "$OCISLIM" ls "$MANY" >"$RES/mem-manyls.txt"
python3 "$TOOLS/peakmem.py" "$OCISLIM" verify "$MANY" >"$RES/mem-manyverify.txt"
python3 "$TOOLS/peakmem.py" "$OCISLIM" filter "$MANY" --platform linux/amd64 -o "$WORK/out.tar" -q >"$RES/mem-manyfilter.txt"
python3 "$TOOLS/peakmem.py" "$OCISLIM" filter "$ZST" -o "$WORK/out.tar" --platform "$KEEP2" -q >"$RES/mem-zstfilter.txt"
rm -f "$WORK/out.tar"

# --- (k) real files: the compressed rows again on a layer of this machine's files -----------------
# The archives above are noise, which the compressors store; a layer of real files (headers, text,
# binaries, translations) is where compression costs. buildah builds it (no daemon) and writes a
# docker-archive with the layer uncompressed, as `docker save` does; `filter` keeps all of it, so
# the compressors' input is the whole archive. Skipped by --quick or without buildah.
if [ "$QUICK" = 0 ] && command -v buildah >/dev/null; then
    REAL_DIRS=(/usr/include /usr/share/doc /usr/lib/gcc /usr/share/locale)
    REAL=$IN/real-files-$({ buildah --version; du -sb "${REAL_DIRS[@]}"; } | sha256sum | cut -c1-10).tar
    if [ ! -s "$REAL" ]; then
        log "building $(basename "$REAL") with buildah from ${REAL_DIRS[*]}"
        BW=$WORK/buildah && mkdir -p "$BW/tmp"
        bah() { TMPDIR=$BW/tmp buildah --root "$BW/root" --runroot "$BW/run" --storage-driver vfs "$@"; }
        c=$(bah from scratch)
        for d in "${REAL_DIRS[@]}"; do bah copy "$c" "$d" "/data$d" >/dev/null; done
        bah config --os linux --arch amd64 "$c"
        bah commit -q --rm --format docker "$c" localhost/ocislim-bench-real >/dev/null
        bah push -q --disable-compression localhost/ocislim-bench-real "docker-archive:$REAL.part:example.com/real:1"
        bah rmi -a -f >/dev/null
        awk -v d="$BW" 'index($5, d "/") == 1 {print $5}' /proc/self/mountinfo | sort -r | xargs -r umount -l
        rm -rf "$BW" && mv "$REAL.part" "$REAL"
    fi
    REALZ=$REAL.zst
    [ -s "$REALZ" ] || zstd -q -T0 -3 -c "$REAL" >"$REALZ"
    RPREP="rm -f $WORK/out.tar* $WORK/copy*; $DROP"
    log "real files: $(basename "$REAL"), $(stat -c %s "$REAL") bytes"
    hf real --runs 3 --warmup 1 \
        --prepare "$RPREP; cat $REAL > /dev/null" --prepare "$RPREP; cat $REAL > /dev/null" \
        --prepare "$RPREP; cat $REAL > /dev/null" --prepare "$RPREP; cat $REAL > /dev/null" \
        --prepare "$RPREP; cat $REALZ > /dev/null" --prepare "$RPREP; cat $REALZ > /dev/null" \
        -n "ocislim filter real -> .tar.gz" "$OCISLIM filter $REAL -o $WORK/out.tar.gz -q" \
        -n "pigz -6 real" "pigz -6 -c $REAL > $WORK/copy.gz" \
        -n "ocislim filter real -> .tar.zst" "$OCISLIM filter $REAL -o $WORK/out.tar.zst -q" \
        -n "zstd -T0 -3 real" "zstd -q -T0 -3 -c $REAL > $WORK/copy.zst" \
        -n "ocislim filter real .tar.zst" "$OCISLIM filter $REALZ -o $WORK/out.tar -q" \
        -n "zstd -dc real > file" "zstd -dc $REALZ > $WORK/copy.tar"
    stat -c %s "$REAL" >"$RES/real-size.txt"
    rm -f "$WORK"/out.tar* "$WORK"/copy*
fi

# --- report -----------------------------------------------------------------------------------
{
    echo "cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)"
    echo "cores=$(nproc)"
    echo "mem=$(free -g | awk '/^Mem:/{print $2}') GiB"
    echo "kernel=$(uname -r)"
    echo "fs=$(findmnt -n -o FSTYPE -T "$BENCH_DIR")"
    echo "timer=scripts/ab.py, interleaved rounds"
    echo "reporting=${REPORTING_WAS:+free page reporting off for the run (order $REPORTING_WAS → $(cat "$REPORTING"))}"
    echo "skopeo=$( [ "$SKOPEO" = 1 ] && skopeo --version || echo none)"
    echo "ocislim=$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)$(cd "$ROOT" && git diff --quiet HEAD -- src 2>/dev/null || echo '+dirty')"
    echo "runs=$RUNS"
    echo "load=$LOAD_START at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
    echo "quick=$QUICK"
    echo "sizes=${SIZE_LIST[*]}"
    echo "big=$BIGL"
    if [ "$QUICK" = 1 ]; then echo "cmd=scripts/bench.sh --quick"; else echo "cmd=scripts/bench.sh"; fi
} >"$RES/env.txt"

python3 - "$RES" "$OUT_DIR" <<'PY'
import json, os, sys
res, outdir = sys.argv[1], sys.argv[2]
env = dict(l.rstrip("\n").split("=", 1) for l in open(f"{res}/env.txt"))
def load(name):
    p = f"{res}/{name}.json"
    return {r["command"]: r for r in json.load(open(p))["results"]} if os.path.exists(p) else {}
def med(d, k):
    return d[k]["median"] if k in d else None
def mem(name):
    p = f"{res}/mem-{name}.txt"
    if not os.path.exists(p): return None
    a = open(p).read().split()
    return int(a[0]), int(a[1])
def fs(x): return "n/a" if x is None else (f"{x:.3f} s" if x >= 0.1 else f"{x*1000:.1f} ms")
def gib(b): return f"{b/2**30:.0f} GiB" if b >= 2**30 else f"{b/2**20:.0f} MiB"
def gb(b): return f"{b/1e9:.2f} GB"
sizes3 = [tuple(int(v) for v in s.split(":")) for s in env["sizes"].split()]
sizes = [(l, sz) for l, sz, _ in sizes3]
big = int(env["big"])
bsz = dict(sizes)[big]
kept = {l: k for l, _, k in sizes3}[big]
S = load(f"size-{big}"); L = load("ls"); C = load("compressed")
sp_app, sp_kib = (int(x) for x in open(f"{res}/sparse-size.txt").read().split())
rows, verdicts = [], []
def row(what, cmd_a, a, cmd_b, b, target=None, ok=None, ratio_fmt="{:.2f}×"):
    r = None if a is None or b is None else a / b
    rows.append(f"| {what} | `{cmd_a}` {fs(a)} | `{cmd_b}` {fs(b)} | {'n/a' if r is None else ratio_fmt.format(r)} | {target or ''} | {'' if ok is None or r is None else ('met' if ok(r) else '**missed**')} |")
    if target and r is not None: verdicts.append((what, target, ok(r)))
f2, f2n, cat, cp, catf, tarp = (med(S, k) for k in ("ocislim filter 2p", "ocislim filter 2p --no-verify", "cat kept", "cp kept", "cat kept + fsync", "tar -x + tar -c"))
f1, sk = med(S, "ocislim filter 1p"), med(S, "skopeo copy 1p")
f2r = med(S, "ocislim filter 2p, report")
row("filter 8→2 platforms, digests verified", "ocislim filter", f2, "cat kept", cat, "≤ 1.2×", lambda r: r <= 1.2)
row("filter 8→2 platforms, `--no-verify`", "ocislim filter --no-verify", f2n, "cat kept", cat, "≤ 1.0×", lambda r: r <= 1.0)
row("filter 8→2, without `-q` (the report's output sha256 is one more SHA-256 stream over the whole output; reference)", "ocislim filter", f2r, "cat kept", cat)
row("copy the kept bytes (reference)", "cp kept", cp, "cat kept", cat)
row("filter, digests verified, against a durable copy", "ocislim filter", f2, "cat kept + fsync", catf)
row("filter `--no-verify`, against a durable copy", "ocislim filter --no-verify", f2n, "cat kept + fsync", catf)
row("hand-written pipeline ÷ ocislim (reference)", "tar -x + tar -c", tarp, "ocislim filter", f2, "", None)
if sk is not None:
    row("one platform: skopeo ÷ ocislim (ocislim's speed-up)", "skopeo copy", sk, "ocislim filter", f1, "≥ 30×", lambda r: r >= 30)
ls_s, ls_b = med(L, "ocislim ls sparse"), med(L, "ocislim ls big")
rows.append(f"| `ls` of a {gib(sp_app)} sparse archive | `ocislim ls` {fs(ls_s)} | `ocislim ls` of the {gb(bsz)} archive {fs(ls_b)} | | ≤ 50 ms | {'met' if ls_s is not None and ls_s <= 0.050 else '**missed**'} |")
verdicts.append((f"ls {gib(sp_app)}", "≤ 50 ms", ls_s is not None and ls_s <= 0.050))
row("gzip input (`ls`, streamed)", "ocislim ls .tar.gz", med(C, "ocislim ls .tar.gz"), "gzip -dc", med(C, "gzip -dc"), "≤ 1.2×", lambda r: r <= 1.2)
row("zstd input (`ls`, streamed)", "ocislim ls .tar.zst", med(C, "ocislim ls .tar.zst"), "zstd -dc", med(C, "zstd -dc"), "≤ 1.2×", lambda r: r <= 1.2)
CF = load("compressed-filter"); CO = load("compressed-out")
row("filter of the .tar.zst to a .tar", "ocislim filter .tar.zst", med(CF, "ocislim filter .tar.zst"), "zstd -dc > file", med(CF, "zstd -dc > file"), "≤ 1.3×", lambda r: r <= 1.3)
row("filter of the .tar.gz to a .tar", "ocislim filter .tar.gz", med(CF, "ocislim filter .tar.gz"), "pigz -dc > file", med(CF, "pigz -dc > file"), "≤ 1.0×", lambda r: r <= 1.0)
row("filter 8→2 to a .tar.gz, against pigz -6 of the kept bytes", "ocislim filter -o .tar.gz", med(CO, "ocislim filter -> .tar.gz"), "pigz -6 kept", med(CO, "pigz -6 kept"), "≤ 0.8×", lambda r: r <= 0.8)
row("filter 8→2 to a .tar.zst, against zstd -T0 -3 of the kept bytes", "ocislim filter -o .tar.zst", med(CO, "ocislim filter -> .tar.zst"), "zstd -T0 -3 kept", med(CO, "zstd -T0 -3 kept"), "≤ 1.0×", lambda r: r <= 1.0)
row("gzip input against pigz (reference)", "ocislim ls .tar.gz", med(C, "ocislim ls .tar.gz"), "pigz -dc", med(C, "pigz -dc"))
V = load("verbs")
row("merge of the eight one-platform archives, verified", "ocislim merge", med(V, "ocislim merge 8"), "cat merged", med(V, "cat merged"), "≤ 1.3×", lambda r: r <= 1.3)
row("split into eight, verified", "ocislim split", med(V, "ocislim split 8"), "cat 8 parts", med(V, "cat 8 parts"), "≤ 1.3×", lambda r: r <= 1.3)
row("delta 8→2 against a base holding amd64 and the shared layer", "ocislim delta", med(V, "ocislim delta"), "ocislim filter", med(V, "ocislim filter 2p (delta's)"), "≤ 1.2×", lambda r: r <= 1.2)
U = load("unpacked")
row("`ls --unpacked` of the archive with zstd layers (reference)", "ocislim ls --unpacked", med(U, "ocislim ls --unpacked"), f"zstd -dc of the layers on {env['cores']} cores", med(U, "zstd -dc layers"))
M = load("many")
many_n = open(f"{res}/many-members.txt").read().strip() if os.path.exists(f"{res}/many-members.txt") else "?"
ls_m = med(M, "ocislim ls many")
rows.append(f"| `ls` of 1,500 images × 8 platforms with attestations ({many_n} members) | `ocislim ls` {fs(ls_m)} | | | ≤ 0.3 s | {'n/a' if ls_m is None else ('met' if ls_m <= 0.3 else '**missed**')} |")
if ls_m is not None: verdicts.append(("ls of 1,500 images", "≤ 0.3 s", ls_m <= 0.3))
rows.append(f"| `verify` and `filter --platform linux/amd64` of the same (reference) | `ocislim verify` {fs(med(M, 'ocislim verify many'))} | `ocislim filter` {fs(med(M, 'ocislim filter many 1p'))} | | | |")
row("apply of that delta, verified", "ocislim apply", med(V, "ocislim apply"), "cat applied", med(V, "cat applied"), "≤ 1.3×", lambda r: r <= 1.3)
RL = load("real")
if RL:
    real_sz = gb(int(open(f"{res}/real-size.txt").read()))
    row(f"real files ({real_sz} docker-archive, reference): filter to a .tar.gz, against pigz -6 of the archive", "ocislim filter -o .tar.gz", med(RL, "ocislim filter real -> .tar.gz"), "pigz -6", med(RL, "pigz -6 real"))
    row("real files: filter to a .tar.zst, against zstd -T0 -3 of the archive", "ocislim filter -o .tar.zst", med(RL, "ocislim filter real -> .tar.zst"), "zstd -T0 -3", med(RL, "zstd -T0 -3 real"))
    row("real files: filter of its .tar.zst to a .tar, against zstd -dc > file", "ocislim filter .tar.zst", med(RL, "ocislim filter real .tar.zst"), "zstd -dc > file", med(RL, "zstd -dc real > file"))

mrows = []
for l, sz in sizes:
    m = mem(str(l))
    if m: mrows.append((f"`filter` 8→2, {gb(sz)} archive", m))
for n, label in (("gz", f"`ls` of the .tar.gz ({gb(bsz)} decompressed)"), ("gzfilter", "`filter` of the .tar.gz"), ("zstfilter", "`filter` of the .tar.zst"), ("ls", f"`ls` of the {gib(sp_app)} sparse archive"),
                 ("manyls", "`ls` of 1,500 images"), ("manyverify", "`verify` of 1,500 images"), ("manyfilter", "`filter` of 1,500 images to one platform")):
    m = mem(n)
    if m: mrows.append((label, m))
max_anon = max((m[1] for _, m in mrows), default=0)
verdicts.append(("peak RssAnon", "≤ 64 MiB", max_anon <= 64 * 1024))

names = ["ocislim filter 2p", "ocislim filter 2p --no-verify", "ocislim filter 2p, report", "cat kept", "cp kept", "cat kept + fsync", "tar -x + tar -c", "ocislim filter 1p", "skopeo copy 1p"]
present = [n for n in names if any(n in load(f"size-{l}") for l, _ in sizes)]
with open(f"{res}/plot.dat", "w") as dat:
    dat.write('"size (GB)" ' + " ".join(f'"{n}"' for n in present) + "\n")
    for l, sz in sizes:
        d = load(f"size-{l}")
        dat.write(f"{sz/1e9:.4f} " + " ".join(f"{med(d, n):.5f}" if med(d, n) is not None else "NaN" for n in present) + "\n")
with open(f"{res}/plot.ncols", "w") as c:
    c.write(f"{len(present) + 1}\n")

out = []
out.append(f"## Benchmarks\n")
out.append(f"Measured by `{env['cmd']}` ({env['timer']}: every command of a group once per round, the median of {env['runs']} rounds after a warm-up; before each run the "
           f"outputs are removed, `sync` runs, the page cache is dropped (`echo 1 > /proc/sys/vm/drop_caches`, so no run pays for reclaiming earlier runs' pages) and the inputs and the programs timed are read back into it; ocislim is the release binary stripped, as `scripts/package.sh` ships it) on {env['cores']} cores ({env['cpu']}), {env['mem']}, Linux {env['kernel']}, {env['fs']}; " + (f"{env['reporting']} (see docs/performance.md, \"The bench machine\"); " if env.get('reporting') else "") +
           f"ocislim {env['ocislim']}; load average (1/5/15 min) {env['load']}.\n")
out.append(f"Input: {gb(bsz)} OCI archive, one image of 8 platforms × three {big/1e6:.0f} MB layers + one shared {big/1e6:.0f} MB layer + attestations "
           f"(`examples/gen-bench.rs`). `filter` keeps `linux/amd64,linux/arm64`: a {gb(kept)} output, "
           f"the same file `cat kept` and `cp kept` copy; one platform is `linux/arm64/v8`. "
           f"ocislim (run with `-q`, so it skips the output's own sha256) writes to a temporary file and renames it into place, "
           f"without fsync, like `cat`, `cp`, tar and skopeo; `cat kept + fsync` (`cat kept > copy && sync copy`) is shown for reference. "
           f"Compressed input is streamed by `ls` (no spool); `filter` of a compressed file to a plain tar reads it twice (no spool). "
           f"The compressed archives are that archive through `pigz -1` and `zstd -T0 -3`; its layers are incompressible noise, so the compressors mostly store them.\n")
out.append("| What | Command (median) | Against (median) | Ratio | Target | |")
out.append("| --- | --- | --- | --- | --- | --- |")
out += rows
out.append("")
out.append("Time against archive size (median seconds; `docs/bench.png`):\n")
out.append("| Archive | " + " | ".join(f"`{n}`" for n in present) + " |")
out.append("| --- " * (len(present) + 1) + "|")
for l, sz in sizes:
    d = load(f"size-{l}")
    out.append(f"| {gb(sz)} | " + " | ".join(fs(med(d, n)) for n in present) + " |")
out.append("")
out.append("Peak memory (ru_maxrss = `/usr/bin/time -f %M` = VmHWM, which counts the mapped input pages in flight: ocislim hashes blobs from a memory map of the input and releases each window once done; RssAnon, the process's own memory, sampled from /proc/PID/status every 2 ms):\n")
out.append("| Run | Peak RSS | Peak RssAnon |")
out.append("| --- | --- | --- |")
for label, (rss, anon) in mrows:
    a = f"{anon/1024:.1f} MiB" if anon >= 1024 else (f"{anon} KiB" if anon else "n/a (ended before the first sample)")
    out.append(f"| {label} | {rss/1024:.1f} MiB | {a} |")
out.append("")
out.append(f"Sparse archive: {sp_app} bytes apparent, {sp_kib} KiB on disk.\n")
out.append("Targets: " + "; ".join(f"{w} {t}: {'met' if ok else 'MISSED'}" for w, t, ok in verdicts) + ".\n")
out.append("![time against archive size](bench.png)\n")
text = "\n".join(out)
open(f"{outdir}/bench.md", "w").write(text)
print(text)
PY

# --- plot -------------------------------------------------------------------------------------
if command -v gnuplot >/dev/null; then
    gnuplot -e "datafile='$RES/plot.dat'; ncols=$(cat "$RES/plot.ncols"); outfile='$OUT_DIR/bench.png'" \
        "$ROOT/scripts/bench-plot.gnuplot"
    echo "wrote $OUT_DIR/bench.md and $OUT_DIR/bench.png" >&2
else
    echo "wrote $OUT_DIR/bench.md (no gnuplot: no plot)" >&2
fi
