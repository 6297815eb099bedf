# Shared set-up steps for scripts/serve and scripts/test. Sourced, not run.
# Every step is idempotent: a second run only checks and moves on.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
mkdir -p "$ROOT/var"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
fail() { printf '\033[31mERROR: %s\033[0m\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" = 0 ]; }
have_apt() { command -v apt-get >/dev/null 2>&1; }

apt_install() {
  # Installs Debian packages when we can (root with apt); otherwise tells the user.
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if is_root && have_apt; then
    say "Instalando paquetes del sistema: ${missing[*]}"
    if [ ! -f "$ROOT/var/.apt-updated" ] || [ -n "$(find "$ROOT/var/.apt-updated" -mmin +1440)" ]; then
      apt-get update -qq && touch "$ROOT/var/.apt-updated"
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    fail "Faltan paquetes del sistema: ${missing[*]}. Instálalos (por ejemplo: sudo apt-get install ${missing[*]}) y vuelve a ejecutar este comando."
  fi
}

ensure_python() {
  if [ ! -x "$PY" ]; then
    say "Creando el entorno virtual en .venv"
    python3 -m venv "$VENV" || fail "No se pudo crear el entorno virtual. Instala python3-venv (Python 3.11 o posterior)."
  fi
  local stamp="$ROOT/var/.deps-$1"
  local reqs=("requirements.txt")
  [ "$1" = dev ] && reqs+=("requirements-dev.txt")
  if [ ! -f "$stamp" ] || [ -n "$(find "${reqs[@]}" -newer "$stamp")" ]; then
    say "Instalando dependencias de Python (${reqs[*]})"
    local args=()
    for r in "${reqs[@]}"; do args+=(-r "$r"); done
    "$VENV/bin/pip" install -q --disable-pip-version-check "${args[@]}"
    touch "$stamp"
  fi
}

ensure_node_modules() {
  command -v npm >/dev/null 2>&1 || apt_install nodejs npm
  if [ ! -d node_modules/@xterm/xterm ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    say "Instalando bibliotecas del navegador (npm ci)"
    npm ci --no-audit --no-fund --loglevel=error
  fi
}

docker_answers() { timeout 10 docker info >/dev/null 2>&1; }

# Debian's Docker 20.10.24 can deadlock in libnetwork when containers on user-defined networks
# exit at the same moment (moby/moby#42545, fixed upstream after that version): /_ping still
# answers, but `docker info`, starts and removals hang for good. Only a restart ends it.
restart_hung_dockerd() {
  local pidfile=/var/run/docker.pid pid
  command -v curl >/dev/null 2>&1 || return 0
  [ -s "$pidfile" ] && pid="$(cat "$pidfile")" && kill -0 "$pid" 2>/dev/null || return 0
  timeout 5 curl -sf --unix-socket /var/run/docker.sock http://docker/_ping >/dev/null 2>&1 || return 0
  say "El motor de Docker responde al ping pero no a «docker info»: está bloqueado; lo reinicio"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.5; done
  kill -KILL "$pid" 2>/dev/null || true
}

ensure_docker() {
  # Starts a Docker engine when none answers and we are able to; otherwise explains.
  if docker_answers; then return 0; fi
  if ! command -v dockerd >/dev/null 2>&1; then
    if is_root && have_apt; then
      apt_install docker.io
    else
      echo "AVISO: no hay ningún motor de Docker. Las lecciones funcionan, pero la terminal no."
      echo "       Instala Docker (por ejemplo: sudo apt-get install docker.io) y arráncalo"
      echo "       (sudo systemctl start docker), o añade tu usuario al grupo docker."
      return 1
    fi
  fi
  command -v docker >/dev/null 2>&1 || apt_install docker.io
  if is_root; then
    restart_hung_dockerd
    # A dockerd that is still stopping keeps its pid file, and a new one refuses to start: wait
    # for it to finish; a pid file left by a crash is removed.
    local pidfile=/var/run/docker.pid
    for _ in $(seq 1 60); do
      [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null || break
      sleep 0.5
    done
    if [ -s "$pidfile" ] && ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then rm -f "$pidfile"; fi
    say "Arrancando el motor de Docker (dockerd); registro en var/dockerd.log"
    nohup dockerd >"$ROOT/var/dockerd.log" 2>&1 &
    for _ in $(seq 1 60); do docker_answers && return 0; sleep 0.5; done
    echo "AVISO: dockerd no respondió en 30 s. Mira var/dockerd.log."
    return 1
  fi
  echo "AVISO: el motor de Docker no responde y no tienes permisos para arrancarlo."
  echo "       Pide que lo arranquen (sudo systemctl start docker) o que te añadan al grupo docker."
  return 1
}

ensure_images() {
  # Offline builds: mmdebstrap makes the Debian root filesystems (the sandbox, muelle/debian),
  # busybox-static the small course images (muelle/hola, muelle/busybox, muelle/web); the docker
  # client is taken out of docker.io's .deb with apt-get download and dpkg-deb (always there).
  # The stand-ins of real-world images (nginx, mariadb, python:3.11-slim…) use the same tools:
  # mmdebstrap for debian:bookworm, apt-get download for the packages layered over it.
  apt_install mmdebstrap busybox-static
  say "Comprobando las imágenes del curso y las de práctica (nginx, mariadb, python…; se construyen sin conexión si hace falta, unos minutos la primera vez)"
  "$PY" manage.py build_images
}

ensure_registry_packages() {
  # Debian's docker-registry is the CNCF distribution 2.8 server; htpasswd (apache2-utils)
  # writes the bcrypt entry it reads.
  apt_install docker-registry apache2-utils
}

ensure_registry() {
  # The course registry students push to through the gateway (docs/registry.md): on loopback
  # only, config, storage and a random password (only Muelle knows it) under var/registry.
  # REGISTRY_URL (+ REGISTRY_USERNAME, REGISTRY_PASSWORD[_FILE]) uses an existing one instead.
  if [ -n "${REGISTRY_URL:-}" ]; then say "Registro del curso: $REGISTRY_URL"; return 0; fi
  ensure_registry_packages
  say "Comprobando el registro del curso en 127.0.0.1:${REGISTRY_PORT:-5000} (registro en var/registry/registry.log)"
  if ! "$PY" -m sandbox.course_registry start "$ROOT/var/registry" "${REGISTRY_PORT:-5000}"; then
    echo "AVISO: el registro del curso no arrancó (mira var/registry/registry.log): docker push"
    echo "       y docker pull de registro.muelle no funcionarán; el resto del curso, sí."
    return 1
  fi
}

migrate() {
  say "Aplicando migraciones de la base de datos"
  "$PY" manage.py migrate --noinput -v 0
}
