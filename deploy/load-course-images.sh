#!/usr/bin/env bash
# Copies the course images from the host's engine into the students' engine (no registry: the
# students' engine never pulls them). Images already there with the same id are skipped.
#
#   deploy/load-course-images.sh                      # muelle/sandbox and every course image
#   deploy/load-course-images.sh muelle/sandbox:latest muelle/hola:latest
#
# Build them first on the host with `.venv/bin/python manage.py build_images`.
set -euo pipefail
ENGINE="unix://${MUELLE_ENGINE_DIR:-/srv/muelle/engine}/run/docker.sock"

if [ "$#" -gt 0 ]; then
  images=("$@")
else
  mapfile -t images < <(
    { echo muelle/sandbox:latest
      docker images --filter label=muelle.course=1 --format '{{.Repository}}:{{.Tag}}' \
        | grep -v '<none>'
    } | sort -u
  )
fi
todo=()
for image in "${images[@]}"; do
  id="$(docker image inspect -f '{{.Id}}' "$image")"
  if [ "$(docker -H "$ENGINE" image inspect -f '{{.Id}}' "$image" 2>/dev/null)" != "$id" ]; then
    todo+=("$image")
  fi
done
if [ "${#todo[@]}" -gt 0 ]; then
  echo "Copiando al motor de los alumnos: ${todo[*]}" >&2
  docker save "${todo[@]}" | docker -H "$ENGINE" load -q >/dev/null
fi
echo "Imágenes del curso en el motor de los alumnos: ${#images[@]} (${#todo[@]} copiadas)" >&2
