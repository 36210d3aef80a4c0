#!/usr/bin/env bash
# scripts/interop.sh — real-client conformance suite for ocislim.
#
# Builds fresh multi-platform images with buildah, makes archives of every shape with the real
# tools (buildah/skopeo oci-archive, a Docker manifest list, shallow `ctr images export
# --platform`s of containerd 1.6 and 1.7, a legacy `docker save`, a skopeo docker-archive, and
# Docker 26's own `docker save` of a multi-platform image and of several images at once), runs
# `ocislim ls`, `verify` and `filter` on them, and feeds the outputs back to the programs that
# consume them, of each client generation (scripts/lib/daemons.sh):
#   bookworm  Debian 12's containerd 1.6 (`ctr images import`), Docker 20.10 (`docker load`),
#             skopeo 1.9
#   trixie    Debian 13's containerd 1.7, Docker 26 with the containerd image store, skopeo 1.18,
#             unpacked from Debian's packages (not installed; cached, see scripts/lib/trixie.sh)
#   trixie-classic  Docker 26 again, with its default, classic image store: the Docker checks only
# and umoci (0.4, the machine's) in all.
#
# Checks that run a client are named GEN/GROUP/CHECK and run once per generation, on the same
# archives; checks of ocislim alone (verify, ls, filter itself, exit codes, umoci) are named
# GROUP/CHECK and run once. When Debian 13's packages cannot be fetched or do not run, a
# `SKIP trixie ...` line says which command failed and the trixie checks are skipped.
# The README's Compatibility table names checks of this suite; the last check sees that they passed.
#
# Every check is named and counted; a failing check prints `FAIL NAME` and the tail of what the
# command printed, and the run goes on. The last line is `N passed, M failed`; the exit status is
# non-zero when anything failed (or the set-up itself failed).
#
# Usage (root; no stdin needed; CI=true is fine):
#   bash scripts/interop.sh
# Environment:
#   OCISLIM_BIN=PATH          the ocislim binary to test (default target/release/ocislim, built
#                             with `cargo build --release --locked` when missing; honours
#                             CARGO_TARGET_DIR)
#   OCISLIM_INTEROP_GENS="bookworm trixie trixie-classic"  the client generations (the first
#                             also runs the checks of ocislim alone, so it must be bookworm)
#   OCISLIM_INTEROP_TIMEOUT=S stop the daemons and abort after S seconds (default 900)
#   OCISLIM_INTEROP_KEEP=1    keep the work directory (archives, logs) for inspection
#   OCISLIM_INTEROP_VERBOSE=1 print every check's output, not only the failing ones'
#
# Private everything: buildah storage, containerd and dockerd roots, sockets, policy and registries
# files all live under one temp dir (scripts/lib/sandbox.sh); the daemons are stopped by the pids
# recorded when they were started (scripts/lib/daemons.sh), on success, failure or signal.
set -euo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT"
T0=$SECONDS

say() { printf '== %s\n' "$*"; }
die() {
	printf 'interop: %s\n' "$*" >&2
	exit 1
}

[ "$(id -u)" = 0 ] || die "must run as root (it starts a private containerd and dockerd)"

# ---------------------------------------------------------------- clients (idempotent install)
PKGS=(containerd docker.io skopeo umoci buildah zstd jq)
missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
	say "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq </dev/null
	apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >/dev/null
else
	say "clients already installed (${PKGS[*]})"
fi
for t in buildah skopeo umoci ctr containerd dockerd docker zstd gzip jq tar sha256sum setsid od; do
	command -v "$t" >/dev/null || die "missing tool after install: $t"
done

# ---------------------------------------------------------------- ocislim
if [ -n "${OCISLIM_BIN:-}" ]; then
	OCISLIM=$OCISLIM_BIN
else
	OCISLIM=${CARGO_TARGET_DIR:-$ROOT/target}/release/ocislim
	if [ ! -x "$OCISLIM" ]; then
		say "building $OCISLIM"
		cargo build --release --locked </dev/null
	fi
fi
[ -x "$OCISLIM" ] || die "no ocislim binary at $OCISLIM"
ocislim() { "$OCISLIM" "$@"; }

# ---------------------------------------------------------------- work dir + cleanup
# shellcheck source-path=SCRIPTDIR source=lib/daemons.sh
. "$ROOT/scripts/lib/daemons.sh"
# shellcheck source-path=SCRIPTDIR source=lib/sandbox.sh
. "$ROOT/scripts/lib/sandbox.sh"

# Short: the daemons' unix sockets live under it (108-byte limit).
WORK=$(mktemp -d /tmp/ocislim-io.XXXX)
DDIR=$WORK/d
IN=$WORK/in
OUT=$WORK/out
LOGS=$WORK/logs
mkdir -p "$IN" "$OUT" "$LOGS" "$WORK/ctx"
SANDBOX_KEEP=${OCISLIM_INTEROP_KEEP:-0}
sandbox_init "$WORK"

cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	if [ -n "${WATCHDOG_PID:-}" ]; then
		kill -TERM "$WATCHDOG_PID" 2>/dev/null
		wait "$WATCHDOG_PID" 2>/dev/null
	fi
	sandbox_cleanup
	if [ "$rc" != 0 ] && [ -z "${SUMMARY_PRINTED:-}" ]; then
		echo "interop: aborted (exit $rc) after $((SECONDS - T0))s; the abort counts as one failure" >&2
		echo "${PASS:-0} passed, $((${FAIL:-0} + 1)) failed"
	fi
	exit "$rc"
}
trap cleanup EXIT
# Without these a signal would skip the EXIT trap and leave the (setsid) daemons running.
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- check machinery
PASS=0 FAIL=0 NCHECK=0
FAILED=()
GEN= # the client generation whose daemons are up (gen_up)
# The checks (ERE on NAME) of a generation that differs from the one before it in one client only.
declare -A GEN_CHECKS=([trixie-classic]='docker-load|image-id')
# check NAME CMD ARGS...: a check that runs the current generation's clients, named GEN/NAME.
# Runs CMD in a subshell with errexit on (so every step of a helper counts), prints `ok NAME` or
# `FAIL NAME` plus the tail of its output. Never aborts the run.
check() {
	local name=${GEN:+$GEN/}$1 rc log
	[ -z "$GEN" ] || [[ $1 =~ ${GEN_CHECKS[$GEN]:-.} ]] || return 0
	shift
	NCHECK=$((NCHECK + 1))
	echo "$name" >>"$LOGS/ran"
	log=$LOGS/$(printf '%03d' "$NCHECK")-${name//[^A-Za-z0-9._-]/_}.log
	set +e
	(
		set -e
		"$@"
	) >"$log" 2>&1 </dev/null
	rc=$?
	set -e
	if [ "$rc" = 0 ]; then
		PASS=$((PASS + 1))
		echo "ok $name"
		echo "$name" >>"$LOGS/passed"
		if [ "${OCISLIM_INTEROP_VERBOSE:-0}" = 1 ]; then sed 's/^/    /' "$log"; fi
	else
		FAIL=$((FAIL + 1))
		FAILED+=("$name")
		echo "FAIL $name (exit $rc)"
		tail -n 25 "$log" | sed 's/^/    /'
	fi
}

# once NAME CMD...: a check of ocislim alone (and tar, umoci: no generation's client), named NAME:
# run in the first generation's pass only. Its outputs are there for every later pass.
once() {
	[ "$GEN" = "${GENS[0]}" ] || return 0
	GEN='' check "$@"
}

# run CMD...: echo the command, then run it (so failure logs show what was run).
run() {
	echo "+ $*" >&2
	"$@"
}
# expect_eq WHAT GOT WANT
expect_eq() {
	if [ "$2" != "$3" ]; then
		printf '%s differs\n--- got:\n%s\n--- want:\n%s\n' "$1" "$2" "$3"
		return 1
	fi
}
# expect_out WANT CMD...: CMD succeeds and prints exactly WANT.
expect_out() {
	local want=$1 got
	shift
	got=$(run "$@")
	expect_eq "output of '$*'" "$got" "$want"
}
# expect_rc WANT CMD...: CMD must exit with WANT.
expect_rc() {
	local want=$1 rc=0
	shift
	run "$@" || rc=$?
	[ "$rc" = "$want" ] || {
		echo "exit status $rc, want $want"
		return 1
	}
}
# refused PATTERN CMD...: CMD must fail, with PATTERN (ERE) in its output.
refused() {
	local pat=$1 rc=0 out
	shift
	out=$(run "$@" 2>&1) || rc=$?
	printf '%s\n' "$out"
	[ "$rc" != 0 ] || {
		echo "accepted (exit 0), but it should have been refused"
		return 1
	}
	grep -Eq "$pat" <<<"$out" || {
		echo "refused (exit $rc), but not with /$pat/"
		return 1
	}
	echo "refused as expected (exit $rc)"
}

# platform string from a descriptor/config object (jq filter)
JQ_PLAT='(.os + "/" + .architecture + (if (.variant // "") != "" then "/" + .variant else "" end))'

# raw_index FILE: the root index/list of an oci-archive, as skopeo reads it.
raw_index() { sko inspect --raw "oci-archive:$1"; }
# sko_plats FILE: "platform digest" per manifest of the root index, as skopeo reads it (index order).
sko_plats() { raw_index "$1" | jq -r ".manifests[] | (.platform | $JQ_PLAT) + \" \" + .digest"; }
# ocs_plats FILE [IMG]: the same from `ocislim ls --format json` (image IMG, default 0).
ocs_plats() { ocislim ls --format json "$1" | jq -r ".images[${2:-0}].platforms[] | .platform + \" \" + .digest"; }
ocs_root() { ocislim ls --format json "$1" | jq -r ".images[${2:-0}].digest"; }
sha256_of() { echo "sha256:$(sha256sum | cut -d' ' -f1)"; }
# small readers, for expect_out
root_digest() { raw_index "$1" | sha256_of; }
ocs_plat_list() { ocislim ls --format json "$1" | jq -r '[.images[0].platforms[].platform] | join(",")'; }
ocs_statuses() { ocislim ls --format json "$1" | jq -r '.images[0].platforms[] | .platform + " " + .status'; }
ocs_compression() { ocislim ls --format json "$1" | jq -r .archive.compression; }
magic() { head -c "$2" "$1" | od -An -tx1 | tr -d ' \n'; }
entry_annotation() { raw_index "$1" | jq -r --arg k "$3" ".manifests[] | select((.platform | $JQ_PLAT) == \"$2\") | .annotations[\$k]"; }
repo_tags() { tar -xOf "$1" manifest.json | jq -c '[.[].RepoTags]'; }
docker_config_digest() { sko inspect --config --raw "docker-archive:$1" | sha256_of; }
# sel_plats LINES PLATFORMS...: the lines of "platform digest" whose platform is listed.
sel_plats() {
	local lines=$1 p
	shift
	for p in "$@"; do grep "^$p " <<<"$lines"; done
}

# (Inside a check, NCHECK is that check's number: scratch files and namespaces are named by it.)
# ctr_ns: a containerd namespace of its own for each check (content is per namespace, so nothing
# imported earlier can make an import succeed).
ctr_ns() { echo "io$NCHECK"; }
# ctr_ls_field NS REF FIELD: from `ctr images ls`: digest | platforms
ctr_ls_field() {
	ctr_ -n "$1" images ls | awk -v r="$2" -v f="$3" '$1 == r { if (f == "digest") print $3; else print $(NF - 1) }'
}

# ---------------------------------------------------------------- composite checks
# ls_agrees_skopeo FILE: same platforms (in order) and digests, and the root digest is what
# skopeo reads as the raw root.
ls_agrees_skopeo() {
	local s o
	s=$(sko_plats "$1")
	o=$(ocs_plats "$1")
	echo "$o"
	expect_eq "platforms+digests (ocislim ls vs skopeo inspect --raw)" "$o" "$s"
	expect_eq "root digest (ocislim ls vs sha256 of skopeo inspect --raw)" "$(ocs_root "$1")" "$(raw_index "$1" | sha256_of)"
}

# index_rewritten OUTFILE INFILE PLATFORMS...: skopeo reads the output's index with exactly the
# kept platforms, each with the digest it had in the input; the index itself has a new digest
# unless every platform was kept.
index_rewritten() {
	local out=$1 in=$2 got want
	shift 2
	got=$(sko_plats "$out")
	want=$(sel_plats "$(sko_plats "$in")" "$@")
	echo "$got"
	expect_eq "kept manifests (skopeo inspect --raw)" "$(sort <<<"$got")" "$(sort <<<"$want")"
	expect_eq "manifests count" "$(raw_index "$out" | jq '.manifests | length')" "$#"
	expect_eq "root mediaType" "$(raw_index "$out" | jq -r .mediaType)" "$(raw_index "$in" | jq -r .mediaType)"
	# every field but manifests kept as it was
	expect_eq "other index fields" "$(raw_index "$out" | jq -cS 'del(.manifests)')" "$(raw_index "$in" | jq -cS 'del(.manifests)')"
}

# compression_of FILE: none | gzip | zstd (magic bytes)
compression_of() {
	case $(head -c4 "$1" | od -An -tx1 | tr -d ' \n') in
	1f8b*) echo gzip ;;
	28b52ffd) echo zstd ;;
	*) echo none ;;
	esac
}
# client_input CLIENT FILE: print the path to give CLIENT (ctr|docker), or "-" when FILE's
# compression is one this generation's client cannot read (probed by probe_clients) and it must be
# fed, through client_feed, decompressed on stdin.
client_input() {
	local c
	c=$(compression_of "$2")
	if [ "$c" = none ] || grep -qxF "$1 $c" "$WORK/client-decompresses.$GEN"; then echo "$2"; else echo -; fi
}
client_feed() {
	case $(compression_of "$1") in
	gzip) echo "+ gzip -dc $1 |" >&2 && gzip -dc "$1" ;;
	zstd) echo "+ zstd -dc $1 |" >&2 && zstd -q -dc "$1" ;;
	*) cat "$1" ;;
	esac
}
# via CLIENT FILE: "" when CLIENT reads FILE as it is, else "(via gzip -dc)" / "(via zstd -dc)",
# for check names.
via() {
	if [ -e "$2" ] && [ "$(client_input "$1" "$2")" = - ]; then echo "(via $(compression_of "$2") -dc)"; fi
}
# ctr_import_file FILE ARGS...: ctr_ ARGS... FILE, or the decompressed stream on stdin when
# this ctr cannot read FILE's compression.
ctr_import_file() {
	local f=$1
	shift
	if [ "$(client_input ctr "$f")" = - ]; then
		client_feed "$f" | run ctr_ "$@" -
	else
		run ctr_ "$@" "$f" </dev/null
	fi
}
# docker_load_file FILE: docker load -i FILE, or from stdin, decompressed, as above.
docker_load_file() {
	if [ "$(client_input docker "$1")" = - ]; then
		client_feed "$1" | run docker_ load
	else
		run docker_ load -i "$1" </dev/null
	fi
}

# ctr_imports FILE REF PLATFORMS...: `ctr images import --all-platforms --no-unpack` accepts it,
# REF exists with exactly PLATFORMS, the root digest is ocislim's, the kept manifests are in the
# content store, and when the host's platform is kept `ctr images check` finds it complete.
ctr_imports() {
	local f=$1 ref=$2 ns got want d
	shift 2
	ns=$(ctr_ns)
	ctr_import_file "$f" -n "$ns" images import --all-platforms --no-unpack
	ctr_ -n "$ns" images ls 2>/dev/null
	got=$(ctr_ls_field "$ns" "$ref" platforms 2>/dev/null)
	want=$(printf '%s\n' "$@" | sort | paste -sd,)
	expect_eq "ctr images ls PLATFORMS of $ref" "$got" "$want"
	expect_eq "ctr images ls digest vs ocislim ls" "$(ctr_ls_field "$ns" "$ref" digest 2>/dev/null)" "$(ocs_root "$f")"
	expect_eq "ctr images ls PLATFORMS vs ocislim ls" "$got" "$(ocs_plats "$f" | cut -d' ' -f1 | sort | paste -sd,)"
	ctr_ -n "$ns" content ls -q | sort >"$TMPDIR/content.$NCHECK"
	while read -r _ d; do
		grep -qxF "$d" "$TMPDIR/content.$NCHECK" || {
			echo "kept manifest $d not in the content store"
			return 1
		}
	done < <(ocs_plats "$f")
	if printf '%s\n' "$@" | grep -qxF "$HOST_PLAT"; then
		run ctr_ -n "$ns" images check | tee "$TMPDIR/check.$NCHECK"
		awk -v r="$ref" '$1 == r' "$TMPDIR/check.$NCHECK" | grep -q ' complete (' || {
			echo "ctr images check: $ref not complete for $HOST_PLAT"
			return 1
		}
	fi
}

# ctr_imports_one FILE REF PLATFORM: `ctr images import --platform PLATFORM` (not all platforms)
# accepts a shallow archive; ctr then reports the root digest and the platform list (missing
# platforms included, as they are in the index) that `ocislim ls` reports.
ctr_imports_one() {
	local f=$1 ref=$2 plat=$3 ns
	ns=$(ctr_ns)
	ctr_import_file "$f" -n "$ns" images import --platform "$plat" --no-unpack
	ctr_ -n "$ns" images ls 2>/dev/null
	expect_eq "ctr images ls digest vs ocislim ls" "$(ctr_ls_field "$ns" "$ref" digest 2>/dev/null)" "$(ocs_root "$f")"
	expect_eq "ctr images ls PLATFORMS vs ocislim ls" "$(ctr_ls_field "$ns" "$ref" platforms 2>/dev/null)" \
		"$(ocs_plats "$f" | cut -d' ' -f1 | sort | paste -sd,)"
}

# umoci_layout DIR TAG: umoci lists TAG in the layout, and `umoci gc` finds nothing to collect
# (every blob in it is reachable, and everything reachable is there).
umoci_layout() {
	local dir=$1 tag=$2 n1 n2
	run umoci ls --layout "$dir" | tee "$TMPDIR/umoci.$NCHECK"
	grep -qxF "$tag" "$TMPDIR/umoci.$NCHECK" || {
		echo "umoci ls does not list $tag"
		return 1
	}
	n1=$(find "$dir/blobs" -type f | wc -l)
	run umoci gc --layout "$dir"
	n2=$(find "$dir/blobs" -type f | wc -l)
	expect_eq "blobs left by umoci gc (of $n1)" "$n2" "$n1"
}

# skopeo_copy FILE TAG same|converted: `skopeo copy --all oci-archive:FILE oci:DIR:TAG` succeeds;
# the copied root index is byte-identical to the archive's (same), or, for a Docker manifest list
# that the oci: transport converts to an OCI index, lists the same platforms (converted); umoci
# reads the copied layout.
skopeo_copy() {
	local f=$1 tag=$2 mode=$3 dir
	dir=$TMPDIR/layout.$NCHECK
	run sko copy -q --all "oci-archive:$f" "oci:$dir:$tag"
	if [ "$mode" = same ]; then
		expect_eq "root digest after skopeo copy --all" "$(sko inspect --raw "oci:$dir:$tag" | sha256_of)" "$(raw_index "$f" | sha256_of)"
	else
		expect_eq "platforms after skopeo copy --all" \
			"$(sko inspect --raw "oci:$dir:$tag" | jq -r ".manifests[] | .platform | $JQ_PLAT")" \
			"$(raw_index "$f" | jq -r ".manifests[] | .platform | $JQ_PLAT")"
	fi
	umoci_layout "$dir" "$tag"
}

# umoci_extracted FILE TAG [stat]: the archive, untarred as it is, is an OCI layout umoci reads
# (OCI media types only: umoci 0.4 does not know Docker's). With `stat`, also `umoci stat` the
# tag (umoci only resolves a tag that leads to a single manifest).
umoci_extracted() {
	local f=$1 tag=$2 dir
	dir=$TMPDIR/x.$NCHECK
	mkdir -p "$dir"
	run tar -xf "$f" -C "$dir"
	umoci_layout "$dir" "$tag"
	if [ "${3:-}" = stat ]; then
		run umoci stat --image "$dir:$tag"
	fi
}

# docker_image_config NAME: the digest of the config of Docker's image NAME (its image ID in the
# classic store; in the containerd image store the ID is the manifest's digest).
docker_image_config() {
	local id
	id=$(docker_ image inspect -f '{{.Id}}' "$1")
	if [ "$OCISLIM_DOCKER_C8D" = 1 ]; then
		ctr_ -n moby content get "$id" | jq -r .config.digest
	else
		echo "$id"
	fi
}

# tag_config FILE NAME: the config digest manifest.json gives for the tag NAME.
tag_config() {
	tar -xOf "$1" manifest.json | jq -r --arg n "$2" '.[] | select(.RepoTags | index([$n])) | .Config' |
		sed -E 's#^blobs/sha256/#sha256:#; s#^([0-9a-f]{64})\.json$#sha256:\1#'
}

# docker_keeps FILE NAME: (containerd image store) Docker keeps NAME as the archive holds it: the
# image digest `ocislim ls` reports for NAME and, for an index, the same platforms; for a legacy
# image (which Docker stores under a manifest of its own making), the same config. (A legacy
# image's further tags, which `ocislim ls` may not list by name: the config manifest.json gives.)
docker_keeps() {
	local f=$1 n=$2 img
	img=$(ocislim ls --format json "$f" | jq -c --arg n "$n" \
		'first(.images[] | select(.name == $n or ((.tags // []) | any(. == $n))))')
	if [ -z "$img" ]; then
		expect_eq "config of $n (Docker vs manifest.json)" "$(docker_image_config "$n")" "$(tag_config "$f" "$n")"
		return
	fi
	case $(jq -r .mediaType <<<"$img") in
	*index* | *list*)
		expect_eq "digest of $n (docker image inspect vs ocislim ls)" "$(docker_ image inspect -f '{{.Id}}' "$n")" "$(jq -r .digest <<<"$img")"
		expect_eq "platforms of $n (Docker's containerd store vs ocislim ls)" "$(ctr_ls_field moby "$n" platforms)" \
			"$(jq -r '[.platforms[].platform] | sort | join(",")' <<<"$img")"
		;;
	*manifest*)
		expect_eq "digest of $n (docker image inspect vs ocislim ls)" "$(docker_ image inspect -f '{{.Id}}' "$n")" "$(jq -r .digest <<<"$img")"
		;;
	*)
		expect_eq "config of $n (Docker vs ocislim ls)" "$(docker_image_config "$n")" "$(jq -r .digest <<<"$img")"
		;;
	esac
}

# docker_loads FILE ARCH NAME...: `docker load` accepts it, reports loading each NAME, and each
# NAME is an image of architecture ARCH (the classic image store loads the one image manifest.json
# names) or, in the containerd image store (which loads the whole index, and shows whichever
# platform it prefers), the very image `ocislim ls` reports (docker_keeps). Names are removed
# first so the load is what made them.
docker_loads() {
	local f=$1 arch=$2 n out
	shift 2
	docker_ image rm -f "$@" >/dev/null 2>&1 || true
	out=$(docker_load_file "$f" 2>&1) || {
		echo "$out"
		return 1
	}
	echo "$out"
	for n in "$@"; do
		grep -qxF "Loaded image: $n" <<<"$out" || {
			echo "docker load did not report loading $n"
			return 1
		}
		if [ "$OCISLIM_DOCKER_C8D" = 1 ]; then
			docker_keeps "$f" "$n"
		else
			expect_eq "architecture of $n" "$(docker_ image inspect -f '{{.Architecture}}' "$n")" "$arch"
		fi
	done
}

# filt OUTNAME INFILE ARGS...: ocislim filter, quiet about nothing (its report goes to the log).
filt() {
	local o=$1 i=$2
	shift 2
	run ocislim filter "$i" -o "$OUT/$o" "$@"
	[ -s "$OUT/$o" ]
}

# ---------------------------------------------------------------- fresh images (buildah)
say "building images with buildah ($(buildah --version))"
R=example.com/interop # every name this run creates is under it
mkdir -p "$WORK/ctx/shared"
head -c 20000 /dev/urandom >"$WORK/ctx/shared/shared.bin"
echo "ocislim interop: shared layer" >"$WORK/ctx/shared/README.txt"

c=$(bah from --name io-base-wc scratch)
bah copy "$c" "$WORK/ctx/shared" /shared >/dev/null
bah commit -q --rm "$c" localhost/io-base >/dev/null

# build_plat LIST KEY OS/ARCH[/VARIANT]: a platform image with fresh random content.
build_plat() {
	mkdir -p "$WORK/ctx/$2"
	head -c 8000 /dev/urandom >"$WORK/ctx/$2/data.bin"
	echo "$3" >"$WORK/ctx/$2/platform.txt"
	sandbox_build_plat io "$1" "$2" "$3" "$WORK/ctx/$2"
}
OCI_PLATS=(linux/amd64 linux/arm64/v8 linux/arm/v7 linux/s390x)
DL_PLATS=(linux/amd64 linux/arm64/v8 linux/s390x)
for p in "${OCI_PLATS[@]}"; do build_plat io-demo "demo-${p//\//-}" "$p"; done
for p in "${DL_PLATS[@]}"; do build_plat io-dlist "dlist-${p//\//-}" "$p"; done
# An entry-level annotation, to see it survive the rewrite.
armdig=$(bah manifest inspect io-demo | jq -r '.manifests[] | select(.platform.architecture == "arm") | .digest')
bah manifest annotate --annotation org.example.interop=arm-entry io-demo "$armdig" >/dev/null

DEMO=$R/demo:1.0
DLIST=$R/dlist:2
bah manifest push -q --all --format oci io-demo "oci-archive:$IN/oci-index.tar:$DEMO"
bah manifest push -q --all --format v2s2 io-dlist "oci-archive:$IN/docker-list.tar:$DLIST"
bah rm -a >/dev/null 2>&1 || true

# ---------------------------------------------------------------- client generations
# gen_up GEN: GEN's clients, and its daemons started afresh in $DDIR. gen_down: stop them.
gen_up() {
	GEN=$1
	daemons_generation "$GEN"
	daemons_start "$DDIR"
	HOST_PLAT=$(docker_ version -f '{{.Server.Os}}/{{.Server.Arch}}')
}
gen_down() {
	daemons_stop
	GEN=
}

ALL_GENS="bookworm trixie trixie-classic"
read -r -a GENS <<<"${OCISLIM_INTEROP_GENS:-$ALL_GENS}"
[ "${GENS[0]:-}" = bookworm ] || die "OCISLIM_INTEROP_GENS must start with bookworm (its pass also runs the checks of ocislim alone)"
if [ "${#GENS[@]}" -gt 1 ]; then
	say "fetching Debian 13 (trixie) clients into ${OCISLIM_TRIXIE_DIR:-/var/cache/ocislim-trixie} (cached)"
	if ! daemons_generation trixie; then
		say "SKIP trixie generations (containerd 1.7, Docker 26, skopeo 1.18): $TRIXIE_ERROR"
		GENS=(bookworm)
	fi
	daemons_generation bookworm
fi
# The generations not run (skipped, or left out by OCISLIM_INTEROP_GENS), for readme_table.
GENS_SKIPPED=$(for g in $ALL_GENS; do printf '%s\n' "${GENS[@]}" | grep -qxF "$g" || printf '%s ' "$g"; done)

# Watchdog: a client that hangs must not hang CI. At the deadline it stops the running daemons
# (so any client waiting on them fails at once) and sends TERM to this shell, whose trap cleans up.
# The limit counts from the start of the script (install and build included), but the rest of the
# run always gets at least 240 s.
LIMIT=${OCISLIM_INTEROP_TIMEOUT:-900}
LEFT=$((LIMIT - (SECONDS - T0)))
[ "$LEFT" -ge 240 ] || LEFT=240
(
	trap 'kill "$sp" 2>/dev/null; exit 0' TERM
	sleep "$LEFT" &
	sp=$!
	wait "$sp"
	echo "interop: time limit reached (${LIMIT}s, at least 240s after the build); stopping the daemons and the run" >&2
	# shellcheck disable=SC2046 # one pid a word
	kill -TERM $(cat "$DDIR/dockerd.launcher.pid" "$DDIR/containerd.launcher.pid" 2>/dev/null) 2>/dev/null
	kill -TERM $$
) </dev/null &
WATCHDOG_PID=$!

# ---------------------------------------------------------------- inputs each generation makes
# inputs_bookworm: the shallow `ctr images export --platform` (containerd 1.6), the legacy
# `docker save` (Docker 20.10) and a skopeo docker-archive (skopeo 1.9).
inputs_bookworm() {
	ctr_ -n src images import --all-platforms --no-unpack "$IN/oci-index.tar" >/dev/null
	ctr_ -n src images export --platform linux/arm64/v8 "$IN/ctr-shallow.tar" "$DEMO"

	sko copy -q --override-os linux --override-arch amd64 \
		"oci-archive:$IN/oci-index.tar" "docker-archive:$WORK/amd64.tar:$R/demo:1.0-amd64"
	sko copy -q --override-os linux --override-arch arm64 --override-variant v8 \
		"oci-archive:$IN/oci-index.tar" "docker-archive:$WORK/arm64.tar:$R/demo:1.0-arm64"
	docker_ load -q -i "$WORK/amd64.tar" >/dev/null
	docker_ load -q -i "$WORK/arm64.tar" >/dev/null
	docker_ tag "$R/demo:1.0-amd64" "$R/other:latest"
	LEGACY_AMD_ID=$(docker_ image inspect -f '{{.Id}}' "$R/demo:1.0-amd64")
	LEGACY_ARM_ID=$(docker_ image inspect -f '{{.Id}}' "$R/demo:1.0-arm64")
	docker_ save -o "$IN/docker-legacy.tar" "$R/demo:1.0-amd64" "$R/other:latest" "$R/demo:1.0-arm64"

	sko copy -q --override-os linux --override-arch arm --override-variant v7 \
		"oci-archive:$IN/oci-index.tar" "docker-archive:$IN/skopeo-docker-archive.tar:$R/demo:1.0-arm"
	SKOPEO_CFG=$(docker_config_digest "$IN/skopeo-docker-archive.tar")

	# Per-architecture single-image OCI archives, as a per-arch CI job's `skopeo copy` (or
	# buildah push) writes them, for merge.
	sko copy -q --override-os linux --override-arch amd64 "oci-archive:$IN/oci-index.tar" "oci-archive:$IN/oci-amd64.tar:$DEMO"
	sko copy -q --override-os linux --override-arch s390x "oci-archive:$IN/oci-index.tar" "oci-archive:$IN/oci-s390x.tar:$DEMO"
}

# inputs_trixie: Docker 26's own `docker save` (containerd image store: a Docker 25+ OCI archive,
# manifest.json beside index.json) of a multi-platform image loaded from an OCI archive, and of
# several images at once (that index, a Docker manifest list, and two legacy images, one under two
# tags). Docker 26 cannot save a shallow image, so each is loaded whole. D26_IMAGES: "name digest"
# as `docker image inspect` reports them. And containerd 1.7's shallow `ctr images export --platform`.
inputs_trixie() {
	local n
	ctr_ -n src images import --all-platforms --no-unpack "$IN/oci-index.tar" >/dev/null
	ctr_ -n src images export --platform linux/arm64/v8 "$IN/ctr17-shallow.tar" "$DEMO"
	docker_ load -q -i "$IN/oci-index.tar" >/dev/null
	docker_ save -o "$IN/docker26-index.tar" "$DEMO"
	docker_ load -q -i "$IN/docker-list.tar" >/dev/null
	docker_ load -q -i "$WORK/amd64.tar" >/dev/null
	docker_ load -q -i "$WORK/arm64.tar" >/dev/null
	docker_ tag "$R/demo:1.0-amd64" "$R/other:latest"
	D26_NAMES=("$DEMO" "$DLIST" "$R/demo:1.0-amd64" "$R/other:latest" "$R/demo:1.0-arm64")
	docker_ save -o "$IN/docker26-several.tar" "${D26_NAMES[@]}"
	D26_IMAGES=$(for n in "${D26_NAMES[@]}"; do echo "$n $(docker_ image inspect -f '{{.Id}}' "$n")"; done | sort)
}

# probe_clients: which compressed archives do this generation's clients read by themselves?
# Controls: a tool-made archive, compressed by gzip and zstd. (containerd's `ctr images import`
# reads no compression before 2.0's transfer service; Docker 20.10's `docker load` reads gzip but
# not zstd.) Compressed ocislim outputs are given to a client directly where its control was
# accepted, and decompressed by gzip/zstd on its stdin where not — the log of such a check says so.
probe_clients() {
	local z pf
	: >"$WORK/client-decompresses.$GEN"
	gzip -c "$IN/skopeo-docker-archive.tar" >"$WORK/probe.tar.gz"
	zstd -q -f -c "$IN/skopeo-docker-archive.tar" >"$WORK/probe.tar.zst"
	for z in gzip zstd; do
		pf=$WORK/probe.tar.gz
		[ "$z" = gzip ] || pf=$WORK/probe.tar.zst
		if ctr_ -n "probe-$z" images import --all-platforms --no-unpack "$pf" >"$LOGS/probe-$GEN-ctr-$z.log" 2>&1; then
			echo "ctr $z" >>"$WORK/client-decompresses.$GEN"
		else
			say "note: $GEN ctr images import cannot read a $z archive itself (control: $(tail -n1 "$LOGS/probe-$GEN-ctr-$z.log")); $z outputs are fed to it through $z -dc"
		fi
		if docker_ load -i "$pf" >"$LOGS/probe-$GEN-docker-$z.log" 2>&1; then
			echo "docker $z" >>"$WORK/client-decompresses.$GEN"
		else
			say "note: $GEN docker load cannot read a $z archive itself (control: $(tail -n1 "$LOGS/probe-$GEN-docker-$z.log")); $z outputs are fed to it through $z -dc"
		fi
	done
	docker_ image rm -f "$R/demo:1.0-arm" >/dev/null 2>&1 || true
}

# ================================================================= check groups
# One function per input (or verb), listed in CHECK_GROUPS; each runs in every generation's pass
# (gen_up). In it, `once NAME ...` for a check of ocislim alone (first pass only: make outputs
# with `once GROUP/filter filt OUT IN ARGS...`), `check NAME ...` for one that feeds a client (every
# pass, on the same outputs). A new group: write checks_NAME and add it to CHECK_GROUPS.
CHECK_GROUPS=(checks_oci_index checks_docker_list checks_shallow checks_ctr17_shallow checks_legacy checks_skopeo_archive checks_docker26_saves checks_merge checks_delta checks_tag checks_layout_dir)

# ---- 1. buildah OCI index (4 platforms)
checks_oci_index() {
	I=$IN/oci-index.tar
	once oci/verify expect_rc 0 ocislim verify "$I"
	check oci/ls-agrees-skopeo ls_agrees_skopeo "$I"
	once oci/ls-platforms expect_out "$(IFS=,; echo "${OCI_PLATS[*]}")" ocs_plat_list "$I"
	check oci/ls-agrees-ctr ctr_imports "$I" "$DEMO" "${OCI_PLATS[@]}"

	# two platforms
	once oci-2p/filter filt oci-2p.tar "$I" --platform linux/amd64,linux/arm64
	O=$OUT/oci-2p.tar
	once oci-2p/verify expect_rc 0 ocislim verify "$O"
	check oci-2p/skopeo-index index_rewritten "$O" "$I" linux/amd64 linux/arm64/v8
	check oci-2p/ls-agrees-skopeo ls_agrees_skopeo "$O"
	check oci-2p/ctr-import ctr_imports "$O" "$DEMO" linux/amd64 linux/arm64/v8
	check oci-2p/skopeo-copy-umoci skopeo_copy "$O" 1.0 same
	once oci-2p/umoci-extracted umoci_extracted "$O" "$DEMO"
	# OCI only (no manifest.json): Docker's classic image store reads only manifest.json
	if [ "$OCISLIM_DOCKER_C8D" = 1 ]; then
		check oci-2p/docker-load docker_loads "$O" amd64 "$DEMO"
	else
		check oci-2p/docker-load-refused refused 'no such file' docker_load_file "$O"
	fi

	# --exclude, entry annotation kept
	once oci-excl/filter filt oci-excl.tar "$I" --exclude linux/amd64
	O=$OUT/oci-excl.tar
	check oci-excl/skopeo-index index_rewritten "$O" "$I" linux/arm64/v8 linux/arm/v7 linux/s390x
	check oci-excl/entry-annotation expect_out arm-entry entry_annotation "$O" linux/arm/v7 org.example.interop
	check oci-excl/ctr-import ctr_imports "$O" "$DEMO" linux/arm64/v8 linux/arm/v7 linux/s390x

	# every platform: a no-op on the index digest
	once oci-all/filter filt oci-all.tar "$I" --platform "$(IFS=,; echo "${OCI_PLATS[*]}")"
	check oci-all/index-digest-unchanged expect_out "$(root_digest "$I")" root_digest "$OUT/oci-all.tar"

	# --format docker: manifest.json points at the first listed platform, or --docker-platform
	once oci-docker-arm64/filter filt oci-docker-arm64.tar "$I" --format docker --platform linux/arm64,linux/amd64
	O=$OUT/oci-docker-arm64.tar
	once oci-docker-arm64/verify expect_rc 0 ocislim verify "$O"
	check oci-docker-arm64/docker-load docker_loads "$O" arm64 "$DEMO"
	check oci-docker-arm64/ctr-import ctr_imports "$O" "$DEMO" linux/amd64 linux/arm64/v8
	check oci-docker-arm64/skopeo-copy-umoci skopeo_copy "$O" 1.0 same
	once oci-docker-arm64/umoci-extracted umoci_extracted "$O" "$DEMO"

	once oci-docker-amd64/filter filt oci-docker-amd64.tar "$I" --format docker --platform linux/arm64,linux/amd64 --docker-platform linux/amd64
	O=$OUT/oci-docker-amd64.tar
	check oci-docker-amd64/docker-load docker_loads "$O" amd64 "$DEMO"
	check oci-docker-amd64/ctr-import ctr_imports "$O" "$DEMO" linux/amd64 linux/arm64/v8

	# to standard output, straight into docker load (the README's pipe)
	check oci-stdout/docker-load stdout_load

	# --keep-index: digest-preserving, shallow
	once oci-keep/filter filt oci-keep.tar "$I" --platform linux/arm64 --keep-index
	O=$OUT/oci-keep.tar
	check oci-keep/index-digest-unchanged expect_out "$(root_digest "$I")" root_digest "$O"
	once oci-keep/verify-shallow expect_rc 5 ocislim verify "$O"
	once oci-keep/ls-shallow expect_out "$(printf '%s\n' "linux/amd64 missing" "linux/arm64/v8 present" "linux/arm/v7 missing" "linux/s390x missing")" \
		ocs_statuses "$O"
	once oci-keep/umoci-gc-refused umoci_keep
	check oci-keep/skopeo-copy-all-refused refused 'no such file|not found|does not exist' sko copy -q --all "oci-archive:$O" "oci:$TMPDIR/keep-layout.$GEN:x"
	check oci-keep/ctr-import-all-refused refused 'not found' ctr_ -n "io-keep-all" images import --all-platforms --no-unpack "$O"
	check oci-keep/ctr-import-arm64 ctr_imports_one "$O" "$DEMO" linux/arm64/v8

	# compressed outputs
	once oci-gz/filter filt oci-2p.tar.gz "$I" --format docker --platform linux/amd64,linux/s390x
	O=$OUT/oci-2p.tar.gz
	once oci-gz/is-gzip expect_out 1f8b magic "$O" 2
	once oci-gz/ls-compression expect_out gzip ocs_compression "$O"
	check "oci-gz/ctr-import$(via ctr "$O")" ctr_imports "$O" "$DEMO" linux/amd64 linux/s390x
	check "oci-gz/docker-load$(via docker "$O")" docker_loads "$O" amd64 "$DEMO"
	check oci-gz/skopeo-copy-umoci skopeo_copy "$O" 1.0 same

	once oci-zst/filter filt oci-2p.tar.zst "$I" --format docker --platform linux/s390x,linux/arm/v7
	O=$OUT/oci-2p.tar.zst
	once oci-zst/is-zstd expect_out 28b52ffd magic "$O" 4
	once oci-zst/ls-compression expect_out zstd ocs_compression "$O"
	check "oci-zst/ctr-import$(via ctr "$O")" ctr_imports "$O" "$DEMO" linux/s390x linux/arm/v7
	check "oci-zst/docker-load$(via docker "$O")" docker_loads "$O" s390x "$DEMO"
	check oci-zst/skopeo-copy-umoci skopeo_copy "$O" 1.0 same
}
# stdout_load: the README's pipe, `ocislim filter ... -o - | docker load`.
stdout_load() {
	docker_ image rm -f "$DEMO" >/dev/null 2>&1 || true
	echo "+ ocislim filter $I -o - --format docker --platform linux/s390x | docker load"
	ocislim filter "$I" -o - --format docker --platform linux/s390x | docker_ load
	expect_eq "architecture" "$(docker_ image inspect -f '{{.Architecture}}' "$DEMO")" s390x
}
umoci_keep() {
	mkdir -p "$TMPDIR/keep"
	tar -xf "$O" -C "$TMPDIR/keep"
	refused 'no such file' umoci gc --layout "$TMPDIR/keep"
}

# ---- 2. Docker manifest list (v2s2)
checks_docker_list() {
	I=$IN/docker-list.tar
	once dlist/verify expect_rc 0 ocislim verify "$I"
	check dlist/ls-agrees-skopeo ls_agrees_skopeo "$I"
	check dlist/ls-agrees-ctr ctr_imports "$I" "$DLIST" "${DL_PLATS[@]}"

	once dlist-2p/filter filt dlist-2p.tar "$I" --platform linux/amd64,linux/s390x
	O=$OUT/dlist-2p.tar
	once dlist-2p/verify expect_rc 0 ocislim verify "$O"
	check dlist-2p/skopeo-index index_rewritten "$O" "$I" linux/amd64 linux/s390x
	check dlist-2p/ls-agrees-skopeo ls_agrees_skopeo "$O"
	check dlist-2p/ctr-import ctr_imports "$O" "$DLIST" linux/amd64 linux/s390x
	check dlist-2p/skopeo-copy-umoci skopeo_copy "$O" 2 converted

	once dlist-docker/filter filt dlist-docker.tar "$I" --format docker --exclude linux/amd64 --docker-platform linux/s390x
	O=$OUT/dlist-docker.tar
	check dlist-docker/docker-load docker_loads "$O" s390x "$DLIST"
	check dlist-docker/ctr-import ctr_imports "$O" "$DLIST" linux/arm64/v8 linux/s390x
}

# ---- 3. shallow ctr export (containerd 1.6)
checks_shallow() {
	I=$IN/ctr-shallow.tar
	once shallow/verify-shallow expect_rc 5 ocislim verify "$I"
	check shallow/ls-agrees-skopeo ls_agrees_skopeo "$I"
	once shallow/ls-status expect_out "$(printf '%s\n' "linux/amd64 missing" "linux/arm64/v8 present" "linux/arm/v7 missing" "linux/s390x missing")" \
		ocs_statuses "$I"
	check shallow/ls-agrees-ctr ctr_imports_one "$I" "$DEMO" linux/arm64/v8
	check shallow/ctr-import-all-refused refused 'not found' ctr_ -n io-shallow-all images import --all-platforms --no-unpack "$I"
	check shallow/skopeo-copy-all-refused refused 'not found|no such file|does not exist' sko copy -q --all "oci-archive:$I" "oci:$TMPDIR/shallow-layout.$GEN:x"
	once shallow/filter-missing-exit4 expect_rc 4 ocislim filter "$I" -o "$OUT/never.tar" --platform linux/amd64
	once shallow/filter-missing-no-output expect_rc 1 test -e "$OUT/never.tar"

	once shallow-dense/filter filt shallow-dense.tar "$I" --skip-missing
	O=$OUT/shallow-dense.tar
	once shallow-dense/verify expect_rc 0 ocislim verify "$O"
	check shallow-dense/skopeo-index index_rewritten "$O" "$I" linux/arm64/v8
	check shallow-dense/ls-agrees-skopeo ls_agrees_skopeo "$O"
	check shallow-dense/ctr-import ctr_imports "$O" "$DEMO" linux/arm64/v8
	check shallow-dense/skopeo-copy-umoci skopeo_copy "$O" 1.0 same
	once shallow-dense/umoci-extracted umoci_extracted "$O" 1.0 stat
	check shallow-dense/docker-load docker_loads "$O" arm64 "$DEMO"

	once shallow-zst/filter filt shallow-dense.tar.zst "$I" --skip-missing --platform linux/arm64,linux/amd64
	O=$OUT/shallow-dense.tar.zst
	check "shallow-zst/ctr-import$(via ctr "$O")" ctr_imports "$O" "$DEMO" linux/arm64/v8
	check "shallow-zst/docker-load$(via docker "$O")" docker_loads "$O" arm64 "$DEMO"
}

# ---- 3b. shallow ctr export (containerd 1.7)
checks_ctr17_shallow() {
	[ -e "$IN/ctr17-shallow.tar" ] || return 0
	I=$IN/ctr17-shallow.tar
	once ctr17-shallow/verify-shallow expect_rc 5 ocislim verify "$I"
	once ctr17-shallow/ls-status expect_out "$(printf '%s\n' "linux/amd64 missing" "linux/arm64/v8 present" "linux/arm/v7 missing" "linux/s390x missing")" \
		ocs_statuses "$I"
	check ctr17-shallow/ls-agrees-skopeo ls_agrees_skopeo "$I"
	once ctr17-dense/filter filt ctr17-dense.tar "$I" --skip-missing
	O=$OUT/ctr17-dense.tar
	once ctr17-dense/verify expect_rc 0 ocislim verify "$O"
	check ctr17-dense/ctr-import ctr_imports "$O" "$DEMO" linux/arm64/v8
	check ctr17-dense/docker-load docker_loads "$O" arm64 "$DEMO"
}

# ---- 4. legacy docker save (Docker 20.10)
checks_legacy() {
	I=$IN/docker-legacy.tar
	once legacy/verify expect_rc 0 ocislim verify "$I"
	once legacy/ls-agrees-docker legacy_ls

	once legacy-arm64/filter filt legacy-arm64.tar "$I" --platform linux/arm64
	O=$OUT/legacy-arm64.tar
	once legacy-arm64/verify expect_rc 0 ocislim verify "$O"
	once legacy-arm64/one-image expect_out "[[\"$R/demo:1.0-arm64\"]]" repo_tags "$O"
	check legacy-arm64/docker-load docker_loads "$O" arm64 "$R/demo:1.0-arm64"
	check legacy-arm64/image-id expect_out "$LEGACY_ARM_ID" docker_image_config "$R/demo:1.0-arm64"
	check legacy-arm64/ctr-import legacy_ctr

	once legacy-amd64/filter filt legacy-amd64.tar.gz "$I" --exclude linux/arm64
	O=$OUT/legacy-amd64.tar.gz
	check "legacy-amd64/docker-load$(via docker "$O")" docker_loads "$O" amd64 "$R/demo:1.0-amd64" "$R/other:latest"

	# legacy → OCI layout (+ manifest.json): strict OCI clients and docker load both take it
	once legacy-oci/filter filt legacy-oci.tar "$I" --platform linux/arm64 --format docker
	O=$OUT/legacy-oci.tar
	once legacy-oci/verify expect_rc 0 ocislim verify "$O"
	check legacy-oci/ctr-import legacy_oci_ctr
	check legacy-oci/skopeo-copy-all expect_rc 0 sko copy -q --all "oci-archive:$O" "oci:$TMPDIR/legacy-oci-layout.$GEN:x"
	check legacy-oci/docker-load docker_loads "$O" arm64 "$R/demo:1.0-arm64"
}
legacy_ls() {
	ocislim ls --format json "$I" | jq -c '[.images[] | {name, digest: .platforms[0].digest, platform: .platforms[0].platform}]' >"$TMPDIR/l.json"
	cat "$TMPDIR/l.json"
	# docker save orders its manifest.json entries by image ID, which changes with every build
	expect_eq "images" "$(jq -r '.[] | .name + " " + .platform + " " + .digest' "$TMPDIR/l.json" | sort)" \
		"$(printf '%s\n' "$R/demo:1.0-amd64 linux/amd64 $LEGACY_AMD_ID" "$R/demo:1.0-arm64 linux/arm64/v8 $LEGACY_ARM_ID" | sort)"
}
legacy_ctr() {
	local ns
	ns=$(ctr_ns)
	run ctr_ -n "$ns" images import --all-platforms --no-unpack "$O"
	ctr_ -n "$ns" images ls
	ctr_ -n "$ns" images ls -q | grep -qxF "$R/demo:1.0-arm64"
}
legacy_oci_ctr() {
	local ns
	ns=$(ctr_ns)
	run ctr_ -n "$ns" images import --all-platforms --no-unpack "$O"
	ctr_ -n "$ns" images ls
	# ctr prints a manifest root's platform from its config, normalised (arm64/v8 -> arm64)
	expect_eq "ctr images ls PLATFORMS" "$(ctr_ls_field "$ns" "$R/demo:1.0-arm64" platforms 2>/dev/null)" linux/arm64
	expect_eq "ctr images ls digest vs ocislim ls" "$(ctr_ls_field "$ns" "$R/demo:1.0-arm64" digest 2>/dev/null)" "$(ocs_root "$O")"
}

# ---- 5. skopeo docker-archive (skopeo 1.9)
checks_skopeo_archive() {
	I=$IN/skopeo-docker-archive.tar
	once skopeo-da/verify expect_rc 0 ocislim verify "$I"
	once skopeo-da/ls-agrees-skopeo expect_out "linux/arm/v7 $SKOPEO_CFG" ocs_plats "$I"
	once skopeo-da/filter filt skopeo-da.tar "$I" --platform linux/arm
	O=$OUT/skopeo-da.tar
	check skopeo-da/skopeo-reads expect_out "$SKOPEO_CFG" docker_config_digest "$O"
	check skopeo-da/docker-load docker_loads "$O" arm "$R/demo:1.0-arm"
	once skopeo-da/no-match-exit3 expect_rc 3 ocislim filter "$I" -o "$OUT/never3.tar" --platform linux/amd64
}

# ---- 6. Docker 26's own docker save (containerd image store)
checks_docker26_saves() {
	if [ ! -e "$IN/docker26-index.tar" ]; then
		[ "$GEN" != "${GENS[0]}" ] || say "SKIP d26 checks: no trixie generation, so no archive saved by Docker 26"
		return 0
	fi
	I=$IN/docker26-index.tar
	once d26/verify expect_rc 0 ocislim verify "$I"
	once d26/ls-agrees-docker expect_out "$(grep "^$DEMO " <<<"$D26_IMAGES" | cut -d' ' -f2)" ocs_root "$I"
	once d26/ls-same-image-as-loaded expect_out "$(ocs_plats "$IN/oci-index.tar")" ocs_plats "$I"
	check d26/ls-agrees-skopeo ls_agrees_skopeo "$I"
	check d26/ls-agrees-ctr ctr_imports "$I" "$DEMO" "${OCI_PLATS[@]}"

	once d26-2p/filter filt d26-2p.tar "$I" --platform linux/amd64,linux/arm64
	O=$OUT/d26-2p.tar
	once d26-2p/verify expect_rc 0 ocislim verify "$O"
	check d26-2p/skopeo-index index_rewritten "$O" "$I" linux/amd64 linux/arm64/v8
	check d26-2p/ctr-import ctr_imports "$O" "$DEMO" linux/amd64 linux/arm64/v8
	check d26-2p/skopeo-copy-umoci skopeo_copy "$O" 1.0 same
	check d26-2p/docker-load docker_loads "$O" amd64 "$DEMO"

	once d26-zst/filter filt d26-s390x.tar.zst "$I" --format docker --platform linux/s390x
	O=$OUT/d26-s390x.tar.zst
	check "d26-zst/ctr-import$(via ctr "$O")" ctr_imports "$O" "$DEMO" linux/s390x
	check "d26-zst/docker-load$(via docker "$O")" docker_loads "$O" s390x "$DEMO"

	I=$IN/docker26-several.tar
	once d26-several/verify expect_rc 0 ocislim verify "$I"
	once d26-several/ls-agrees-docker expect_out "$D26_IMAGES" ocs_names_digests "$I"
	check d26-several/ls-agrees-ctr ctr_imports_all "$I"

	once d26-several-arm64/filter filt d26-several-arm64.tar.gz "$I" --platform linux/arm64
	O=$OUT/d26-several-arm64.tar.gz
	once d26-several-arm64/verify expect_rc 0 ocislim verify "$O"
	check "d26-several-arm64/ctr-import$(via ctr "$O")" ctr_imports_all "$O"
	check "d26-several-arm64/docker-load$(via docker "$O")" docker_loads "$O" arm64 "$DEMO" "$DLIST" "$R/demo:1.0-arm64"
}
# ocs_names_digests FILE: "name digest" of every image `ocislim ls` lists, sorted.
ocs_names_digests() { ocislim ls --format json "$1" | jq -r '.images[] | .name + " " + .digest' | sort; }
# ctr_imports_all FILE: `ctr images import --all-platforms --no-unpack` takes every image `ocislim
# ls` lists, each under its name with the digest ocislim reports.
ctr_imports_all() {
	local ns
	ns=$(ctr_ns)
	ctr_import_file "$1" -n "$ns" images import --all-platforms --no-unpack
	ctr_ -n "$ns" images ls
	expect_eq "images (ctr images ls vs ocislim ls)" "$(ctr_ -n "$ns" images ls | awk 'NR > 1 {print $1 " " $3}' | sort)" "$(ocs_names_digests "$1")"
}

# ---- merge: per-architecture archives that skopeo, Docker 20.10 and ctr wrote, into one
checks_merge() {
	once merge-oci/merge run ocislim merge "$IN/oci-amd64.tar" "$IN/oci-s390x.tar" -o "$OUT/merge-oci.tar"
	O=$OUT/merge-oci.tar
	once merge-oci/verify expect_rc 0 ocislim verify "$O"
	check merge-oci/ctr-import ctr_imports "$O" "$DEMO" linux/amd64 linux/s390x
	check merge-oci/skopeo-copy-umoci skopeo_copy "$O" 1.0 same
	# the new index is named as Docker 25+ names a root: the full name for containerd, the tag
	# alone in org.opencontainers.image.ref.name (what umoci lists)
	once merge-oci/umoci-extracted umoci_extracted "$O" 1.0

	# two legacy `docker save`s (skopeo docker-archive, one platform each) under one name, with
	# Docker's manifest.json pointing at arm64
	once merge-legacy/merge run ocislim merge "$WORK/amd64.tar" "$WORK/arm64.tar" -o "$OUT/merge-legacy.tar" \
		--name "$R/app:1" --docker-platform linux/arm64
	O=$OUT/merge-legacy.tar
	once merge-legacy/verify expect_rc 0 ocislim verify "$O"
	check merge-legacy/docker-load docker_loads "$O" arm64 "$R/app:1"
	check merge-legacy/ctr-import ctr_imports "$O" "$R/app:1" linux/amd64 linux/arm64/v8
	# skopeo's oci: transport rewrites the converted manifests: compare platforms
	check merge-legacy/skopeo-copy-umoci skopeo_copy "$O" 1 converted

	# a shallow `ctr export --platform` completed by the full archive
	once merge-shallow/merge run ocislim merge "$IN/ctr-shallow.tar" "$IN/oci-index.tar" -o "$OUT/merge-shallow.tar.gz"
	O=$OUT/merge-shallow.tar.gz
	once merge-shallow/verify expect_rc 0 ocislim verify "$O"
	check "merge-shallow/ctr-import$(via ctr "$O")" ctr_imports "$O" "$DEMO" "${OCI_PLATS[@]}"
	check merge-shallow/skopeo-copy-umoci skopeo_copy "$O" 1.0 same
}

# ---- delta and apply: the 4-platform archive against a base holding two of its platforms
checks_delta() {
	once delta/delta run ocislim delta "$IN/oci-index.tar" --base "$OUT/oci-2p.tar" -o "$OUT/delta.tar"
	once delta/verify-shallow expect_rc 5 ocislim verify "$OUT/delta.tar"
	once delta/verify-with-base expect_rc 0 ocislim verify "$OUT/delta.tar" --base "$OUT/oci-2p.tar"
	once delta/apply-is-filter apply_is_filter
	check delta/ctr-import-onto-base ctr_delta_onto_base
}
# apply_is_filter: apply of the delta writes exactly what filter writes.
apply_is_filter() {
	run ocislim apply "$OUT/delta.tar" --base "$OUT/oci-2p.tar" -o "$OUT/applied.tar"
	run ocislim filter "$IN/oci-index.tar" -o "$OUT/filtered.tar"
	run cmp "$OUT/applied.tar" "$OUT/filtered.tar"
}
# ctr_delta_onto_base: a containerd that imported the base takes the delta as it is (the base's
# blobs come from its content store): `ctr images check` finds the image complete for the host's
# platform; in an empty namespace the same import leaves it incomplete. (--no-unpack: ctr then
# never looks for layers itself, so `images check` is what looks.)
ctr_delta_onto_base() {
	local ns
	ns=$(ctr_ns)
	ctr_import_file "$OUT/oci-2p.tar" -n "$ns" images import --all-platforms --no-unpack
	ctr_import_file "$OUT/delta.tar" -n "$ns" images import --all-platforms --no-unpack
	run ctr_ -n "$ns" images check | tee "$TMPDIR/check.$NCHECK"
	awk -v r="$DEMO" '$1 == r' "$TMPDIR/check.$NCHECK" | grep -q ' complete (' || {
		echo "ctr images check: $DEMO not complete where the base was imported"
		return 1
	}
	ctr_import_file "$OUT/delta.tar" -n "$ns-empty" images import --all-platforms --no-unpack
	run ctr_ -n "$ns-empty" images check | tee "$TMPDIR/check-empty.$NCHECK"
	if awk -v r="$DEMO" '$1 == r' "$TMPDIR/check-empty.$NCHECK" | grep -q ' complete ('; then
		echo "ctr images check: $DEMO complete in an empty namespace: the delta is not a delta"
		return 1
	fi
}

# ---- --tag: renamed images are loaded under their new names
checks_tag() {
	once tag-legacy/filter filt tag-legacy.tar "$IN/docker-legacy.tar" --tag "$R/demo:1.0-amd64=$R/renamed:amd" --platform linux/amd64
	check tag-legacy/docker-load docker_loads "$OUT/tag-legacy.tar" amd64 "$R/renamed:amd" "$R/other:latest"
	once tag-oci/filter filt tag-oci.tar "$IN/oci-index.tar" --tag "example.com/=registry.local:5000/" \
		--format docker --platform linux/amd64,linux/arm64
	O=$OUT/tag-oci.tar
	check tag-oci/ctr-import ctr_imports "$O" registry.local:5000/interop/demo:1.0 linux/amd64 linux/arm64/v8
	check tag-oci/docker-load docker_loads "$O" amd64 registry.local:5000/interop/demo:1.0
}

# ---- -o DIR/: an OCI layout directory that skopeo's oci: transport and umoci read
checks_layout_dir() {
	once layout-dir/filter run ocislim filter "$IN/oci-index.tar" -o "$OUT/layout-dir/" --platform linux/amd64,linux/arm64
	check layout-dir/skopeo-copy layout_dir_copy
	once layout-dir/umoci umoci_layout "$OUT/layout-dir" "$DEMO"
}
# layout_dir_copy: `skopeo copy --all oci:DIR:REF oci-archive:` takes the directory, and the copy
# has the directory's root index, byte for byte.
layout_dir_copy() {
	run sko copy -q --all "oci:$OUT/layout-dir:$DEMO" "oci-archive:$TMPDIR/from-dir.$NCHECK.tar:$DEMO"
	expect_eq "root index after skopeo copy --all from the directory" \
		"$(raw_index "$TMPDIR/from-dir.$NCHECK.tar" | sha256_of)" \
		"$(sko inspect --raw "oci:$OUT/layout-dir:$DEMO" | sha256_of)"
}

# ================================================================= the run
say "making the inputs each client generation saves (${GENS[*]})"
for g in "${GENS[@]}"; do
	declare -F "inputs_$g" >/dev/null || continue
	gen_up "$g"
	"inputs_$g"
	gen_down
done
find "$IN" -maxdepth 1 -type f -printf '   %10s  %f\n' | sort -k2

for g in "${GENS[@]}"; do
	gen_up "$g"
	say "$g: $(daemons_versions); $(umoci --version)"
	probe_clients
	say "$g checks (ocislim: $OCISLIM, $(ocislim --version))"
	for group in "${CHECK_GROUPS[@]}"; do "$group"; done
	gen_down
done

# The README's Compatibility table: every check it names passed in this run (or, when a
# generation was skipped, did not run).
# shellcheck disable=SC2016 # backticks are Markdown's
readme_table() {
	local n count=0 bad=0
	while read -r n; do
		[ "$n" != readme/compatibility-table ] || continue # this check
		count=$((count + 1))
		if [ -n "$GENS_SKIPPED" ] && ! grep -qxF "$n" "$LOGS/ran"; then
			echo "$n did not run ($GENS_SKIPPED skipped)"
		elif ! grep -qxF "$n" "$LOGS/passed"; then
			echo "README names $n, which did not pass in this run"
			bad=1
		fi
	done < <(awk '/^## Compatibility/,/^## Exit codes/' "$ROOT/README.md" |
		grep -oE '`[a-z0-9-]+(/[a-z0-9-]+)+(\(via [a-z]+ -dc\))?`' | tr -d '`' | sort -u)
	echo "$count checks named"
	[ "$count" -gt 0 ] && [ "$bad" = 0 ]
}
check readme/compatibility-table readme_table

# ---------------------------------------------------------------- summary
echo
if [ "$FAIL" -gt 0 ]; then
	echo "failed checks:"
	printf '  %s\n' "${FAILED[@]}"
fi
echo "elapsed $((SECONDS - T0))s"
SUMMARY_PRINTED=1
echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
