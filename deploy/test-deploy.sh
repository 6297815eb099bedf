#!/usr/bin/env bash
# The deployment brought up on loopback, for CI and for trying it by hand (tests/deploy drives it).
#
#   deploy/test-deploy.sh up     # images (cached by recipe hash), students' engine, the stack
#   deploy/test-deploy.sh down   # removes all of it: containers, volumes, networks, engine data
#
# Everything lives in one folder, MUELLE_DEPLOY_TEST_DIR (default /tmp/muelle-deploy-test): the
# .env, a self-signed certificate for MUELLE_DOMAIN and *.vista.MUELLE_DOMAIN, generated
# secrets, the students' engine (socket, data root, exec root) and the gateway folder. The proxy
# listens on 127.0.0.1 only (MUELLE_HTTPS_PORT, default 8443). The images stay: they are the
# cache (deploy/build.sh skips an unchanged recipe).
set -euo pipefail

DEPLOY="$(cd "$(dirname "$0")" && pwd)"
WORK="${MUELLE_DEPLOY_TEST_DIR:-/tmp/muelle-deploy-test}"
PROJECT="${MUELLE_DEPLOY_PROJECT:-muelle-deploy-test}"
DOMAIN="${MUELLE_DOMAIN:-muelle.localhost}"
HTTPS_PORT="${MUELLE_HTTPS_PORT:-8443}"
HTTP_PORT="${MUELLE_HTTP_PORT:-8480}"
SUBNET="${MUELLE_BACK_SUBNET:-10.239.0.0/24}"
export MUELLE_ENGINE_DIR="$WORK/engine"
export MUELLE_ENGINE_BRIDGE="${MUELLE_ENGINE_BRIDGE:-muelle-st0}"

compose() { docker-compose -p "$PROJECT" --env-file "$WORK/.env" -f "$DEPLOY/docker-compose.yml" "$@"; }
say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

up() {
  mkdir -p "$WORK/tls" "$WORK/secrets" "$WORK/gateway"
  # The students' engine's remapped root must be able to walk down to its data root.
  chmod 0711 "$WORK"
  chmod 0700 "$WORK/secrets"
  say "Imágenes (deploy/build.sh)"
  "$DEPLOY/build.sh" >"$WORK/images.env"
  say "Certificado autofirmado para $DOMAIN y *.vista.$DOMAIN"
  if [ ! -s "$WORK/tls/muelle.crt" ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$DOMAIN" \
      -addext "subjectAltName=DNS:$DOMAIN,DNS:*.vista.$DOMAIN" \
      -keyout "$WORK/tls/muelle.key" -out "$WORK/tls/muelle.crt" 2>/dev/null
    cp "$WORK/tls/muelle.crt" "$WORK/tls/vista.crt"
    cp "$WORK/tls/muelle.key" "$WORK/tls/vista.key"
  fi
  [ -s "$WORK/secrets/secret_key" ] || openssl rand -base64 48 | tr -d '\n' >"$WORK/secrets/secret_key"
  [ -s "$WORK/secrets/postgres_password" ] || openssl rand -hex 24 | tr -d '\n' >"$WORK/secrets/postgres_password"
  {
    cat "$WORK/images.env"
    echo "MUELLE_DOMAIN=$DOMAIN"
    echo "MUELLE_BIND=127.0.0.1"
    echo "MUELLE_HTTPS_PORT=$HTTPS_PORT"
    echo "MUELLE_HTTP_PORT=$HTTP_PORT"
    echo "PREVIEW_PORT=$HTTPS_PORT"
    echo "MUELLE_BACK_SUBNET=$SUBNET"
    echo "MUELLE_TLS_DIR=$WORK/tls"
    echo "MUELLE_SECRETS_DIR=$WORK/secrets"
    echo "MUELLE_ENGINE_DIR=$WORK/engine"
    echo "MUELLE_GATEWAY_DIR=$WORK/gateway"
    echo "MUELLE_INSTANCE=$PROJECT"
    echo "SANDBOX_WARM_POOL=${SANDBOX_WARM_POOL:-1}"
    echo "MUELLE_WEB_PROCESSES=${MUELLE_WEB_PROCESSES:-2}"
  } >"$WORK/.env"
  say "Motor de los alumnos (--userns-remap=default) en $WORK/engine"
  "$DEPLOY/students-engine/students-engine.sh" start >&2
  # What the test needs: the sandbox image, and the images the checks run.
  MUELLE_ENGINE_DIR="$WORK/engine" "$DEPLOY/load-course-images.sh" \
    muelle/sandbox:latest muelle/hola:latest muelle/busybox:latest
  say "Levantando la pila ($PROJECT)"
  compose up -d >&2
  say "Esperando a https://$DOMAIN:$HTTPS_PORT/ y a cada proceso web"
  for _ in $(seq 1 120); do
    if curl -sfk --resolve "$DOMAIN:$HTTPS_PORT:127.0.0.1" -o /dev/null "https://$DOMAIN:$HTTPS_PORT/" \
      && all_web_processes_started; then
      say "Muelle responde en https://$DOMAIN:$HTTPS_PORT/"
      return 0
    fi
    sleep 1
  done
  echo "Muelle no respondió en 120 s; registros:" >&2
  compose logs --tail 40 >&2 || true
  return 1
}

# Every container of the web service has finished starting (uvicorn said so in its log).
all_web_processes_started() {
  local ids id
  ids="$(compose ps -q web)"
  [ -n "$ids" ] || return 1
  for id in $ids; do
    timeout 60 docker logs "$id" 2>&1 | grep -q "Application startup complete" || return 1
  done
}

down() {
  if [ -s "$WORK/.env" ]; then
    say "Retirando la pila ($PROJECT): contenedores, volúmenes y redes"
    compose down -v --remove-orphans -t 15 >&2 || true
  fi
  say "Parando el motor de los alumnos y borrando sus datos"
  "$DEPLOY/students-engine/students-engine.sh" purge >&2
  rm -rf "$WORK"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  compose) shift; compose "$@" ;;
  *) echo "usage: $0 up|down|compose ARGS" >&2; exit 2 ;;
esac
