#!/usr/bin/env bash
# scripts/lib/sandbox.sh — the private sandbox scripts/interop.sh and scripts/make-fixtures.sh share:
# buildah storage, signature policy, registries.conf and temp files under one work dir, the
# bah/sko wrappers, one platform image per call, and the clean-up of it all (daemons included).
#
# Usage (sourced, after scripts/lib/daemons.sh):
#   WORK=$(mktemp -d /tmp/ocislim-xx.XXXX)
#   sandbox_init "$WORK"
#   cleanup() { local rc=$?; set +e; sandbox_cleanup; ...; exit "$rc"; }
#   trap cleanup EXIT; trap 'exit 130' INT; trap 'exit 143' TERM
#   sandbox_build_plat io io-demo demo-amd64 linux/amd64 "$WORK/ctx/amd64"
#
# Knobs: SANDBOX_KEEP=1 keeps the work dir; SANDBOX_RUN=(x) runs every buildah command of
# sandbox_build_plat through x (make-fixtures logs them).

SANDBOX_WORK=
SANDBOX_RUN=()

# sandbox_init WORK: private policy and registries.conf, temp files in WORK/tmp; the
# environment buildah and skopeo read.
sandbox_init() {
	SANDBOX_WORK=$1
	mkdir -p "$SANDBOX_WORK/tmp"
	export TMPDIR=$SANDBOX_WORK/tmp
	export STORAGE_DRIVER=vfs BUILDAH_ISOLATION=chroot
	# The host's /etc/containers/policy.json and registries.conf (short names, mirrors) must not matter.
	POLICY=$SANDBOX_WORK/policy.json
	echo '{"default":[{"type":"insecureAcceptAnything"}]}' >"$POLICY"
	export CONTAINERS_REGISTRIES_CONF=$SANDBOX_WORK/registries.conf
	echo 'unqualified-search-registries = []' >"$CONTAINERS_REGISTRIES_CONF"
}

bah() { buildah --root "$SANDBOX_WORK/broot" --runroot "$SANDBOX_WORK/brun" --storage-driver vfs "$@"; }
# skopeo of the current client generation (scripts/lib/daemons.sh), with the private policy.
sko() { skopeo_ --policy "$POLICY" --tmpdir "$TMPDIR" "$@"; }

# sandbox_build_plat PREFIX LIST KEY PLATFORM CTX [COMMIT-ARGS...]: one platform image, added to
# the manifest list LIST: the image localhost/PREFIX-base plus the directory CTX as /platform,
# configured for PLATFORM (os/arch[/variant], env OCISLIM_PLATFORM), committed as OCI (also for a
# Docker list: the push converts, and buildah's Docker-format config would carry a random
# container ID) as localhost/PREFIX-KEY.
sandbox_build_plat() {
	local prefix=$1 list=$2 key=$3 plat=$4 ctx=$5 os arch variant c
	shift 5
	IFS=/ read -r os arch variant <<<"$plat"
	c=$("${SANDBOX_RUN[@]}" bah from --pull-never --name "wc-$key" "localhost/$prefix-base")
	"${SANDBOX_RUN[@]}" bah copy "$c" "$ctx" /platform >/dev/null
	"${SANDBOX_RUN[@]}" bah config --os "$os" --arch "$arch" ${variant:+--variant "$variant"} \
		--env "OCISLIM_PLATFORM=$plat" --cmd '["/bin/true"]' "$c"
	"${SANDBOX_RUN[@]}" bah commit -q --rm --format oci "$@" --manifest "$list" "$c" "localhost/$prefix-$key" >/dev/null
}

# sandbox_cleanup: stop the daemons, remove buildah's containers, unmount and remove the work
# dir (unless SANDBOX_KEEP=1). Idempotent; for the scripts' EXIT traps.
sandbox_cleanup() {
	local m
	daemons_stop
	[ -n "$SANDBOX_WORK" ] && [ -d "$SANDBOX_WORK" ] || return 0
	bah rm -a >/dev/null 2>&1
	awk -v d="$SANDBOX_WORK" 'index($5, d "/") == 1 {print $5}' /proc/self/mountinfo | sort -r |
		while read -r m; do umount -R "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
	if [ "${SANDBOX_KEEP:-0}" = 1 ]; then
		echo "kept $SANDBOX_WORK" >&2
	else
		rm -rf "$SANDBOX_WORK"
	fi
	SANDBOX_WORK=
}
