#!/usr/bin/env bash
# scripts/lib/daemons.sh — start/stop a private containerd + Docker daemon pair.
#
# Usage (sourced):
#   . scripts/lib/daemons.sh
#   D=$(mktemp -d /tmp/ocislim-d.XXXX)
#   trap daemons_stop EXIT
#   trap 'exit 130' INT; trap 'exit 143' TERM   # so signals run the EXIT trap too
#   daemons_start "$D"
#   ctr_ images ls
#   docker_ version
#
# Everything lives under DIR: sockets, roots, state, logs, pid files. Keep DIR short
# (unix socket paths are limited to 108 bytes), e.g. /tmp/ocislim-d.XXXX.
#
# Only the processes started here are ever signalled (by recorded pid); nothing is
# looked up by name.
#
# Exported after daemons_start:
#   OCISLIM_DAEMONS_DIR, OCISLIM_CONTAINERD_SOCK, OCISLIM_DOCKER_SOCK,
#   OCISLIM_CONTAINERD_PID, OCISLIM_DOCKERD_PID
# Functions: ctr_ ARGS..., docker_ ARGS..., daemons_stop
#
# Environment knobs:
#   OCISLIM_DAEMONS_TIMEOUT  seconds to wait for each daemon (default 30)
#   OCISLIM_NO_DOCKER=1      start containerd only
#   OCISLIM_DAEMONS_LOGDIR   if set, daemons_stop copies both daemon logs there first

# Not setting -e/-u here: this file is sourced into scripts with their own options.

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

ctr_() {
	ctr --address "$OCISLIM_CONTAINERD_SOCK" "$@"
}

docker_() {
	# DOCKER_CONFIG keeps the CLI away from ~/.docker; -H pins the private socket.
	DOCKER_CONFIG="$OCISLIM_DAEMONS_DIR/docker-cli" docker -H "unix://$OCISLIM_DOCKER_SOCK" "$@"
}

# daemons_start DIR
daemons_start() {
	local dir=${1:?usage: daemons_start DIR}
	local timeout=${OCISLIM_DAEMONS_TIMEOUT:-30}
	local i cfg

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
	cfg=$dir/containerd.toml
	cat >"$cfg" <<TOML
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

	setsid containerd --config "$cfg" >"$dir/containerd.log" 2>&1 </dev/null &
	OCISLIM_CONTAINERD_PID=$!
	echo "$OCISLIM_CONTAINERD_PID" >"$dir/containerd.pid"
	export OCISLIM_CONTAINERD_PID

	i=0
	until ctr --address "$OCISLIM_CONTAINERD_SOCK" --timeout 2s version >/dev/null 2>&1; do
		if ! _daemons_alive "$OCISLIM_CONTAINERD_PID"; then
			_daemons_log "containerd (pid $OCISLIM_CONTAINERD_PID) exited during start-up"
			_daemons_tail_log containerd "$dir/containerd.log"
			return 1
		fi
		i=$((i + 1))
		if [ "$i" -ge $((timeout * 5)) ]; then
			_daemons_log "containerd did not answer on $OCISLIM_CONTAINERD_SOCK within ${timeout}s"
			_daemons_tail_log containerd "$dir/containerd.log"
			return 1
		fi
		sleep 0.2
	done
	_daemons_log "containerd up (pid $OCISLIM_CONTAINERD_PID, $OCISLIM_CONTAINERD_SOCK)"

	[ "${OCISLIM_NO_DOCKER:-0}" = 1 ] && return 0

	# ---- dockerd (20.10) on top of it ----
	# --exec-opt native.cgroupdriver=cgroupfs: no systemd in the sandbox.
	# --userland-proxy=false, --iptables/--ip6tables=false, --bridge=none: no network setup at all.
	# Docker 20.10 unavoidably writes two things outside DIR: its trust key
	# /etc/docker/key.json and the plugin exec root /run/docker/plugins (hard-coded).
	# Remember whether they existed, so daemons_stop removes only what we created.
	OCISLIM_DOCKER_CREATED_KEY=0 OCISLIM_DOCKER_CREATED_RUN=0
	[ -e /etc/docker/key.json ] || OCISLIM_DOCKER_CREATED_KEY=1
	[ -e /run/docker ] || OCISLIM_DOCKER_CREATED_RUN=1
	# A private (empty) daemon.json so /etc/docker/daemon.json cannot interfere.
	echo '{}' >"$dir/daemon.json"
	setsid dockerd \
		--data-root "$dir/docker" \
		--exec-root "$dir/dexec" \
		--pidfile "$dir/docker.pid" \
		-H "unix://$OCISLIM_DOCKER_SOCK" \
		--containerd "$OCISLIM_CONTAINERD_SOCK" \
		--iptables=false --ip6tables=false --ip-masq=false --bridge=none \
		--userland-proxy=false \
		--storage-driver=vfs \
		--exec-opt native.cgroupdriver=cgroupfs \
		--config-file "$dir/daemon.json" \
		>"$dir/dockerd.log" 2>&1 </dev/null &
	OCISLIM_DOCKERD_PID=$!
	echo "$OCISLIM_DOCKERD_PID" >"$dir/dockerd.launcher.pid"
	export OCISLIM_DOCKERD_PID

	i=0
	until docker_ version >/dev/null 2>&1; do
		if ! _daemons_alive "$OCISLIM_DOCKERD_PID"; then
			_daemons_log "dockerd (pid $OCISLIM_DOCKERD_PID) exited during start-up"
			_daemons_tail_log dockerd "$dir/dockerd.log"
			return 1
		fi
		i=$((i + 1))
		if [ "$i" -ge $((timeout * 5)) ]; then
			_daemons_log "dockerd did not answer on $OCISLIM_DOCKER_SOCK within ${timeout}s"
			_daemons_tail_log dockerd "$dir/dockerd.log"
			return 1
		fi
		sleep 0.2
	done
	_daemons_log "dockerd up (pid $OCISLIM_DOCKERD_PID, $OCISLIM_DOCKER_SOCK)"
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
				cp -f "$dir"/containerd.log "$dir"/dockerd.log "$OCISLIM_DAEMONS_LOGDIR"/ 2>/dev/null || true
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
