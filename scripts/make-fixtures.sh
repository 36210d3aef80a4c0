#!/usr/bin/env bash
# scripts/make-fixtures.sh — regenerate testdata/ with real tools only.
#
#   buildah (vfs, private --root/--runroot)  -> multi-platform images + manifest lists
#   skopeo                                   -> docker-archive / oci layout conversions
#   containerd (private, via ctr)            -> ctr export (full and shallow)
#   Docker 20.10 (private dockerd)           -> legacy `docker save`
#
# Every input byte is deterministic (layer contents come from an AES-CTR keystream with a
# fixed passphrase, every timestamp is $SOURCE_DATE_EPOCH), so blob/manifest/index digests
# are stable from run to run with the same tool versions. Only archive-level tar headers
# written by buildah/skopeo (member mtimes) vary.
#
# Writes: the files listed in OUTPUTS below, plus testdata/FIXTURES.md (facts read back
# from the produced files with tar/jq/skopeo/ctr). Nothing else in testdata/ is touched.
#
# Usage: scripts/make-fixtures.sh            (run as root; needs buildah skopeo ctr
#                                             containerd dockerd docker jq openssl zstd gzip)
# Backticks in single quotes below are Markdown, not command substitutions.
# shellcheck disable=SC2016
set -euo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
TD=$ROOT/testdata
# shellcheck source=scripts/lib/daemons.sh
. "$ROOT/scripts/lib/daemons.sh"
# shellcheck source=scripts/lib/sandbox.sh
. "$ROOT/scripts/lib/sandbox.sh"

OUTPUTS=(
	oci-index.tar
	docker-list.tar
	ctr-full.tar
	ctr-shallow.tar
	docker-legacy.tar
	skopeo-docker-archive.tar
	oci-index.tar.gz
	ctr-shallow.tar.zst
	compressed-misnamed.tar
	oci-layout-dir
	FIXTURES.md
)

SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1704067200} # 2024-01-01T00:00:00Z
export SOURCE_DATE_EPOCH

for t in buildah skopeo ctr containerd dockerd docker jq openssl zstd gzip tar sha256sum setsid; do
	command -v "$t" >/dev/null || { echo "make-fixtures: missing tool: $t" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "make-fixtures: must run as root (private containerd/dockerd)" >&2; exit 1; }

WORK=$(mktemp -d /tmp/ocislim-fx.XXXX)
DDIR=$(mktemp -d /tmp/ocislim-d.XXXX)
STAGE=$WORK/out
mkdir -p "$STAGE" "$WORK/ctx" "$WORK/cmds" "$WORK/facts"
# Private buildah storage, policy, registries.conf and temp files; bah and sko.
sandbox_init "$WORK"

cleanup() {
	local rc=$?
	set +e
	sandbox_cleanup
	if [ "$rc" != 0 ]; then
		echo "make-fixtures: FAILED (exit $rc); testdata/ left as it was" >&2
	fi
	exit "$rc"
}
trap cleanup EXIT
# Without these, SIGINT/SIGTERM would skip the EXIT trap and leave the (setsid) daemons running.
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- logging
SEC=setup
# x CMD ARGS...: log the command (paths made readable) under the current section, run it.
x() {
	local line a first=1
	line=
	for a in "$@"; do
		if [ "$first" = 1 ]; then
			first=0
			case $a in
			bah) a=buildah ;;
			sko) a=skopeo ;;
			ctr_) a='ctr -a $D/containerd.sock' ;;
			docker_) a='docker -H unix://$D/docker.sock' ;;
			esac
			line=$a
			continue
		fi
		a=${a//$STAGE/testdata}
		a=${a//$WORK/\$WORK}
		a=${a//$DDIR/\$D}
		case $a in
		*[!A-Za-z0-9_./:=@,+\$-]* | '') a="'$a'" ;;
		esac
		line="$line $a"
	done
	printf '%s\n' "$line" >>"$WORK/cmds/$SEC"
	"$@"
}
# xo FILE CMD...: like x, stdout to FILE (logged as "> FILE").
xo() {
	local out=$1
	shift
	x "$@" >"$out"
	local f=${out//$STAGE/testdata}
	f=${f//$WORK/\$WORK}
	sed -i '$ s|$| > '"$f"'|' "$WORK/cmds/$SEC"
}
note() { printf '# %s\n' "$*" >>"$WORK/cmds/$SEC"; }

# prand SEED N > FILE: N deterministic, incompressible bytes.
prand() { head -c "$2" /dev/zero | openssl enc -aes-256-ctr -nosalt -pbkdf2 -pass "pass:ocislim-$1"; }

# ---------------------------------------------------------------- layer contents
mkdir -p "$WORK/ctx/shared" "$WORK/ctx/p"
prand shared 20000 >"$WORK/ctx/shared/shared.bin"
printf 'ocislim test fixture: shared layer (identical bytes on every platform)\n' >"$WORK/ctx/shared/README.txt"
mkplat() { # mkplat KEY SEED PLATFORM-STRING
	mkdir -p "$WORK/ctx/p/$1"
	prand "$2" 20000 >"$WORK/ctx/p/$1/data.bin"
	printf '%s\n' "$3" >"$WORK/ctx/p/$1/platform.txt"
}
mkplat demo-amd64 demo-amd64 linux/amd64
mkplat demo-arm64 demo-arm64 linux/arm64/v8
mkplat demo-arm demo-arm linux/arm/v7
mkplat dlist-amd64 dlist-amd64 linux/amd64
mkplat dlist-s390x dlist-s390x linux/s390x
find "$WORK/ctx" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

# ---------------------------------------------------------------- buildah images
SEC=buildah
note "buildah = buildah --root \$WORK/broot --runroot \$WORK/brun --storage-driver vfs (STORAGE_DRIVER=vfs BUILDAH_ISOLATION=chroot)"
note "Shared base layer: one image committed once, then used as the base of every platform image,"
note "so all platforms reference the very same layer blob."
c=$(x bah from --name ocislim-base-wc scratch)
x bah copy "$c" "$WORK/ctx/shared" /shared >/dev/null
x bah commit -q --rm --timestamp "$SOURCE_DATE_EPOCH" "$c" localhost/ocislim-base >/dev/null

# build_plat LIST KEY PLATFORM: localhost/ocislim-KEY, from $WORK/ctx/p/KEY, every step logged.
SANDBOX_RUN=(x)
build_plat() { sandbox_build_plat ocislim "$1" "$2" "$3" "$WORK/ctx/p/$2" --timestamp "$SOURCE_DATE_EPOCH"; }

note "--- example.com/demo:1.0 (OCI) ---"
build_plat ocislim-demo demo-amd64 linux/amd64
build_plat ocislim-demo demo-arm64 linux/arm64/v8
build_plat ocislim-demo demo-arm linux/arm/v7
# One entry-level annotation, so "other fields are preserved" can be tested.
armdig=$(bah manifest inspect ocislim-demo | jq -r '.manifests[] | select(.platform.architecture == "arm") | .digest')
x bah manifest annotate --annotation com.example.fixture=arm-v7-entry ocislim-demo "$armdig" >/dev/null

note "--- example.com/dlist:2 (Docker v2s2 after the push; committed as OCI, see script) ---"
# Committed as OCI (sandbox_build_plat) and converted by the v2s2 push.
build_plat ocislim-dlist dlist-amd64 linux/amd64
build_plat ocislim-dlist dlist-s390x linux/s390x

SEC=oci-index.tar
x bah manifest push -q --all --format oci ocislim-demo "oci-archive:$STAGE/oci-index.tar:example.com/demo:1.0"
SEC=docker-list.tar
x bah manifest push -q --all --format v2s2 ocislim-dlist "oci-archive:$STAGE/docker-list.tar:example.com/dlist:2"

# ---------------------------------------------------------------- skopeo
SEC=skopeo-docker-archive.tar
x sko copy -q --override-os linux --override-arch arm64 --override-variant v8 \
	"oci-archive:$STAGE/oci-index.tar" "docker-archive:$STAGE/skopeo-docker-archive.tar:example.com/demo:1.0-arm64"

SEC=oci-layout-dir
x sko copy -q --all "oci-archive:$STAGE/docker-list.tar" "oci:$STAGE/oci-layout-dir:example.com/dlist:2"

# ---------------------------------------------------------------- daemons
SEC=daemons
daemons_start "$DDIR"
sed "s|$DDIR|\$D|g" "$DDIR/containerd.toml" >"$WORK/facts/containerd.toml"
note "D=\$(mktemp -d /tmp/ocislim-d.XXXX); scripts/lib/daemons.sh daemons_start \$D runs:"
note "setsid containerd --config \$D/containerd.toml"
note "setsid $(tr '\0' ' ' </proc/"$OCISLIM_DOCKERD_PID"/cmdline | sed "s|$DDIR|\$D|g")"

SEC=ctr-full.tar
x ctr_ images import --all-platforms --no-unpack "$STAGE/oci-index.tar"
ctr_ images ls >"$WORK/facts/ctr-ls-import.txt"
x ctr_ images export --all-platforms "$STAGE/ctr-full.tar" example.com/demo:1.0

SEC=ctr-shallow.tar
x ctr_ images export --platform linux/arm64/v8 "$STAGE/ctr-shallow.tar" example.com/demo:1.0

# Round trips through containerd, as facts for the tests (failures are expected and recorded).
# Each in a fresh containerd namespace: content is namespaced, so nothing can be reused from the
# import above.
RT=0
roundtrip() { # roundtrip LABEL FILE IMPORT-ARGS...
	local label=$1 f=$2 rc=0 ns
	shift 2
	RT=$((RT + 1))
	ns=ocislim-rt$RT
	{
		echo "\$ ctr -n $ns images import $* $label"
		ctr_ -n "$ns" images import "$@" "$f" 2>&1 || rc=$?
		echo "(exit $rc)"
		echo "\$ ctr -n $ns images ls"
		ctr_ -n "$ns" images ls 2>&1
		echo
	} | sed 's/^time="[^"]*" //' >>"$WORK/facts/ctr-roundtrip.txt"
}
roundtrip testdata/ctr-shallow.tar "$STAGE/ctr-shallow.tar" --all-platforms --no-unpack
roundtrip testdata/ctr-shallow.tar "$STAGE/ctr-shallow.tar" --platform linux/arm64/v8 --no-unpack
roundtrip testdata/ctr-full.tar "$STAGE/ctr-full.tar" --all-platforms --no-unpack

SEC=docker-legacy.tar
note "Intermediate single-platform docker-archives, loaded into Docker 20.10 (arm64 loads fine on an amd64 host):"
x sko copy -q --override-os linux --override-arch amd64 \
	"oci-archive:$STAGE/oci-index.tar" "docker-archive:$WORK/amd64.tar:example.com/demo:1.0-amd64"
x sko copy -q --override-os linux --override-arch arm64 --override-variant v8 \
	"oci-archive:$STAGE/oci-index.tar" "docker-archive:$WORK/arm64.tar:example.com/demo:1.0-arm64"
x docker_ load -q -i "$WORK/amd64.tar" >/dev/null
x docker_ load -q -i "$WORK/arm64.tar" >/dev/null
x docker_ tag example.com/demo:1.0-amd64 example.com/other:latest
docker_ image ls --no-trunc --format '{{.Repository}}:{{.Tag}} {{.ID}}' | sort >"$WORK/facts/docker-images.txt"
for r in example.com/demo:1.0-amd64 example.com/demo:1.0-arm64; do
	docker_ image inspect --format "$r {{.Id}} {{.Os}}/{{.Architecture}}" "$r"
done >>"$WORK/facts/docker-images.txt"
xo "$STAGE/docker-legacy.tar" docker_ save example.com/demo:1.0-amd64 example.com/other:latest example.com/demo:1.0-arm64

TOOLVERS=$(
	echo "- $(buildah --version)"
	echo "- $(skopeo --version)"
	echo "- $(containerd --version) (ctr: $(ctr --version))"
	echo "- dockerd: $(docker_ version --format 'Docker Engine {{.Server.Version}} (API {{.Server.APIVersion}})'); docker CLI: $(docker_ version --format '{{.Client.Version}}')"
	echo "- $(runc --version 2>/dev/null | head -1)"
	echo "- $(gzip --version | head -1); $(zstd --version); $(openssl version); $(tar --version | head -1); $(jq --version)"
)
daemons_stop

# ---------------------------------------------------------------- compressed copies
SEC=oci-index.tar.gz
xo "$STAGE/oci-index.tar.gz" gzip -n -9 -c "$STAGE/oci-index.tar"
SEC=ctr-shallow.tar.zst
x zstd -q -19 -f "$STAGE/ctr-shallow.tar" -o "$STAGE/ctr-shallow.tar.zst"
SEC=compressed-misnamed.tar
note "gzip content under a .tar name: detection must use magic bytes"
x cp "$STAGE/oci-index.tar.gz" "$STAGE/compressed-misnamed.tar"

# ---------------------------------------------------------------- checks the tests rely on
die() { echo "make-fixtures: CHECK FAILED: $*" >&2; exit 1; }
rdtar() { tar -xOf "$1" "$2"; }
blob() { echo "blobs/${1%%:*}/${1#*:}"; }

idx=$(rdtar "$STAGE/oci-index.tar" "$(blob "$(rdtar "$STAGE/oci-index.tar" index.json | jq -r '.manifests[0].digest')")")
shared=$(for d in $(jq -r '.manifests[].digest' <<<"$idx"); do
	rdtar "$STAGE/oci-index.tar" "$(blob "$d")" | jq -r '.layers[0].digest'
done | sort -u)
[ "$(wc -l <<<"$shared")" = 1 ] || die "shared layer differs between platforms: $shared"
SHARED_LAYER=$shared
[ "$(jq -r '[.manifests[].platform | .os + "/" + .architecture + (if .variant then "/" + .variant else "" end)] | join(",")' <<<"$idx")" = \
	"linux/amd64,linux/arm64/v8,linux/arm/v7" ] || die "unexpected platforms in oci-index.tar"
for f in oci-index.tar.gz compressed-misnamed.tar; do
	[ "$(head -c2 "$STAGE/$f" | od -An -tx1 | tr -d ' ')" = 1f8b ] || die "$f is not gzip"
done
[ "$(head -c4 "$STAGE/ctr-shallow.tar.zst" | od -An -tx1 | tr -d ' ')" = 28b52ffd ] || die "ctr-shallow.tar.zst is not zstd"
[ "$(tar tvf "$STAGE/skopeo-docker-archive.tar" | grep -c '^l.* -> ')" -gt 0 ] || die "skopeo docker-archive has no symlinks"
[ "$(grep -c '^(exit [1-9]' "$WORK/facts/ctr-roundtrip.txt")" = 1 ] || die "expected exactly one failed ctr import (--all-platforms of the shallow export)"

# docker-list.tar vs oci-layout-dir: same config + layer blobs?
leafs() { # leafs MEMBER-READER: sorted config+layer digests of every manifest under the root
	local r=$1 root
	root=$($r index.json | jq -r '.manifests[0].digest')
	for m in $($r "$(blob "$root")" | jq -r '.manifests[].digest'); do
		$r "$(blob "$m")" | jq -r '.config.digest, .layers[].digest'
	done | sort -u
}
rd_dlist() { rdtar "$STAGE/docker-list.tar" "$1"; }
rd_odir() { cat "$STAGE/oci-layout-dir/$1"; }
if [ "$(leafs rd_dlist)" = "$(leafs rd_odir)" ]; then CONV_SAME="byte-identical (same digests; checked)"; else CONV_SAME="NOT all identical (configs were rewritten)"; fi

# ---------------------------------------------------------------- FIXTURES.md
# Everything below is read back from the produced files.
SRC='' SRCDIR=0
members() {
	if [ "$SRCDIR" = 1 ]; then (cd "$SRC" && find . \( -type f -o -type l \) | sed 's|^\./||' | sort); else tar tf "$SRC" | sed 's|^\./||'; fi
}
rd() { if [ "$SRCDIR" = 1 ]; then cat "$SRC/$1"; else tar -xOf "$SRC" "$1"; fi; }
has() { grep -qxF "$1" "$WORK/members"; }
# verify_blob DIGEST: "ok" when present and its sha256 matches, "MISSING" or "BAD" otherwise.
verify_blob() {
	local p
	p=$(blob "$1")
	has "$p" || { echo MISSING; return; }
	[ "sha256:$(rd "$p" | sha256sum | cut -d' ' -f1)" = "$1" ] && echo present || echo BAD-DIGEST
}
# summ PLATFORM MANIFEST STATUS: one row of the summary table (current file/root in CUR_*).
summ() { printf '| `%s` | %s | %s | `%s` | %s | %s |\n' "$CUR_FILE" "$CUR_NAME" "$CUR_ROOT" "$1" "$2" "$3" >>"$WORK/summary"; }
platstr() { jq -r 'if . == null then "" else .os + "/" + .architecture + (if .variant then "/" + .variant else "" end) end'; }

# walk DESCRIPTOR-JSON INDENT
walk() {
	local d=$1 ind=$2 mt dg sz st plat body cfg pres l nmiss ann
	mt=$(jq -r .mediaType <<<"$d")
	dg=$(jq -r .digest <<<"$d")
	sz=$(jq -r .size <<<"$d")
	st=$(verify_blob "$dg")
	plat=$(jq -c .platform <<<"$d" | platstr)
	ann=$(jq -c '.annotations // empty' <<<"$d")
	case $mt in
	*index* | *manifest.list*)
		echo "${ind}- index \`$dg\` ($mt, $sz bytes): **$st**${ann:+, annotations \`$ann\`}"
		if [ "$st" = present ]; then
			body=$(rd "$(blob "$dg")")
			while read -r child; do walk "$child" "$ind  "; done < <(jq -c '.manifests[]' <<<"$body")
		fi
		;;
	*)
		if [ "$st" != present ]; then
			echo "${ind}- manifest \`$dg\` platform \`${plat:-?}\` ($mt, $sz bytes): **missing**${ann:+, annotations \`$ann\`}"
			summ "${plat:-?}" "$dg" missing
			return
		fi
		body=$(rd "$(blob "$dg")")
		cfg=$(jq -r .config.digest <<<"$body")
		if [ -z "$plat" ] && [ "$(verify_blob "$cfg")" = present ]; then
			plat=$(rd "$(blob "$cfg")" | jq -c '{os, architecture, variant}' | platstr)" (from config)"
		fi
		nmiss=0
		for l in "$cfg" $(jq -r '.layers[].digest' <<<"$body"); do
			[ "$(verify_blob "$l")" = present ] || nmiss=$((nmiss + 1))
		done
		pres=present
		[ "$nmiss" = 0 ] || pres="partial ($nmiss children missing)"
		echo "${ind}- manifest \`$dg\` platform \`${plat:-?}\` ($mt, $sz bytes): **$pres**${ann:+, annotations \`$ann\`}"
		summ "${plat:-?}" "$dg" "$pres"
		echo "${ind}  - config \`$cfg\` ($(jq -r .config.size <<<"$body") bytes): $(verify_blob "$cfg")"
		jq -r '.layers[] | .digest + " " + (.size|tostring) + " " + .mediaType' <<<"$body" |
			while read -r l lsz lmt; do
				echo "${ind}  - layer \`$l\` ($lsz bytes, $lmt): $(verify_blob "$l")$([ "$l" = "$SHARED_LAYER" ] && echo ' — shared layer')"
			done
		;;
	esac
}

describe_oci() { # describe_oci PATH ISDIR DISPLAY-NAME
	SRC=$1 SRCDIR=$2 CUR_FILE=$3
	members >"$WORK/members"
	local ij
	ij=$(rd index.json)
	echo "Layout: OCI image layout. \`oci-layout\` = \`$(rd oci-layout)\`; \`manifest.json\` $(has manifest.json && echo present || echo absent)."
	echo
	echo '`index.json` (verbatim):'
	echo '```json'
	echo "$ij"
	echo '```'
	echo
	echo "Roots and graph (presence and sha256 verified by this script from the archive's bytes):"
	echo
	local i=0 r
	while read -r r; do
		CUR_NAME=$(jq -r '.annotations["io.containerd.image.name"] // .annotations["org.opencontainers.image.ref.name"] // "(unnamed)"' <<<"$r")
		CUR_ROOT="\`$(jq -r .digest <<<"$r")\` ($(jq -r .mediaType <<<"$r" | sed 's/application.vnd.//'))"
		echo "Root $i: io.containerd.image.name=\`$(jq -r '.annotations["io.containerd.image.name"] // "-"' <<<"$r")\`, org.opencontainers.image.ref.name=\`$(jq -r '.annotations["org.opencontainers.image.ref.name"] // "-"' <<<"$r")\`"
		echo
		walk "$r" ""
		echo
		i=$((i + 1))
	done < <(jq -c '.manifests[]' <<<"$ij")
	if has manifest.json; then
		echo '`manifest.json` (verbatim):'
		echo '```json'
		rd manifest.json
		echo
		echo '```'
		echo
	fi
	# Blobs in the archive that nothing references.
	local refd
	refd=$(walk_digests "$ij" | sort -u)
	local orphans
	orphans=$(grep '^blobs/' "$WORK/members" | grep -v '/$' | while read -r p; do
		d=${p#blobs/}
		d=${d%%/*}:${d#*/}
		grep -qxF "$d" <<<"$refd" || echo "$p"
	done)
	echo "Unreferenced blobs: ${orphans:-none}."
	echo
}
# walk_digests INDEX-JSON: every digest reachable (present or not).
walk_digests() {
	local d mt dg body
	while read -r d; do
		mt=$(jq -r .mediaType <<<"$d")
		dg=$(jq -r .digest <<<"$d")
		echo "$dg"
		has "$(blob "$dg")" || continue
		body=$(rd "$(blob "$dg")")
		case $mt in
		*index* | *manifest.list*) walk_digests "$body" ;;
		*) jq -r '.config.digest, .layers[].digest' <<<"$body" ;;
		esac
	done < <(jq -c '.manifests[]' <<<"$1")
}

# resolve MEMBER: follow in-archive symlinks (relative targets) to a regular member.
resolve() {
	local m=$1 t n=0
	while t=$(awk -v m="$m" '$1 ~ /^l/ { i = index($0, " " m " -> "); if (i) { print substr($0, i + length(m) + 5); exit } }' "$WORK/tvf"); [ -n "$t" ]; do
		m=$(realpath -m --relative-to=/ "/$(dirname "$m")/$t")
		n=$((n + 1))
		[ "$n" -lt 10 ] || break
	done
	echo "$m"
}
describe_docker() { # describe_docker PATH DISPLAY-NAME
	SRC=$1 SRCDIR=0 CUR_FILE=$2
	members >"$WORK/members"
	tar tvf "$SRC" >"$WORK/tvf"
	local mj e n i cfg cp plat p r
	mj=$(rd manifest.json)
	echo "Layout: legacy docker-archive (no \`oci-layout\`/\`index.json\`: $(has index.json && echo 'index.json PRESENT' || echo absent)). Symlinked members: $(grep -c '^l' "$WORK/tvf" || true)."
	echo
	echo '`manifest.json` (verbatim):'
	echo '```json'
	echo "$mj"
	echo '```'
	echo
	echo '`repositories` (verbatim):'
	echo '```json'
	rd repositories
	echo
	echo '```'
	echo
	n=$(jq length <<<"$mj")
	for ((i = 0; i < n; i++)); do
		e=$(jq -c ".[$i]" <<<"$mj")
		cfg=$(jq -r .Config <<<"$e")
		cp=$(resolve "$cfg")
		plat=$(rd "$cp" | jq -c '{os, architecture, variant}' | platstr)
		CUR_NAME=$(jq -r '.RepoTags | join(", ")' <<<"$e")
		CUR_ROOT="manifest.json entry $i"
		summ "$plat" "config \`sha256:$(rd "$cp" | sha256sum | cut -d' ' -f1)\`" "$(n=0; for p in $(jq -r '.Layers[]' <<<"$e"); do has "$(resolve "$p")" || n=$((n + 1)); done; [ "$n" = 0 ] && echo present || echo "partial ($n layers missing)")"
		echo "Entry $i: RepoTags \`$(jq -c .RepoTags <<<"$e")\`, platform (from config) \`$plat\`"
		echo "- Config \`$cfg\`: image ID sha256:$(rd "$cp" | sha256sum | cut -d' ' -f1)"
		echo "- config rootfs.diff_ids: \`$(rd "$cp" | jq -c .rootfs.diff_ids)\`"
		jq -r '.Layers[]' <<<"$e" | while read -r p; do
			r=$(resolve "$p")
			if has "$r"; then
				echo "- layer \`$p\`$([ "$r" != "$p" ] && echo " -> \`$r\` (symlink)"): sha256:$(rd "$r" | sha256sum | cut -d' ' -f1), $(rd "$r" | wc -c) bytes, present"
			else
				echo "- layer \`$p\`: **missing**"
			fi
		done
		echo
	done
}

tvf_block() { echo '```'; if [ -d "$1" ]; then (cd "$1" && find . -type f -printf '%s %p\n' | sort -k2); else tar tvf "$1"; fi; echo '```'; }
cmds_block() { echo '```sh'; cat "$WORK/cmds/$1"; echo '```'; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

SEC=facts
{
	cat <<EOF
# Test fixtures

Generated by \`scripts/make-fixtures.sh\` — do not edit by hand; re-run the script instead
(as root; it starts private containerd/dockerd instances under /tmp and removes them again).
All facts below were read back from the produced files by the script (tar, jq, sha256sum,
skopeo, ctr), not written by hand.

Tools:
$TOOLVERS

SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH. Layer contents are deterministic, so blob, manifest and
index digests are stable across runs with the same tool versions; archive-level tar headers
from buildah/skopeo (member mtimes) are not.

Every platform image is: shared layer (\`/shared/shared.bin\` 20000 bytes + \`/shared/README.txt\`)
+ its own layer (\`/platform/data.bin\` 20000 bytes + \`/platform/platform.txt\`).
**Shared layer: achieved** — all three platforms of example.com/demo:1.0 reference the same blob
\`$SHARED_LAYER\` (checked by the script), and the same blob is also the first layer of both
example.com/dlist:2 platforms.

## Summary (one row per platform manifest / docker image)

Status: present = manifest (or config), config and every layer are in the archive; missing = the
manifest blob itself is absent. oci-index.tar.gz and compressed-misnamed.tar have exactly the
rows of oci-index.tar, ctr-shallow.tar.zst those of ctr-shallow.tar.

| file | image name (root annotation / RepoTags) | root | platform | manifest | status |
|---|---|---|---|---|---|
@@SUMMARY@@

## Build steps (common)

$(cmds_block buildah)

## Daemons

$(cmds_block daemons)

\`\$D/containerd.toml\`:
\`\`\`toml
$(cat "$WORK/facts/containerd.toml")
\`\`\`

| file | bytes | sha256 |
|---|---|---|
EOF
	for f in "${OUTPUTS[@]}"; do
		[ "$f" != FIXTURES.md ] && [ -f "$STAGE/$f" ] && echo "| \`$f\` | $(stat -c %s "$STAGE/$f") | \`$(sha "$STAGE/$f")\` |"
	done
	echo "| \`oci-layout-dir/\` | $(du -sb "$STAGE/oci-layout-dir" | cut -f1) (dir) | - |"
	echo

	echo "## oci-index.tar"
	echo
	echo "buildah multi-platform image, OCI index (nested shape), example.com/demo:1.0, 3 platforms, all content present."
	echo
	cmds_block oci-index.tar
	echo
	echo "\`skopeo inspect --raw oci-archive:testdata/oci-index.tar\` sha256 = \`sha256:$(sko inspect --raw "oci-archive:$STAGE/oci-index.tar" | sha256sum | cut -d' ' -f1)\` (= root index digest)"
	echo
	describe_oci "$STAGE/oci-index.tar" 0 oci-index.tar
	tvf_block "$STAGE/oci-index.tar"
	echo
	echo "\`ctr images ls\` after \`ctr images import --all-platforms --no-unpack testdata/oci-index.tar\`:"
	echo '```'
	cat "$WORK/facts/ctr-ls-import.txt"
	echo '```'
	echo

	echo "## docker-list.tar"
	echo
	echo "buildah, pushed with \`--format v2s2\` into an oci-archive: OCI layout whose root is a **Docker manifest list** of Docker schema-2 manifests (config media type \`application/vnd.docker.container.image.v1+json\`; the config JSON itself is the OCI-shaped config buildah committed — see the script for why). example.com/dlist:2, 2 platforms, all present."
	echo
	cmds_block docker-list.tar
	echo
	echo "\`skopeo inspect --raw oci-archive:testdata/docker-list.tar\` sha256 = \`sha256:$(sko inspect --raw "oci-archive:$STAGE/docker-list.tar" | sha256sum | cut -d' ' -f1)\`"
	echo
	describe_oci "$STAGE/docker-list.tar" 0 docker-list.tar
	tvf_block "$STAGE/docker-list.tar"
	echo

	echo "## ctr-full.tar"
	echo
	echo "containerd 1.6 \`ctr images export --all-platforms\` of the imported oci-index.tar: all platforms present, plus a Docker \`manifest.json\` for the host platform (linux/amd64) only."
	echo
	cmds_block ctr-full.tar
	echo
	describe_oci "$STAGE/ctr-full.tar" 0 ctr-full.tar
	tvf_block "$STAGE/ctr-full.tar"
	echo

	echo "## ctr-shallow.tar (and ctr-shallow.tar.zst)"
	echo
	echo "containerd 1.6 \`ctr images export --platform linux/arm64/v8\`: the index keeps its original bytes (same digest, lists 3 platforms) but only linux/arm64/v8 content is in the archive — a **shallow** archive."
	echo
	cmds_block ctr-shallow.tar
	echo
	describe_oci "$STAGE/ctr-shallow.tar" 0 ctr-shallow.tar
	tvf_block "$STAGE/ctr-shallow.tar"
	echo
	echo "Round trips through the same containerd (recorded output):"
	echo '```'
	cat "$WORK/facts/ctr-roundtrip.txt"
	echo '```'
	echo

	echo "## docker-legacy.tar"
	echo
	echo "Docker 20.10 \`docker save\` (classic store): legacy layout, two images of different platforms; the amd64 image carries two tags (one manifest.json entry with two RepoTags). Layers are uncompressed \`<v1id>/layer.tar\` regular files (no symlinks in Docker 20.10's output); the shared layer is stored once."
	echo
	cmds_block docker-legacy.tar
	echo
	echo "Docker image store before saving:"
	echo '```'
	cat "$WORK/facts/docker-images.txt"
	echo '```'
	echo
	describe_docker "$STAGE/docker-legacy.tar" docker-legacy.tar
	tvf_block "$STAGE/docker-legacy.tar"
	echo

	echo "## skopeo-docker-archive.tar"
	echo
	echo "skopeo \`docker-archive:\` of the linux/arm64/v8 image: legacy layout with \`<v1id>/layer.tar\` **symlinks** to \`<diffid-hex>.tar\`."
	echo
	cmds_block skopeo-docker-archive.tar
	echo
	describe_docker "$STAGE/skopeo-docker-archive.tar" skopeo-docker-archive.tar
	tvf_block "$STAGE/skopeo-docker-archive.tar"
	echo

	echo "## oci-index.tar.gz, compressed-misnamed.tar, ctr-shallow.tar.zst"
	echo
	echo "Byte-for-byte compressions of oci-index.tar (gzip, \`1f 8b\`) and ctr-shallow.tar (zstd, \`28 b5 2f fd\`); compressed-misnamed.tar is a copy of oci-index.tar.gz (gzip content, .tar name). Their facts are those of the uncompressed archives."
	echo
	cmds_block oci-index.tar.gz
	cmds_block compressed-misnamed.tar
	cmds_block ctr-shallow.tar.zst
	echo
	echo '```'
	for f in oci-index.tar.gz compressed-misnamed.tar ctr-shallow.tar.zst; do
		echo "$f: first bytes $(head -c4 "$STAGE/$f" | od -An -tx1 | sed 's/^ //')"
	done
	echo '```'
	echo

	echo "## oci-layout-dir/"
	echo
	echo "skopeo \`oci:\` layout **directory** copied (\`--all\`) from docker-list.tar. The \`oci:\` transport only stores OCI media types, so skopeo converted the Docker manifest list and manifests to an OCI index and OCI manifests: the root and manifest digests differ from docker-list.tar, while config and layer blobs are $CONV_SAME (only the media types in the descriptors changed)."
	echo
	cmds_block oci-layout-dir
	echo
	echo "\`skopeo inspect --raw oci:testdata/oci-layout-dir:example.com/dlist:2\` sha256 = \`sha256:$(sko inspect --raw "oci:$STAGE/oci-layout-dir:example.com/dlist:2" | sha256sum | cut -d' ' -f1)\`"
	echo
	describe_oci "$STAGE/oci-layout-dir" 1 oci-layout-dir/
	tvf_block "$STAGE/oci-layout-dir"
} >"$WORK/FIXTURES.md.in"
sed -e "/^@@SUMMARY@@\$/{r $WORK/summary" -e 'd}' "$WORK/FIXTURES.md.in" >"$STAGE/FIXTURES.md"

# ---------------------------------------------------------------- install into testdata/
mkdir -p "$TD"
for f in "${OUTPUTS[@]}"; do
	rm -rf "${TD:?}/$f"
done
for f in "${OUTPUTS[@]}"; do
	mv "$STAGE/$f" "$TD/$f"
done
echo "make-fixtures: wrote $(du -sh "$TD" | cut -f1) to $TD:" >&2
(cd "$TD" && ls -l "${OUTPUTS[@]}" >&2)
