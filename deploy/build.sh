#!/usr/bin/env bash
# Builds the deployment's images without any image registry (docs/despliegue.md):
#   muelle-deploy/python  muelle/base:bookworm + Debian's python3-venv (Debian's mirror)
#   muelle-deploy/proxy   muelle/base:bookworm + Debian's nginx-light (Debian's mirror)
#   muelle-deploy/web     the python image + the pinned wheels + Muelle's code (--network none)
# FROM muelle/base:bookworm, the Debian root that `manage.py build_images` makes with mmdebstrap
# (also made by ./scripts/serve and ./scripts/test). The wheels come from PyPI through the host's
# own pip, with requirements.txt's pins, into deploy/.cache/wheels.
#
# Each image is tagged with the hash of its recipe (its Dockerfile, files, and the id of the image
# it is built on), like the course images: an unchanged recipe is not built again. Each is also
# tagged :latest, which is what docker-compose.yml runs.
#
#   deploy/build.sh            # prints the three tags at the end
set -euo pipefail

DEPLOY="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(dirname "$DEPLOY")"
CACHE="$DEPLOY/.cache"
BASE="${MUELLE_DEPLOY_BASE:-muelle/base:bookworm}"
PIP="${PIP:-$ROOT/.venv/bin/pip}"
[ -x "$PIP" ] || PIP="pip3"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

if ! base_id="$(docker image inspect -f '{{.Id}}' "$BASE" 2>/dev/null)"; then
  echo "Falta la imagen base $BASE: constrúyela con ./scripts/serve o" \
    "'.venv/bin/python manage.py build_images' (sin conexión, con mmdebstrap)." >&2
  exit 1
fi

# hash_of FILE... : a short hash of the files' contents (and of the base image id).
hash_of() { { printf '%s\n' "$base_id"; cat "$@"; } | sha256sum | cut -c1-16; }
have() { docker image inspect "$1" >/dev/null 2>&1; }

build_simple() { # NAME DOCKERFILE CONTEXT_DIR HASH -> echoes the tag
  local name="$1" dockerfile="$2" context="$3" hash="$4" tag="muelle-deploy/$1:$4"
  if have "$tag"; then
    say "$tag ya está construida (receta sin cambios)"
  else
    say "Construyendo $tag"
    docker build -q --build-arg "BASE=$BASE" --label "muelle.deploy.recipe=$hash" \
      -f "$dockerfile" -t "$tag" "$context" >/dev/null
  fi
  docker tag "$tag" "muelle-deploy/$name:latest"
  echo "$tag"
}

python_tag="$(build_simple python "$DEPLOY/web/python.Dockerfile" "$DEPLOY/web" \
  "$(hash_of "$DEPLOY/web/python.Dockerfile")")"
proxy_tag="$(build_simple proxy "$DEPLOY/proxy/Dockerfile" "$DEPLOY/proxy" \
  "$(hash_of "$DEPLOY/proxy/Dockerfile" "$DEPLOY/proxy/entrypoint.sh" "$DEPLOY/proxy/muelle.conf.template")")"

# The wheels, once per requirements.txt (binary wheels only: the image has no compiler).
req_hash="$(cat "$ROOT/requirements.txt" "$DEPLOY/web/requirements-debian-python.txt" | sha256sum | cut -c1-16)"
if [ "$(cat "$CACHE/wheels/.requirements" 2>/dev/null)" != "$req_hash" ]; then
  say "Descargando las dependencias fijadas (requirements.txt) de PyPI"
  rm -rf "$CACHE/wheels"
  mkdir -p "$CACHE/wheels"
  "$PIP" download -q --disable-pip-version-check --only-binary=:all: \
    -r "$ROOT/requirements.txt" -d "$CACHE/wheels" 2> >(grep -v "is ignored: it is neither" >&2)
  "$PIP" download -q --disable-pip-version-check --only-binary=:all: --no-deps \
    -r "$DEPLOY/web/requirements-debian-python.txt" -d "$CACHE/wheels" \
    2> >(grep -v "is ignored: it is neither" >&2)
  echo "$req_hash" >"$CACHE/wheels/.requirements"
fi

# The web image's context: only what the running app reads (no tests, docs, deploy, bench).
context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
mkdir -p "$context/app"
cp -a "$DEPLOY/web/Dockerfile" "$DEPLOY/web/entrypoint.sh" \
  "$DEPLOY/web/requirements-debian-python.txt" "$context/"
cp -a "$CACHE/wheels" "$context/wheels"
(
  cd "$ROOT"
  # Tracked and new files (not ignored ones: no var/, no .venv) of the app's folders.
  git ls-files -z -co --exclude-standard -- manage.py requirements.txt tutorial lessons sandbox \
    exercises templates static content locale 2>/dev/null \
    | grep -zv -e '__pycache__' -e '\.pyc$' \
    | xargs -0 cp --parents -a -t "$context/app"
)
# The front-end libraries (npm ci, package.json) that STATICFILES_DIRS points into.
cp -a "$ROOT/node_modules" "$context/app/node_modules"
rm -rf "$context/app/node_modules/.bin"
web_hash="$(
  {
    printf '%s\n' "$python_tag"
    tar -C "$context" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
      --exclude=./wheels/.requirements -cf - .
  } | sha256sum | cut -c1-16
)"
web_tag="muelle-deploy/web:$web_hash"
if have "$web_tag"; then
  say "$web_tag ya está construida (receta sin cambios)"
else
  say "Construyendo $web_tag (sin red)"
  docker build -q --network none --build-arg "PYTHON_IMAGE=$python_tag" \
    --label "muelle.deploy.recipe=$web_hash" -t "$web_tag" "$context" >/dev/null
fi
docker tag "$web_tag" muelle-deploy/web:latest

printf 'MUELLE_WEB_IMAGE=%s\nMUELLE_PROXY_IMAGE=%s\n' "$web_tag" "$proxy_tag"
