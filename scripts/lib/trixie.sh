#!/usr/bin/env bash
# scripts/lib/trixie.sh — Debian 13 (trixie) clients, unpacked beside this Debian 12 system.
#
# Usage (sourced, by scripts/lib/daemons.sh):
#   trixie_fetch || echo "no trixie clients: $TRIXIE_ERROR"
#   "$TRIXIE_ROOT/usr/bin/containerd" --version
#
# trixie_fetch downloads docker.io, docker-cli, containerd, skopeo and the libraries skopeo needs
# from the Debian mirror this machine's apt already uses, suite trixie, with a private apt
# configuration (own sources list, lists and cache: the machine's apt state is not touched), and
# unpacks them with `dpkg -x` (nothing is installed) into $TRIXIE_ROOT. The result is cached: a
# later call finds it complete and returns at once, without the network.
#
# The daemons run directly from $TRIXIE_ROOT; skopeo needs trixie's libc, so it runs through
# trixie's own loader (see TRIXIE_SKOPEO).
#
# Environment knobs:
#   OCISLIM_TRIXIE_DIR      the cache (default /var/cache/ocislim-trixie): apt/, debs/, root/
#   OCISLIM_TRIXIE_MIRROR   the mirror URI (default: the one apt uses for this system's suite)
#   OCISLIM_TRIXIE_REFRESH=1  fetch and unpack again even when the cache is complete

TRIXIE_DIR=${OCISLIM_TRIXIE_DIR:-/var/cache/ocislim-trixie}
TRIXIE_ROOT=$TRIXIE_DIR/root
TRIXIE_ERROR=
# The packages, and the libraries skopeo 1.18 needs that Debian 12 has too old (or not at all).
TRIXIE_PACKAGES=(docker.io docker-cli containerd skopeo libc6 libgpgme11t64 libsqlite3-0 libassuan9 libgpg-error0)
# skopeo through trixie's loader and libraries (one word per array element).
TRIXIE_SKOPEO=(
	"$TRIXIE_ROOT/usr/lib64/ld-linux-x86-64.so.2"
	--library-path "$TRIXIE_ROOT/usr/lib/x86_64-linux-gnu"
	"$TRIXIE_ROOT/usr/bin/skopeo"
)
# Written last into the root: its presence means the root is complete.
_TRIXIE_STAMP=.ocislim-trixie-packages

# _trixie_mirror: the URI apt uses for this system's own suite (e.g. bookworm).
_trixie_mirror() {
	local codename
	if [ -n "${OCISLIM_TRIXIE_MIRROR:-}" ]; then
		echo "$OCISLIM_TRIXIE_MIRROR"
		return
	fi
	codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
	# shellcheck disable=SC2016 # apt's own $(FIELD) syntax
	apt-get indextargets --no-release-info --format '$(RELEASE) $(REPO_URI)' 2>/dev/null |
		awk -v s="$codename" '$1 == s { print $2; exit }'
}

# _trixie_run WHAT CMD...: run CMD with its output in $TRIXIE_DIR/fetch.log; on failure, set
# TRIXIE_ERROR to WHAT, the command and its last line of output.
_trixie_run() {
	local what=$1
	shift
	printf '+ %s\n' "$*" >>"$TRIXIE_DIR/fetch.log"
	"$@" >>"$TRIXIE_DIR/fetch.log" 2>&1 </dev/null && return 0
	# apt's own errors and warnings say why (e.g. the host it could not reach), else the last line.
	TRIXIE_ERROR="$what failed: $* -> $({ grep -E '^(E|W|Err):' "$TRIXIE_DIR/fetch.log" || tail -n 1 "$TRIXIE_DIR/fetch.log"; } | tail -n 3 | paste -sd ' ')"
	return 1
}

# _trixie_build: download and unpack into a fresh root (called with the cache locked).
_trixie_build() {
	local mirror apt tmp d
	mirror=$(_trixie_mirror)
	[ -n "$mirror" ] || {
		TRIXIE_ERROR="no Debian mirror found in this machine's apt sources (set OCISLIM_TRIXIE_MIRROR)"
		return 1
	}
	apt=$TRIXIE_DIR/apt
	rm -rf "$apt" "$TRIXIE_DIR/debs"
	mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$TRIXIE_DIR/debs"
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" >"$apt/sources.list"
	: >"$apt/status" # no installed packages: what the machine has installed plays no part
	local opts=(
		-o "Dir::Etc::sourcelist=$apt/sources.list" -o Dir::Etc::sourceparts=-
		-o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o "Dir::State::status=$apt/status"
		-o APT::Sandbox::User=root -o Acquire::Languages=none -q
	)
	_trixie_run "apt-get update (trixie, $mirror)" apt-get "${opts[@]}" --error-on=any update || return 1
	# apt-get download writes into the current directory (this runs in trixie_fetch's subshell).
	cd "$TRIXIE_DIR/debs" || return 1
	_trixie_run "apt-get download" apt-get "${opts[@]}" download "${TRIXIE_PACKAGES[@]/%//trixie}" || return 1
	tmp=$TRIXIE_DIR/root.new
	rm -rf "$tmp"
	mkdir -p "$tmp"
	for d in "$TRIXIE_DIR"/debs/*.deb; do
		_trixie_run "dpkg -x" dpkg -x "$d" "$tmp" || return 1
	done
	ls -1 ./*.deb >"$tmp/$_TRIXIE_STAMP"
	rm -rf "$TRIXIE_ROOT"
	mv "$tmp" "$TRIXIE_ROOT"
}

# _trixie_runs: every binary starts (prints its version).
_trixie_runs() {
	local b
	for b in usr/bin/containerd usr/bin/ctr usr/sbin/dockerd usr/bin/docker; do
		_trixie_run "$b --version" "$TRIXIE_ROOT/$b" --version || return 1
	done
	_trixie_run "skopeo --version (through trixie's loader)" "${TRIXIE_SKOPEO[@]}" --version
}

# trixie_fetch: make $TRIXIE_ROOT complete (cached), and check its binaries run. On failure,
# returns 1 with TRIXIE_ERROR saying which command failed and how.
trixie_fetch() {
	mkdir -p "$TRIXIE_DIR" || {
		TRIXIE_ERROR="cannot create $TRIXIE_DIR"
		return 1
	}
	: >"$TRIXIE_DIR/fetch.log"
	rm -f "$TRIXIE_DIR/error"
	(
		# One fetch at a time: a concurrent run waits, then finds the cache complete.
		flock 9
		if [ "${OCISLIM_TRIXIE_REFRESH:-0}" = 1 ] || [ ! -f "$TRIXIE_ROOT/$_TRIXIE_STAMP" ]; then
			_trixie_build || {
				echo "$TRIXIE_ERROR" >"$TRIXIE_DIR/error"
				exit 1
			}
		fi
	) 9>"$TRIXIE_DIR/lock" || {
		TRIXIE_ERROR=$(cat "$TRIXIE_DIR/error" 2>/dev/null)
		TRIXIE_ERROR=${TRIXIE_ERROR:-fetching into $TRIXIE_DIR failed}
		return 1
	}
	_trixie_runs
}
