#!/usr/bin/env bash
# Restarts the students' engine when it is hung: it answers `/_ping` but not `/info`.
#
# That is how Debian's Docker 20.10.24 is left by its libnetwork deadlock (moby/moby#42545,
# docs/despliegue.md «Limitaciones conocidas»): containers on user-defined networks that end at
# the same moment, and from then on info, starts and removals wait for ever while the ping
# still answers, so neither systemd (the process is alive) nor Muelle (which sees "engine
# unavailable" on each call) can end it. Only a restart does; the students get new sandboxes
# and keep their progress. A dead engine is not this script's business (systemd restarts it,
# Restart=on-failure), nor one that answers nothing: it may be starting.
#
#   deploy/students-engine/watchdog.sh     # one check; muelle-students-engine-watchdog.timer
#                                          # runs it every minute
#
# Environment:
#   MUELLE_ENGINE_DIR              the engine's folder (its socket is run/docker.sock)
#   MUELLE_WATCHDOG_INFO_TIMEOUT   seconds `/info` has to answer, each of two tries (30)
#   MUELLE_WATCHDOG_UNIT           the systemd unit to restart (muelle-students-engine.service);
#                                  when it is not active, students-engine.sh restart instead
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
DIR="${MUELLE_ENGINE_DIR:-/srv/muelle/engine}"
SOCK="$DIR/run/docker.sock"
INFO_TIMEOUT="${MUELLE_WATCHDOG_INFO_TIMEOUT:-30}"
UNIT="${MUELLE_WATCHDOG_UNIT:-muelle-students-engine.service}"

say() { echo "muelle-students-engine-watchdog: $*" >&2; }

answers() { # PATH SECONDS
  curl -sf -o /dev/null --max-time "$2" --unix-socket "$SOCK" "http://docker$1"
}

# Ping yes, info no. A busy engine can be slow to build its info (it asks containerd, the
# storage driver, the plugins): the timeout is generous and the whole check is made twice.
hung() {
  [ -S "$SOCK" ] || return 1
  answers /_ping 5 || return 1
  ! answers /info "$INFO_TIMEOUT"
}

if ! hung; then exit 0; fi
say "el motor de los alumnos responde al ping pero no a /info en ${INFO_TIMEOUT} s; vuelvo a probar"
if ! hung; then
  say "ha vuelto a responder: no lo reinicio"
  exit 0
fi

pid="$(cat "$DIR/exec/docker.pid" 2>/dev/null || true)"
if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
  # Its goroutine stacks, for a bug report: dockerd writes them to exec/goroutine-stacks-*.log
  # (the deadlock shows getSvcRecords and processEndpointDelete waiting).
  kill -USR1 "$pid" 2>/dev/null || true
  sleep 1
fi
say "el motor de los alumnos está bloqueado (ping sí, /info no): lo reinicio;" \
  "los alumnos recibirán un entorno nuevo"
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$UNIT" 2>/dev/null; then
  systemctl restart "$UNIT"
else
  "$HERE/students-engine.sh" restart
fi
if answers /info "$INFO_TIMEOUT"; then
  say "reiniciado: /info responde"
else
  say "reiniciado, pero /info sigue sin responder"
  exit 1
fi
