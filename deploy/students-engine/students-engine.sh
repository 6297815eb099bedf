#!/usr/bin/env bash
# Starts or stops the students' Docker engine: a second dockerd on this host, separate from the
# one that runs Muelle's own containers, with --userns-remap=default (root in a student's
# container is an unprivileged uid on the host, 100000 and up) and its own socket, data root,
# exec root and pid file, so it never touches the main engine.
#
#   deploy/students-engine/students-engine.sh start   # waits until the engine answers
#   deploy/students-engine/students-engine.sh stop    # stops it and everything it ran
#   deploy/students-engine/students-engine.sh restart # stop, then start (students-engine/watchdog.sh)
#   deploy/students-engine/students-engine.sh purge   # stop, then delete its data root
#   deploy/students-engine/students-engine.sh run     # dockerd in the foreground (systemd)
#
# Production runs the same command line from systemd (muelle-students-engine.service); this script
# is what the deployment test uses. Everything is under one folder (MUELLE_ENGINE_DIR):
#   run/docker.sock   the socket Muelle's web process talks to (mounted into the web container)
#   data/             images and containers (data root)
#   exec/             runtime state (exec root), docker.pid, dockerd.log
set -euo pipefail

DIR="${MUELLE_ENGINE_DIR:-/srv/muelle/engine}"
# Student networks are internal bridges with no host address; they need subnets that never
# clash with the main engine's (172.17.0.0/16 and up) nor with the school's own networks.
POOL="${MUELLE_ENGINE_ADDRESS_POOL:-base=10.240.0.0/16,size=24}"
NAME="${MUELLE_ENGINE_NAME:-muelle-students}"
# Its own default bridge (made here, unused by Muelle: sandboxes have network none). Never
# --bridge=none: a dockerd started with it deletes the host's docker0, the main engine's bridge.
BRIDGE="${MUELLE_ENGINE_BRIDGE:-muelle-st0}"
BIP="${MUELLE_ENGINE_BIP:-10.241.0.1/24}"
SOCK="$DIR/run/docker.sock"
PIDFILE="$DIR/exec/docker.pid"

dockerd_args() {
  # --iptables=false / --ip-forward=false / --ip-masq=false: the students' containers have no
  # network of their own (network none, or internal bridges without a host address), so this
  # engine needs no NAT and no rule in the host's firewall, which stays the main engine's alone. Its own containerd namespace keeps the two engines'
  # containers apart even if they ever shared a containerd.
  printf '%s\n' \
    --userns-remap=default \
    --host "unix://$SOCK" \
    --data-root "$DIR/data" \
    --exec-root "$DIR/exec" \
    --pidfile "$PIDFILE" \
    --bridge "$BRIDGE" --iptables=false --ip-forward=false --ip-masq=false \
    --default-address-pool "$POOL" \
    --containerd-namespace "$NAME" --containerd-plugins-namespace "$NAME-plugins" \
    --cgroup-parent "$NAME" \
    --log-driver json-file --log-opt max-size=1m --log-opt max-file=1
}

running_pid() {
  [ -s "$PIDFILE" ] || return 1
  local pid
  pid="$(cat "$PIDFILE")"
  kill -0 "$pid" 2>/dev/null && [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$(command -v dockerd)" ] || return 1
  echo "$pid"
}

prepare() {
  mkdir -p "$DIR/run" "$DIR/data" "$DIR/exec"
  # A dockerd that finds a default "bridge" network left by its previous run deletes it and,
  # since this engine has --default-address-pool, deletes the host's docker0 too: the MAIN
  # engine's bridge (moby's daemon_unix.go, «Clear stale bridge network»). Every restart did
  # that (systemctl restart, Restart=on-failure, the watchdog). Students' networks never outlive
  # a run anyway (stop removes them): each run starts without the previous one's network store.
  rm -f "$DIR"/data/network/files/local-kv.db "$DIR"/data/*/network/files/local-kv.db
  chmod 0711 "$DIR"; chmod 0700 "$DIR/data" "$DIR/exec"
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge
    ip addr add "$BIP" dev "$BRIDGE"
    ip link set "$BRIDGE" up
  fi
}

start() {
  if running_pid >/dev/null; then echo "students' engine already running ($SOCK)"; return 0; fi
  prepare
  mapfile -t args < <(dockerd_args)
  # The previous run's log stays beside the new one (after a restart by the watchdog, it says
  # where the hung engine's goroutine stacks are).
  [ -s "$DIR/exec/dockerd.log" ] && mv "$DIR/exec/dockerd.log" "$DIR/exec/dockerd.log.1"
  # setsid: its own session, so a Ctrl-C in the caller's terminal does not reach it.
  setsid dockerd "${args[@]}" >"$DIR/exec/dockerd.log" 2>&1 </dev/null &
  local started=$!
  for _ in $(seq 1 150); do
    kill -0 "$started" 2>/dev/null || break
    if docker -H "unix://$SOCK" version >/dev/null 2>&1; then
      echo "students' engine answers at unix://$SOCK"
      return 0
    fi
    sleep 0.2
  done
  echo "the students' engine did not answer (it stopped, or 30 s went by); its log:" >&2
  tail -20 "$DIR/exec/dockerd.log" >&2 || true
  return 1
}

stop() {
  local pid
  if pid="$(running_pid)"; then
    # Remove every container first: a dockerd that just exits leaves them running under shims.
    # Bounded: a hung engine (students-engine/watchdog.sh) answers none of this, and is stopped
    # anyway; what it leaves is removed below.
    local ids
    ids="$(timeout 30 docker -H "unix://$SOCK" ps -aq 2>/dev/null || true)"
    if [ -n "$ids" ]; then
      # shellcheck disable=SC2086
      timeout 120 docker -H "unix://$SOCK" rm -f -v $ids >/dev/null 2>&1 || true
    fi
    # Students' networks are bridges in the host's namespace: they outlive a stopped dockerd.
    timeout 30 docker -H "unix://$SOCK" network prune -f >/dev/null 2>&1 || true
    kill -TERM "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
  # Whatever outlived it (a shim of a container that could not be removed), by pid, only the
  # ones started for this engine's exec root.
  local p
  for p in $(pgrep -f -- "containerd-shim.*-namespace $NAME " || true); do kill -KILL "$p" 2>/dev/null || true; done
  for p in $(pgrep -f -- "containerd --config $DIR/exec/" || true); do kill -KILL "$p" 2>/dev/null || true; done
  # Mounts left under its folders (overlay layers, network namespaces), deepest first.
  if [ -d "$DIR" ]; then
    awk -v d="$DIR/" 'index($2, d) == 1 {print $2}' /proc/self/mounts | sort -r | while read -r m; do
      umount -l "$m" 2>/dev/null || true
    done
  fi
  rm -f "$SOCK" "$PIDFILE"
  # Its --cgroup-parent folders, once the last processes in them have exited (a few moments
  # after their shims are gone; rmdir refuses a busy one, so this never takes anything live).
  local tries
  for tries in $(seq 1 40); do
    [ -z "$(find /sys/fs/cgroup/ -mindepth 1 -maxdepth 2 -type d -name "$NAME" 2>/dev/null)" ] && break
    find /sys/fs/cgroup/ -mindepth 1 -maxdepth 2 -type d -name "$NAME" 2>/dev/null | while read -r c; do
      find "$c" -depth -type d -exec rmdir {} + 2>/dev/null || true
    done
    sleep 0.25
  done
  if ip link show "$BRIDGE" >/dev/null 2>&1; then ip link del "$BRIDGE"; fi
}

case "${1:-}" in
  start) start ;;
  run) prepare; mapfile -t args < <(dockerd_args); exec dockerd "${args[@]}" ;;
  stop) stop ;;
  restart) stop; start ;;
  purge) stop; rm -rf "$DIR" ;;
  args) dockerd_args ;;
  *) echo "usage: $0 start|stop|restart|purge|run|args" >&2; exit 2 ;;
esac
