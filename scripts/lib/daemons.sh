#!/usr/bin/env bash
# scripts/lib/daemons.sh — start/stop a private containerd + Docker daemon pair of a client
# generation, and the wrappers that run that generation's clients.
#
# Usage (sourced):
#   . scripts/lib/daemons.sh
#   daemons_generation trixie || echo "skipped: $TRIXIE_ERROR"   # default: bookworm
#   D=$(mktemp -d /tmp/ocislim-d.XXXX)
#   trap daemons_stop EXIT
#   trap 'exit 130' INT; trap 'exit 143' TERM   # so signals run the EXIT trap too
#   daemons_start "$D"
#   ctr_ images ls
#   docker_ version
#   skopeo_ --version
#
# Generations (daemons_generation NAME):
#   bookworm  this Debian 12 machine's packages: containerd 1.6, Docker 20.10 (its classic image
#             store, vfs), skopeo 1.9
#   trixie    Debian 13's, unpacked (not installed) by scripts/lib/trixie.sh: containerd 1.7,
#             Docker 26 with the containerd image store (`containerd-snapshotter`, so `docker save`
#             writes Docker 25+ OCI archives and `docker load` keeps every platform), skopeo 1.18
#   trixie-classic  the same, but Docker 26 with its default, classic image store (vfs)
#
# Everything lives under DIR: sockets, roots, state, logs, pid files (NAME.launcher.pid, the pids
# daemons_stop signals, also for a watchdog). Keep DIR short (unix socket paths are limited to
# 108 bytes), e.g. /tmp/ocislim-d.XXXX. One pair runs at a time: stop it before starting another
# generation's.
#
# Only the processes started here are ever signalled (by recorded pid); nothing is
# looked up by name.
#
# Exported after daemons_start:
#   OCISLIM_DAEMONS_DIR, OCISLIM_CONTAINERD_SOCK, OCISLIM_DOCKER_SOCK,
#   OCISLIM_CONTAINERD_PID, OCISLIM_DOCKERD_PID
# Set by daemons_generation: OCISLIM_GEN, OCISLIM_DOCKER_C8D (1 with the containerd image store)
# Functions: daemons_generation NAME, daemons_start DIR, daemons_stop, daemons_versions,
#   ctr_ ARGS..., docker_ ARGS..., skopeo_ ARGS...
#
# Environment knobs:
#   OCISLIM_DAEMONS_TIMEOUT  seconds to wait for each daemon (default 30)
#   OCISLIM_NO_DOCKER=1      start containerd only
#   OCISLIM_DAEMONS_LOGDIR   if set, daemons_stop copies both daemon logs there first
#                            (as GEN-containerd.log, GEN-dockerd.log)
#   and scripts/lib/trixie.sh's (cache dir, mirror) for the trixie generations

# Not setting -e/-u here: this file is sourced into scripts with their own options.

# shellcheck source-path=SCRIPTDIR source=trixie.sh
. "$(dirname "${BASH_SOURCE[0]}")/trixie.sh"

OCISLIM_DAEMONS_DIR=${OCISLIM_DAEMONS_DIR:-}
OCISLIM_CONTAINERD_PID=${OCISLIM_CONTAINERD_PID:-}
OCISLIM_DOCKERD_PID=${OCISLIM_DOCKERD_PID:-}

_daemons_log() { printf 'daemons: %s\n' "$*" >&2; }

_daemons_tail_log() {
	local name=$1 f=$2
	if [ -f "$f" ]; then
		_daemons_log "---- last 40 lines of $name log ($f) ----"
		tail -n 40 "$f" >&2 || true
		_daemons_log "---- end of $name log ----"
	fi
}

# _daemons_alive PID: true while PID exists and is not a zombie.
_daemons_alive() {
	local pid=$1 st
	[ -n "$pid" ] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	st=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
	[ "$st" != Z ]
}

# daemons_generation bookworm|trixie|trixie-classic: which binaries daemons_start and the wrappers run.
# trixie fetches and unpacks Debian 13's packages first (cached); returns 1, with TRIXIE_ERROR
# saying what failed, when they cannot be fetched or do not run.
daemons_generation() {
	case $1 in
	bookworm)
		_DAEMONS_BIN=/usr/bin _DAEMONS_SBIN=/usr/sbin
		OCISLIM_SKOPEO=(/usr/bin/skopeo)
		OCISLIM_DOCKER_C8D=0
		;;
	trixie | trixie-classic)
		trixie_fetch || return 1
		_DAEMONS_BIN=$TRIXIE_ROOT/usr/bin _DAEMONS_SBIN=$TRIXIE_ROOT/usr/sbin
		OCISLIM_SKOPEO=("${TRIXIE_SKOPEO[@]}")
		OCISLIM_DOCKER_C8D=1
		[ "$1" = trixie ] || OCISLIM_DOCKER_C8D=0
		;;
	*)
		_daemons_log "unknown generation '$1' (bookworm, trixie or trixie-classic)"
		return 1
		;;
	esac
	OCISLIM_GEN=$1
	export OCISLIM_GEN OCISLIM_DOCKER_C8D
}
daemons_generation bookworm

ctr_() {
	"$_DAEMONS_BIN/ctr" --address "$OCISLIM_CONTAINERD_SOCK" "$@"
}

docker_() {
	# DOCKER_CONFIG keeps the CLI away from ~/.docker; -H pins the private socket.
	DOCKER_CONFIG="$OCISLIM_DAEMONS_DIR/docker-cli" "$_DAEMONS_BIN/docker" -H "unix://$OCISLIM_DOCKER_SOCK" "$@"
}

skopeo_() {
	"${OCISLIM_SKOPEO[@]}" "$@"
}

# daemons_versions: one line naming the running daemons' and skopeo's versions.
daemons_versions() {
	local store=
	[ "$OCISLIM_DOCKER_C8D" = 1 ] && store=' with the containerd image store'
	echo "$("$_DAEMONS_BIN/containerd" --version); dockerd $(docker_ version --format '{{.Server.Version}} (API {{.Server.APIVersion}})')$store; $(skopeo_ --version)"
}

# _daemons_spawn NAME CMD...: start CMD in its own session (PATH led by this generation's
# binaries, so a daemon finds its own helpers), output in DIR/NAME.log; its pid in _DAEMONS_PID.
_daemons_spawn() {
	local name=$1
	shift
	PATH="$_DAEMONS_BIN:$_DAEMONS_SBIN:$PATH" setsid "$@" >"$OCISLIM_DAEMONS_DIR/$name.log" 2>&1 </dev/null &
	_DAEMONS_PID=$!
	echo "$_DAEMONS_PID" >"$OCISLIM_DAEMONS_DIR/$name.launcher.pid"
}

# _daemons_wait NAME PID CMD...: poll CMD until it succeeds; fail (with the log's tail) when
# NAME's PID exits or OCISLIM_DAEMONS_TIMEOUT passes.
_daemons_wait() {
	local name=$1 pid=$2 i=0 timeout=${OCISLIM_DAEMONS_TIMEOUT:-30}
	shift 2
	until "$@" >/dev/null 2>&1; do
		if ! _daemons_alive "$pid"; then
			_daemons_log "$name (pid $pid) exited during start-up"
			_daemons_tail_log "$name" "$OCISLIM_DAEMONS_DIR/$name.log"
			return 1
		fi
		i=$((i + 1))
		if [ "$i" -ge $((timeout * 5)) ]; then
			_daemons_log "$name did not answer within ${timeout}s"
			_daemons_tail_log "$name" "$OCISLIM_DAEMONS_DIR/$name.log"
			return 1
		fi
		sleep 0.2
	done
	_daemons_log "$name up ($OCISLIM_GEN, pid $pid)"
}

# _daemons_containerd_config DIR: the private containerd's config, on stdout.
_daemons_containerd_config() {
	local dir=$1
	cat <<TOML
version = 2
root = "$dir/containerd/root"
state = "$dir/containerd/state"
# Not needed for image import/export, and they are the usual reasons a private
# containerd fails to come up in a container (CNI, btrfs/zfs/devmapper/aufs, tracing).
disabled_plugins = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
  # "opt" would create /opt/containerd on the host.
  "io.containerd.internal.v1.opt",
]

[grpc]
  address = "$dir/containerd.sock"

[ttrpc]
  address = "$dir/containerd.sock.ttrpc"

[debug]
  address = "$dir/containerd-debug.sock"
  level = "info"

[metrics]
  address = ""
TOML
}

# _daemons_dockerd_store: dockerd's image-store flags and its private daemon.json (which also
# keeps /etc/docker/daemon.json from interfering) for this generation.
_daemons_dockerd_store() {
	if [ "$OCISLIM_DOCKER_C8D" = 1 ]; then
		# The containerd image store, its snapshots in the private containerd ("native" is
		# that store's vfs: plain copies, works on any file system).
		echo '{"features":{"containerd-snapshotter":true}}' >"$OCISLIM_DAEMONS_DIR/daemon.json"
		echo --storage-driver=native
	else
		echo '{}' >"$OCISLIM_DAEMONS_DIR/daemon.json"
		echo --storage-driver=vfs
	fi
}

# daemons_start DIR
daemons_start() {
	local dir=${1:?usage: daemons_start DIR} store

	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd -P)
	OCISLIM_DAEMONS_DIR=$dir
	OCISLIM_CONTAINERD_SOCK=$dir/containerd.sock
	OCISLIM_DOCKER_SOCK=$dir/docker.sock
	export OCISLIM_DAEMONS_DIR OCISLIM_CONTAINERD_SOCK OCISLIM_DOCKER_SOCK

	if [ "${#OCISLIM_CONTAINERD_SOCK}" -ge 100 ] || [ "${#OCISLIM_DOCKER_SOCK}" -ge 100 ]; then
		_daemons_log "DIR '$dir' is too long for unix socket paths (108-byte limit); use e.g. /tmp/ocislim-d.XXXX"
		return 1
	fi

	mkdir -p "$dir/containerd/root" "$dir/containerd/state" "$dir/docker" "$dir/dexec" "$dir/docker-cli"

	# ---- containerd ----
	_daemons_containerd_config "$dir" >"$dir/containerd.toml"
	_daemons_spawn containerd "$_DAEMONS_BIN/containerd" --config "$dir/containerd.toml"
	OCISLIM_CONTAINERD_PID=$_DAEMONS_PID
	export OCISLIM_CONTAINERD_PID
	_daemons_wait containerd "$OCISLIM_CONTAINERD_PID" ctr_ --timeout 2s version || return 1

	[ "${OCISLIM_NO_DOCKER:-0}" = 1 ] && return 0

	# ---- dockerd on top of it ----
	# --exec-opt native.cgroupdriver=cgroupfs: no systemd in the sandbox.
	# --userland-proxy=false, --iptables/--ip6tables=false, --bridge=none: no network setup at all.
	# Docker unavoidably writes outside DIR: 20.10 its trust key /etc/docker/key.json, both the
	# plugin exec root /run/docker/plugins (hard-coded).
	# Remember whether they existed, so daemons_stop removes only what we created.
	OCISLIM_DOCKER_CREATED_KEY=0 OCISLIM_DOCKER_CREATED_RUN=0
	[ -e /etc/docker/key.json ] || OCISLIM_DOCKER_CREATED_KEY=1
	[ -e /run/docker ] || OCISLIM_DOCKER_CREATED_RUN=1
	store=$(_daemons_dockerd_store)
	_daemons_spawn dockerd "$_DAEMONS_SBIN/dockerd" \
		--data-root "$dir/docker" \
		--exec-root "$dir/dexec" \
		--pidfile "$dir/docker.pid" \
		-H "unix://$OCISLIM_DOCKER_SOCK" \
		--containerd "$OCISLIM_CONTAINERD_SOCK" \
		--iptables=false --ip6tables=false --ip-masq=false --bridge=none \
		--userland-proxy=false \
		"$store" \
		--exec-opt native.cgroupdriver=cgroupfs \
		--config-file "$dir/daemon.json"
	OCISLIM_DOCKERD_PID=$_DAEMONS_PID
	export OCISLIM_DOCKERD_PID
	_daemons_wait dockerd "$OCISLIM_DOCKERD_PID" docker_ version
}

# _daemons_kill NAME PID: TERM, wait up to 10 s, then KILL. Only ever the given pid.
_daemons_kill() {
	local name=$1 pid=$2 i
	[ -n "$pid" ] || return 0
	_daemons_alive "$pid" || { wait "$pid" 2>/dev/null || true; return 0; }
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 1 50); do
		_daemons_alive "$pid" || break
		sleep 0.2
	done
	if _daemons_alive "$pid"; then
		_daemons_log "$name (pid $pid) ignored SIGTERM for 10s; sending SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
		sleep 0.2
	fi
	# Reap it if it is our child (it is, when started from this shell).
	wait "$pid" 2>/dev/null || true
}

# daemons_stop: idempotent; safe from `trap daemons_stop EXIT`.
daemons_stop() {
	local dir=${OCISLIM_DAEMONS_DIR:-} m
	# dockerd first: it talks to containerd while shutting down.
	_daemons_kill dockerd "${OCISLIM_DOCKERD_PID:-}"
	OCISLIM_DOCKERD_PID=
	_daemons_kill containerd "${OCISLIM_CONTAINERD_PID:-}"
	OCISLIM_CONTAINERD_PID=
	if [ "${OCISLIM_DOCKER_CREATED_KEY:-0}" = 1 ]; then
		rm -f /etc/docker/key.json
		OCISLIM_DOCKER_CREATED_KEY=0
	fi
	if [ "${OCISLIM_DOCKER_CREATED_RUN:-0}" = 1 ]; then
		# Only if empty: another docker may have started meanwhile.
		rmdir /run/docker/plugins /run/docker 2>/dev/null || true
		OCISLIM_DOCKER_CREATED_RUN=0
	fi
	if [ -n "$dir" ] && [ -d "$dir" ]; then
		if [ -n "${OCISLIM_DAEMONS_LOGDIR:-}" ]; then
			if mkdir -p "$OCISLIM_DAEMONS_LOGDIR"; then
				for m in containerd dockerd; do
					cp -f "$dir/$m.log" "$OCISLIM_DAEMONS_LOGDIR/$OCISLIM_GEN-$m.log" 2>/dev/null || true
				done
			fi
		fi
		# Unmount anything still mounted under DIR, deepest first.
		while read -r m; do
			[ -n "$m" ] || continue
			umount -R "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
		done < <(awk -v d="$dir" '$5 == d || index($5, d "/") == 1 {print $5}' /proc/self/mountinfo | sort -r)
		rm -rf --one-file-system "$dir" 2>/dev/null || rm -rf "$dir" 2>/dev/null || {
			_daemons_log "could not remove $dir"
		}
	fi
	OCISLIM_DAEMONS_DIR=
	return 0
}
